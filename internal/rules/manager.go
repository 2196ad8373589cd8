// Package rules keeps each SLO's per-minute counts in memory, evaluates its
// alert rules continuously and turns rule results into alert episodes: one
// per SLO and severity, opened when any rule of that severity fires and
// resolved when none does, notified once each way and persisted so that a
// restart neither repeats nor forgets a page: each notification owed is
// saved with its episode change and forgotten once delivered or given up
// on, so a crash in between sends it again, with the same dedup key.
// While an SLO pages, no ticket is opened for it.
package rules

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prodex/prodex/internal/notify"
	"github.com/prodex/prodex/internal/risk"
	"github.com/prodex/prodex/internal/slo"
	"github.com/prodex/prodex/internal/store"
)

// Store is what the manager needs of storage.
type Store interface {
	SetCounter(ctx context.Context, c store.Counter, backfill bool, install func([]store.MinuteCount)) error
	RemoveCounter(ctx context.Context, name string) error
	OnCounts(f func([]store.MinuteCount))
	PutSLO(ctx context.Context, name string, body []byte) error
	DeleteSLO(ctx context.Context, name string) error
	SLOs(ctx context.Context) (map[string][]byte, error)
	// PutAlert saves an episode and the notifications its change owes
	// in one write.
	PutAlert(ctx context.Context, id, slo string, started time.Time, open bool, body []byte, owed ...store.Owed) error
	Alerts(ctx context.Context, slo string, openOnly bool, limit int) ([][]byte, error)
	Outbox
}

// Outbox keeps the notifications owed until they are settled, so that a
// crash between saving an episode and delivering its page loses nothing.
type Outbox interface {
	Owed(ctx context.Context) ([]store.Owed, error)
	Resending(ctx context.Context, id string) error
	Unsent(ctx context.Context, id, reason string) error
	Settle(ctx context.Context, id string) error
}

// Sender delivers notifications without blocking (notify.Notifier), and
// tells done, once, whether each was delivered (nil), given up on, or
// left undelivered by a shutdown (notify.ErrClosed).
type Sender interface {
	SendThen(t notify.Target, m notify.Message, done func(error))
}

// Episode is one alert: from the moment a severity's rules start firing for
// an SLO until none does.
type Episode struct {
	ID         string       `json:"id"`
	SLO        string       `json:"slo"`
	Dataset    string       `json:"dataset"`
	Severity   slo.Severity `json:"severity"`
	State      string       `json:"state"` // firing or resolved
	Rules      []string     `json:"rules"` // every rule that fired during the episode
	Detail     string       `json:"detail"`
	StartedAt  time.Time    `json:"started_at"`
	ResolvedAt *time.Time   `json:"resolved_at"`
}

// ErrNotFound is returned for an SLO that does not exist.
var ErrNotFound = errors.New("no such SLO")

// Manager owns the SLOs.
type Manager struct {
	store  Store
	sender Sender
	log    *slog.Logger
	now    func() time.Time
	link   string // base URL of the SLO pages

	mu   sync.RWMutex
	slos map[string]*entry

	onEpisode func(Episode) // see OnEpisode

	lastEval  atomic.Int64 // unix nanoseconds of the last completed round
	evaluated func(took time.Duration)
}

// LastEvaluated is when the last round of evaluation completed (zero
// before the first).
func (m *Manager) LastEvaluated() time.Time {
	if n := m.lastEval.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
}

// OnEpisode sets a function told of every alert episode that starts or
// resolves, after it is saved (incidents open from pages this way).
func (m *Manager) OnEpisode(f func(Episode)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.onEpisode = f
}

func (m *Manager) told(ep Episode) {
	m.mu.RLock()
	f := m.onEpisode
	m.mu.RUnlock()
	if f != nil {
		f(ep)
	}
}

// Measure measures one alert episode of an SLO as an incident.
func (m *Manager) Measure(ep Episode) (risk.Incident, error) {
	m.mu.RLock()
	e, ok := m.slos[ep.SLO]
	m.mu.RUnlock()
	if !ok {
		return risk.Incident{}, ErrNotFound
	}
	return risk.Measure(ep.ID, ep.SLO, string(ep.Severity), ep.StartedAt, ep.ResolvedAt, 1-e.def.Target/100, e.counts, m.now()), nil
}

type entry struct {
	def    slo.SLO
	counts *series
	open   map[slo.Severity]*Episode
}

