package incident

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prodex/prodex/internal/history"
	"github.com/prodex/prodex/internal/marker"
	"github.com/prodex/prodex/internal/note"
	"github.com/prodex/prodex/internal/problem"
	"github.com/prodex/prodex/internal/risk"
	"github.com/prodex/prodex/internal/rules"
	"github.com/prodex/prodex/internal/slo"
)

// world is every store and source a book reads, in memory.
type world struct {
	incidents map[string][]byte
	alerts    []rules.Episode
	notes     []note.Note
	markers   []marker.Marker
	runs      []history.Run
}

func (w *world) Incidents(context.Context) (map[string][]byte, error) { return w.incidents, nil }
func (w *world) PutIncident(_ context.Context, id string, body []byte) error {
	w.incidents[id] = body
	return nil
}
func (w *world) Get(name string) (slo.SLO, bool) {
	return slo.SLO{Name: name, Dataset: "checkout"}, name == "checkout"
}
func (w *world) Measure(ep rules.Episode) (risk.Incident, error) {
	return risk.Incident{BadStart: ep.StartedAt.Add(-5 * time.Minute)}, nil
}
func (w *world) Alerts(context.Context, string, bool, int) ([]rules.Episode, error) {
	return w.alerts, nil
}
func (w *world) List(_ context.Context, tt, id string) ([]note.Note, error) { return w.notes, nil }
func (w *world) Markers(_ context.Context, ds []string, _, _ time.Time) ([]marker.Marker, error) {
	if len(ds) != 2 || ds[1] != "checkout" {
		return nil, nil
	}
	return w.markers, nil
}
func (w *world) Runs(context.Context, history.RunFilter) ([]history.Run, error) { return w.runs, nil }

// risks holds the risk bad-deploy only.
type risks struct{}

func (risks) Get(_ context.Context, name string) (risk.Risk, error) {
	if name != "bad-deploy" {
		return risk.Risk{}, problem.New(problem.NotFound, "risk "+name+" does not exist")
	}
	return risk.Risk{Name: name}, nil
}

func newBook(w *world, now time.Time) *Book {
	return &Book{Store: w, SLOs: w, Risks: risks{}, Notes: w, Records: w, Now: func() time.Time { return now }, Log: slog.Default()}
}

// A page opens one incident per alert episode, records its resolution,
// and a restart's reconciliation opens none twice.
func TestOnAlertOpensOnce(t *testing.T) {
	t0 := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	w := &world{incidents: map[string][]byte{}}
	b := newBook(w, t0.Add(time.Minute))
	ep := rules.Episode{ID: "alert-1", SLO: "checkout", Severity: slo.Page, State: "firing", Detail: "burn 14x", StartedAt: t0}
	b.OnAlert(ep)
	b.OnAlert(rules.Episode{ID: "alert-2", SLO: "checkout", Severity: slo.Ticket, State: "firing", StartedAt: t0})
	w.alerts = []rules.Episode{ep}
	if err := b.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	all, _ := b.All(context.Background())
	if len(all) != 1 {
		t.Fatalf("%d incidents, want 1 (the page's)", len(all))
	}
	var inc *Incident
	for _, v := range all {
		inc = v
	}
	if inc.AlertID != "alert-1" || inc.SLO != "checkout" || !inc.StartedAt.Equal(t0.Add(-5*time.Minute)) || len(inc.Events) != 2 {
		t.Fatalf("opened %+v", inc)
	}
	resolved := t0.Add(20 * time.Minute)
	ep.State, ep.ResolvedAt = "resolved", &resolved
	b.OnAlert(ep)
	inc, _ = b.Get(context.Background(), inc.ID)
	if last := inc.Events[len(inc.Events)-1]; len(inc.Events) != 3 || !strings.HasPrefix(last.Text, "page resolved") {
		t.Errorf("resolved: %+v", inc.Events)
	}
}

