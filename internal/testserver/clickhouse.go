package testserver

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// ClickHouseClusterName is the remote_servers cluster that every server
// started by ClickHouse or ClickHouseReplicated knows, listing all the
// shards of the test (and, for ClickHouseReplicated, their replicas).
const ClickHouseClusterName = "prodex"

// ClickHouseCluster describes the servers started by ClickHouse or
// ClickHouseReplicated. Each server accepts user "default" with no
// password, from loopback only.
type ClickHouseCluster struct {
	// Cluster is the remote_servers cluster name naming every shard, for
	// Distributed(Cluster, db, table, key) tables, and, with ZooKeeper
	// (ClickHouseReplicated), for ON CLUSTER.
	Cluster string
	// Replicas is the number of replicas of each shard: 1 for ClickHouse.
	Replicas int
	// Addrs holds the native protocol host:port of every server, shard-major:
	// shard 1 replica 1, shard 1 replica 2, …, shard 2 replica 1, … (the
	// order of the cluster's shards and replicas). Shard s (from 1) replica
	// r (from 1) is Addrs[(s-1)*Replicas+(r-1)]; with one replica per shard
	// (ClickHouse), Addrs[i] is shard i+1.
	Addrs []string
	// HTTPAddrs holds the HTTP interface host:port of every server, in the
	// order of Addrs.
	HTTPAddrs []string
}

// ClickHouse starts n shard servers (n ≥ 1) on free loopback ports, each with
// its own temp data dir (t.TempDir()), all configured with a remote_servers
// cluster (name returned) listing every shard, waits until each answers a
// native-protocol ping, and stops them (SIGTERM, then kill) in t.Cleanup.
// There is no ZooKeeper, so no replicated tables: see ClickHouseReplicated.
//
// It runs clickhouse-server from PATH, /usr/sbin or /usr/bin (Debian's
// clickhouse-server package; the config uses the <yandex> root element of
// 18.16, which later versions still accept). A missing binary fails the
// test, telling how to install it; with PRODEX_TEST_NO_SERVERS=1 the test is
// skipped instead. A server that does not answer within 60 s fails the test
// with the tail of its logs.
func ClickHouse(t testing.TB, n int) *ClickHouseCluster {
	t.Helper()
	skipWithoutServers(t)
	if n < 1 {
		t.Fatalf("testserver.ClickHouse: need at least one shard, got %d", n)
	}
	return startClickHouseCluster(t, n, 1, "")
}

// ClickHouseReplicated starts a ZooKeeper (as ZooKeeper does) and
// shards×replicas ClickHouse servers (both ≥ 1) using it, as ClickHouse
// starts its shards. Every server knows the cluster ClickHouseClusterName of
// all the shards, each with internal_replication (a Distributed table writes
// a row to one replica of its shard, and replication copies it to the
// others), and has the macros {shard} (1, 2, …) and {replica} (r1, r2, …),
// so that one statement creates the table on every server:
//
//	ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/db/t', '{replica}')
//
// The servers fetch parts from each other over their interserver HTTP
// ports, on loopback. ON CLUSTER queries work (distributed_ddl, in
// ZooKeeper). The servers stop before ZooKeeper does.
func ClickHouseReplicated(t testing.TB, shards, replicas int) *ClickHouseCluster {
	t.Helper()
	skipWithoutServers(t)
	if shards < 1 || replicas < 1 {
		t.Fatalf("testserver.ClickHouseReplicated: need at least one shard and one replica, got %d and %d", shards, replicas)
	}
	// Started first, so stopped last (cleanups run last-in first-out): a
	// server shutting down still talks to ZooKeeper.
	zk := ZooKeeper(t)
	return startClickHouseCluster(t, shards, replicas, zk)
}

// ClickHouseDB starts one ClickHouse server, as ClickHouse(t, 1) does,
// and returns a database/sql client of it, closed when the test ends.
func ClickHouseDB(t testing.TB) *sql.DB {
	t.Helper()
	return ClickHouseDBAt(t, ClickHouse(t, 1).Addrs[0])
}

// ClickHouseDBAt is a database/sql client of the server at addr (one of a
// cluster's Addrs), closed when the test ends.
func ClickHouseDBAt(t testing.TB, addr string) *sql.DB {
	db := clickhouse.OpenDB(&clickhouse.Options{Addr: []string{addr}, Protocol: clickhouse.Native})
	t.Cleanup(func() { db.Close() })
	return db
}

