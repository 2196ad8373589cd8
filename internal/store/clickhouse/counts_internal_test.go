package clickhouse

import (
	"context"
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
		b := &store.Batch{Dataset: "d"}
		for _, v := range vs {
			b.Events = append(b.Events, event.Event{Time: time.Now(), SampleRate: 1, Fields: map[string]any{"v": v}})
		}
		if err := s.Append(ctx, []*store.Batch{b}); err != nil {
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
		if err := s.recount(ctx, k, since); err != nil {
			t.Fatal(err)
		}
		if n := eligible(); n != 5 {
			t.Fatalf("after the recount: %d eligible, want 5", n)
		}
	}
}
