package clickhouse_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prodex/prodex/internal/event"
	"github.com/prodex/prodex/internal/query"
	"github.com/prodex/prodex/internal/schema"
	"github.com/prodex/prodex/internal/store"
	"github.com/prodex/prodex/internal/store/clickhouse"
	"github.com/prodex/prodex/internal/testserver"
)

// TestTwoNodes has two stores, as two Prodex nodes would, each talking to
// a different shard of one cluster: they create the same columns at the
// same time, promote a field the other still writes as its old type, and
// both answer for every event whichever node and shard stored it.
func TestTwoNodes(t *testing.T) {
	cl := testserver.ClickHouse(t, 2)
	ctx := context.Background()
	open := func(addr string) *clickhouse.Store {
		st, err := clickhouse.Open(ctx, addr, clickhouse.Options{Database: "nodes", Cluster: cl.Cluster, Refresh: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	a, b := open(cl.Addrs[0]), open(cl.Addrs[1])
	now := time.Now().Add(-time.Minute)
	batch := func(node string, i int, fields map[string]any) *event.Batch {
		f := map[string]any{"node": node, "i": int64(i)}
		for k, v := range fields {
			f[k] = v
		}
		return &event.Batch{Dataset: "shared", Events: []event.Event{{Time: now, SampleRate: 1, Fields: f}}}
	}
	var wg sync.WaitGroup
	for _, n := range []struct {
		name string
		st   *clickhouse.Store
		v    any
	}{{"a", a, int64(5)}, {"b", b, "five"}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				// The same new fields from both nodes at once; "v" is an
				// integer on one node and text on the other.
				bt := batch(n.name, i, map[string]any{fmt.Sprintf("f%d", i%10): int64(i), "v": n.v})
				if err := n.st.Append(ctx, []*event.Batch{bt}); err != nil {
					t.Error(err)
					return
				}
				if bt.Errs[0] != nil {
					t.Error(bt.Errs[0])
				}
			}
		}()
	}
	wg.Wait()
	// A name with quotes and a backslash reaches the other node intact.
	odd := `we'ird\name"x`
	if err := a.Append(ctx, []*event.Batch{batch("a", 50, map[string]any{odd: int64(1)})}); err != nil {
		t.Fatal(err)
	}
	// Both catalogs refresh within a few of their 100 ms rounds.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		ca, _ := a.Columns("shared")
		cb, _ := b.Columns("shared")
		if hasColumn(cb, odd) && fmt.Sprint(types(ca)) == fmt.Sprint(types(cb)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("catalogs differ after 5 s:\n a %v\n b %v", types(ca), types(cb))
		}
	}
	for name, st := range map[string]*clickhouse.Store{"a": a, "b": b} {
		s, _ := query.Parse([]byte(fmt.Sprintf(`{"start_time":%d,"end_time":%d,"breakdowns":["node","v"],"calculations":[{"op":"COUNT"},{"op":"COUNT_DISTINCT","column":"f3"}]}`, now.Add(-time.Hour).Unix(), now.Add(time.Hour).Unix())))
		if err := s.Resolve(now); err != nil {
			t.Fatal(err)
		}
		res, err := query.Ask(ctx, st, "shared", s)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range res.Results {
			got = append(got, fmt.Sprintf("%v/%v=%v,%v", r.Data["node"], r.Data["v"], r.Data["COUNT"], r.Data["COUNT_DISTINCT(f3)"]))
		}
		if fmt.Sprint(got) != "[a/5=50,5 b/five=50,5 a/<nil>=1,0]" {
			t.Errorf("node %s answers %v", name, got)
		}
		cols, _ := st.Columns("shared")
		if len(cols) != 14 {
			t.Errorf("node %s lists %d columns, want 14: %v", name, len(cols), cols)
		}
	}
	// Both shards hold events: writes take turns.
	for i, addr := range cl.Addrs {
		st := open(addr)
		var n uint64
		if err := st.DB().QueryRow("SELECT count() FROM nodes." + "`" + "e_" + tableHash(t, st) + "`").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			t.Errorf("shard %d holds no events", i)
		}
	}
}

// tableHash finds the local table's hash through the read table's name.
func tableHash(t *testing.T, st *clickhouse.Store) string {
	name := st.Table("shared") // `nodes`.`d_<hash>`
	return name[len("`nodes`.`d_") : len(name)-1]
}

func hasColumn(cols []schema.Column, name string) bool {
	for _, c := range cols {
		if c.Name == name {
			return true
		}
	}
	return false
}

func types(cols []schema.Column) map[string]schema.Type {
	m := map[string]schema.Type{}
	for _, c := range cols {
		m[c.Name] = c.Type
	}
	return m
}

