package clickhouse

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/prodex/prodex/internal/event"
	"github.com/prodex/prodex/internal/store"
	"github.com/prodex/prodex/internal/testserver"
)

// TestRecountCatchesMissedInsert: an insert the view missed (here: made
// while the view was gone, as one begun before it existed would be) is
// counted by the catch-up recount of the parts written since, once, however
// many times it runs.
func TestRecountCatchesMissedInsert(t *testing.T) {
	cl := testserver.ClickHouse(t, 1)
	ctx := context.Background()
	s, err := Open(ctx, cl.Addrs[0], Options{Database: "catchup"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	put := func(vs ...int64) {
		t.Helper()
		b := &event.Batch{Dataset: "d"}
		for _, v := range vs {
			b.Events = append(b.Events, event.Event{Time: time.Now(), SampleRate: 1, Fields: map[string]any{"v": v}})
		}
		if err := s.Append(ctx, []*event.Batch{b}); err != nil {
			t.Fatal(err)
		}
	}
	eligible := func() int64 {
		t.Helper()
		counts, err := s.readCounts(ctx, []*counter{s.counts.counters["x"]}, false)
		if err != nil {
			t.Fatal(err)
		}
		n := int64(0)
		for _, c := range counts {
			n += c.Eligible
		}
		return n
	}
	put(1, 9)
	if err := s.SetCounter(ctx, store.Counter{Name: "x", Dataset: "d", Good: "v < 5"}, true, nil); err != nil {
		t.Fatal(err)
	}
	k := s.counts.counters["x"]
	if _, err := s.db.ExecContext(ctx, "DROP TABLE "+s.qualified(k.view)); err != nil {
		t.Fatal(err)
	}
	since, err := s.serverTimes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	put(2, 3, 10)
	if n := eligible(); n != 2 {
		t.Fatalf("before the recount: %d eligible, want the 2 the backfill counted", n)
	}
	for range 2 {
		if err := s.recount(ctx, k, since, nil); err != nil {
			t.Fatal(err)
		}
		if n := eligible(); n != 5 {
			t.Fatalf("after the recount: %d eligible, want 5", n)
		}
	}
}

// TestRemadeViewRecounts: node b, which does not know the SLO, gives a
// field it reads a new type; the old view counts b's insert as invalid.
// Node a remakes the view on its next poll and soon counts that insert
// again through the new one.
func TestRemadeViewRecounts(t *testing.T) {
	defer func(d time.Duration) { catchUpAfter = d }(catchUpAfter)
	catchUpAfter = 200 * time.Millisecond
	cl := testserver.ClickHouse(t, 2)
	ctx := context.Background()
	open := func(addr string) *Store {
		s, err := Open(ctx, addr, Options{Database: "remade", Cluster: cl.Cluster, Refresh: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	a, b := open(cl.Addrs[0]), open(cl.Addrs[1])
	minute := time.Now().Truncate(time.Minute)
	put := func(s *Store, vs ...any) {
		t.Helper()
		bt := &event.Batch{Dataset: "d"}
		for _, v := range vs {
			bt.Events = append(bt.Events, event.Event{Time: minute, SampleRate: 1, Fields: map[string]any{"ms": v}})
		}
		if err := s.Append(ctx, []*event.Batch{bt}); err != nil {
			t.Fatal(err)
		}
	}
	put(a, int64(1)) // the dataset and ms, an integer
	var mu sync.Mutex
	var last store.MinuteCount
	a.OnCounts(func(cs []store.MinuteCount) {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range cs {
			last = c
		}
	})
	// No backfill (whose own catch-up would recount b's insert too).
	if err := a.SetCounter(ctx, store.Counter{Name: "fast", Dataset: "d", Good: "ms < 300"}, false, nil); err != nil {
		t.Fatal(err)
	}
	put(a, int64(100), int64(400))
	put(b, 250.5, 350.5) // b promotes ms to a float
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		got := last
		mu.Unlock()
		if got.Eligible == 4 && got.Good == 2 && got.Invalid == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("counts %+v, want 4 eligible, 2 good, none invalid", got)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
