package clickhouse_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/prodex/prodex/internal/store/clickhouse"
	"github.com/prodex/prodex/internal/store/storetest"
	"github.com/prodex/prodex/internal/testserver"
)

// TestConformance runs the store suite on one server and on two shards
// behind Distributed tables; each case gets a database of its own.
func TestConformance(t *testing.T) {
	for _, shards := range []int{1, 2} {
		t.Run(fmt.Sprintf("shards=%d", shards), func(t *testing.T) {
			cl := testserver.ClickHouse(t, shards)
			cluster := ""
			if shards > 1 {
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
				st, err := clickhouse.Open(context.Background(), cl.Addrs[0], clickhouse.Options{
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
