package clickhouse_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/prodex/prodex/internal/store/clickhouse"
	"github.com/prodex/prodex/internal/store/storetest"
	"github.com/prodex/prodex/internal/testserver"
)

// TestConformance runs the store suite on one server, on two shards
// behind Distributed tables, and on two shards of two replicas each
// (through the second replica of the first shard, which writes do not go
// to); each case gets a database of its own.
func TestConformance(t *testing.T) {
	for _, c := range []struct{ shards, replicas int }{{1, 1}, {2, 1}, {2, 2}} {
		t.Run(fmt.Sprintf("shards=%d", c.shards)+map[bool]string{true: fmt.Sprintf(",replicas=%d", c.replicas)}[c.replicas > 1], func(t *testing.T) {
			var cl *testserver.ClickHouseCluster
			addr := ""
			if c.replicas > 1 {
				cl = testserver.ClickHouseReplicated(t, c.shards, c.replicas)
				addr = cl.Addrs[1]
			} else {
				cl = testserver.ClickHouse(t, c.shards)
				addr = cl.Addrs[0]
			}
			cluster := ""
			if c.shards > 1 {
				cluster = cl.Cluster
			}
			n := 0
			dbs := map[storetest.Events]string{}
			storetest.Run(t, func(t *testing.T, cfg storetest.Config) storetest.Events {
				n++
				db := fmt.Sprintf("case%d", n)
				if cfg.Reopen != nil {
					db = dbs[cfg.Reopen]
					if err := cfg.Reopen.(*clickhouse.Store).Close(); err != nil {
						t.Fatal(err)
					}
				}
				st, err := clickhouse.Open(context.Background(), addr, clickhouse.Options{
					Database: db, Cluster: cluster,
					MaxColumns: cfg.MaxColumns, Retention: cfg.Retention,
				})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { st.Close() })
				dbs[st] = db
				return st
			})
		})
	}
}
