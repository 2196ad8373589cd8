package testserver

import (
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// ZooKeeper answers the four-letter command ruok with imok.
func TestZooKeeper(t *testing.T) {
	began := time.Now()
	addr := ZooKeeper(t)
	t.Logf("ZooKeeper started in %v", time.Since(began).Round(time.Millisecond))
	if host, _, err := net.SplitHostPort(addr); err != nil || host != "127.0.0.1" {
		t.Fatalf("address %q, want 127.0.0.1:PORT (%v)", addr, err)
	}
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, "ruok"); err != nil {
		t.Fatal(err)
	}
	answer, err := io.ReadAll(conn)
	if err != nil {
		t.Fatal(err)
	}
	if string(answer) != "imok" {
		t.Errorf("ruok answered %q, want imok", answer)
	}
}

// Two shards of two replicas each: the cluster lists them shard-major, as
// Addrs does; a replicated table copies rows inserted on one replica of a
// shard to the other and not to the other shard; ON CLUSTER reaches every
// server.
func TestClickHouseReplicated(t *testing.T) {
	began := time.Now()
	c := ClickHouseReplicated(t, 2, 2)
	t.Logf("ZooKeeper and 2×2 servers started in %v", time.Since(began).Round(time.Millisecond))
	if c.Cluster != ClickHouseClusterName || c.Replicas != 2 || len(c.Addrs) != 4 || len(c.HTTPAddrs) != 4 {
		t.Fatalf("cluster = %+v", c)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conns := make([]driver.Conn, len(c.Addrs))
	for i, addr := range c.Addrs {
		conn := openClickHouse(t, addr)
		conns[i] = conn
		// The cluster each server knows lists shard 1 replica 1, shard 1
		// replica 2, shard 2 replica 1, … at the ports of Addrs, in order.
		rows, err := conn.Query(ctx, "SELECT shard_num, replica_num, port FROM system.clusters WHERE cluster = ? ORDER BY shard_num, replica_num", c.Cluster)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for rows.Next() {
			var shard, replica uint32
			var port uint16
			if err := rows.Scan(&shard, &replica, &port); err != nil {
				t.Fatal(err)
			}
			got = append(got, fmt.Sprintf("%d/%d:%d", shard, replica, port))
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
		var want []string
		for j, a := range c.Addrs {
			_, port, _ := net.SplitHostPort(a)
			want = append(want, fmt.Sprintf("%d/%d:%s", j/2+1, j%2+1, port))
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("server %d: cluster %s is %v (shard/replica:port), want %v", i, c.Cluster, got, want)
		}
		var shard, replica string
		if err := conn.QueryRow(ctx, "SELECT anyIf(substitution, macro = 'shard'), anyIf(substitution, macro = 'replica') FROM system.macros").Scan(&shard, &replica); err != nil {
			t.Fatal(err)
		}
		if shard != strconv.Itoa(i/2+1) || replica != "r"+strconv.Itoa(i%2+1) {
			t.Errorf("server %d: macros shard %q replica %q, want %d and r%d", i, shard, replica, i/2+1, i%2+1)
		}
		ddl := `CREATE TABLE t (id UInt64, s String) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/default/t', '{replica}') ORDER BY id`
		if err := conn.Exec(ctx, ddl); err != nil {
			t.Fatalf("server %d: %s: %v", i, ddl, err)
		}
	}

	conn := conns[0]
	batch, err := conn.PrepareBatch(ctx, "INSERT INTO t (id, s)")
	if err != nil {
		t.Fatal(err)
	}
	for id := range 3 {
		if err := batch.Append(uint64(id), "shard 1"); err != nil {
			t.Fatal(err)
		}
	}
	if err := batch.Send(); err != nil {
		t.Fatalf("insert on shard 1 replica 1: %v", err)
	}
	count := func(i int) uint64 {
		t.Helper()
		var n uint64
		if err := conns[i].QueryRow(ctx, "SELECT count() FROM t").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	copied := time.Now()
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		n := count(1)
		if n == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("shard 1 replica 2 has %d rows 15 s after the insert on replica 1, want 3", n)
		}
	}
	t.Logf("the rows reached shard 1 replica 2 after %v", time.Since(copied).Round(time.Millisecond))
	for i := 2; i < 4; i++ {
		if n := count(i); n != 0 {
			t.Errorf("shard 2 replica %d has %d rows, want 0", i-1, n)
		}
	}

	// ON CLUSTER creates the Distributed table on every server; reading it
	// counts each shard once, from one of its replicas.
	ddl := fmt.Sprintf("CREATE TABLE t_all ON CLUSTER %s AS t ENGINE = Distributed(%[1]s, default, t)", c.Cluster)
	if err := conn.Exec(ctx, ddl); err != nil {
		t.Fatalf("%s: %v", ddl, err)
	}
	for i, conn := range conns {
		var n uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM t_all").Scan(&n); err != nil {
			t.Fatalf("server %d: %v", i, err)
		}
		if n != 3 {
			t.Errorf("server %d: %d rows through the Distributed table, want 3", i, n)
		}
	}
}
