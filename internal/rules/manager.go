// Package rules keeps each SLO's per-minute counts in memory, evaluates its
// alert rules continuously and turns rule results into alert episodes: one
// per SLO and severity, opened when any rule of that severity fires and
// resolved when none does, notified once each way and persisted so that a
// restart neither repeats nor forgets a page: each notification owed is
// saved with its episode change and forgotten once delivered or given up
// on, so a crash in between sends it again, with the same dedup key.
// While an SLO pages, no ticket is opened for it.
//
// Several nodes may share the storage: with a Lease, one of them (the
// leader) evaluates and notifies, and Sync brings the SLOs applied on the
// others into each.
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

	"github.com/prodex/prodex/internal/event"
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

// forgetter is a store whose counters several nodes share: ForgetCounter
// stops this node following one without touching the shared counts.
type forgetter interface {
	ForgetCounter(name string)
}

// Outbox keeps the notifications owed until they are settled, so that a
// crash between saving an episode and delivering its page loses nothing.
type Outbox interface {
	Owed(ctx context.Context) ([]store.Owed, error)
	Resending(ctx context.Context, id string) error
	Unsent(ctx context.Context, id, reason string) error
	Settle(ctx context.Context, id string) error
}

// Lease elects the one node of several that evaluates alerts
// (meta.Store has it). Lease takes or renews the lease
// called name for holder; Release gives it up, so that another node need
// not wait for it to expire.
type Lease interface {
	Lease(ctx context.Context, name, holder string, ttl time.Duration) (held bool, until time.Time, err error)
	Release(ctx context.Context, name, holder string) error
}

// leaseName is the lease of the node that evaluates alerts.
const leaseName = "alerts"

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

	// setMu orders the changes to the set of SLOs (Apply, Delete, Sync),
	// so that Sync never finds an SLO applied here but not yet stored.
	setMu sync.Mutex
	mu    sync.RWMutex
	slos  map[string]*entry

	onEpisode func(Episode) // see OnEpisode

	lastEval  atomic.Int64 // unix nanoseconds of the last completed round
	evaluated func(took time.Duration)

	syncEvery time.Duration
	lease     Lease // nil: this node always evaluates
	holder    string
	leaseTTL  time.Duration
	mono      func() time.Time // the local clock leadership is timed by
	leaseMu   sync.Mutex
	heldAt    time.Time // when the last granted renewal was asked; zero: not leading
	leading   bool      // as Run last logged it
}

// LastEvaluated is when the last round of evaluation completed (zero
// before the first). A follower (see Options.Lease) counts each tick on
// which it got an answer about the lease as a round, so that readiness,
// which checks this, finds a healthy follower ready.
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

	// Lease, when set, makes this node one of several sharing the store:
	// Run evaluates and notifies only while this node holds the lease
	// "alerts" as Holder. Nil is a single node, which always evaluates.
	Lease  Lease
	Holder string // this node's id; needed with a Lease
	// LeaseTTL is how long a lease lasts unrenewed (default 15s). Run
	// renews it every LeaseTTL/3 at least and stops evaluating when no
	// renewal succeeded for LeaseTTL*2/3, before another node can take it.
	LeaseTTL time.Duration
	// SyncEvery is how often Run reads the SLOs other nodes applied
	// (Sync); 0, for a single node, never.
	SyncEvery time.Duration
}

// New loads the stored SLOs, their counts and open alert episodes.
func New(ctx context.Context, st Store, sender Sender, o Options) (*Manager, error) {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Lease != nil && o.Holder == "" {
		return nil, errors.New("rules: a Lease needs a Holder")
	}
	if o.LeaseTTL <= 0 {
		o.LeaseTTL = 15 * time.Second
	}
	m := &Manager{store: st, sender: sender, log: o.Log, now: o.Now, link: strings.TrimRight(o.Link, "/"), slos: map[string]*entry{}, evaluated: o.Evaluated,
		syncEvery: o.SyncEvery, lease: o.Lease, holder: o.Holder, leaseTTL: o.LeaseTTL, mono: time.Now}
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
	if err := m.loadOpen(ctx); err != nil {
		return nil, err
	}
	if m.lease != nil {
		return m, nil // the leader sends what is owed, when it takes over
	}
	if err := m.resend(ctx); err != nil {
		return nil, fmt.Errorf("notifications owed: %w", err)
	}
	return m, nil
}