// Options configure a Manager.
type Options struct {
	Log  *slog.Logger
	Now  func() time.Time
	Link string // base URL for links in notifications, e.g. http://prodex:8080
	// Evaluated, when set, is told how long each round of evaluation took.
	Evaluated func(took time.Duration)
}

// New loads the stored SLOs, their counts and open alert episodes.
func New(ctx context.Context, st Store, sender Sender, o Options) (*Manager, error) {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	m := &Manager{store: st, sender: sender, log: o.Log, now: o.Now, link: strings.TrimRight(o.Link, "/"), slos: map[string]*entry{}, evaluated: o.Evaluated}
	st.OnCounts(m.apply)
	defs, err := st.SLOs(ctx)
	if err != nil {
		return nil, err
	}
	for name, body := range defs {
		var d slo.SLO
		if err := json.Unmarshal(body, &d); err != nil {
			return nil, fmt.Errorf("stored SLO %s: %w", name, err)
		}
		d.Defaults()
		e := &entry{def: d, counts: &series{}, open: map[slo.Severity]*Episode{}}
		m.mu.Lock()
		m.slos[name] = e
		m.mu.Unlock()
		if err := st.SetCounter(ctx, counterOf(d), false, e.install); err != nil {
			return nil, fmt.Errorf("SLO %s: %w", name, err)
		}
	}
	open, err := st.Alerts(ctx, "", true, 10000)
	if err != nil {
		return nil, err
	}
	for _, body := range open {
		var ep Episode
		if err := json.Unmarshal(body, &ep); err != nil {
			return nil, err
		}
		if e := m.slos[ep.SLO]; e != nil {
			e.open[ep.Severity] = &ep
		}
	}
	if err := m.resend(ctx); err != nil {
		return nil, fmt.Errorf("notifications owed: %w", err)
	}
	return m, nil
}

// resend sends again every notification owed from before the start: the
// process stopped after saving them and before they were settled.
func (m *Manager) resend(ctx context.Context) error {
	if m.sender == nil {
		return nil // they stay owed until a start with a sender
	}
	rows, err := m.store.Owed(ctx)
	if err != nil {
		return err
	}
	if len(rows) > 0 {
		m.log.Info("sending notifications owed from before the start again", "count", len(rows))
	}
	for _, row := range rows {
		o := owed{id: row.ID}
		if err := errors.Join(json.Unmarshal(row.Target, &o.t), json.Unmarshal(row.Message, &o.m)); err != nil {
			m.log.Error("dropping an unreadable owed notification", "id", row.ID, "err", err)
			m.settle(row.ID, err)
			continue
		}
		if err := m.store.Resending(ctx, row.ID); err != nil {
			m.log.Warn("counting a resend failed", "id", row.ID, "err", err)
		}
		m.log.Info("notification owed: sending again", "id", row.ID, "dedup_key", o.m.DedupKey, "state", o.m.State,
			"attempts", row.Attempts+1, "last_error", row.LastError)
		m.send([]owed{o})
	}
	return nil
}

func counterOf(d slo.SLO) store.Counter {
	return store.Counter{Name: d.Name, Dataset: d.Dataset, Eligible: d.SLI.Eligible, Good: d.SLI.Good}
}

// install replaces the entry's counts with a full set from the store.
func (e *entry) install(counts []store.MinuteCount) {
	e.counts.reset()
	for _, c := range counts {
		e.counts.set(c.Minute, c.Eligible, c.Good, c.Invalid)
	}
}

// apply takes a commit's new per-minute totals.
func (m *Manager) apply(totals []store.MinuteCount) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	for _, d := range totals {
		if e := m.slos[d.Name]; e != nil {
			e.counts.set(d.Minute, d.Eligible, d.Good, d.Invalid)
		}
	}
}

// Change is what Apply did to one SLO (or, elsewhere, to another
// definition: Kind tells which).
type Change struct {
	Kind   string   `json:"kind,omitempty"`
	Name   string   `json:"name"`
	Action string   `json:"action"` // created, updated or unchanged
	Diff   []string `json:"diff,omitempty"`
}

