package incident

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/prodex/prodex/internal/problem"
	"github.com/prodex/prodex/internal/risk"
	"github.com/prodex/prodex/internal/rules"
	"github.com/prodex/prodex/internal/slo"
)

// Store keeps incidents as JSON documents by id (the metadata store).
type Store interface {
	Incidents(ctx context.Context) (map[string][]byte, error)
	PutIncident(ctx context.Context, id string, body []byte) error
}

// SLOs are the SLOs whose pages open incidents.
type SLOs interface {
	Get(name string) (slo.SLO, bool)
	Measure(ep rules.Episode) (risk.Incident, error)
	Alerts(ctx context.Context, sloName string, openOnly bool, limit int) ([]rules.Episode, error)
}

// Risks are the risks of the register an incident may be tied to.
type Risks interface {
	Get(ctx context.Context, name string) (risk.Risk, error)
}

// Book keeps the incidents: it opens them by hand and from pages, records
// their changes, and tells their timelines. One book per store: it
// serialises changes (read, change, write) so that none is lost.
type Book struct {
	Store   Store
	SLOs    SLOs
	Risks   Risks
	Notes   Notes   // for timelines
	Records Records // for timelines
	Now     func() time.Time
	Log     *slog.Logger

	mu sync.Mutex
}

// All reads every stored incident, by id.
func (b *Book) All(ctx context.Context) (map[string]*Incident, error) {
	docs, err := b.Store.Incidents(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]*Incident, len(docs))
	for id, body := range docs {
		var inc Incident
		if err := json.Unmarshal(body, &inc); err != nil {
			return nil, fmt.Errorf("stored incident %s: %w", id, err)
		}
		out[id] = &inc
	}
	return out, nil
}

func (b *Book) save(ctx context.Context, inc *Incident) error {
	body, err := json.Marshal(inc)
	if err != nil {
		return err
	}
	return b.Store.PutIncident(ctx, inc.ID, body)
}

func newID(prefix string) string {
	var r [6]byte
	rand.Read(r[:])
	return prefix + hex.EncodeToString(r[:])
}

// List lists the incidents with status and SLO ("" for any), the latest
// detected first.
func (b *Book) List(ctx context.Context, status, sloName string) ([]*Incident, error) {
	all, err := b.All(ctx)
	if err != nil {
		return nil, err
	}
	out := []*Incident{}
	for _, inc := range all {
		if (status == "" || inc.Status == status) && (sloName == "" || inc.SLO == sloName) {
			out = append(out, inc)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].DetectedAt.After(out[j].DetectedAt) })
	return out, nil
}

// Get finds an incident by id.
func (b *Book) Get(ctx context.Context, id string) (*Incident, error) {
	all, err := b.All(ctx)
	if err != nil {
		return nil, err
	}
	inc, ok := all[id]
	if !ok {
		return nil, problem.New(problem.NotFound, "incident "+id+" does not exist")
	}
	return inc, nil
}

// Exists reports whether an incident exists, for notes about it.
func (b *Book) Exists(ctx context.Context, id string) (bool, error) {
	all, err := b.All(ctx)
	if err != nil {
		return false, err
	}
	_, ok := all[id]
	return ok, nil
}

// Declaration opens an incident by hand. It is an alias of an unnamed
// struct so that decoding errors name its fields as they always have
// ("Go struct field .title").
type Declaration = struct {
	Title      string    `json:"title"`
	Severity   string    `json:"severity"`
	SLO        string    `json:"slo"`
	Risk       string    `json:"risk"`
	Commander  string    `json:"commander"`
	Scribe     string    `json:"scribe"`
	StartedAt  time.Time `json:"started_at"`
	DetectedAt time.Time `json:"detected_at"`
}

