package rules

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prodex/prodex/internal/notify"
	"github.com/prodex/prodex/internal/store"
)

// shared is one DuckDB store as several nodes share it: the store keeps
// one OnCounts function, so this one passes each commit's counts to every
// manager's.
type shared struct {
	*embedded
	mu sync.Mutex
	fs []func([]store.MinuteCount)
}

func openShared(t *testing.T) *shared {
	t.Helper()
	st, err := openEmbedded(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	s := &shared{embedded: st}
	st.OnCounts(func(c []store.MinuteCount) {
		s.mu.Lock()
		fs := append([]func([]store.MinuteCount){}, s.fs...)
		s.mu.Unlock()
		for _, f := range fs {
			f(c)
		}
	})
	return s
}

func (s *shared) OnCounts(f func([]store.MinuteCount)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fs = append(s.fs, f)
}

// delivered is a sender that delivers every message at once.
type delivered struct {
	mu   sync.Mutex
	msgs []notify.Message
}

func (d *delivered) SendThen(_ notify.Target, m notify.Message, done func(error)) {
	d.mu.Lock()
	d.msgs = append(d.msgs, m)
	d.mu.Unlock()
	done(nil)
}

func (d *delivered) got() []notify.Message {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]notify.Message(nil), d.msgs...)
}

// flaky is a Lease whose calls fail while failing is set.
type flaky struct {
	to      Lease
	failing atomic.Bool
	calls   atomic.Int64
}

var errCutOff = errors.New("cut off from the database")

func (f *flaky) Lease(ctx context.Context, name, holder string, ttl time.Duration) (bool, time.Time, error) {
	f.calls.Add(1)
	if f.failing.Load() {
		return false, time.Time{}, errCutOff
	}
	return f.to.Lease(ctx, name, holder, ttl)
}

func (f *flaky) Release(ctx context.Context, name, holder string) error {
	return f.to.Release(ctx, name, holder)
}

func newNode(t *testing.T, st Store, s Sender, o Options) *Manager {
	t.Helper()
	o.Log, o.Now = quiet, func() time.Time { return outboxNow }
	m, err := New(context.Background(), st, s, o)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// run runs m every tick until the returned function, which waits for Run
// to return, is called.
func run(m *Manager, tick time.Duration) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		m.Run(ctx, tick)
	}()
	return func() {
		cancel()
		<-done
	}
}

// rounds waits for n more rounds of m's Run (evaluations, or a follower's
// lease checks).
func rounds(t *testing.T, m *Manager, n int) {
	t.Helper()
	last := m.LastEvaluated()
	for i := 0; i < n; i++ {
		eventually(t, "a round", func() bool { return m.LastEvaluated().After(last) })
		last = m.LastEvaluated()
	}
}

// TestOneLeaderPages: of two nodes over one store, only the one holding
// the lease evaluates and pages. When it stops (releasing the lease), the
// other takes over within a few ticks, knows the open episode and does not
// page again; when the burn stops, it sends the one resolve.
func TestOneLeaderPages(t *testing.T) {
	ctx := context.Background()
	st := openShared(t)
	sa, sb := &delivered{}, &delivered{}
	a := newNode(t, st, sa, Options{Lease: st.embedded, Holder: "a", LeaseTTL: 5 * time.Second})
	if _, err := a.Apply(ctx, outboxSLO("http://pager.invalid"), false); err != nil {
		t.Fatal(err)
	}
	b := newNode(t, st, sb, Options{Lease: st.embedded, Holder: "b", LeaseTTL: 5 * time.Second})
	if a.Leader() || b.Leader() {
		t.Fatal("a node leads before it ran")
	}
	burn(a, "checkout", 100)
	burn(b, "checkout", 100)
	const tick = 5 * time.Millisecond
	stopA := run(a, tick)
	defer func() {
		if stopA != nil {
			stopA()
		}
	}()
	eventually(t, "a to lead", a.Leader)
	stopB := run(b, tick)
	defer stopB()
	eventually(t, "a's page", func() bool { return len(sa.got()) == 1 })
	rounds(t, b, 3)
	if b.Leader() || len(sb.got()) != 0 {
		t.Fatalf("the follower leads (%v) or paged: %+v", b.Leader(), sb.got())
	}
	page := sa.got()[0]
	if page.State != "firing" {
		t.Fatalf("a sent %+v, want the firing page", page)
	}

	stopA()
	stopA = nil
	if a.Leader() {
		t.Error("a still leads after its Run ended")
	}
	eventually(t, "b to lead", b.Leader)
	rounds(t, b, 3)
	if got := sb.got(); len(got) != 0 {
		t.Fatalf("the new leader notified again: %+v", got)
	}
	if s, err := b.Status("checkout"); err != nil || len(s.Alerts) != 1 || s.Alerts[0].ID != page.DedupKey {
		t.Fatalf("b's open alerts: %+v %v, want %s", s.Alerts, err, page.DedupKey)
	}

	burn(b, "checkout", 0)
	eventually(t, "b's resolve", func() bool { return len(sb.got()) > 0 })
	rounds(t, b, 3)
	got := sb.got()
	if len(got) != 1 || got[0].State != "resolved" || got[0].DedupKey != page.DedupKey {
		t.Fatalf("b sent %+v, want one resolve of %s", got, page.DedupKey)
	}
	if len(sa.got()) != 1 {
		t.Errorf("a sent %d notifications, want the one page", len(sa.got()))
	}
}

