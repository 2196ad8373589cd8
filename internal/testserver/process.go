// Package testserver starts real database servers (ClickHouse shards,
// PostgreSQL) on loopback for tests, from the binaries of the Debian
// packages, and stops them when the test ends. ZooKeeper is there for
// ClickHouse's replication: ClickHouseReplicated starts one for its
// servers, which keep the replication log of ReplicatedMergeTree tables
// and the queue of ON CLUSTER queries in it.
//
// Prodex's event and metadata stores are tested against the real servers,
// never mocks. A mock only behaves the way its author thinks the server
// does, and the bugs that matter (SQL dialects, types, distributed inserts,
// transactions) are in exactly those differences. Each test gets its own servers
// with their own temporary data directories and free ports, so tests can run
// in parallel and leave nothing behind.
//
// The suite expects the servers to be installed (scripts/test.sh installs
// clickhouse-server, zookeeper and postgresql with apt-get when missing). A
// missing binary fails the test with instructions, so the tests do not
// silently stop testing anything. Set PRODEX_TEST_NO_SERVERS=1 to skip the tests that need
// servers instead, e.g. on a machine without the packages.
package testserver

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// NoServersEnv names the variable that, set to 1, makes every function of
// this package skip the test instead of starting a server.
const NoServersEnv = "PRODEX_TEST_NO_SERVERS"

// startTimeout bounds how long a server may take to answer its first ping.
const startTimeout = 60 * time.Second

// stopTimeout bounds how long a server may take to shut down after the
// polite signal before it is killed.
const stopTimeout = 15 * time.Second

// portAttempts is how often a start is retried when another process took a
// port between choosing it and the server binding it.
const portAttempts = 3

func skipWithoutServers(t testing.TB) {
	t.Helper()
	if os.Getenv(NoServersEnv) == "1" {
		t.Skipf("%s=1: not starting database servers", NoServersEnv)
	}
}

// freePorts returns n distinct loopback ports that were free a moment ago.
// All listeners are held open until every port is chosen, so the ports
// differ from each other; another process may still take one before the
// server binds it, which the callers handle by retrying.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("finding a free loopback port: %w", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// proc is one running server process.
type proc struct {
	name string
	cmd  *exec.Cmd
	logs []string      // files whose last lines explain a failure, most useful first
	done chan struct{} // closed when the process has exited
	err  error         // what Wait returned; read only after done is closed
}

// startProc starts cmd with stdout and stderr going to the file console,
// which is also the first log consulted on failure. The server gets
// pdeathsig so it dies with the test binary even if the cleanup never runs
// (a test timeout panics without running cleanups).
func startProc(name string, cmd *exec.Cmd, console string, pdeathsig syscall.Signal, logs ...string) (*proc, error) {
	out, err := os.OpenFile(console, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer out.Close() // the child has its own descriptor
	cmd.Stdout, cmd.Stderr = out, out
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = pdeathsig
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, logs: append([]string{console}, logs...), done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends sig, waits up to stopTimeout, then kills the process. It
// returns an error only if the process had to be killed.
func (p *proc) stop(sig syscall.Signal) error {
	if p.exited() {
		return nil
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
		return nil
	case <-time.After(stopTimeout):
	}
	_ = p.cmd.Process.Kill()
	<-p.done
	return fmt.Errorf("%s did not stop within %v of %v and was killed", p.name, stopTimeout, sig)
}

// waitReady calls ping until it succeeds, the process exits or
// startTimeout passes. The error carries the last ping error and the tail
// of the server's logs.
func (p *proc) waitReady(ping func() error) error {
	deadline := time.Now().Add(startTimeout)
	var last error
	for {
		if last = ping(); last == nil {
			return nil
		}
		if p.exited() {
			return fmt.Errorf("%s exited before answering (%v); last ping: %v\n%s", p.name, p.err, last, p.tail())
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not answer within %v; last ping: %v\n%s", p.name, startTimeout, last, p.tail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// portTaken reports whether the server exited because its port was taken,
// which is worth a retry with other ports.
func (p *proc) portTaken() bool {
	if !p.exited() {
		return false
	}
	for _, f := range p.logs {
		b, _ := os.ReadFile(f)
		if bytes.Contains(b, []byte("Address already in use")) {
			return true
		}
	}
	return false
}

// tail returns the last lines of each of the server's logs.
func (p *proc) tail() string {
	var sb strings.Builder
	for _, f := range p.logs {
		fmt.Fprintf(&sb, "--- last lines of %s:\n%s", f, tailFile(f, 30))
	}
	return sb.String()
}

// tailFile returns the last n lines of the file at path (from its last
// 64 KiB), or a note saying why there are none.
func tailFile(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(%v)\n", err)
	}
	defer f.Close()
	const max = 64 << 10
	if st, err := f.Stat(); err == nil && st.Size() > max {
		_, _ = f.Seek(st.Size()-max, io.SeekStart)
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return fmt.Sprintf("(%v)\n", err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	s := strings.Join(lines, "\n")
	if strings.TrimSpace(s) == "" {
		return "(empty)\n"
	}
	return s + "\n"
}

// findBinary returns the first executable among PATH lookups of name and
// the given absolute candidates.
func findBinary(name string, candidates ...string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, c := range candidates {
		if st, err := os.Stat(c); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return c, nil
		}
	}
	return "", errors.New(name + " not found")
}