// startClickHouseCluster starts shards×replicas servers using the
// ZooKeeper at zk ("" for none, and then replicas is 1), retrying with
// other ports when one was taken, and stops them in t.Cleanup.
func startClickHouseCluster(t testing.TB, shards, replicas int, zk string) *ClickHouseCluster {
	t.Helper()
	bin, err := findBinary("clickhouse-server", "/usr/sbin/clickhouse-server", "/usr/bin/clickhouse-server")
	if err != nil {
		t.Fatalf("testserver: clickhouse-server not found in PATH, /usr/sbin or /usr/bin. "+
			"Install it with `apt-get install clickhouse-server` (./scripts/test.sh does), "+
			"or set %s=1 to skip the tests that need database servers.", NoServersEnv)
	}
	n := shards * replicas
	what := fmt.Sprintf("%d ClickHouse shard(s)", shards)
	if zk != "" {
		what = fmt.Sprintf("%d ClickHouse shard(s) × %d replica(s)", shards, replicas)
	}
	dirs := make([]string, n)
	for i := range dirs {
		dirs[i] = t.TempDir() // before the stop cleanup, so removed after the servers stopped
	}
	began := time.Now()
	for attempt := 1; ; attempt++ {
		c, procs, err := startClickHouse(bin, dirs, replicas, zk, attempt)
		if err == nil {
			t.Cleanup(func() { stopAll(t, procs, syscall.SIGTERM) })
			t.Logf("testserver: %s answering after %v: %s", what,
				time.Since(began).Round(time.Millisecond), strings.Join(c.Addrs, ", "))
			return c
		}
		retry := false
		for _, p := range procs {
			retry = retry || p.portTaken()
		}
		stopAll(t, procs, syscall.SIGKILL)
		if !retry || attempt == portAttempts {
			t.Fatalf("testserver: starting %s: %v", what, err)
		}
	}
}

// clickHouseNode is one server of a test cluster and its ports.
type clickHouseNode struct {
	shard, replica int // from 1
	tcp, http      int
	interserver    int // 0 without ZooKeeper
}

// startClickHouse writes the configs and starts a server in each dir
// (using a fresh subdirectory per attempt; len(dirs) is a multiple of
// replicas, the dirs shard-major), then pings every server. On error it
// returns the processes it started, for the caller to stop.
func startClickHouse(bin string, dirs []string, replicas int, zk string, attempt int) (*ClickHouseCluster, []*proc, error) {
	n := len(dirs)
	perNode := 2
	if zk != "" {
		perNode = 3
	}
	ports, err := freePorts(perNode * n)
	if err != nil {
		return nil, nil, err
	}
	c := &ClickHouseCluster{Cluster: ClickHouseClusterName, Replicas: replicas}
	nodes := make([]clickHouseNode, n)
	for i := range nodes {
		nodes[i] = clickHouseNode{shard: i/replicas + 1, replica: i%replicas + 1,
			tcp: ports[perNode*i], http: ports[perNode*i+1]}
		if zk != "" {
			nodes[i].interserver = ports[perNode*i+2]
		}
		c.Addrs = append(c.Addrs, "127.0.0.1:"+strconv.Itoa(nodes[i].tcp))
		c.HTTPAddrs = append(c.HTTPAddrs, "127.0.0.1:"+strconv.Itoa(nodes[i].http))
	}
	var procs []*proc
	for i, base := range dirs {
		dir := filepath.Join(base, "attempt"+strconv.Itoa(attempt))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, procs, err
		}
		if err := os.WriteFile(filepath.Join(dir, "users.xml"), []byte(clickHouseUsers), 0o644); err != nil {
			return nil, procs, err
		}
		config := filepath.Join(dir, "config.xml")
		if err := os.WriteFile(config, []byte(clickHouseConfig(dir, nodes[i], nodes, zk)), 0o644); err != nil {
			return nil, procs, err
		}
		cmd := exec.Command(bin, "--config-file="+config)
		cmd.Dir = dir
		name := fmt.Sprintf("clickhouse-server shard %d (%s)", nodes[i].shard, c.Addrs[i])
		if zk != "" {
			name = fmt.Sprintf("clickhouse-server shard %d replica %d (%s)", nodes[i].shard, nodes[i].replica, c.Addrs[i])
		}
		p, err := startProc(name, cmd, filepath.Join(dir, "console.log"), syscall.SIGKILL,
			filepath.Join(dir, "server.log"))
		if err != nil {
			return nil, procs, err
		}
		procs = append(procs, p)
	}
	// The servers start at the same time; ping them one after the other.
	for i, p := range procs {
		if err := p.waitReady(func() error { return pingClickHouse(c.Addrs[i]) }); err != nil {
			return nil, procs, err
		}
	}
	return c, procs, nil
}

// pingClickHouse opens a native protocol connection to addr and pings it.
func pingClickHouse(addr string) error {
	conn, err := clickhouse.Open(&clickhouse.Options{
		Addr:        []string{addr},
		Protocol:    clickhouse.Native,
		DialTimeout: time.Second,
	})
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	return conn.Ping(ctx)
}