// TestLeaderOwesAtTakeover: with a Lease, New leaves what is owed to the
// leader, which sends it when it takes the lease.
func TestLeaderOwesAtTakeover(t *testing.T) {
	ctx := context.Background()
	st := openShared(t)
	crashed := &lost{}
	m := newNode(t, st, crashed, Options{})
	if _, err := m.Apply(ctx, outboxSLO("http://pager.invalid"), false); err != nil {
		t.Fatal(err)
	}
	burn(m, "checkout", 100)
	m.EvaluateAll(ctx)
	if len(owedRows(t, st.embedded)) != 1 {
		t.Fatal("the page is not owed")
	}
	s := &delivered{}
	n := newNode(t, st, s, Options{Lease: st.embedded, Holder: "n"})
	if got := s.got(); len(got) != 0 {
		t.Fatalf("New sent %+v with a Lease", got)
	}
	if !n.renew(ctx) || !n.Leader() {
		t.Fatal("the free lease was not taken")
	}
	if got := s.got(); len(got) != 1 || got[0].DedupKey != crashed.msgs[0].DedupKey {
		t.Fatalf("sent at takeover: %+v, want the owed page", got)
	}
	if len(owedRows(t, st.embedded)) != 0 {
		t.Error("still owed after delivery")
	}
}

// TestLeadershipLost: a leader whose renewals fail stops evaluating once
// none succeeded for 2/3 of the ttl (by its own clock), and leads again,
// reloading the open episodes, once a renewal succeeds.
func TestLeadershipLost(t *testing.T) {
	ctx := context.Background()
	st := openShared(t)
	lease := &flaky{to: st.embedded}
	s := &delivered{}
	const ttl = 30 * time.Second
	m := newNode(t, st, s, Options{Lease: lease, Holder: "m", LeaseTTL: ttl})
	var clock atomic.Int64 // offset of m's clock, in nanoseconds
	base := time.Now()
	m.mono = func() time.Time { return base.Add(time.Duration(clock.Load())) }
	advance := func(d time.Duration) { clock.Add(int64(d)) }
	if _, err := m.Apply(ctx, outboxSLO("http://pager.invalid"), false); err != nil {
		t.Fatal(err)
	}
	burn(m, "checkout", 100)

	for i, step := range []struct {
		what     string
		advance  time.Duration
		fail     bool
		answered bool // what renew returns
		leader   bool
	}{
		{"takes the free lease", 0, false, true, true},
		{"renews", ttl / 3, false, true, true},
		{"a failed renewal within 2/3 ttl of the last", ttl / 2, true, false, true},
		{"another, 2/3 ttl after the last success", ttl/6 + time.Millisecond, true, false, false},
		{"cut off for long", ttl, true, false, false},
		{"leads again once the store answers", 0, false, true, true},
	} {
		advance(step.advance)
		lease.failing.Store(step.fail)
		if answered := m.renew(ctx); answered != step.answered {
			t.Errorf("%d. %s: renew = %v, want %v", i+1, step.what, answered, step.answered)
		}
		if m.Leader() != step.leader {
			t.Fatalf("%d. %s: Leader = %v, want %v", i+1, step.what, m.Leader(), step.leader)
		}
		m.EvaluateAll(ctx)
		pages := len(s.got())
		if i == 0 && pages != 1 {
			t.Fatalf("the leader did not page: %+v", s.got())
		}
		if step.what == "cut off for long" {
			// The node that took over resolved the episode meanwhile.
			resolveElsewhere(t, st, m)
			burn(m, "checkout", 0)
			m.EvaluateAll(ctx)
			if len(s.got()) != pages {
				t.Fatalf("a node that lost the lease notified: %+v", s.got())
			}
			burn(m, "checkout", 100)
		}
	}
	// Back as leader, it knows the episode was resolved: it pages anew.
	eps, err := m.Alerts(ctx, "checkout", true, 10)
	if err != nil || len(eps) != 1 {
		t.Fatalf("open episodes %+v %v", eps, err)
	}
	if got := s.got(); len(got) != 2 || got[1].DedupKey != eps[0].ID {
		t.Errorf("sent %+v, want the first page and one for the new episode", got)
	}
}

// resolveElsewhere resolves m's open page as another leader would have.
func resolveElsewhere(t *testing.T, st *shared, m *Manager) {
	t.Helper()
	eps, err := m.Alerts(context.Background(), "checkout", true, 10)
	if err != nil || len(eps) != 1 {
		t.Fatalf("open episodes %+v %v", eps, err)
	}
	other := newNode(t, st, nil, Options{})
	burn(other, "checkout", 0)
	other.EvaluateAll(context.Background())
	if eps, _ := m.Alerts(context.Background(), "checkout", true, 10); len(eps) != 0 {
		t.Fatalf("still open: %+v", eps)
	}
}

// TestRunStopsWhenCutOff: Run, renewing more often than it ticks, stops
// leading while the store does not answer and leads again when it does.
func TestRunStopsWhenCutOff(t *testing.T) {
	st := openShared(t)
	lease := &flaky{to: st.embedded}
	const ttl = 150 * time.Millisecond
	m := newNode(t, st, nil, Options{Lease: lease, Holder: "m", LeaseTTL: ttl})
	stop := run(m, time.Hour) // only the renewals every ttl/3 tick
	defer stop()
	eventually(t, "m to lead", m.Leader)
	calls := lease.calls.Load()
	eventually(t, "renewals between the ticks", func() bool { return lease.calls.Load() >= calls+3 })
	lease.failing.Store(true)
	eventually(t, "m to stop leading", func() bool { return !m.Leader() })
	lease.failing.Store(false)
	eventually(t, "m to lead again", m.Leader)
}