// Declare opens an incident by hand; its SLO and risk, when named, must
// exist.
func (b *Book) Declare(ctx context.Context, d Declaration, author string) (*Incident, error) {
	if d.SLO != "" {
		if _, ok := b.SLOs.Get(d.SLO); !ok {
			return nil, problem.Errorf(problem.Invalid, "slo: %q does not exist", d.SLO)
		}
	}
	if d.Risk != "" {
		if err := b.riskExists(ctx, d.Risk); err != nil {
			return nil, err
		}
	}
	now := b.Now()
	if d.DetectedAt.After(now.Add(time.Minute)) {
		return nil, problem.New(problem.Invalid, "detected_at: in the future")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	inc, err := Open(newID("inc-"), d.Title, d.Severity, author, d.StartedAt, d.DetectedAt, now)
	if err != nil {
		return nil, problem.Wrap(problem.Invalid, err)
	}
	inc.SLO, inc.Risk, inc.Commander, inc.Scribe = d.SLO, d.Risk, d.Commander, d.Scribe
	if err := b.save(ctx, inc); err != nil {
		return nil, err
	}
	return inc, nil
}

// riskExists refuses, as bad input, a risk that does not exist.
func (b *Book) riskExists(ctx context.Context, name string) error {
	_, err := b.Risks.Get(ctx, name)
	if problem.Is(err, problem.NotFound) {
		return problem.Errorf(problem.Invalid, "risk: %q does not exist", name)
	}
	return err
}

// Update changes status, roles, severity, title, risk, times or the
// postmortem; each change is recorded in the incident's events.
func (b *Book) Update(ctx context.Context, id string, ch Change, author string) (*Incident, error) {
	if ch.Risk != nil && *ch.Risk != "" {
		if err := b.riskExists(ctx, *ch.Risk); err != nil {
			return nil, err
		}
	}
	if ch.Postmortem != nil {
		for _, f := range ch.Postmortem.FollowUps {
			if f.Risk == "" {
				continue
			}
			if err := b.riskExists(ctx, f.Risk); err != nil {
				return nil, err
			}
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	inc, err := b.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := inc.Apply(ch, author, b.Now()); err != nil {
		return nil, problem.Wrap(problem.Invalid, err)
	}
	if err := b.save(ctx, inc); err != nil {
		return nil, err
	}
	return inc, nil
}

// OnAlert opens an incident when an SLO pages, once per alert episode
// (the incident's id follows from the alert's), and records in it when
// the alert resolves.
func (b *Book) OnAlert(ep rules.Episode) {
	if ep.Severity != slo.Page {
		return
	}
	ctx := context.Background()
	b.mu.Lock()
	defer b.mu.Unlock()
	h := sha256.Sum256([]byte(ep.ID))
	id := "inc-" + hex.EncodeToString(h[:6])
	all, err := b.All(ctx)
	if err != nil {
		b.Log.Error("incident for alert: loading incidents failed", "alert", ep.ID, "err", err)
		return
	}
	inc, exists := all[id]
	now := b.Now()
	switch {
	case !exists && ep.State == "firing":
		started := ep.StartedAt
		if m, err := b.SLOs.Measure(ep); err == nil {
			started = m.BadStart
		}
		inc, err = Open(id, fmt.Sprintf("SLO %s is burning its error budget", ep.SLO), "sev2", "prodex", started, ep.StartedAt, now)
		if err != nil {
			b.Log.Error("incident for alert", "alert", ep.ID, "err", err)
			return
		}
		inc.SLO, inc.AlertID = ep.SLO, ep.ID
		inc.Record("alert", "prodex", "page fired: "+ep.Detail, ep.StartedAt)
	case exists && ep.State == "resolved" && ep.ResolvedAt != nil:
		inc.Record("alert", "prodex", "page resolved: the burn rates are back under the thresholds", *ep.ResolvedAt)
	default:
		return
	}
	if err := b.save(ctx, inc); err != nil {
		b.Log.Error("saving incident for alert failed", "alert", ep.ID, "err", err)
	}
}

// Reconcile opens the incidents of pages that are firing but have none
// (the server stopped between the two).
func (b *Book) Reconcile(ctx context.Context) error {
	eps, err := b.SLOs.Alerts(ctx, "", true, 1000)
	if err != nil {
		return err
	}
	for _, ep := range eps {
		b.OnAlert(ep)
	}
	return nil
}

// Worked lists the incidents tied to a risk, as the risk register learns
// from them.
func (b *Book) Worked(ctx context.Context) ([]risk.Worked, error) {
	all, err := b.All(ctx)
	if err != nil {
		return nil, err
	}
	var out []risk.Worked
	for _, inc := range all {
		if inc.Risk != "" {
			out = append(out, risk.Worked{Risk: inc.Risk, AlertID: inc.AlertID, Incident: inc.Measured(-1)})
		}
	}
	return out, nil
}
