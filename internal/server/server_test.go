package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prodex/prodex/internal/api"
	"github.com/prodex/prodex/internal/auth"
	"github.com/prodex/prodex/internal/client"
	"github.com/prodex/prodex/internal/query"
)

// testConfig is a server on dir with the API on a free port, no OTLP
// listeners, and no data-disk minimum (a test's disk may be nearly full).
func testConfig(dir string, stderr io.Writer) Config {
	c := Defaults()
	c.Data, c.Listen, c.OTLPHTTP, c.OTLPGRPC, c.MinFreeDisk = dir, "127.0.0.1:0", "", "", "0"
	c.EvalInterval = 100 * time.Millisecond
	c.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	c.Stderr = stderr
	return c
}

// bootstrapKey is the admin key a first start printed, or "".
func bootstrapKey(t *testing.T, stderr string) string {
	t.Helper()
	if stderr == "" {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "No API keys existed, so an admin key was created") {
		t.Fatalf("bootstrap message: %q", stderr)
	}
	return lines[1]
}

// count is COUNT over the last hour of a dataset.
func count(t *testing.T, c *client.Client, ds string) (float64, error) {
	t.Helper()
	res, err := c.Query(context.Background(), ds, &query.Spec{Calculations: []query.Calculation{{Op: "COUNT"}}, TimeRange: 3600})
	if err != nil {
		return 0, err
	}
	if res.Result == nil || len(res.Result.Results) != 1 {
		t.Fatalf("answer: %+v", res.Result)
	}
	n, _ := res.Result.Results[0].Data["COUNT"].(float64)
	return n, nil
}