// TestTwoNodesCount: an SLO counted by node a also counts the events node
// b writes to the other shard, including when b promotes a field the SLI
// reads (b knows the SLO, as every node does once its rules have synced,
// and makes the newer view before it inserts), and an SLI changed on a is
// not undone by b, which still counts the old one.
func TestTwoNodesCount(t *testing.T) {
	cl := testserver.ClickHouse(t, 2)
	ctx := context.Background()
	open := func(addr string) *clickhouse.Store {
		st, err := clickhouse.Open(ctx, addr, clickhouse.Options{Database: "counts", Cluster: cl.Cluster, Refresh: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	a, b := open(cl.Addrs[0]), open(cl.Addrs[1])
	minute := time.Now().Truncate(time.Minute)
	put := func(st *clickhouse.Store, ms ...any) {
		t.Helper()
		bt := &event.Batch{Dataset: "web"}
		for _, m := range ms {
			bt.Events = append(bt.Events, event.Event{Time: minute, SampleRate: 1, Fields: map[string]any{"ms": m}})
		}
		if err := st.Append(ctx, []*event.Batch{bt}); err != nil {
			t.Fatal(err)
		}
	}
	put(a, int64(100))
	var mu sync.Mutex
	var last store.MinuteCount
	a.OnCounts(func(cs []store.MinuteCount) {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range cs {
			if c.Minute == minute.Unix()/60 {
				last = c
			}
		}
	})
	await := func(what string, eligible, good int64) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			mu.Lock()
			got := last
			mu.Unlock()
			if got.Eligible == eligible && got.Good == good && got.Invalid == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: counts %+v, want eligible %d good %d", what, got, eligible, good)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	c := store.Counter{Name: "fast", Dataset: "web", Good: "ms < 300"}
	if err := a.SetCounter(ctx, c, true, nil); err != nil {
		t.Fatal(err)
	}
	put(b, int64(200), int64(400))
	await("b's events", 3, 2)
	// b promotes ms to a float.
	if err := b.SetCounter(ctx, c, false, nil); err != nil {
		t.Fatal(err)
	}
	put(b, 250.5, 299.5, 300.5)
	await("after b's promotion", 6, 4)

	// The SLI changes on a; b still counts the old one (it has not synced)
	// and must not bring back the old view.
	c.Good = "ms < 1000"
	if err := a.SetCounter(ctx, c, true, nil); err != nil {
		t.Fatal(err)
	}
	await("after the SLI changed", 6, 6)
	// b, which still counts the old SLI, makes ms text: it remakes its
	// view of the old SLI, and must leave a's view of the new one.
	put(b, "slow")
	put(a, 500.5)
	deadline := time.Now().Add(15 * time.Second)
	for {
		mu.Lock()
		got := last
		mu.Unlock()
		if got.Eligible+got.Invalid == 8 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after b remade its view: counts %+v, want 8 events counted", got)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestReplicas: on shards with two replicas each, a dataset's table is
// replicated: every replica of a shard ends up with the events written to
// its first replica, and its columns.
func TestReplicas(t *testing.T) {
	cl := testserver.ClickHouseReplicated(t, 2, 2)
	ctx := context.Background()
	st, err := clickhouse.Open(ctx, cl.Addrs[0], clickhouse.Options{Database: "rep", Cluster: cl.Cluster})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for i := range 10 {
		b := &event.Batch{Dataset: "web", Events: []event.Event{{Time: time.Now(), SampleRate: 1, Fields: map[string]any{"i": int64(i), fmt.Sprintf("f%d", i%3): "x"}}}}
		if err := st.Append(ctx, []*event.Batch{b}); err != nil {
			t.Fatal(err)
		}
	}
	total := 0
	for s := range 2 {
		counts := make([]uint64, 2)
		for r := range 2 {
			db := testserver.ClickHouseDBAt(t, cl.Addrs[s*cl.Replicas+r])
			var table, engine string
			if err := db.QueryRow(`SELECT name, engine FROM system.tables WHERE database = 'rep' AND startsWith(name, 'e_')`).Scan(&table, &engine); err != nil {
				t.Fatal(err)
			}
			if engine != "ReplicatedMergeTree" {
				t.Errorf("shard %d replica %d: table engine %s", s+1, r+1, engine)
			}
			for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
				var cols uint64
				err := db.QueryRow(`SELECT count() FROM rep.` + table).Scan(&counts[r])
				if err == nil {
					err = db.QueryRow(`SELECT count() FROM system.columns WHERE database = 'rep' AND table = ? AND startsWith(name, 'c')`, table).Scan(&cols)
				}
				if err != nil {
					t.Fatal(err)
				}
				if r == 0 || counts[1] == counts[0] && cols == 4 || time.Now().After(deadline) {
					if r == 1 && (counts[1] != counts[0] || cols != 4) {
						t.Errorf("shard %d replica 2: %d events and %d field columns, replica 1 has %d events; want 4 columns", s+1, counts[1], cols, counts[0])
					}
					break
				}
			}
		}
		total += int(counts[0])
	}
	if total != 10 {
		t.Errorf("the shards' first replicas hold %d events, want 10", total)
	}
}
