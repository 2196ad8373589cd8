package duckdb

import (
	"context"
	"fmt"
	"math/rand"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prodex/prodex/internal/event"
)

// TestStreamedCountsEqualBackfill counts an SLI as events arrive, over
// commits that add columns, promote a type and start new segments, and
// checks the result against a backfill from the stored events. (When a
// column the SLI reads changes type, old events are read with the new type
// by a backfill; re-applying the SLO recounts them.)
func TestStreamedCountsEqualBackfill(t *testing.T) {
	s, err := Open(t.TempDir(), Options{AlterRows: 50, SegmentRows: 400})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	streamed := map[int64]MinuteCount{} // the latest totals per minute
	var mu sync.Mutex
	s.OnCounts(func(d []MinuteCount) {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range d {
			streamed[m.Minute] = MinuteCount{Eligible: m.Eligible, Good: m.Good, Invalid: m.Invalid}
		}
	})
	c := Counter{Name: "api-latency", Dataset: "api", Eligible: `endpoint.startsWith("/api")`, Good: `status_code < 500 && duration_ms < 300`}
	if err := s.SetCounter(ctx, c, true, nil); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewSource(3))
	now := time.Now().Truncate(time.Minute)
	for commit := 0; commit < 12; commit++ {
		var evs []event.Event
		for i := 0; i < 100; i++ {
			f := map[string]any{"endpoint": []string{"/api/a", "/api/b", "/home"}[r.Intn(3)], "status_code": int64([]int{200, 200, 503}[r.Intn(3)])}
			if commit >= 2 { // a column the SLI needs appears only later
				f["duration_ms"] = float64(r.Intn(600))
			}
			f["zone"] = int64(i % 3)
			if commit == 7 && i == 0 {
				f["zone"] = "eu-west" // promotes a column to string
			}
			if r.Intn(10) == 0 {
				delete(f, "status_code")
			}
			evs = append(evs, event.Event{Time: now.Add(-time.Duration(r.Intn(30)) * time.Minute), SampleRate: int64(1 + r.Intn(3)), Fields: f})
		}
		appendOK(t, s, "api", evs...)
		if commit == 5 { // count part of the rows: marks move in steps
			if err := s.CountPending(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := s.CountPending(ctx); err != nil {
		t.Fatal(err)
	}
	persisted, err := s.loadCounts(ctx, c.Name)
	if err != nil {
		t.Fatal(err)
	}
	sum := func(ms []MinuteCount) map[int64]MinuteCount {
		out := map[int64]MinuteCount{}
		for _, m := range ms {
			x := out[m.Minute]
			x.Eligible += m.Eligible
			x.Good += m.Good
			x.Invalid += m.Invalid
			out[m.Minute] = x
		}
		return out
	}
	var backfilled []MinuteCount
	if err := s.SetCounter(ctx, c, true, func(ms []MinuteCount) { backfilled = ms }); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	a, b, p := streamed, sum(backfilled), sum(persisted)
	var total MinuteCount
	for m, x := range b {
		total.Eligible += x.Eligible
		total.Good += x.Good
		total.Invalid += x.Invalid
		if a[m] != x || p[m] != x {
			t.Errorf("minute %d: streamed %+v, persisted %+v, backfilled %+v", m, a[m], p[m], x)
		}
	}
	if len(a) != len(b) {
		t.Errorf("%d streamed minutes, %d backfilled", len(a), len(b))
	}
	if total.Eligible == 0 || total.Good == 0 || total.Good == total.Eligible || total.Invalid == 0 {
		t.Errorf("counts %+v do not exercise good, bad and invalid events", total)
	}
}

// TestCountConstantSLI: an SLI with no field at all still counts.
func TestCountConstantSLI(t *testing.T) {
	s, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if err := s.SetCounter(ctx, Counter{Name: "always", Dataset: "d", Good: "true"}, true, nil); err != nil {
		t.Fatal(err)
	}
	appendOK(t, s, "d", ev(time.Now(), 3, "a", int64(1)), ev(time.Now(), 1, "a", int64(2)))
	if err := s.CountPending(ctx); err != nil {
		t.Fatal(err)
	}
	cs, err := s.loadCounts(ctx, "always")
	if err != nil || len(cs) != 1 || cs[0].Eligible != 4 || cs[0].Good != 4 {
		t.Fatalf("counts %+v %v", cs, err)
	}
}

// TestRemoveCounterTwice: nodes sharing counts each remove a deleted
// SLO's counter; removing one already removed, or never set, is no error,
// and leaves the other counters counting.
func TestRemoveCounterTwice(t *testing.T) {
	s, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	now := time.Now().Truncate(time.Minute) // one minute of counts
	for _, name := range []string{"gone", "kept"} {
		if err := s.SetCounter(ctx, Counter{Name: name, Dataset: "d", Good: "true"}, true, nil); err != nil {
			t.Fatal(err)
		}
	}
	appendOK(t, s, "d", ev(now, 1, "a", int64(1)))
	if err := s.CountPending(ctx); err != nil {
		t.Fatal(err)
	}
	for i, name := range []string{"gone", "gone", "never-set"} {
		if err := s.RemoveCounter(ctx, name); err != nil {
			t.Fatalf("removal %d of %s: %v", i+1, name, err)
		}
	}
	if cs, err := s.loadCounts(ctx, "gone"); err != nil || len(cs) != 0 {
		t.Errorf("counts of the removed counter: %+v %v", cs, err)
	}
	appendOK(t, s, "d", ev(now, 1, "a", int64(2)))
	if err := s.CountPending(ctx); err != nil {
		t.Fatal(err)
	}
	cs, err := s.loadCounts(ctx, "kept")
	if err != nil || len(cs) != 1 || cs[0].Eligible != 2 {
		t.Errorf("counts of the kept counter: %+v %v", cs, err)
	}
	if cs, err := s.loadCounts(ctx, "gone"); err != nil || len(cs) != 0 {
		t.Errorf("the removed counter counted again: %+v %v", cs, err)
	}
}

// TestManyCounters: more distinct expressions than one packed key holds.
func TestManyCounters(t *testing.T) {
	s, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	for k := 0; k < 45; k++ {
		c := Counter{Name: fmt.Sprintf("c%02d", k), Dataset: "d", Good: fmt.Sprintf("a < %d", k)}
		if k%2 == 1 {
			c.Eligible = "b == true"
		}
		if err := s.SetCounter(ctx, c, true, nil); err != nil {
			t.Fatal(err)
		}
	}
	var evs []event.Event
	for a := 0; a < 50; a++ {
		e := ev(time.Now(), 1, "a", int64(a))
		if a%5 == 0 {
			e.Fields["b"] = true
		}
		evs = append(evs, e)
	}
	appendOK(t, s, "d", evs...)
	if err := s.CountPending(ctx); err != nil {
		t.Fatal(err)
	}
	for k := 0; k < 45; k++ {
		cs, err := s.loadCounts(ctx, fmt.Sprintf("c%02d", k))
		if err != nil {
			t.Fatal(err)
		}
		var e, g int64
		for _, c := range cs {
			e, g = e+c.Eligible, g+c.Good
		}
		wantE, wantG := int64(50), int64(k)
		if k%2 == 1 { // eligible: the 10 events with b, a = 0, 5, 10…
			wantE, wantG = 10, int64((k+4)/5)
		}
		if e != wantE || g != wantG {
			t.Errorf("counter %d: eligible %d good %d, want %d %d", k, e, g, wantE, wantG)
		}
	}
}

// BenchmarkAppendWithCounters measures what counting SLIs adds to ingest:
// commits of 10,000 wide events (timestamps over an hour), counted after
// every fifth as the server's counter does under heavy ingest (it runs at
// most every CountInterval), with no SLOs and with 20 (the shapes `prodex
// bench ingest --slos 20` defines).
func BenchmarkAppendWithCounters(b *testing.B) {
	for _, n := range []int{0, 20} {
		b.Run(fmt.Sprintf("slos=%d", n), func(b *testing.B) {
			s, err := Open(b.TempDir(), Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			ctx := context.Background()
			services := []string{"api", "web", "checkout", "search", "auth"}
			for i := 0; i < n; i++ {
				c := Counter{Name: fmt.Sprintf("bench-%02d", i), Dataset: "d",
					Eligible: fmt.Sprintf("service == %q", services[i%5]),
					Good:     fmt.Sprintf("status_code < 500 && duration_ms < %d", 100+10*i)}
				if err := s.SetCounter(ctx, c, true, nil); err != nil {
					b.Fatal(err)
				}
			}
			r := rand.New(rand.NewSource(1))
			now := time.Now()
			const batch = 10000
			mk := func() []event.Event {
				evs := make([]event.Event, batch)
				for i := range evs {
					f := map[string]any{"service": services[r.Intn(5)], "status_code": int64([]int{200, 200, 201, 404, 500}[r.Intn(5)]),
						"duration_ms": r.ExpFloat64() * 80}
					for k := 3; k < 20; k++ {
						f[fmt.Sprintf("attr%d", k)] = int64(r.Intn(10000))
					}
					evs[i] = event.Event{Time: now.Add(-time.Duration(r.Intn(3600)) * time.Second), SampleRate: 1, Fields: f}
				}
				return evs
			}
			batches := make([][]event.Event, 8)
			for i := range batches {
				batches[i] = mk()
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				bt := &event.Batch{Dataset: "d", Events: batches[i%len(batches)]}
				if err := s.Append(ctx, []*event.Batch{bt}); err != nil {
					b.Fatal(err)
				}
				if i%5 == 4 || i == b.N-1 {
					if err := s.CountPending(ctx); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// TestCounterOnDatasetWithRows: the first SLO of a dataset that already
// holds events counts them once, by the backfill, not again as they
// stream — also across a reopen.
func TestCounterOnDatasetWithRows(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	appendOK(t, s, "d", ev(time.Now(), 1, "a", int64(1)), ev(time.Now(), 3, "a", int64(2)))
	if err := s.SetCounter(ctx, Counter{Name: "c", Dataset: "d", Good: "a < 2"}, true, nil); err != nil {
		t.Fatal(err)
	}
	appendOK(t, s, "d", ev(time.Now(), 1, "a", int64(0)))
	total := func() (e, g int64) {
		if err := s.CountPending(ctx); err != nil {
			t.Fatal(err)
		}
		cs, err := s.loadCounts(ctx, "c")
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			e, g = e+c.Eligible, g+c.Good
		}
		return
	}
	if e, g := total(); e != 5 || g != 2 {
		t.Errorf("eligible %d good %d, want 5 and 2", e, g)
	}
	s.Close()
	if s, err = Open(dir, Options{}); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.SetCounter(ctx, Counter{Name: "c", Dataset: "d", Good: "a < 2"}, false, nil); err != nil {
		t.Fatal(err)
	}
	if e, g := total(); e != 5 || g != 2 {
		t.Errorf("after reopen: eligible %d good %d, want 5 and 2", e, g)
	}
}

// TestOverflowLeavesTheRestAlone: an integer overflow in an SLI is NULL
// for that operation only, as in CEL (where error || true is true), in a
// backfill as in streamed counting. (In DuckDB 1.4 a try() that fails on a
// row of a vector holding NULLs made the column it read NULL on that row
// for every other expression of the statement: the event became invalid.)
func TestOverflowLeavesTheRestAlone(t *testing.T) {
	s, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	now := time.Now()
	evs := []event.Event{ev(now, 1, "latency", int64(1<<63-2)), ev(now, 1, "other", int64(1))}
	appendOK(t, s, "d", evs...)
	c := Counter{Name: "c", Dataset: "d", Eligible: "latency * 1000 > 0 || latency > 0", Good: "latency + 1 > latency"}
	if err := s.SetCounter(ctx, c, true, nil); err != nil {
		t.Fatal(err)
	}
	appendOK(t, s, "d", evs...)
	if err := s.CountPending(ctx); err != nil {
		t.Fatal(err)
	}
	counts, err := s.loadCounts(ctx, "c")
	if err != nil {
		t.Fatal(err)
	}
	var got [3]int64
	for _, m := range counts {
		got[0], got[1], got[2] = got[0]+m.Eligible, got[1]+m.Good, got[2]+m.Invalid
	}
	// Per append: the big latency is eligible and good, the event without
	// latency invalid.
	if want := [3]int64{2, 2, 2}; got != want {
		t.Errorf("eligible, good, invalid = %v, want %v", got, want)
	}
}

// A segment that cannot be counted holds up no other: the other datasets'
// rows are counted, an SLO can be set on them, expired segments of every
// dataset are dropped, and closing the store succeeds (the rows stay
// marked uncounted for the next open). Once, the first failing segment
// stopped every count after it, the retention sweep and SLO changes of
// the whole environment, and shutdown ended with an error.
func TestCountFailureStaysWithItsDataset(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	now := time.Now().UTC()
	for _, ds := range []string{"a", "b"} {
		appendOK(t, s, ds, ev(now.Add(-time.Minute), 1, "code", int64(200)))
		if err := s.SetCounter(ctx, Counter{Name: "slo-" + ds, Dataset: ds, Good: "code < 500"}, true, nil); err != nil {
			t.Fatal(err)
		}
	}
	appendOK(t, s, "a", ev(now.Add(-time.Minute), 1, "code", int64(500)))
	if err := BreakDataset(s, "a"); err != nil { // before the counter loop got to it
		t.Fatal(err)
	}
	appendOK(t, s, "b", ev(now.Add(-time.Minute), 1, "code", int64(503)), ev(now.Add(-6*24*time.Hour), 1, "code", int64(200)))

	err = s.CountPending(ctx)
	if err == nil || !strings.Contains(err.Error(), "dataset a") || strings.Contains(err.Error(), "dataset b") {
		t.Errorf("CountPending: %v, want the failure of dataset a alone", err)
	}
	total := func(name string) (e, g int64) {
		counts, err := s.loadCounts(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range counts {
			e, g = e+m.Eligible, g+m.Good
		}
		return e, g
	}
	if e, g := total("slo-b"); e != 3 || g != 2 { // the expired event counts too, until dropped
		t.Errorf("dataset b counted eligible %d good %d, want 3 and 2", e, g)
	}
	if err := s.SetCounter(ctx, Counter{Name: "slo-b2", Dataset: "b", Good: "code < 503"}, true, nil); err != nil {
		t.Errorf("an SLO on dataset b while a fails: %v", err)
	}
	if err := s.SetCounter(ctx, Counter{Name: "slo-a2", Dataset: "a", Good: "code < 503"}, true, nil); err == nil {
		t.Error("a backfill over the failing dataset a succeeded")
	}
	for _, ds := range []string{"a", "b"} {
		if err := s.SetRetention(ctx, ds, 5*24*time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.DropExpired(ctx, now)
	if err != nil || n != 1 {
		t.Errorf("retention sweep dropped %d: %v, want b's expired day", n, err)
	}
	if s.CountError() == "" {
		t.Error("the count failure is not reported")
	}
	if err := s.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
}
