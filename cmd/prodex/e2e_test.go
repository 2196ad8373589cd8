package main

// End-to-end tests: they build the prodex binary, run it as a real server on
// loopback, and talk to it with real clients over HTTP.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prodex/prodex/internal/api"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "prodex-e2e")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "prodex")
	args := []string{"build", "-o", binary}
	if os.Getenv("PRODEX_E2E_RACE") != "" { // servers built with the race detector
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, ".")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building prodex:", err)
		os.Exit(1)
	}
	checked := holdToContract()
	code := checked(m.Run())
	os.RemoveAll(dir)
	os.Exit(code)
}

// server is a prodex serve process.
type server struct {
	t    *testing.T
	data string
	addr string
	url  string
	cmd  *exec.Cmd
	log  *bytes.Buffer
	// OTLP listeners of their own ("" when off, as for most tests, so
	// that parallel servers contend for no more ports than they need, and
	// never for the conventional ones).
	otlpHTTP, otlpGRPC string
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// prodexCLI runs the binary and returns its standard output.
func prodexCLI(t *testing.T, stdin io.Reader, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Stdin = stdin
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("%v: %s", err, errb.String())
	}
	return out.String(), nil
}

// newKey creates a key directly in a data directory (no server running).
func newKey(t *testing.T, data, scope string) string {
	t.Helper()
	out, err := prodexCLI(t, nil, "keys", "create", "--data", data, "--scope", scope)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	return lines[len(lines)-1]
}

func startServer(t *testing.T, data string, extra ...string) *server {
	t.Helper()
	s := &server{t: t, data: data, addr: freeAddr(t), log: &bytes.Buffer{}}
	s.url = "http://" + s.addr
	s.start(extra...)
	return s
}

// startOTLPServer is startServer with OTLP/HTTP and OTLP/gRPC listeners.
func startOTLPServer(t *testing.T, data string, extra ...string) *server {
	t.Helper()
	s := &server{t: t, data: data, addr: freeAddr(t), log: &bytes.Buffer{}, otlpHTTP: freeAddr(t), otlpGRPC: freeAddr(t)}
	s.url = "http://" + s.addr
	s.start(extra...)
	return s
}

func (s *server) start(extra ...string) {
	s.t.Helper()
	args := append([]string{"serve", "--data", s.data, "--listen", s.addr, "--otlp-http", s.otlpHTTP, "--otlp-grpc", s.otlpGRPC}, extra...)
	s.cmd = exec.Command(binary, args...)
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(s.url + "/healthz")
		if err == nil {
			resp.Body.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.t.Fatalf("server did not start: %s", s.log.String())
}

// kill9 kills the server without warning.
func (s *server) kill9() {
	s.cmd.Process.Kill()
	s.cmd.Wait()
}

// stop sends SIGTERM and waits for a clean exit.
func (s *server) stop() {
	s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			s.t.Errorf("server exited with %v: %s", err, s.log.String())
		}
	case <-time.After(60 * time.Second):
		s.cmd.Process.Kill()
		s.t.Errorf("server did not stop within 60s")
	}
}

// call sends a request and decodes the JSON answer into out.
func call(t *testing.T, method, url, key string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, rd)
	if key != "" {
		req.Header.Set("X-Honeycomb-Team", key)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %d %s: %v", method, url, resp.StatusCode, data, err)
		}
	}
	return resp.StatusCode
}

func runQuery(t *testing.T, s *server, key, ds string, spec map[string]any) api.QueryAnswer {
	t.Helper()
	var res api.QueryAnswer
	var raw json.RawMessage
	if code := call(t, "POST", s.url+"/api/v1/query/"+ds, key, spec, &raw); code != 200 {
		t.Fatalf("query %v: %d %s", spec, code, raw)
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		t.Fatal(err)
	}
	return res
}
