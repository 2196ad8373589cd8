package apply

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prodex/prodex/internal/manifest"
	"github.com/prodex/prodex/internal/problem"
	"github.com/prodex/prodex/internal/risk"
	"github.com/prodex/prodex/internal/rules"
	"github.com/prodex/prodex/internal/slo"
)

// slos holds SLOs by name, as the rules manager would.
type slos map[string]slo.SLO

func (m slos) Apply(_ context.Context, d slo.SLO, dry bool) (rules.Change, error) {
	if d.Dataset == "__all__" {
		return rules.Change{}, errors.New("spec.dataset: reserved")
	}
	ch := rules.Change{Name: d.Name, Action: "created"}
	if _, ok := m[d.Name]; ok {
		ch.Action = "unchanged"
	}
	if !dry {
		m[d.Name] = d
	}
	return ch, nil
}

func (m slos) Get(name string) (slo.SLO, bool) { d, ok := m[name]; return d, ok }
func (m slos) Incidents(context.Context, string, int) ([]risk.Incident, error) {
	return nil, nil
}

// riskDocs keeps risks in memory.
type riskDocs map[string][]byte

func (m riskDocs) PutRisk(_ context.Context, name string, body []byte) error {
	m[name] = body
	return nil
}
func (m riskDocs) DeleteRisk(_ context.Context, name string) error  { delete(m, name); return nil }
func (m riskDocs) Risks(context.Context) (map[string][]byte, error) { return m, nil }

const (
	checkoutSLO = "apiVersion: prodex/v1\nkind: SLO\nmetadata: {name: checkout}\nspec: {dataset: checkout, target: 99.9, window: 30d, sli: {good: status_code < 500}}\n"
	badDeploy   = "apiVersion: prodex/v1\nkind: Risk\nmetadata: {name: bad-deploy}\nspec: {slo: checkout, ettd: 10m, ettr: 20m, frequency_per_year: 12, impact_percent: 100}\n"
)

func owners() (Owners, slos, riskDocs) {
	s, r := slos{}, riskDocs{}
	return Owners{SLOs: s, Risks: &risk.Book{Store: r, SLOs: s, Now: time.Now}}, s, r
}

// An SLO and the risk naming it go in one stream: a dry run says both
// would be created (the risk's SLO exists only in the stream) and changes
// nothing; the real one hands each to its owner, SLOs first.
func TestStreamHandsEachKindToItsOwner(t *testing.T) {
	ctx := context.Background()
	o, s, r := owners()
	stream := []byte(badDeploy + "---\n" + checkoutSLO)
	want := []manifest.Change{{Kind: "SLO", Name: "checkout", Action: "created"}, {Kind: "Risk", Name: "bad-deploy", Action: "created"}}
	out, err := o.Stream(ctx, stream, true)
	if err != nil || len(out) != 2 || out[0].Name != want[0].Name || out[0].Kind != "SLO" || out[1].Kind != "Risk" || out[1].Action != "created" {
		t.Fatalf("dry run: %+v, %v", out, err)
	}
	if len(s) != 0 || len(r) != 0 {
		t.Fatalf("a dry run stored %d SLOs, %d risks", len(s), len(r))
	}
	out, err = o.Stream(ctx, stream, false)
	if err != nil || len(out) != 2 || out[0].Action != "created" || out[1].Action != "created" || len(s) != 1 || len(r) != 1 {
		t.Fatalf("apply: %+v, %v", out, err)
	}
	out, err = o.Stream(ctx, stream, false)
	if err != nil || out[0].Action != "unchanged" || out[1].Action != "unchanged" {
		t.Fatalf("again: %+v, %v", out, err)
	}
}

// A bad stream is refused as the asker's fault, naming the document, and
// changes nothing.
func TestStreamRefusals(t *testing.T) {
	o, s, r := owners()
	for _, c := range []struct{ stream, msg string }{
		{"# nothing\n", "no SLO or Risk documents found"},
		{"apiVersion: prodex/v1\nkind: Dashboard\nmetadata: {name: d}\n", "document 1: kind: \"Dashboard\" is not supported (want SLO or Risk)"},
		{checkoutSLO + "---\n" + checkoutSLO, `document 2 (prodex/v1 SLO "checkout"): metadata.name: "checkout" is already defined by document 1`},
		{badDeploy, `Risk bad-deploy: slo: "checkout" does not exist`},
		{checkoutSLO + "---\n" + "apiVersion: prodex/v1\nkind: SLO\nmetadata: {name: search}\nspec: {dataset: __all__, target: 99, window: 30d, sli: {good: ok}}\n", "SLO search: spec.dataset: reserved"},
	} {
		_, err := o.Stream(context.Background(), []byte(c.stream), false)
		if !problem.Is(err, problem.Invalid) || len(err.Error()) < len(c.msg) || err.Error()[:len(c.msg)] != c.msg {
			t.Errorf("%q: %v, want %q", c.stream, err, c.msg)
		}
	}
	if len(s) != 0 || len(r) != 0 {
		t.Errorf("refused streams stored %d SLOs, %d risks", len(s), len(r))
	}
}
