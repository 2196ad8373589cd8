// Package apply takes definitions as code — a stream of YAML or JSON
// documents: prodex/v1 SLOs and Risks, OpenSLO v1 SLOs — and hands each
// kind to the package that owns it: SLOs to the rules manager, risks to
// the risk book. Every document is checked before any is applied, so a bad
// stream changes nothing; SLOs are applied before the risks that may name
// them.
package apply

import (
	"context"
	"fmt"

	"github.com/prodex/prodex/internal/manifest"
	"github.com/prodex/prodex/internal/problem"
	"github.com/prodex/prodex/internal/risk"
	"github.com/prodex/prodex/internal/rules"
	"github.com/prodex/prodex/internal/slo"
)

// SLOs own the SLOs (the rules manager); with dry nothing changes.
type SLOs interface {
	Apply(ctx context.Context, d slo.SLO, dry bool) (rules.Change, error)
}

// Risks own the risks (the risk book).
type Risks interface {
	Check(r *risk.Risk) error
	Save(ctx context.Context, r risk.Risk, dry bool) (manifest.Change, error)
}

// Owners are the owners of each kind of definition.
type Owners struct {
	SLOs  SLOs
	Risks Risks
}

// Stream applies the documents of stream (with dry, only says what would
// change) and lists what each did, SLOs first. A refused stream is a
// problem.Invalid error naming the document at fault.
func (o Owners) Stream(ctx context.Context, stream []byte, dry bool) ([]manifest.Change, error) {
	docs, err := manifest.Split(stream)
	if err != nil {
		return nil, problem.Wrap(problem.Invalid, err)
	}
	var defs []slo.SLO
	var risks []risk.Risk
	defined := map[string]int{}
	for _, d := range docs {
		var name string
		switch d.Kind {
		case "Risk":
			rk, err := risk.FromDoc(d)
			if err != nil {
				return nil, problem.Wrap(problem.Invalid, err)
			}
			risks, name = append(risks, rk), "Risk/"+rk.Name
		case "SLO":
			def, err := slo.FromDoc(d)
			if err != nil {
				return nil, problem.Wrap(problem.Invalid, err)
			}
			defs, name = append(defs, def), "SLO/"+def.Name
		default:
			return nil, problem.Wrap(problem.Invalid, d.Errorf(false, fmt.Errorf("kind: %s is not supported (want SLO or Risk)", manifest.Quote(d.Kind))))
		}
		if prev, ok := defined[name]; ok {
			return nil, problem.Wrap(problem.Invalid, d.Errorf(true, fmt.Errorf("metadata.name: %q is already defined by document %d", d.Name, prev)))
		}
		defined[name] = d.N
	}
	if len(docs) == 0 {
		return nil, problem.New(problem.Invalid, "no SLO or Risk documents found")
	}
	for _, d := range defs {
		if _, err := o.SLOs.Apply(ctx, d, true); err != nil {
			return nil, problem.New(problem.Invalid, "SLO "+d.Name+": "+err.Error())
		}
	}
	for i := range risks {
		if defined["SLO/"+risks[i].SLO] > 0 {
			continue // defined in this stream: checked above
		}
		if err := o.Risks.Check(&risks[i]); err != nil {
			return nil, problem.New(problem.Invalid, "Risk "+risks[i].Name+": "+err.Error())
		}
	}
	// Everything was checked: a failure from here on is the server's
	// (%v, not %w, so that no refusal inside it is taken for the asker's).
	out := []manifest.Change{}
	for _, d := range defs {
		ch, err := o.SLOs.Apply(ctx, d, dry)
		if err != nil {
			return nil, fmt.Errorf("SLO %s: %v", d.Name, err)
		}
		c := manifest.Change(ch)
		c.Kind = "SLO"
		out = append(out, c)
	}
	for _, rk := range risks {
		ch, err := o.Risks.Save(ctx, rk, dry)
		if dry && err != nil && defined["SLO/"+rk.SLO] > 0 {
			// Its SLO is only being created by this dry run.
			ch, err = manifest.Change{Name: rk.Name, Action: "created"}, nil
		}
		if err != nil {
			return nil, fmt.Errorf("Risk %s: %v", rk.Name, err)
		}
		ch.Kind = "Risk"
		out = append(out, ch)
	}
	return out, nil
}
