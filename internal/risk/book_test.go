package risk

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/prodex/prodex/internal/duration"
	"github.com/prodex/prodex/internal/problem"
	"github.com/prodex/prodex/internal/slo"
)

// memStore keeps risks in memory.
type memStore map[string][]byte

func (m memStore) PutRisk(_ context.Context, name string, body []byte) error {
	m[name] = body
	return nil
}
func (m memStore) DeleteRisk(_ context.Context, name string) error  { delete(m, name); return nil }
func (m memStore) Risks(context.Context) (map[string][]byte, error) { return m, nil }

// oneSLO is the SLO "checkout" and what its alerts measured.
type oneSLO []Incident

func (o oneSLO) Get(name string) (slo.SLO, bool) {
	if name != "checkout" {
		return slo.SLO{}, false
	}
	return slo.SLO{Name: name, Dataset: "checkout", Target: 99.9, Window: slo.Window{Days: 30}}, true
}
func (o oneSLO) Incidents(context.Context, string, int) ([]Incident, error) { return o, nil }

type workLog []Worked

func (w workLog) Worked(context.Context) ([]Worked, error) { return w, nil }

func newBook(alerts oneSLO, worked workLog) *Book {
	return &Book{Store: memStore{}, SLOs: alerts, Work: worked, Now: time.Now}
}

var dbFailover = Risk{Name: "db-failover", SLO: "checkout", ETTD: duration.Coarse(30 * time.Minute), ETTR: duration.Coarse(time.Hour), FrequencyPerYear: 4, ImpactPercent: 50}

// Save says what it did, as SLO apply does, and stores nothing on a dry
// run or when nothing changed.
func TestBookSave(t *testing.T) {
	ctx := context.Background()
	b := newBook(nil, nil)
	if ch, err := b.Save(ctx, dbFailover, true); err != nil || ch.Action != "created" || len(b.Store.(memStore)) != 0 {
		t.Fatalf("dry run: %+v, %v, %d stored", ch, err, len(b.Store.(memStore)))
	}
	if ch, err := b.Save(ctx, dbFailover, false); err != nil || ch.Action != "created" {
		t.Fatalf("create: %+v, %v", ch, err)
	}
	if ch, err := b.Save(ctx, dbFailover, false); err != nil || ch.Action != "unchanged" {
		t.Fatalf("again: %+v, %v", ch, err)
	}
	more := dbFailover
	more.ImpactPercent = 80
	ch, err := b.Save(ctx, more, false)
	if err != nil || ch.Action != "updated" || !reflect.DeepEqual(ch.Diff, []string{"impact_percent: 50 → 80"}) {
		t.Fatalf("update: %+v, %v", ch, err)
	}
	var stored Risk
	json.Unmarshal(b.Store.(memStore)["db-failover"], &stored)
	if stored.ImpactPercent != 80 || stored.Status != Open {
		t.Errorf("stored %+v", stored)
	}
	bad := dbFailover
	bad.SLO = "search"
	if _, err := b.Save(ctx, bad, false); !problem.Is(err, problem.Invalid) || err.Error() != `slo: "search" does not exist` {
		t.Errorf("unknown SLO: %v", err)
	}
	bad = dbFailover
	bad.ImpactPercent = 0
	if _, err := b.Save(ctx, bad, false); !problem.Is(err, problem.Invalid) {
		t.Errorf("invalid risk: %v", err)
	}
	if err := b.Delete(ctx, "nope"); !problem.Is(err, problem.NotFound) || err.Error() != "risk nope does not exist" {
		t.Errorf("delete unknown: %v", err)
	}
}

// The register learns from the alerts linked to a risk and from the
// incidents tied to it, taking the impact their alert measured.
func TestBookRegisterLearns(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	end := t0.Add(40 * time.Minute)
	alerts := oneSLO{{AlertID: "a1", SLO: "checkout", BadStart: t0, Detected: t0.Add(10 * time.Minute), BadEnd: &end,
		TTD: duration.Coarse(10 * time.Minute), TTR: duration.Coarse(30 * time.Minute), ImpactPercent: 20}}
	worked := workLog{
		{Risk: "db-failover", AlertID: "a1", Incident: Incident{TTD: duration.Coarse(20 * time.Minute), TTR: duration.Coarse(40 * time.Minute), ImpactPercent: -1}},
		{Risk: "other", Incident: Incident{TTD: duration.Coarse(time.Hour), ImpactPercent: -1}},
	}
	b := newBook(alerts, worked)
	if _, err := b.Save(ctx, dbFailover, false); err != nil {
		t.Fatal(err)
	}
	reg, err := b.Register(ctx, "checkout", DefaultThresholds)
	if err != nil || len(reg.Risks) != 1 {
		t.Fatalf("%+v, %v", reg, err)
	}
	o := reg.Risks[0].Observed
	if o == nil || o.Incidents != 1 || o.TTD != duration.Coarse(20*time.Minute) || o.ImpactPercent != 20 {
		t.Errorf("observed %+v", o)
	}
	// Linked to the alert, the alert's own measure counts instead.
	if _, err := b.Link(ctx, "db-failover", "a1"); err != nil {
		t.Fatal(err)
	}
	reg, _ = b.Register(ctx, "checkout", DefaultThresholds)
	if o := reg.Risks[0].Observed; o == nil || o.Incidents != 1 || o.TTD != duration.Coarse(10*time.Minute) {
		t.Errorf("linked: observed %+v", o)
	}
	if _, err := b.Register(ctx, "search", DefaultThresholds); !problem.Is(err, problem.NotFound) || err.Error() != "SLO search does not exist" {
		t.Errorf("unknown SLO: %v", err)
	}
	for _, c := range []struct{ risk, alert, msg string }{
		{"db-failover", "", `alert_id: required, as in {"alert_id": "…"}`},
		{"db-failover", "a2", `alert_id: "a2" is not an alert of SLO checkout`},
		{"nope", "a1", "risk nope does not exist"},
	} {
		if _, err := b.Link(ctx, c.risk, c.alert); err == nil || err.Error() != c.msg || problem.KindOf(err) == problem.Internal {
			t.Errorf("link %s %q: %v", c.risk, c.alert, err)
		}
	}
}
