package testserver

import (
	"context"
	"database/sql"
	"fmt"
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

// ClickHouseClusterName is the remote_servers cluster that every shard
// started by ClickHouse knows, listing all the shards of the test.
const ClickHouseClusterName = "prodex"

// ClickHouseCluster describes shard servers started by ClickHouse. Each
// shard accepts user "default" with no password, from loopback only.
type ClickHouseCluster struct {
	// Cluster is the remote_servers cluster name naming every shard, for
	// Distributed(Cluster, db, table, key) tables and ON CLUSTER.
	Cluster string
	// Addrs holds the native protocol host:port of each shard, in shard order
	// (the order of the shards in the cluster).
	Addrs []string
	// HTTPAddrs holds the HTTP interface host:port of each shard, in shard
	// order.
	HTTPAddrs []string
}

// ClickHouse starts n shard servers (n ≥ 1) on free loopback ports, each with
// its own temp data dir (t.TempDir()), all configured with a remote_servers
// cluster (name returned) listing every shard, waits until each answers a
// native-protocol ping, and stops them (SIGTERM, then kill) in t.Cleanup.
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
	bin, err := findBinary("clickhouse-server", "/usr/sbin/clickhouse-server", "/usr/bin/clickhouse-server")
	if err != nil {
		t.Fatalf("testserver: clickhouse-server not found in PATH, /usr/sbin or /usr/bin. "+
			"Install it with `apt-get install clickhouse-server` (./scripts/test.sh does), "+
			"or set %s=1 to skip the tests that need database servers.", NoServersEnv)
	}
	dirs := make([]string, n)
	for i := range dirs {
		dirs[i] = t.TempDir() // before the stop cleanup, so removed after the servers stopped
	}
	began := time.Now()
	for attempt := 1; ; attempt++ {
		c, procs, err := startClickHouse(bin, dirs, attempt)
		if err == nil {
			t.Cleanup(func() { stopAll(t, procs, syscall.SIGTERM) })
			t.Logf("testserver: %d ClickHouse shard(s) answering after %v: %s", n,
				time.Since(began).Round(time.Millisecond), strings.Join(c.Addrs, ", "))
			return c
		}
		retry := false
		for _, p := range procs {
			retry = retry || p.portTaken()
		}
		stopAll(t, procs, syscall.SIGKILL)
		if !retry || attempt == portAttempts {
			t.Fatalf("testserver: starting %d ClickHouse shard(s): %v", n, err)
		}
	}
}

// startClickHouse writes the configs and starts a server in each dir
// (using a fresh subdirectory per attempt), then pings every shard. On error
// it returns the processes it started, for the caller to stop.
// ClickHouseDB starts one ClickHouse server, as ClickHouse(t, 1) does,
// and returns a database/sql client of it, closed when the test ends.
func ClickHouseDB(t testing.TB) *sql.DB {
	t.Helper()
	cl := ClickHouse(t, 1)
	db := clickhouse.OpenDB(&clickhouse.Options{Addr: cl.Addrs, Protocol: clickhouse.Native})
	t.Cleanup(func() { db.Close() })
	return db
}

func startClickHouse(bin string, dirs []string, attempt int) (*ClickHouseCluster, []*proc, error) {
	n := len(dirs)
	ports, err := freePorts(2 * n)
	if err != nil {
		return nil, nil, err
	}
	c := &ClickHouseCluster{Cluster: ClickHouseClusterName}
	for i := range n {
		c.Addrs = append(c.Addrs, "127.0.0.1:"+strconv.Itoa(ports[2*i]))
		c.HTTPAddrs = append(c.HTTPAddrs, "127.0.0.1:"+strconv.Itoa(ports[2*i+1]))
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
		if err := os.WriteFile(config, []byte(clickHouseConfig(dir, ports[2*i], ports[2*i+1], ports)), 0o644); err != nil {
			return nil, procs, err
		}
		cmd := exec.Command(bin, "--config-file="+config)
		cmd.Dir = dir
		p, err := startProc(fmt.Sprintf("clickhouse-server shard %d (%s)", i+1, c.Addrs[i]), cmd,
			filepath.Join(dir, "console.log"), syscall.SIGKILL, filepath.Join(dir, "server.log"))
		if err != nil {
			return nil, procs, err
		}
		procs = append(procs, p)
	}
	// The shards start at the same time; ping them one after the other.
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

// clickHouseConfig is the server config of one shard listening on tcpPort
// and httpPort, its files all in dir, knowing the cluster of the shards at
// the native ports allPorts[0], allPorts[2], … (allPorts alternates native
// and HTTP ports, as chosen by startClickHouse).
//
// Every element is one that 18.16 reads (checked against the server; for
// example max_server_memory_usage does not exist there). The caches are
// small because test data is tiny and several servers share the machine;
// the caches are allocated on demand anyway. No interserver_http_port: only
// replicated tables need it. Times are UTC whatever the machine's zone.
// keep_alive_timeout is the 3 s of Debian's config instead of the built-in
// 10 s: the server waits for idle HTTP keep-alive connections when it shuts
// down.
func clickHouseConfig(dir string, tcpPort, httpPort int, allPorts []int) string {
	var shards strings.Builder
	for i := 0; i < len(allPorts); i += 2 {
		fmt.Fprintf(&shards, "      <shard><replica><host>127.0.0.1</host><port>%d</port></replica></shard>\n", allPorts[i])
	}
	return fmt.Sprintf(`<?xml version="1.0"?>
<!-- One shard of a test cluster, written by prodex internal/testserver. -->
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
  <remote_servers>
    <%[4]s>
%[5]s    </%[4]s>
  </remote_servers>
</yandex>
`, dir, tcpPort, httpPort, ClickHouseClusterName, shards.String())
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
const clickHouseUsers = `<?xml version="1.0"?>
<yandex>
  <profiles>
    <default>
      <use_uncompressed_cache>0</use_uncompressed_cache>
      <poll_interval>1</poll_interval>
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