// stopAll stops the processes concurrently (a ClickHouse shard takes about
// a second to shut down) and logs those that had to be killed: their data
// is thrown away, so that is no failure of the test.
func stopAll(t testing.TB, procs []*proc, sig syscall.Signal) {
	var wg sync.WaitGroup
	errs := make([]error, len(procs))
	for i, p := range procs {
		wg.Go(func() { errs[i] = p.stop(sig) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil && sig != syscall.SIGKILL {
			t.Logf("testserver: %v", err)
		}
	}
}

// clickHouseConfig is the server config of node, its files all in dir,
// knowing the cluster of all the nodes (shard-major, as chosen by
// startClickHouse) and, unless zk is "", using the ZooKeeper at zk.
//
// Every element is one that 18.16 reads (checked against the server; for
// example max_server_memory_usage does not exist there). The caches are
// small because test data is tiny and several servers share the machine;
// the caches are allocated on demand anyway. Times are UTC whatever the
// machine's zone. keep_alive_timeout is the 3 s of Debian's config instead
// of the built-in 10 s: the server waits for idle HTTP keep-alive
// connections when it shuts down.
//
// Only replicated tables need ZooKeeper, the interserver HTTP port (where
// replicas fetch parts from each other) and the macros, so without zk there
// are none of them. With zk, distributed_ddl turns on ON CLUSTER queries,
// which 18.16 otherwise refuses.
func clickHouseConfig(dir string, node clickHouseNode, nodes []clickHouseNode, zk string) string {
	var cluster strings.Builder
	for i, n := range nodes {
		if n.replica == 1 {
			if i > 0 {
				cluster.WriteString("      </shard>\n")
			}
			cluster.WriteString("      <shard>\n")
			if zk != "" {
				cluster.WriteString("        <internal_replication>true</internal_replication>\n")
			}
		}
		fmt.Fprintf(&cluster, "        <replica><host>127.0.0.1</host><port>%d</port></replica>\n", n.tcp)
	}
	cluster.WriteString("      </shard>\n")
	var replication string
	if zk != "" {
		host, port, _ := net.SplitHostPort(zk)
		replication = fmt.Sprintf(`  <zookeeper>
    <node><host>%s</host><port>%s</port></node>
  </zookeeper>
  <distributed_ddl><path>/clickhouse/task_queue/ddl</path></distributed_ddl>
  <interserver_http_host>127.0.0.1</interserver_http_host>
  <interserver_http_port>%d</interserver_http_port>
  <macros><shard>%d</shard><replica>r%d</replica></macros>
`, host, port, node.interserver, node.shard, node.replica)
	}
	return fmt.Sprintf(`<?xml version="1.0"?>
<!-- One server of a test cluster, written by prodex internal/testserver. -->
<yandex>
  <logger>
    <level>warning</level>
    <log>%[1]s/server.log</log>
    <errorlog>%[1]s/server.err.log</errorlog>
    <size>10M</size>
    <count>1</count>
  </logger>
  <listen_host>127.0.0.1</listen_host>
  <tcp_port>%[2]d</tcp_port>
  <http_port>%[3]d</http_port>
  <path>%[1]s/data/</path>
  <tmp_path>%[1]s/tmp/</tmp_path>
  <user_files_path>%[1]s/data/user_files/</user_files_path>
  <format_schema_path>%[1]s/data/format_schemas/</format_schema_path>
  <users_config>%[1]s/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <keep_alive_timeout>3</keep_alive_timeout>
  <mark_cache_size>16777216</mark_cache_size>
  <uncompressed_cache_size>16777216</uncompressed_cache_size>
%[6]s  <remote_servers>
    <%[4]s>
%[5]s    </%[4]s>
  </remote_servers>
</yandex>
`, dir, node.tcp, node.http, ClickHouseClusterName, cluster.String(), replication)
}

// clickHouseUsers is the users config of every shard: what Debian's
// /etc/clickhouse-server/users.xml grants (user "default", no password,
// default profile and an unlimited quota), but written into the test's own
// dir so that a local edit of /etc (a password, say) cannot break the tests,
// and accepting loopback connections only.
//
// poll_interval 1 (default 10): a connection handler notices the shutdown
// only between polls, and the shards hold pooled connections to each other
// after a Distributed query, so stopping two shards took 2 s instead of 1 s.
//
// load_balancing in_order: a Distributed query reads each shard's first
// replica while it is up, the one Prodex writes to, as docs/scaling.md asks of
// a replicated deployment (clients cannot send the setting to 18.16).
const clickHouseUsers = `<?xml version="1.0"?>
<yandex>
  <profiles>
    <default>
      <use_uncompressed_cache>0</use_uncompressed_cache>
      <poll_interval>1</poll_interval>
      <load_balancing>in_order</load_balancing>
    </default>
  </profiles>
  <users>
    <default>
      <password></password>
      <networks>
        <ip>127.0.0.1</ip>
        <ip>::1</ip>
      </networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
  </users>
  <quotas>
    <default>
      <interval>
        <duration>3600</duration>
        <queries>0</queries>
        <errors>0</errors>
        <result_rows>0</result_rows>
        <read_rows>0</read_rows>
        <execution_time>0</execution_time>
      </interval>
    </default>
  </quotas>
</yandex>
`
