package clickhouse_test

import (
	"context"
	"testing"
	"time"

	"github.com/prodex/prodex/internal/event"
	"github.com/prodex/prodex/internal/store/clickhouse"
	"github.com/prodex/prodex/internal/testserver"
)

// TestAppendGroupsByDataset: the batches of several requests committed
// together make one insert (one part) per dataset, and each batch gets
// its own events' rejections.
func TestAppendGroupsByDataset(t *testing.T) {
	cl := testserver.ClickHouse(t, 1)
	ctx := context.Background()
	st, err := clickhouse.Open(ctx, cl.Addrs[0], clickhouse.Options{Database: "groups", Retention: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now()
	ev := func(at time.Time, v int64) event.Event {
		return event.Event{Time: at, SampleRate: 1, Fields: map[string]any{"v": v}}
	}
	var bs []*event.Batch
	for i := range 5 {
		ds := "a"
		if i%2 == 1 {
			ds = "b"
		}
		bs = append(bs, &event.Batch{Dataset: ds, Events: []event.Event{ev(now, int64(i)), ev(now.Add(-48*time.Hour), int64(i))}})
	}
	if err := st.Append(ctx, bs); err != nil {
		t.Fatal(err)
	}
	for i, b := range bs {
		if b.Errs[0] != nil || b.Errs[1] == nil {
			t.Errorf("batch %d: rejections %v, want only the event older than the retention", i, b.Errs)
		}
	}
	db := testserver.ClickHouseDBAt(t, cl.Addrs[0])
	var parts, rows uint64
	if err := db.QueryRow(`SELECT count(), sum(rows) FROM system.parts WHERE database = 'groups' AND active AND startsWith(table, 'e_')`).Scan(&parts, &rows); err != nil {
		t.Fatal(err)
	}
	if parts != 2 || rows != 5 {
		t.Errorf("%d parts of %d events, want one part per dataset, 5 events", parts, rows)
	}
}
