package testserver

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// zooKeeperJar is the server jar of Debian's zookeeper package
// (libzookeeper-java). Its manifest's Class-Path names the jars it needs
// (zookeeper-jute, netty, slf4j-api, …) in /usr/share/java, so it is the
// whole classpath but for a logging backend.
const zooKeeperJar = "/usr/share/java/zookeeper.jar"

// zooKeeperLogJar is slf4j's simple backend (libslf4j-java, a dependency
// of libzookeeper-java): it logs to stderr, so the console log explains a
// failure. Without it slf4j logs nothing.
const zooKeeperLogJar = "/usr/share/java/slf4j-simple.jar"

// ZooKeeper starts a standalone ZooKeeper server on a free loopback port,
// its data in a temp dir (t.TempDir()), waits until it answers the "ruok"
// four-letter command with "imok" and serves clients, and stops it (SIGTERM, then kill) in
// t.Cleanup. It returns the client address "127.0.0.1:PORT".
//
// It runs org.apache.zookeeper.server.quorum.QuorumPeerMain of Debian's
// zookeeper package (/usr/share/java/zookeeper.jar) with java from PATH or
// /usr/bin, not the package's service. The admin server (an HTTP port) is
// off, the only four-letter commands allowed are ruok and srvr, and the transaction
// log is not synced: the data is thrown away after the test. A missing java
// or jar fails the test, telling how to install it; with
// PRODEX_TEST_NO_SERVERS=1 the test is skipped instead.
func ZooKeeper(t testing.TB) string {
	t.Helper()
	skipWithoutServers(t)
	java, err := findBinary("java", "/usr/bin/java")
	if err == nil {
		_, err = os.Stat(zooKeeperJar)
	}
	if err != nil {
		t.Fatalf("testserver: ZooKeeper needs java and %s: %v. "+
			"Install them with `apt-get install zookeeper` (./scripts/test.sh does), "+
			"or set %s=1 to skip the tests that need database servers.", zooKeeperJar, err, NoServersEnv)
	}
	classpath := zooKeeperJar
	if _, err := os.Stat(zooKeeperLogJar); err == nil {
		classpath += ":" + zooKeeperLogJar
	}
	base := t.TempDir() // before the stop cleanup, so removed after the server stopped
	began := time.Now()
	for attempt := 1; ; attempt++ {
		ports, err := freePorts(1)
		if err != nil {
			t.Fatalf("testserver: %v", err)
		}
		addr := "127.0.0.1:" + strconv.Itoa(ports[0])
		dir := filepath.Join(base, "attempt"+strconv.Itoa(attempt))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatalf("testserver: %v", err)
		}
		cfg := filepath.Join(dir, "zoo.cfg")
		if err := os.WriteFile(cfg, []byte(zooKeeperConfig(dir, ports[0])), 0o644); err != nil {
			t.Fatalf("testserver: %v", err)
		}
		cmd := exec.Command(java, "-Xmx256m",
			"-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
			"-Dzookeeper.forceSync=no",
			"-cp", classpath, "org.apache.zookeeper.server.quorum.QuorumPeerMain", cfg)
		cmd.Dir = dir
		p, err := startProc(fmt.Sprintf("zookeeper (%s)", addr), cmd, filepath.Join(dir, "console.log"), syscall.SIGKILL)
		if err != nil {
			t.Fatalf("testserver: %v", err)
		}
		if err := p.waitReady(func() error { return zooKeeperReady(addr) }); err != nil {
			retry := p.portTaken()
			_ = p.stop(syscall.SIGKILL)
			if retry && attempt < portAttempts {
				continue
			}
			t.Fatalf("testserver: starting ZooKeeper: %v", err)
		}
		t.Cleanup(func() {
			if err := p.stop(syscall.SIGTERM); err != nil {
				t.Logf("testserver: %v", err)
			}
		})
		t.Logf("testserver: ZooKeeper answering after %v at %s", time.Since(began).Round(time.Millisecond), addr)
		return addr
	}
}

// zooKeeperConfig is the config of a standalone server keeping its data in
// dir and serving clients on 127.0.0.1:port.
func zooKeeperConfig(dir string, port int) string {
	return fmt.Sprintf(`# A standalone test server, written by prodex internal/testserver.
tickTime=2000
dataDir=%s/data
clientPort=%d
clientPortAddress=127.0.0.1
admin.enableServer=false
4lw.commands.whitelist=ruok, srvr
`, dir, port)
}

// zooKeeperReady reports whether the server at addr serves clients: ruok
// answers imok as soon as the port is open, but until the server has
// loaded its data it closes every session ("ZooKeeperServer not running"),
// which srvr tells by answering "This ZooKeeper instance is not currently
// serving requests" instead of its statistics (Mode: standalone, …).
func zooKeeperReady(addr string) error {
	if got, err := zooKeeperCommand(addr, "ruok"); err != nil {
		return err
	} else if got != "imok" {
		return fmt.Errorf("ruok answered %q, want imok", got)
	}
	got, err := zooKeeperCommand(addr, "srvr")
	if err != nil {
		return err
	}
	if !strings.Contains(got, "Mode: ") {
		return fmt.Errorf("srvr answered %q", got)
	}
	return nil
}

// zooKeeperCommand sends the four-letter command cmd to addr and returns
// the answer, which ends when the server closes the connection.
func zooKeeperCommand(addr, cmd string) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := io.WriteString(conn, cmd); err != nil {
		return "", err
	}
	b, err := io.ReadAll(io.LimitReader(conn, 64<<10))
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}
