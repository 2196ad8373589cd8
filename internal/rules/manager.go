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
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prodex/prodex/internal/problem"
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

// noSLO is the error for an SLO that does not exist: problem.ErrNotFound,
// saying what the API answers.
func noSLO(name string) error { return problem.Errorf(problem.NotFound, "SLO %s does not exist", name) }

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
	st.OnCounts(m.setCounts)
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
