package storetest

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prodex/prodex/internal/store"
)

// Counts is what a store does for SLO counts.
type Counts interface {
	SetCounter(ctx context.Context, c store.Counter, backfill bool, install func([]store.MinuteCount)) error
	RemoveCounter(ctx context.Context, name string) error
	OnCounts(f func([]store.MinuteCount))
}

// tally keeps the latest totals a store reported, by minute from t0.
type tally struct {
	mu  sync.Mutex
	got map[int64]store.MinuteCount
}

func (c *tally) install(counts []store.MinuteCount) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got = map[int64]store.MinuteCount{}
	for _, m := range counts {
		c.got[m.Minute] = m
	}
}

func (c *tally) apply(counts []store.MinuteCount) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range counts {
		if m.Name == "api" {
			c.got[m.Minute] = m
		}
	}
}

func (c *tally) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for m, n := range c.got {
		out = append(out, fmt.Sprintf("m%d e%d g%d i%d", m-t0.Unix()/60, n.Eligible, n.Good, n.Invalid))
	}
	sort.Strings(out)
	return strings.Join(out, "; ")
}

// await waits for the totals to read expect.
func (c *tally) await(t *testing.T, what, expect string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for c.String() != expect && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	want(t, what, c.String(), expect)
}

// sloCounts: an SLO's per-minute counts, weighted by sample rate, from a
// backfill of stored events, then as events arrive (also after a field the
// SLI reads changes type), and again after a restart.
func sloCounts(t *testing.T, open Opener) {
	ctx := context.Background()
	st := open(t, Config{})
	c := store.Counter{Name: "api", Dataset: "cnt", Eligible: `path.startsWith("/api")`, Good: "code < 500 && ms < 300"}
	put(t, st, "cnt",
		ev(0, 1, map[string]any{"path": "/api/a", "code": int64(200), "ms": int64(120)}),          // good
		ev(time.Second, 2, map[string]any{"path": "/api/b", "code": int64(503), "ms": int64(20)}), // bad ×2
		ev(2*time.Second, 1, map[string]any{"path": "/health", "code": int64(500)}),               // not eligible
		ev(60*time.Second, 1, map[string]any{"path": "/api/c", "code": int64(200), "ms": int64(450)}),
		ev(61*time.Second, 3, map[string]any{"path": "/api/d", "ms": int64(10)}),  // no code: invalid ×3
		ev(62*time.Second, 1, map[string]any{"code": int64(200), "ms": int64(1)})) // no path: invalid
	cs := st.(Counts)
	var got tally
	cs.OnCounts(got.apply)
	if err := cs.SetCounter(ctx, c, true, got.install); err != nil {
		t.Fatal(err)
	}
	want(t, "backfill", got.String(), "m0 e3 g1 i0; m1 e1 g0 i4")

	put(t, st, "cnt",
		ev(63*time.Second, 2, map[string]any{"path": "/api/e", "code": int64(200), "ms": int64(100)}),
		ev(5*time.Minute, 1, map[string]any{"path": "/api/f", "code": int64(500), "ms": int64(5)}))
	got.await(t, "as events arrive", "m0 e3 g1 i0; m1 e3 g2 i4; m5 e1 g0 i0")

	// ms becomes a float: the counts read it as one from then on.
	put(t, st, "cnt",
		ev(6*time.Minute, 1, map[string]any{"path": "/api/g", "code": int64(200), "ms": 299.5}),
		ev(6*time.Minute+time.Second, 4, map[string]any{"path": "/api/h", "code": int64(200), "ms": 300.5}))
	got.await(t, "after a type promotion", "m0 e3 g1 i0; m1 e3 g2 i4; m5 e1 g0 i0; m6 e5 g1 i0")

	// A restart keeps the counts; the counter is set again without a
	// backfill, as the alert rules do at start.
	st = open(t, Config{Reopen: st})
	cs = st.(Counts)
	var again tally
	cs.OnCounts(again.apply)
	if err := cs.SetCounter(ctx, c, false, again.install); err != nil {
		t.Fatal(err)
	}
	want(t, "after a restart", again.String(), "m0 e3 g1 i0; m1 e3 g2 i4; m5 e1 g0 i0; m6 e5 g1 i0")
	// A backfill counts the same events the same.
	if err := cs.SetCounter(ctx, c, true, again.install); err != nil {
		t.Fatal(err)
	}
	want(t, "backfill after a restart", again.String(), "m0 e3 g1 i0; m1 e3 g2 i4; m5 e1 g0 i0; m6 e5 g1 i0")
	put(t, st, "cnt", ev(7*time.Minute, 1, map[string]any{"path": "/api/i", "code": int64(200), "ms": 1.5}))
	again.await(t, "as events arrive after a restart", "m0 e3 g1 i0; m1 e3 g2 i4; m5 e1 g0 i0; m6 e5 g1 i0; m7 e1 g1 i0")

	// A removed counter is no longer reported, and removing it again or an
	// unknown one is no error.
	for _, name := range []string{"api", "api", "unknown"} {
		if err := cs.RemoveCounter(ctx, name); err != nil {
			t.Fatalf("remove %s: %v", name, err)
		}
	}
	put(t, st, "cnt", ev(8*time.Minute, 1, map[string]any{"path": "/api/j", "code": int64(200), "ms": 1.5}))
	time.Sleep(1500 * time.Millisecond) // a poll or a commit's count would report it by now
	if s := again.String(); strings.Contains(s, "m8") {
		t.Errorf("a removed counter still counts: %s", s)
	}

	// A counter of a dataset without events yet counts its first ones.
	fresh := store.Counter{Name: "api", Dataset: "later", Good: "code < 500"}
	var first tally
	cs.OnCounts(first.apply)
	if err := cs.SetCounter(ctx, fresh, true, first.install); err != nil {
		t.Fatal(err)
	}
	want(t, "no events yet", first.String(), "")
	for _, d := range st.Datasets() {
		if d.Name == "later" {
			t.Errorf("a counter made dataset %q appear before any event", d.Name)
		}
	}
	put(t, st, "later", ev(0, 2, map[string]any{"code": int64(200)}), ev(time.Second, 1, map[string]any{"code": int64(502)}))
	first.await(t, "first events", "m0 e3 g2 i0")
}
