package ingest

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// fakeMachine is the memory and disk a guard sees in a test.
type fakeMachine struct{ rss, free atomic.Int64 }

func (m *fakeMachine) guard(o GuardOptions) *Guard {
	o.rss = func() (int64, error) { return m.rss.Load(), nil }
	o.free = func(string) (int64, error) { return m.free.Load(), nil }
	o.Dir = "data"
	return NewGuard(o)
}

func TestGuardShedsAndResumes(t *testing.T) {
	m := &fakeMachine{}
	m.rss.Store(100)
	m.free.Store(1 << 30)
	g := m.guard(GuardOptions{MemoryCeiling: 1000, MinFreeDisk: 1 << 20})
	st := &slowStore{}
	w := NewWriter(st, Options{Guard: g})
	defer w.Close()
	submit := func() error {
		t, err := w.Admit(context.Background())
		if err != nil {
			return err
		}
		defer t.Done()
		return w.Submit(context.Background(), batch(3))
	}
	steps := []struct {
		rss, free int64
		want      error
	}{
		{100, 1 << 30, nil},
		{899, 1 << 30, nil},           // under 90 % of the ceiling (queries are cancelled from 85 %)
		{900, 1 << 30, ErrMemory},     // at it
		{500, 1 << 30, nil},           // memory came back
		{500, 1<<20 - 1, ErrDiskFull}, // disk below the minimum
		{950, 1<<20 - 1, ErrDiskFull}, // the disk is named first
		{100, 1 << 20, nil},           // space freed
	}
	for i, s := range steps {
		m.rss.Store(s.rss)
		m.free.Store(s.free)
		g.sample()
		if err := submit(); !errors.Is(err, s.want) {
			t.Fatalf("step %d (rss %d, free %d): %v, want %v", i, s.rss, s.free, err, s.want)
		}
	}
	if n := st.events.Load(); n != 4*3 {
		t.Errorf("stored %d events, want 12", n)
	}
	if r := w.Refused(); r["memory"] != 1 || r["disk"] != 2 {
		t.Errorf("refusals %v", r)
	}
	// Submit checks too: events decoded before the disk filled are refused
	// whole, not half-committed.
	m.free.Store(0)
	g.sample()
	if err := w.Submit(context.Background(), batch(2)); !errors.Is(err, ErrDiskFull) {
		t.Errorf("submit on a full disk: %v", err)
	}
}

func TestGuardCapsRequestsInFlight(t *testing.T) {
	g := (&fakeMachine{}).guard(GuardOptions{MaxInFlight: 2})
	r1, err1 := g.Admit("", "k")
	r2, err2 := g.Admit("", "k")
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if _, err := g.Admit("", "k"); !errors.Is(err, ErrTooManyRequests) {
		t.Fatalf("third: %v", err)
	}
	r1.Done()
	r1.Done() // a second Done gives nothing back twice
	r3, err := g.Admit("", "k")
	if err != nil {
		t.Fatalf("after a release: %v", err)
	}
	if _, err := g.Admit("", "k"); !errors.Is(err, ErrTooManyRequests) {
		t.Fatalf("after a double Done: %v", err)
	}
	r2.Done()
	r3.Done()
	if n := g.State().InFlight; n != 0 {
		t.Errorf("in flight %d after every release", n)
	}
}

func TestGuardRunSamples(t *testing.T) {
	m := &fakeMachine{}
	m.free.Store(1 << 30)
	g := m.guard(GuardOptions{MinFreeDisk: 1 << 20, Every: time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go g.Run(ctx)
	m.free.Store(0)
	deadline := time.Now().Add(5 * time.Second)
	for !g.State().DiskOver {
		if time.Now().After(deadline) {
			t.Fatal("the guard never saw the disk fill")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestRefusal(t *testing.T) {
	for _, c := range []struct {
		err          error
		status, secs int
	}{
		{ErrBusy, http.StatusTooManyRequests, 1},
		{ErrTooManyRequests, http.StatusTooManyRequests, 1},
		{ErrMemory, http.StatusServiceUnavailable, 2},
		{ErrDiskFull, http.StatusInsufficientStorage, 30},
		{ErrClosed, http.StatusServiceUnavailable, 5},
		{errors.New("commit failed"), http.StatusServiceUnavailable, 5},
	} {
		if s, a := Refusal(c.err); s != c.status || a != c.secs {
			t.Errorf("%v: %d %d, want %d %d", c.err, s, a, c.status, c.secs)
		}
	}
}

func TestRealSamplers(t *testing.T) {
	if n, err := residentBytes(); err != nil || n <= 0 {
		t.Errorf("resident: %d %v", n, err)
	}
	if n, err := freeBytes(t.TempDir()); err != nil || n <= 0 {
		t.Errorf("free: %d %v", n, err)
	}
}

// A heavy query starts only below 70 % of the ceiling, one that ranks
// below 85 %.
func TestGuardRoomyForAHeavyQueryBelowSeventyPercentCalmBelowEightyFive(t *testing.T) {
	m := &fakeMachine{}
	m.free.Store(1 << 30)
	g := m.guard(GuardOptions{MemoryCeiling: 1000})
	for _, s := range []struct {
		rss  int64
		want bool
	}{{100, true}, {699, true}, {700, false}, {950, false}, {600, true}} {
		m.rss.Store(s.rss)
		g.sample()
		if g.Roomy() != s.want {
			t.Errorf("rss %d of 1000: Roomy %v, want %v", s.rss, !s.want, s.want)
		}
	}
	// A query that ranks starts below 85 %, where cancelling begins.
	for _, s := range []struct {
		rss  int64
		want bool
	}{{700, true}, {849, true}, {850, false}, {600, true}} {
		m.rss.Store(s.rss)
		g.sample()
		if g.Calm() != s.want {
			t.Errorf("rss %d of 1000: Calm %v, want %v", s.rss, !s.want, s.want)
		}
	}
	if !(&fakeMachine{}).guard(GuardOptions{}).Roomy() {
		t.Error("without a ceiling, a heavy query waited for memory")
	}
}

func TestGuardAsksForMemoryBack(t *testing.T) {
	m := &fakeMachine{}
	m.free.Store(1 << 30)
	var calls int
	g := m.guard(GuardOptions{MemoryCeiling: 1000, OnMemoryHigh: func() { calls++ }})
	for _, s := range []struct {
		rss  int64
		want int // calls so far
	}{
		{700, 0},  // a heavy query waits to start, nothing more
		{849, 0},  // still
		{850, 1},  // at CancelAt, before ingest is refused: give memory back
		{990, 2},  // again at every sample while it stays high
		{500, 2},  // back under
		{1200, 3}, // straight over
	} {
		m.rss.Store(s.rss)
		g.sample()
		if calls != s.want {
			t.Fatalf("rss %d: OnMemoryHigh called %d times, want %d", s.rss, calls, s.want)
		}
	}
}
