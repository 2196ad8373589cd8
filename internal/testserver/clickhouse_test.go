package testserver

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// httpClient does not keep connections alive: an idle keep-alive connection
// delays the server's shutdown by its keep_alive_timeout.
var httpClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

func openClickHouse(t *testing.T, addr string) driver.Conn {
	t.Helper()
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{addr}, Protocol: clickhouse.Native})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// Two shards form one cluster: a row inserted into each shard's local table
// is counted once through a Distributed table, from either shard.
func TestClickHouseTwoShards(t *testing.T) {
	began := time.Now()
	c := ClickHouse(t, 2)
	t.Logf("2 shards started in %v", time.Since(began).Round(time.Millisecond))
	if c.Cluster == "" || len(c.Addrs) != 2 || len(c.HTTPAddrs) != 2 {
		t.Fatalf("cluster = %+v", c)
	}
	ctx := context.Background()
	conns := []driver.Conn{openClickHouse(t, c.Addrs[0]), openClickHouse(t, c.Addrs[1])}
	for i, conn := range conns {
		for _, ddl := range []string{
			`CREATE TABLE ev_local (ts Int64, name Nullable(String)) ENGINE = MergeTree() ORDER BY ts`,
			fmt.Sprintf(`CREATE TABLE ev AS ev_local ENGINE = Distributed(%s, default, ev_local, rand())`, c.Cluster),
		} {
			if err := conn.Exec(ctx, ddl); err != nil {
				t.Fatalf("shard %d: %s: %v", i+1, ddl, err)
			}
		}
		// Without the column list, clickhouse-go v2.51 against 18.16 fails
		// with "expected 0 arguments, got 2".
		batch, err := conn.PrepareBatch(ctx, "INSERT INTO ev_local (ts, name)")
		if err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("shard %d", i+1)
		if err := batch.Append(int64(i+1), &name); err != nil {
			t.Fatal(err)
		}
		if err := batch.Send(); err != nil {
			t.Fatalf("shard %d: insert: %v", i+1, err)
		}
	}
	for i, conn := range conns {
		var local, total uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM ev_local").Scan(&local); err != nil {
			t.Fatal(err)
		}
		if err := conn.QueryRow(ctx, "SELECT count() FROM ev").Scan(&total); err != nil {
			t.Fatal(err)
		}
		if local != 1 || total != 2 {
			t.Errorf("shard %d: %d local rows and %d through the Distributed table, want 1 and 2", i+1, local, total)
		}
		var shards uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM system.clusters WHERE cluster = ?", c.Cluster).Scan(&shards); err != nil {
			t.Fatal(err)
		}
		if shards != 2 {
			t.Errorf("shard %d knows %d shards in cluster %s, want 2", i+1, shards, c.Cluster)
		}
	}
	for i, addr := range c.HTTPAddrs {
		resp, err := httpClient.Get("http://" + addr + "/?query=" + url.QueryEscape("SELECT count() FROM ev"))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.TrimSpace(string(body)) != "2" {
			t.Errorf("shard %d over HTTP: %s %q, want 2", i+1, resp.Status, body)
		}
	}
}
