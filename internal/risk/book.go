package risk

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"time"

	"github.com/prodex/prodex/internal/manifest"
	"github.com/prodex/prodex/internal/problem"
	"github.com/prodex/prodex/internal/slo"
)

// Store keeps risks as JSON documents by name (the metadata store).
type Store interface {
	PutRisk(ctx context.Context, name string, body []byte) error
	DeleteRisk(ctx context.Context, name string) error
	Risks(ctx context.Context) (map[string][]byte, error)
}

// SLOs are the SLOs whose budgets risks spend, and what their alert
// episodes measured.
type SLOs interface {
	Get(name string) (slo.SLO, bool)
	Incidents(ctx context.Context, sloName string, limit int) ([]Incident, error)
}

// Worked is an incident the team worked and tied to a risk, measured from
// its record; ImpactPercent is -1 (unknown) unless its alert measured it.
type Worked struct {
	Risk     string // the risk it was
	AlertID  string // the alert that opened it, "" when opened by hand
	Incident Incident
}

// WorkLog lists the incidents the team worked, for the register to learn
// from (the incident book).
type WorkLog interface {
	Worked(ctx context.Context) ([]Worked, error)
}

// Book keeps the risks: it stores them, checks them against their SLO,
// says what a save changes, and ranks an SLO's risks with what their
// incidents measured.
type Book struct {
	Store Store
	SLOs  SLOs
	Work  WorkLog // nil: no incidents worked
	Now   func() time.Time
}

// All reads every stored risk, by name.
func (b *Book) All(ctx context.Context) (map[string]Risk, error) {
	docs, err := b.Store.Risks(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]Risk, len(docs))
	for name, body := range docs {
		var r Risk
		if err := json.Unmarshal(body, &r); err != nil {
			return nil, fmt.Errorf("stored risk %s: %w", name, err)
		}
		out[name] = r
	}
	return out, nil
}

// List lists an SLO's risks (every risk when sloName is ""), by name.
func (b *Book) List(ctx context.Context, sloName string) ([]Risk, error) {
	all, err := b.All(ctx)
	if err != nil {
		return nil, err
	}
	return of(all, sloName), nil
}