// Declaring and changing incidents refuses what does not exist, as the
// asker's fault.
func TestDeclareAndUpdateRefusals(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	b := newBook(&world{incidents: map[string][]byte{}}, now)
	for _, c := range []struct {
		d    Declaration
		kind problem.Kind
		msg  string
	}{
		{Declaration{Title: "x", SLO: "search"}, problem.Invalid, `slo: "search" does not exist`},
		{Declaration{Title: "x", Risk: "nope"}, problem.Invalid, `risk: "nope" does not exist`},
		{Declaration{Title: "x", DetectedAt: now.Add(time.Hour)}, problem.Invalid, "detected_at: in the future"},
		{Declaration{Title: " "}, problem.Invalid, "title: required"},
	} {
		if _, err := b.Declare(ctx, c.d, "alice"); problem.KindOf(err) != c.kind || err.Error() != c.msg {
			t.Errorf("%+v: %v", c.d, err)
		}
	}
	inc, err := b.Declare(ctx, Declaration{Title: "checkout slow", SLO: "checkout", Risk: "bad-deploy"}, "alice")
	if err != nil || inc.Risk != "bad-deploy" || !strings.HasPrefix(inc.ID, "inc-") {
		t.Fatalf("declared %+v, %v", inc, err)
	}
	nope, sev := "nope", "sev9"
	if _, err := b.Update(ctx, inc.ID, Change{Postmortem: &Postmortem{FollowUps: []FollowUp{{Title: "f", Risk: nope}}}}, "bob"); !problem.Is(err, problem.Invalid) {
		t.Errorf("follow-up on an unknown risk: %v", err)
	}
	if _, err := b.Update(ctx, "inc-none", Change{}, "bob"); !problem.Is(err, problem.NotFound) || err.Error() != "incident inc-none does not exist" {
		t.Errorf("unknown incident: %v", err)
	}
	if _, err := b.Update(ctx, inc.ID, Change{Severity: &sev}, "bob"); !problem.Is(err, problem.Invalid) {
		t.Errorf("bad severity: %v", err)
	}
	var stored Incident
	json.Unmarshal(b.Store.(*world).incidents[inc.ID], &stored)
	if stored.Severity != "sev2" {
		t.Errorf("a refused change was stored: %+v", stored)
	}
}

// The timeline interleaves the incident's events with the notes on it, the
// markers of its SLO's dataset and the queries run meanwhile.
func TestTimelineInTimeOrder(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	w := &world{incidents: map[string][]byte{},
		notes:   []note.Note{{ID: "note-1", Text: "rolled back", HTML: "<p>rolled back</p>", Author: "bob", CreatedAt: t0.Add(3 * time.Minute)}},
		markers: []marker.Marker{{ID: "m1", Dataset: "checkout", Type: "deploy", Message: "v42", StartTime: t0.Add(-10 * time.Minute).Unix()}},
		runs:    []history.Run{{QueryID: "q1", Dataset: "checkout", Spec: json.RawMessage(`{}`), Author: "alice", RanAt: t0.Add(2 * time.Minute), Error: "boom"}},
	}
	b := newBook(w, t0)
	inc, err := b.Declare(ctx, Declaration{Title: "checkout slow", SLO: "checkout", StartedAt: t0.Add(-15 * time.Minute), DetectedAt: t0}, "alice")
	if err != nil {
		t.Fatal(err)
	}
	_, tl, err := b.Timeline(ctx, inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range tl {
		got = append(got, e.Kind+":"+e.Text)
	}
	want := []string{"marker:deploy: v42 (checkout)", "opened:opened (sev2): checkout slow", "query:queried checkout: {} (failed: boom)", "note:rolled back"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("timeline %q, want %q", got, want)
	}
	if _, _, err := b.Timeline(ctx, "inc-none"); !problem.Is(err, problem.NotFound) {
		t.Errorf("unknown incident: %v", err)
	}
}