// Apply creates or updates an SLO. Counts are backfilled from stored
// events when the SLO is new or its dataset or SLI changed. With dryRun
// nothing is changed and the diff is returned.
func (m *Manager) Apply(ctx context.Context, d slo.SLO, dryRun bool) (Change, error) {
	d.Defaults()
	if err := d.Validate(); err != nil {
		return Change{}, err
	}
	ds, err := store.NormalizeDataset(d.Dataset)
	if err != nil {
		return Change{}, fmt.Errorf("spec.dataset: %w", err)
	}
	d.Dataset = ds
	m.mu.RLock()
	old := m.slos[d.Name]
	m.mu.RUnlock()
	ch := Change{Name: d.Name, Action: "created"}
	if old != nil {
		ch.Diff = diff(old.def, d)
		ch.Action = "updated"
		if len(ch.Diff) == 0 {
			ch.Action = "unchanged"
		}
	}
	if dryRun || ch.Action == "unchanged" {
		return ch, nil
	}
	body, err := json.Marshal(d)
	if err != nil {
		return Change{}, err
	}
	backfill := old == nil || old.def.Dataset != d.Dataset || old.def.SLI != d.SLI
	e := &entry{def: d, counts: &series{}, open: map[slo.Severity]*Episode{}}
	if old != nil {
		e.open = old.open
		if !backfill {
			e.counts = old.counts
		}
	}
	if backfill {
		if old != nil {
			// stop streaming the old SLI before its counts are replaced
			m.mu.Lock()
			delete(m.slos, d.Name)
			m.mu.Unlock()
		}
		m.mu.Lock()
		m.slos[d.Name] = e
		m.mu.Unlock()
		if err := m.store.SetCounter(ctx, counterOf(d), true, e.install); err != nil {
			m.mu.Lock()
			if old != nil {
				m.slos[d.Name] = old
			} else {
				delete(m.slos, d.Name)
			}
			m.mu.Unlock()
			return Change{}, err
		}
	} else {
		m.mu.Lock()
		m.slos[d.Name] = e
		m.mu.Unlock()
	}
	if err := m.store.PutSLO(ctx, d.Name, body); err != nil {
		return Change{}, err
	}
	return ch, nil
}

// Delete removes an SLO and its counts.
func (m *Manager) Delete(ctx context.Context, name string) error {
	m.mu.Lock()
	_, ok := m.slos[name]
	delete(m.slos, name)
	m.mu.Unlock()
	if !ok {
		return ErrNotFound
	}
	if err := m.store.RemoveCounter(ctx, name); err != nil {
		return err
	}
	return m.store.DeleteSLO(ctx, name)
}

// Get returns an SLO's definition.
func (m *Manager) Get(name string) (slo.SLO, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	e, ok := m.slos[name]
	if !ok {
		return slo.SLO{}, false
	}
	return e.def, true
}