// of lists an SLO's risks (every risk when slo is ""), by name.
func of(all map[string]Risk, slo string) []Risk {
	out := []Risk{}
	for _, r := range all {
		if slo == "" || r.SLO == slo {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Get finds a risk by name.
func (b *Book) Get(ctx context.Context, name string) (Risk, error) {
	r, _, err := b.named(ctx, name)
	return r, err
}

// named finds a risk among all stored risks, which it returns too.
func (b *Book) named(ctx context.Context, name string) (Risk, map[string]Risk, error) {
	all, err := b.All(ctx)
	if err != nil {
		return Risk{}, nil, err
	}
	r, ok := all[name]
	if !ok {
		return Risk{}, nil, problem.New(problem.NotFound, "risk "+name+" does not exist")
	}
	return r, all, nil
}

// Check normalizes and validates a risk, and checks that its SLO exists.
func (b *Book) Check(r *Risk) error {
	if err := r.Normalize(); err != nil {
		return problem.Wrap(problem.Invalid, err)
	}
	if _, ok := b.SLOs.Get(r.SLO); !ok {
		return problem.Errorf(problem.Invalid, "slo: %q does not exist", r.SLO)
	}
	return nil
}

// Save creates or updates a risk and says what changed, as SLO apply
// does; with dry nothing is stored.
func (b *Book) Save(ctx context.Context, r Risk, dry bool) (manifest.Change, error) {
	if err := b.Check(&r); err != nil {
		return manifest.Change{}, err
	}
	all, err := b.All(ctx)
	if err != nil {
		return manifest.Change{}, err
	}
	ch := manifest.Change{Name: r.Name, Action: "created"}
	if old, ok := all[r.Name]; ok {
		ch.Diff = diff(old, r)
		ch.Action = "updated"
		if len(ch.Diff) == 0 {
			ch.Action = "unchanged"
		}
	}
	if dry || ch.Action == "unchanged" {
		return ch, nil
	}
	body, _ := json.Marshal(r)
	return ch, b.Store.PutRisk(ctx, r.Name, body)
}

// diff lists the top-level fields that differ between a and b, as
// "field: old → new".
func diff(a, b Risk) []string {
	var ma, mb map[string]any
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	json.Unmarshal(ja, &ma)
	json.Unmarshal(jb, &mb)
	keys := map[string]bool{}
	for k := range ma {
		keys[k] = true
	}
	for k := range mb {
		keys[k] = true
	}
	var out []string
	for k := range keys {
		if !reflect.DeepEqual(ma[k], mb[k]) {
			va, _ := json.Marshal(ma[k])
			vb, _ := json.Marshal(mb[k])
			out = append(out, fmt.Sprintf("%s: %s → %s", k, va, vb))
		}
	}
	sort.Strings(out)
	return out
}

// Delete removes a risk.
func (b *Book) Delete(ctx context.Context, name string) error {
	if _, _, err := b.named(ctx, name); err != nil {
		return err
	}
	return b.Store.DeleteRisk(ctx, name)
}

// budget is an SLO's error budget now.
func (b *Book) budget(def slo.SLO) Budget {
	return Budget{Target: def.Target, Window: def.Window.Length(b.Now())}
}

// Register ranks an SLO's risks, with what their linked incidents
// measured.
func (b *Book) Register(ctx context.Context, sloName string, th Thresholds) (Register, error) {
	def, ok := b.SLOs.Get(sloName)
	if !ok {
		return Register{}, problem.Errorf(problem.NotFound, "SLO %s does not exist", sloName)
	}
	all, err := b.All(ctx)
	if err != nil {
		return Register{}, err
	}
	reg := Rank(def.Name, def.Window.String(), b.budget(def), th, of(all, sloName))
	incidents, err := b.SLOs.Incidents(ctx, sloName, 1000)
	if err != nil {
		return Register{}, err
	}
	byID := map[string]Incident{}
	for _, in := range incidents {
		byID[in.AlertID] = in
	}
	var worked []Worked
	if b.Work != nil {
		if worked, err = b.Work.Worked(ctx); err != nil {
			return Register{}, err
		}
	}
	for i := range reg.Risks {
		var linked []Incident
		for _, id := range reg.Risks[i].Risk.Incidents {
			if in, ok := byID[id]; ok {
				linked = append(linked, in)
			}
		}
		// Incidents the team worked and tied to this risk: their
		// detection and mitigation times, and the impact their alert
		// measured when one opened them.
		for _, w := range worked {
			if w.Risk != reg.Risks[i].Risk.Name || w.AlertID != "" && slices.Contains(reg.Risks[i].Risk.Incidents, w.AlertID) {
				continue // not this risk's, or its alert already counted
			}
			in := w.Incident
			if m, ok := byID[w.AlertID]; ok && w.AlertID != "" {
				in.ImpactPercent = m.ImpactPercent
			}
			linked = append(linked, in)
		}
		reg.Risks[i].Observed = Observe(reg.Risks[i].Risk, linked)
	}
	return reg, nil
}

// WhatIf is the register of a risk's SLO with the risk's estimates
// changed, nothing saved.
func (b *Book) WhatIf(ctx context.Context, name string, th Thresholds, c Change) (WhatIf, error) {
	r, all, err := b.named(ctx, name)
	if err != nil {
		return WhatIf{}, err
	}
	def, ok := b.SLOs.Get(r.SLO)
	if !ok {
		return WhatIf{}, problem.New(problem.Conflict, "the risk's SLO "+r.SLO+" no longer exists")
	}
	out, err := Try(def.Name, def.Window.String(), b.budget(def), th, of(all, r.SLO), r.Name, c)
	return out, problem.Wrap(problem.Invalid, err)
}

// Link records that an alert episode of the risk's SLO was this risk
// happening.
func (b *Book) Link(ctx context.Context, name, alertID string) (Risk, error) {
	if alertID == "" {
		return Risk{}, problem.New(problem.Invalid, `alert_id: required, as in {"alert_id": "…"}`)
	}
	r, _, err := b.named(ctx, name)
	if err != nil {
		return Risk{}, err
	}
	incidents, err := b.SLOs.Incidents(ctx, r.SLO, 1000)
	if err != nil {
		return Risk{}, err
	}
	found := false
	for _, in := range incidents {
		found = found || in.AlertID == alertID
	}
	if !found {
		return Risk{}, problem.Errorf(problem.Invalid, "alert_id: %q is not an alert of SLO %s", alertID, r.SLO)
	}
	if slices.Contains(r.Incidents, alertID) {
		return r, nil
	}
	r.Incidents = append(r.Incidents, alertID)
	if _, err := b.Save(ctx, r, false); err != nil {
		// The risk was valid when read: failing now is the server's.
		return Risk{}, fmt.Errorf("saving risk %s: %v", r.Name, err)
	}
	return r, nil
}
