package query_test

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// clickHouseServer is the binary of Debian's clickhouse-server (18.16).
const clickHouseServer = "/usr/sbin/clickhouse-server"

// startClickHouse starts a ClickHouse server of its own, on free loopback
// ports, with its data in a temporary directory, and returns a client of
// it; the server stops when the test ends. The test is skipped when the
// server is not installed.
//
// To be replaced by internal/testserver.ClickHouse when that exists.
func startClickHouse(t *testing.T) *sql.DB {
	t.Helper()
	if _, err := os.Stat(clickHouseServer); err != nil {
		t.Skipf("ClickHouse is not installed (%v): apt-get install clickhouse-server", err)
	}
	dir := t.TempDir()
	tcp, http := freePort(t), freePort(t)
	config := fmt.Sprintf(`<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>%[1]s/server.log</log><errorlog>%[1]s/server.err.log</errorlog></logger>
  <tcp_port>%[2]d</tcp_port>
  <http_port>%[3]d</http_port>
  <listen_host>127.0.0.1</listen_host>
  <path>%[1]s/data/</path>
  <tmp_path>%[1]s/tmp/</tmp_path>
  <users_config>/etc/clickhouse-server/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>268435456</mark_cache_size>
</yandex>
`, dir, tcp, http)
	if err := os.WriteFile(filepath.Join(dir, "config.xml"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(clickHouseServer, "--config-file="+filepath.Join(dir, "config.xml"))
	cmd.Dir = dir
	out, err := os.Create(filepath.Join(dir, "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); out.Close() }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})

	db := clickhouse.OpenDB(&clickhouse.Options{Addr: []string{fmt.Sprintf("127.0.0.1:%d", tcp)}, DialTimeout: time.Second})
	t.Cleanup(func() { db.Close() })
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := db.PingContext(ctx)
		cancel()
		if err == nil {
			return db
		}
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("ClickHouse exited (%v):\n%s\n%s", err, tail(filepath.Join(dir, "stdout")), tail(filepath.Join(dir, "server.err.log")))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("ClickHouse did not answer within 30 s: %v\n%s", err, tail(filepath.Join(dir, "server.err.log")))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// freePort is a loopback TCP port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	s := string(b)
	if len(s) > 4000 {
		s = s[len(s)-4000:]
	}
	return strings.TrimSpace(s)
}