// List returns every SLO, by name.
func (m *Manager) List() []slo.SLO {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]slo.SLO, 0, len(m.slos))
	for _, e := range m.slos {
		out = append(out, e.def)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Status is an SLO's status now, with its open alerts and the events whose
// SLI could not be evaluated.
type Status struct {
	slo.Status
	Invalid int64      `json:"invalid_events"`
	Alerts  []*Episode `json:"alerts"`
}

// Status computes an SLO's status from its in-memory counts.
func (m *Manager) Status(name string) (Status, error) {
	m.mu.RLock()
	e, ok := m.slos[name]
	var open []*Episode
	if ok {
		for _, ep := range e.open {
			c := *ep
			open = append(open, &c)
		}
	}
	m.mu.RUnlock()
	if !ok {
		return Status{}, ErrNotFound
	}
	sort.Slice(open, func(i, j int) bool { return open[i].StartedAt.Before(open[j].StartedAt) })
	return Status{Status: slo.ComputeStatus(e.def, e.counts, m.now()), Invalid: e.counts.invalid(), Alerts: append([]*Episode{}, open...)}, nil
}

// Alerts returns alert episodes, newest first.
func (m *Manager) Alerts(ctx context.Context, sloName string, openOnly bool, limit int) ([]Episode, error) {
	bodies, err := m.store.Alerts(ctx, sloName, openOnly, limit)
	if err != nil {
		return nil, err
	}
	out := make([]Episode, 0, len(bodies))
	for _, b := range bodies {
		var ep Episode
		if err := json.Unmarshal(b, &ep); err != nil {
			return nil, err
		}
		out = append(out, ep)
	}
	return out, nil
}

// Run evaluates every SLO's rules each interval until ctx ends.
func (m *Manager) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		m.EvaluateAll(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// EvaluateAll evaluates every SLO once, opening and resolving episodes.
func (m *Manager) EvaluateAll(ctx context.Context) {
	began := time.Now()
	defer func() {
		m.lastEval.Store(time.Now().UnixNano())
		if m.evaluated != nil {
			m.evaluated(time.Since(began))
		}
	}()
	now := m.now()
	m.mu.RLock()
	entries := make([]*entry, 0, len(m.slos))
	for _, e := range m.slos {
		entries = append(entries, e)
	}
	m.mu.RUnlock()
	for _, e := range entries {
		m.evaluate(ctx, e, now)
		// memory stays bounded by the window (plus a day of history)
		e.counts.trim((e.def.Window.Start(now).Unix() - 86400) / 60)
	}
}

func (m *Manager) evaluate(ctx context.Context, e *entry, now time.Time) {
	results := slo.Evaluate(e.def, e.counts, now)
	for _, sev := range []slo.Severity{"page", "ticket"} {
		var firing []slo.RuleResult
		for _, r := range results {
			if r.Severity == sev && r.Firing {
				firing = append(firing, r)
			}
		}
		m.mu.Lock()
		ep := e.open[sev]
		paging := e.open[slo.Page] != nil
		m.mu.Unlock()
		switch {
		case len(firing) > 0 && ep == nil && sev == slo.Ticket && paging:
			// A page for the SLO is open: a ticket for the same burn would
			// only repeat it (as Alertmanager's inhibition would).
		case len(firing) > 0 && ep == nil:
			ep = &Episode{ID: fmt.Sprintf("%s/%s/%d", e.def.Name, sev, now.Unix()), SLO: e.def.Name, Dataset: e.def.Dataset,
				Severity: sev, State: "firing", StartedAt: now.UTC(), Detail: firing[0].Detail}
			for _, r := range firing {
				ep.Rules = append(ep.Rules, r.Rule)
			}
			// Persist the episode and the notifications it owes before
			// sending: after a crash the episode is not opened again, and
			// what was not delivered is sent again by the next start.
			notes := m.owe(e, ep)
			if err := m.persist(ctx, ep, notes); err != nil {
				m.log.Error("saving alert failed; not notifying", "slo", e.def.Name, "err", err)
				continue
			}
			m.mu.Lock()
			e.open[sev] = ep
			m.mu.Unlock()
			m.log.Info("alert firing", "slo", e.def.Name, "severity", sev, "detail", ep.Detail)
			m.send(notes)
			m.told(*ep)
		case len(firing) > 0:
			changed := false
			for _, r := range firing {
				if !contains(ep.Rules, r.Rule) {
					ep.Rules = append(ep.Rules, r.Rule)
					changed = true
				}
			}
			if changed {
				if err := m.persist(ctx, ep, nil); err != nil {
					m.log.Error("saving alert failed", "slo", e.def.Name, "err", err)
				}
			}
		case ep != nil:
			t := now.UTC()
			done := *ep
			done.State, done.ResolvedAt = "resolved", &t
			notes := m.owe(e, &done)
			if err := m.persist(ctx, &done, notes); err != nil {
				m.log.Error("saving alert failed; still firing", "slo", e.def.Name, "err", err)
				continue
			}
			m.mu.Lock()
			delete(e.open, sev)
			m.mu.Unlock()
			m.log.Info("alert resolved", "slo", e.def.Name, "severity", sev)
			m.send(notes)
			m.told(done)
		}
	}
}

// persist saves an episode with the notifications its change owes.
func (m *Manager) persist(ctx context.Context, ep *Episode, notes []owed) error {
	body, err := json.Marshal(ep)
	if err != nil {
		return err
	}
	rows := make([]store.Owed, 0, len(notes))
	created := m.now()
	for _, o := range notes {
		t, err := json.Marshal(o.t)
		if err != nil {
			return err
		}
		msg, err := json.Marshal(o.m)
		if err != nil {
			return err
		}
		rows = append(rows, store.Owed{ID: o.id, Target: t, Message: msg, Created: created, Attempts: 1})
	}
	return m.store.PutAlert(ctx, ep.ID, ep.SLO, ep.StartedAt, ep.State == "firing", body, rows...)
}

// owed is one notification an episode's change owes one target.
type owed struct {
	id string // unique per episode, state and target
	t  notify.Target
	m  notify.Message
}

// owe builds the notifications of an episode's change, one per target of
// the SLO (none without a sender).
func (m *Manager) owe(e *entry, ep *Episode) []owed {
	if m.sender == nil || len(e.def.Notify) == 0 {
		return nil
	}
	st := slo.ComputeStatus(e.def, e.counts, m.now())
	sli := 100.0
	if st.SLI != nil {
		sli = *st.SLI
	}
	msg := notify.Message{
		SLO: e.def.Name, Dataset: e.def.Dataset, Severity: string(ep.Severity), State: ep.State,
		Rule: strings.Join(ep.Rules, ", "), Summary: summary(e.def, ep, st), SLI: sli, Target: e.def.Target,
		BudgetRemainingPercent: st.BudgetRemainingPercent, BurnRates: st.BurnRate, ExhaustionSeconds: st.ExhaustionSeconds,
		DedupKey: ep.ID, At: m.now().UTC(),
	}
	if m.link != "" {
		msg.Link = m.link + "/slos/" + e.def.Name
	}
	msg = notify.Clean(msg) // stored as JSON, which has no NaN or infinity
	out := make([]owed, len(e.def.Notify))
	for i, n := range e.def.Notify {
		out[i] = owed{id: fmt.Sprintf("%s/%s/%d", ep.ID, ep.State, i), t: notify.Target{Type: n.Type, URL: n.URL, Secret: n.Secret, RoutingKey: n.RoutingKey}, m: msg}
	}
	return out
}

// send hands saved notifications to the sender, which delivers them in
// the background; each is settled when the sender is done with it.
func (m *Manager) send(notes []owed) {
	for _, o := range notes {
		m.sender.SendThen(o.t, o.m, func(err error) { m.settle(o.id, err) })
	}
}

// settle forgets a notification once it is delivered or given up on (the
// sender logs and counts the failure); one the sender closed on stays
// owed, for the next start to send again.
func (m *Manager) settle(id string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if errors.Is(err, notify.ErrClosed) {
		if uerr := m.store.Unsent(ctx, id, err.Error()); uerr != nil {
			m.log.Warn("noting an undelivered notification failed; it stays owed", "id", id, "err", uerr)
		}
		return
	}
	if serr := m.store.Settle(ctx, id); serr != nil {
		m.log.Error("forgetting a settled notification failed; the next start sends it again", "id", id, "err", serr)
	}
}

func summary(d slo.SLO, ep *Episode, st slo.Status) string {
	if ep.State == "resolved" {
		return fmt.Sprintf("%s: error budget burn is back under the %s thresholds (budget remaining %.1f%%)", d.Name, ep.Severity, st.BudgetRemainingPercent)
	}
	s := fmt.Sprintf("%s is burning its error budget: %s; budget remaining %.1f%%", d.Name, ep.Detail, st.BudgetRemainingPercent)
	if st.ExhaustionSeconds != nil {
		s += fmt.Sprintf(", exhausted in %s at this rate", (time.Duration(*st.ExhaustionSeconds) * time.Second).Round(time.Minute))
	}
	return s
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// diff lists the fields that differ between two definitions.
func diff(a, b slo.SLO) []string {
	var am, bm map[string]any
	ab, _ := json.Marshal(a)
	bb, _ := json.Marshal(b)
	json.Unmarshal(ab, &am) //nolint:errcheck // our own JSON
	json.Unmarshal(bb, &bm) //nolint:errcheck
	var out []string
	keys := map[string]bool{}
	for k := range am {
		keys[k] = true
	}
	for k := range bm {
		keys[k] = true
	}
	for k := range keys {
		x, _ := json.Marshal(am[k])
		y, _ := json.Marshal(bm[k])
		if string(x) != string(y) {
			out = append(out, fmt.Sprintf("%s: %s → %s", k, x, y))
		}
	}
	sort.Strings(out)
	return out
}

// Incidents measures the SLO's alert episodes (newest first, at most
// limit) from its per-minute counts: when the bad events started, when
// the alert fired, when the burn stopped and the share of events hit.
func (m *Manager) Incidents(ctx context.Context, sloName string, limit int) ([]risk.Incident, error) {
	m.mu.RLock()
	e, ok := m.slos[sloName]
	m.mu.RUnlock()
	if !ok {
		return nil, ErrNotFound
	}
	eps, err := m.Alerts(ctx, sloName, false, limit)
	if err != nil {
		return nil, err
	}
	out := make([]risk.Incident, 0, len(eps))
	now := m.now()
	for _, ep := range eps {
		out = append(out, risk.Measure(ep.ID, ep.SLO, string(ep.Severity), ep.StartedAt, ep.ResolvedAt, 1-e.def.Target/100, e.counts, now))
	}
	return out, nil
}