// TestRunEmbedded starts a server on a new data directory, creates a
// second environment through the API, keeps events of one apart from
// the other, stops on its context, and opens again with both.
func TestRunEmbedded(t *testing.T) {
	dir := t.TempDir()
	var stderr bytes.Buffer
	s, err := New(testConfig(dir, &stderr))
	if err != nil {
		t.Fatal(err)
	}
	admin := bootstrapKey(t, stderr.String())
	if admin == "" {
		t.Fatal("no admin key was made on a new data directory")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	url := "http://" + s.Addr().String()
	c := &client.Client{Server: url, Key: admin}
	if err := c.Health(ctx); err != nil {
		t.Fatal(err)
	}

	if err := c.CreateEnvironment(ctx, "staging"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "envs", "staging")); err != nil {
		t.Errorf("no directory for the new environment: %v", err)
	}
	if err := c.CreateEnvironment(ctx, "staging"); err == nil {
		t.Error("an environment was created twice")
	}
	if names, err := c.Environments(ctx); err != nil || !reflect.DeepEqual(names, []string{"staging"}) {
		t.Fatalf("environments %v, %v", names, err)
	}
	k, err := c.CreateKey(ctx, "staging", auth.Admin, "staging admin")
	if err != nil {
		t.Fatal(err)
	}
	staging := &client.Client{Server: url, Key: k.Key}
	ev, _ := client.NewEvent(time.Now(), map[string]any{"service": "checkout", "duration_ms": 12})
	if st, err := staging.Batch(ctx, "checkout", []client.Event{ev, ev}); err != nil || len(st) != 2 || st[0].Status != http.StatusAccepted {
		t.Fatalf("batch: %+v, %v", st, err)
	}
	if n, err := count(t, staging, "checkout"); err != nil || n != 2 {
		t.Errorf("staging counts %v, %v; want 2", n, err)
	}
	if n, err := count(t, c, "checkout"); err == nil && n != 0 {
		t.Errorf("the default environment sees staging's events: %v", n)
	}

	resp, err := http.Get(url + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	var ready struct {
		Status string      `json:"status"`
		Checks []api.Check `json:"checks"`
	}
	json.NewDecoder(resp.Body).Decode(&ready)
	resp.Body.Close()
	var names []string
	for _, ch := range ready.Checks {
		names = append(names, ch.Name)
	}
	if want := []string{"store:default", "alerts:default", "store:staging", "alerts:staging", "ingest"}; !reflect.DeepEqual(names, want) {
		t.Errorf("readiness checks %v, want %v", names, want)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Run did not return after its context ended")
	}
	if _, err := http.Get(url + "/healthz"); err == nil {
		t.Error("still serving after Run returned")
	}

	// Again on the same directory: the keys exist, staging is found
	// under envs/, its events are there; Shutdown without Run closes it.
	stderr.Reset()
	s2, err := New(testConfig(dir, &stderr))
	if err != nil {
		t.Fatal(err)
	}
	if stderr.Len() > 0 {
		t.Errorf("a second admin key was made: %q", stderr.String())
	}
	if got := s2.envs.List(); !reflect.DeepEqual(got, []string{"staging"}) {
		t.Errorf("environments after a restart: %v", got)
	}
	if err := s2.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s2.Shutdown(context.Background()); err != nil {
		t.Errorf("a second Shutdown: %v", err)
	}
	assertClosed(t, s)
	assertClosed(t, s2)
}

// assertClosed fails unless every environment's stores are closed.
func assertClosed(t *testing.T, s *Server) {
	t.Helper()
	for name, env := range s.envs.all {
		if err := env.st.events.DB().Ping(); err == nil {
			t.Errorf("the store of environment %q is still open", name)
		}
	}
}

// TestReady: ingest readiness names each environment's store, alert rules
// and ingest, waits for the first evaluation, marks nothing degraded while
// nothing is, and says when the server shuts down; metadata readiness
// names the metadata store and alert rules; a store that does not answer
// makes the server unready for ingest.
func TestReady(t *testing.T) {
	dir := t.TempDir()
	s, err := New(testConfig(dir, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	ctx := context.Background()
	deadline := time.Now().Add(30 * time.Second)
	var checks []api.Check
	for {
		checks = s.envs.ready(ctx)
		if len(checks) == 3 && checks[1].Problem == "" || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	want := []api.Check{{Name: "store:default"}, {Name: "alerts:default"}, {Name: "ingest"}}
	if !reflect.DeepEqual(checks, want) {
		t.Fatalf("checks %+v\nwant %+v", checks, want)
	}
	if checks, want := s.envs.metaReady(ctx), []api.Check{{Name: "meta:default"}, {Name: "alerts:default"}}; !reflect.DeepEqual(checks, want) {
		t.Fatalf("metadata checks %+v\nwant %+v", checks, want)
	}
	s.stop() // what a signal does first
	checks = s.envs.ready(ctx)
	if last := checks[len(checks)-1]; last != (api.Check{Name: "server", Problem: "shutting down"}) {
		t.Errorf("while shutting down, the last check is %+v", last)
	}
	// A store that does not answer makes the server unready.
	s.envs.all[""].st.events.Close()
	checks = s.envs.ready(ctx)
	if checks[0].Name != "store:default" || !strings.HasPrefix(checks[0].Problem, "the store does not answer: ") {
		t.Errorf("closed store: %+v", checks[0])
	}
}

// TestCreateKey: a key made straight in a data directory, in a new
// environment, is there when a server starts.
func TestCreateKey(t *testing.T) {
	dir := t.TempDir()
	secret, k, err := CreateKey(dir, "dev", auth.Ingest, "ci")
	if err != nil {
		t.Fatal(err)
	}
	if secret == "" || k.Scope != auth.Ingest || k.Name != "ci" || k.Env != "dev" {
		t.Errorf("key %+v", k)
	}
	if _, _, err := CreateKey(dir, "Not_Valid", auth.Ingest, ""); err == nil {
		t.Error("a key was made in an environment of an invalid name")
	}
	var stderr bytes.Buffer
	s, err := New(testConfig(dir, &stderr))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	if stderr.Len() > 0 {
		t.Errorf("an admin key was made though a key existed: %q", stderr.String())
	}
	if got := s.envs.List(); !reflect.DeepEqual(got, []string{"dev"}) {
		t.Errorf("environments %v, want [dev]", got)
	}
	if env := s.envs.cfg.keys.EnvOf(secret); env != "dev" {
		t.Errorf("the key works in %q", env)
	}
}

// TestNewRefuses: a bad flag fails New before anything is opened.
func TestNewRefuses(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	c := testConfig(dir, nil)
	c.MemoryCeiling = "100MB"
	if _, err := New(c); err == nil || !strings.HasPrefix(err.Error(), "--memory-ceiling:") {
		t.Fatalf("New: %v", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the data directory was made: %v", err)
	}
}

// TestListenInUse: when an address is taken, New fails; what it wrote
// before stays, so the next start finds the bootstrap key it made.
func TestListenInUse(t *testing.T) {
	dir := t.TempDir()
	s, err := New(testConfig(dir, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	other := t.TempDir()
	c := testConfig(other, nil)
	c.Listen = s.Addr().String()
	if _, err := New(c); err == nil {
		t.Fatal("a second server listened on the first one's address")
	}
	var stderr bytes.Buffer
	c = testConfig(other, &stderr)
	s2, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	s2.Shutdown(context.Background())
	if stderr.Len() > 0 {
		t.Errorf("the bootstrap key of the failed start was lost: %q", stderr.String())
	}
}