// loadOpen replaces the open episodes of every SLO with the stored ones:
// a new leader's memory of them may be stale.
func (m *Manager) loadOpen(ctx context.Context) error {
	bodies, err := m.store.Alerts(ctx, "", true, 10000)
	if err != nil {
		return err
	}
	open := map[string]map[slo.Severity]*Episode{}
	for _, body := range bodies {
		var ep Episode
		if err := json.Unmarshal(body, &ep); err != nil {
			return err
		}
		if open[ep.SLO] == nil {
			open[ep.SLO] = map[slo.Severity]*Episode{}
		}
		open[ep.SLO][ep.Severity] = &ep
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for name, e := range m.slos {
		if open[name] == nil {
			open[name] = map[slo.Severity]*Episode{}
		}
		e.open = open[name]
	}
	return nil
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
	ds, err := event.NormalizeDataset(d.Dataset)
	if err != nil {
		return Change{}, fmt.Errorf("spec.dataset: %w", err)
	}
	d.Dataset = ds
	m.setMu.Lock()
	defer m.setMu.Unlock()
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
	e := m.successor(old, d, backfill)
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
	m.setMu.Lock()
	defer m.setMu.Unlock()
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

// successor is the entry replacing old (nil for a new SLO) with definition
// d: it keeps old's open episodes, and its counts unless they are counted
// anew.
func (m *Manager) successor(old *entry, d slo.SLO, recount bool) *entry {
	e := &entry{def: d, counts: &series{}, open: map[slo.Severity]*Episode{}}
	if old != nil {
		m.mu.RLock()
		e.open = old.open // a new leader may replace it (loadOpen)
		m.mu.RUnlock()
		if !recount {
			e.counts = old.counts
		}
	}
	return e
}

// Sync brings the SLOs in memory in line with the stored ones, which
// other nodes sharing the store change: it adds the SLOs it does not know,
// replaces those whose definition differs (keeping their open episodes,
// and their counts unless the dataset or SLI changed) and drops those no
// longer stored. The node that applied a change already counted its
// events, so the counts are read, not backfilled.
func (m *Manager) Sync(ctx context.Context) error {
	m.setMu.Lock()
	defer m.setMu.Unlock()
	bodies, err := m.store.SLOs(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for name, body := range bodies {
		var d slo.SLO
		if err := json.Unmarshal(body, &d); err != nil {
			errs = append(errs, fmt.Errorf("stored SLO %s: %w", name, err))
			continue
		}
		d.Defaults()
		m.mu.RLock()
		old := m.slos[name]
		m.mu.RUnlock()
		if old != nil && len(diff(old.def, d)) == 0 {
			continue
		}
		recount := old == nil || old.def.Dataset != d.Dataset || old.def.SLI != d.SLI
		e := m.successor(old, d, recount)
		m.mu.Lock()
		m.slos[name] = e
		m.mu.Unlock()
		if !recount {
			continue
		}
		if err := m.store.SetCounter(ctx, counterOf(d), false, e.install); err != nil {
			m.mu.Lock()
			if old != nil {
				m.slos[name] = old
			} else {
				delete(m.slos, name)
			}
			m.mu.Unlock()
			errs = append(errs, fmt.Errorf("SLO %s: %w", name, err))
			continue
		}
		m.log.Info("SLO synced from the store", "slo", name)
	}
	m.mu.Lock()
	var gone []string
	for name := range m.slos {
		if _, ok := bodies[name]; !ok {
			delete(m.slos, name)
			gone = append(gone, name)
		}
	}
	m.mu.Unlock()
	for _, name := range gone {
		m.log.Info("SLO deleted on another node: dropped", "slo", name)
		// A store shared by the nodes had the counter removed by the node
		// that deleted the SLO; removing it again here could remove the
		// counter of the same name that node has applied since.
		if f, ok := m.store.(forgetter); ok {
			f.ForgetCounter(name)
		} else if err := m.store.RemoveCounter(ctx, name); err != nil {
			errs = append(errs, fmt.Errorf("SLO %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
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

// Run evaluates every SLO's rules each interval until ctx ends. With a
// Lease it first takes or renews the lease, evaluates only while this node
// leads, and releases the lease at the end so that another node takes over
// at once. With SyncEvery it syncs the SLOs that often.
func (m *Manager) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	var renew <-chan time.Time
	if m.lease != nil {
		defer m.release()
		if every > m.leaseTTL/3 {
			r := time.NewTicker(m.leaseTTL / 3)
			defer r.Stop()
			renew = r.C
		}
	}
	synced := time.Now() // New read the SLOs
	for {
		if m.syncEvery > 0 && time.Since(synced) >= m.syncEvery {
			synced = time.Now()
			if err := m.Sync(ctx); err != nil {
				m.log.Warn("syncing SLOs from the store failed", "err", err)
			}
			// A follower shows the episodes the leader opens and resolves.
			if m.lease != nil && !m.Leader() {
				if err := m.loadOpen(ctx); err != nil {
					m.log.Warn("reading the open alerts failed", "err", err)
				}
			}
		}
		answered := m.lease == nil || m.renew(ctx)
		switch {
		case m.Leader():
			m.EvaluateAll(ctx)
		case answered:
			m.lastEval.Store(time.Now().UnixNano()) // a healthy follower
		}
		for wait := true; wait; {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				wait = false
			case <-renew:
				m.renew(ctx)
			}
		}
	}
}

// Leader reports whether this node evaluates alerts: always without a
// Lease; with one, while a renewal of the lease succeeded less than
// LeaseTTL*2/3 ago by the local clock, which leaves a node cut off from
// the store time to stop before the lease expires and another takes it.
func (m *Manager) Leader() bool {
	if m.lease == nil {
		return true
	}
	return m.leaderAt(m.mono())
}

func (m *Manager) leaderAt(now time.Time) bool {
	m.leaseMu.Lock()
	defer m.leaseMu.Unlock()
	return !m.heldAt.IsZero() && now.Sub(m.heldAt) < m.leaseTTL*2/3
}

func (m *Manager) setHeld(at time.Time) {
	m.leaseMu.Lock()
	defer m.leaseMu.Unlock()
	m.heldAt = at
}

// renew takes or renews the lease and reports whether the store answered.
// On taking it (again), this node reloads the open episodes, which the
// previous leader changed, and sends what is owed before it leads.
func (m *Manager) renew(ctx context.Context) bool {
	asked := m.mono()
	was := m.leaderAt(asked)
	// Given up after a third of the ttl, a renewal granted is one asked
	// while the lease was still this node's, if it was.
	lctx, cancel := context.WithTimeout(ctx, m.leaseTTL/3)
	held, _, err := m.lease.Lease(lctx, leaseName, m.holder, m.leaseTTL)
	cancel()
	switch {
	case err != nil:
		m.log.Warn("renewing the alerts lease failed", "holder", m.holder, "err", err)
	case !held:
		m.setHeld(time.Time{})
	case was:
		m.setHeld(asked)
	default:
		if err := m.takeOver(ctx); err != nil {
			m.log.Error("taking over alert evaluation failed; releasing the lease", "holder", m.holder, "err", err)
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			if err := m.lease.Release(rctx, leaseName, m.holder); err != nil {
				m.log.Warn("releasing the alerts lease failed", "holder", m.holder, "err", err)
			}
			cancel()
			break
		}
		m.setHeld(asked)
	}
	m.noteLeading()
	return err == nil
}

// noteLeading logs a change of leadership.
func (m *Manager) noteLeading() {
	now := m.Leader()
	switch {
	case now && !m.leading:
		m.log.Info("leading alert evaluation", "holder", m.holder)
	case !now && m.leading:
		m.log.Warn("no longer leading alert evaluation: stopped evaluating", "holder", m.holder)
	}
	m.leading = now
}

func (m *Manager) takeOver(ctx context.Context) error {
	if err := m.loadOpen(ctx); err != nil {
		return fmt.Errorf("open alerts: %w", err)
	}
	if err := m.resend(ctx); err != nil {
		return fmt.Errorf("notifications owed: %w", err)
	}
	return nil
}

// release gives up the lease at the end of Run.
func (m *Manager) release() {
	m.setHeld(time.Time{})
	m.noteLeading()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := m.lease.Release(ctx, leaseName, m.holder); err != nil {
		m.log.Warn("releasing the alerts lease failed; another node takes over when it expires", "holder", m.holder, "err", err)
	}
}

// EvaluateAll evaluates every SLO once, opening and resolving episodes.
// With a Lease, only while this node leads.
func (m *Manager) EvaluateAll(ctx context.Context) {
	if !m.Leader() {
		return
	}
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
		if !m.Leader() {
			return // lost the lease mid-round: the next leader goes on
		}
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
