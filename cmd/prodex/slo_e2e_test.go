package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// receiver records the webhook notifications it gets.
type receiver struct {
	mu   sync.Mutex
	msgs []map[string]any
	srv  *httptest.Server
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var m map[string]any
		json.NewDecoder(req.Body).Decode(&m)
		r.mu.Lock()
		r.msgs = append(r.msgs, m)
		r.mu.Unlock()
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// count returns how many notifications of a severity and state arrived.
func (r *receiver) count(severity, state string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, m := range r.msgs {
		if m["severity"] == severity && m["state"] == state {
			n++
		}
	}
	return n
}

// waitFor waits up to d for a notification; it returns how long it took.
func (r *receiver) waitFor(t *testing.T, severity, state string, n int, d time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < d {
		if r.count(severity, state) >= n {
			return time.Since(start)
		}
		time.Sleep(100 * time.Millisecond)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	t.Fatalf("no %s %s notification within %s; got %v", severity, state, d, r.msgs)
	return 0
}

// sendEvents posts n events in batches of 1000 (gzip JSON): every
// badEvery-th one (0: none) has status 503; times spread back from at
// over span.
func sendEvents(t *testing.T, s *server, key, ds string, n, badEvery int, at time.Time, span time.Duration) {
	t.Helper()
	for start := 0; start < n; start += 1000 {
		var evs []map[string]any
		for i := start; i < min(n, start+1000); i++ {
			code := 200
			if badEvery > 0 && i%badEvery == badEvery-1 {
				code = 503
			}
			ts := at
			if span > 0 {
				ts = at.Add(-span * time.Duration(n-1-i) / time.Duration(n))
			}
			evs = append(evs, map[string]any{"time": ts.Format(time.RFC3339Nano), "data": map[string]any{"status_code": code, "duration_ms": 20}})
		}
		body, _ := json.Marshal(evs)
		var zb bytes.Buffer
		zw := gzip.NewWriter(&zb)
		zw.Write(body)
		zw.Close()
		req, _ := http.NewRequest("POST", s.url+"/1/batch/"+ds, &zb)
		req.Header.Set("X-Honeycomb-Team", key)
		req.Header.Set("Content-Encoding", "gzip")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("batch: %d", resp.StatusCode)
		}
	}
}

func applySLO(t *testing.T, s *server, key, yaml string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "slo.yaml")
	os.WriteFile(f, []byte(yaml), 0o644)
	out, err := prodexCLI(t, nil, "apply", "-f", f, "--server", s.url, "--key", key)
	if err != nil {
		t.Fatalf("apply: %v\n%s", err, out)
	}
	return out
}

// TestSLOPagesResolvesAndSurvivesRestart: steady traffic at 0.05 % errors
// does not alert; 10 % errors page within 15 s; recovery resolves; a page
// open across a restart is not sent again.
func TestSLOPagesResolvesAndSurvivesRestart(t *testing.T) {
	rcv := newReceiver(t)
	data := t.TempDir()
	key := newKey(t, data, "admin")
	s := startServer(t, data, "--eval-interval", "500ms")
	defer func() { s.stop() }()
	def := fmt.Sprintf(`apiVersion: prodex/v1
kind: SLO
metadata: {name: checkout-availability}
spec:
  dataset: checkout
  description: Checkout requests succeed
  target: 99.9
  window: 30d
  sli:
    good: status_code < 500
  notify:
    - {type: webhook, url: %q}
`, rcv.srv.URL+"/hook")
	if out := applySLO(t, s, key, def); !strings.Contains(out, "slo/checkout-availability created") {
		t.Fatalf("apply said %q", out)
	}
	if out := applySLO(t, s, key, def); !strings.Contains(out, "unchanged") {
		t.Fatalf("second apply said %q, want unchanged", out)
	}

	// Steady: 2,000 events, 1 in 2,000 bad (0.05 %, burn 0.5).
	sendEvents(t, s, key, "checkout", 2000, 2000, time.Now(), 0)
	time.Sleep(2 * time.Second)
	if len(rcv.msgs) != 0 {
		t.Fatalf("steady traffic notified: %v", rcv.msgs)
	}
	var st struct {
		SLI                    float64            `json:"sli"`
		BudgetRemainingPercent float64            `json:"budget_remaining_percent"`
		BurnRate               map[string]float64 `json:"burn_rate"`
		ExhaustionSeconds      *float64           `json:"exhaustion_seconds"`
	}
	call(t, "GET", s.url+"/api/v1/slos/checkout-availability/status", key, nil, &st)
	if math.Abs(st.SLI-99.95) > 1e-9 || st.BurnRate["1h"] < 0.49 || st.BurnRate["1h"] > 0.51 || st.ExhaustionSeconds != nil {
		t.Fatalf("steady status %+v", st)
	}

	// Burst: 1,000 events at 10 % errors (the last hour's burn rate: 34).
	sendEvents(t, s, key, "checkout", 1000, 10, time.Now(), 0)
	took := rcv.waitFor(t, "page", "firing", 1, 15*time.Second)
	t.Logf("page after %s", took)
	if out, err := prodexCLI(t, nil, "gate", "--slo", "checkout-availability", "--min-remaining", "25%", "--server", s.url, "--key", key); err == nil {
		t.Fatalf("gate passed during a page: %s", out)
	}

	// Restart mid-episode: the page is not sent again.
	s.kill9()
	s.start("--eval-interval", "500ms")
	time.Sleep(2 * time.Second)
	if n := rcv.count("page", "firing"); n != 1 {
		t.Fatalf("%d page notifications after restart, want 1", n)
	}

	// Recovery: enough good traffic brings every burn rate under 1
	// (101 bad events in 153,000).
	sendEvents(t, s, key, "checkout", 150000, 0, time.Now(), 0)
	rcv.waitFor(t, "page", "resolved", 1, 15*time.Second)
	// While the good traffic arrives the burn rate passes through the
	// ticket band, so a ticket may open; once it has all arrived every
	// alert must resolve.
	deadline := time.Now().Add(15 * time.Second)
	for {
		var open []map[string]any
		call(t, "GET", s.url+"/api/v1/alerts?open=true", key, nil, &open)
		if len(open) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("alerts still open after recovery: %v", open)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if p, tf, tr := rcv.count("page", "firing"), rcv.count("ticket", "firing"), rcv.count("ticket", "resolved"); p != 1 || tf != tr {
		t.Errorf("pages %d, tickets opened %d and resolved %d", p, tf, tr)
	}
	// Alerts resolve once the burn rates fall, which can be before the
	// last of the good events are counted: the gate must see them all.
	var counted struct{ Eligible int64 }
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		call(t, "GET", s.url+"/api/v1/slos/checkout-availability/status", key, nil, &counted)
		if counted.Eligible >= 153000 || time.Now().After(deadline) {
			break
		}
	}
	if out, err := prodexCLI(t, nil, "gate", "--slo", "checkout-availability", "--min-remaining", "25%", "--server", s.url, "--key", key); err != nil {
		t.Errorf("gate refused after recovery (%d events counted): %v %s", counted.Eligible, err, out)
	}
	var alerts []map[string]any
	call(t, "GET", s.url+"/api/v1/alerts?slo=checkout-availability", key, nil, &alerts)
	pages := 0
	for _, a := range alerts {
		if a["severity"] == "page" {
			pages++
			if a["state"] != "resolved" || a["resolved_at"] == nil {
				t.Errorf("page episode %v", a)
			}
		}
	}
	if pages != 1 {
		t.Errorf("alert history has %d page episodes, want 1: %v", pages, alerts)
	}
}

// TestSlowLeakTickets: 0.2 % errors over three days of backdated events
// open a ticket and no page.
func TestSlowLeakTickets(t *testing.T) {
	rcv := newReceiver(t)
	data := t.TempDir()
	key := newKey(t, data, "admin")
	s := startServer(t, data, "--eval-interval", "500ms")
	defer s.stop()
	// The events are stored before the SLO exists: its counts come from
	// the backfill.
	sendEvents(t, s, key, "batch", 86400, 500, time.Now(), 72*time.Hour)
	applySLO(t, s, key, fmt.Sprintf(`apiVersion: prodex/v1
kind: SLO
metadata: {name: batch-jobs}
spec:
  dataset: batch
  target: 99.9
  window: 30d
  sli: {good: status_code < 500}
  notify: [{type: webhook, url: %q}]
`, rcv.srv.URL))
	rcv.waitFor(t, "ticket", "firing", 1, 15*time.Second)
	time.Sleep(time.Second)
	if n := rcv.count("page", "firing"); n != 0 {
		t.Fatalf("a slow leak paged (%d)", n)
	}
}

// TestSLOAPIErrors: bad definitions are 400s naming the field, a bad file
// applies nothing, writes need an admin key, and OpenSLO imports.
func TestSLOAPIErrors(t *testing.T) {
	data := t.TempDir()
	admin := newKey(t, data, "admin")
	query := newKey(t, data, "query")
	s := startServer(t, data)
	defer s.stop()
	good := map[string]any{"name": "api-ok", "dataset": "api", "target": 99.5, "window": "28d", "sli": map[string]any{"good": "status_code < 500"}}
	var e map[string]any
	if code := call(t, "POST", s.url+"/api/v1/slos", query, good, &e); code != 403 {
		t.Errorf("query key created an SLO: %d %v", code, e)
	}
	for _, c := range []struct {
		mutate func(map[string]any)
		want   string
	}{
		{func(m map[string]any) { m["target"] = 100 }, "target"},
		{func(m map[string]any) { m["window"] = "36h" }, "window"},
		{func(m map[string]any) { m["sli"] = map[string]any{"good": "status_code <"} }, "sli.good"},
		{func(m map[string]any) { m["sli"] = map[string]any{"good": "[1].all(x, x > 0)"} }, "sli.good"},
		{func(m map[string]any) { m["notify"] = []any{map[string]any{"type": "fax"}} }, "notify[0].type"},
		{func(m map[string]any) { m["colour"] = "red" }, "colour"},
		{func(m map[string]any) { m["name"] = "Bad Name" }, "name"},
	} {
		m := map[string]any{}
		for k, v := range good {
			m[k] = v
		}
		c.mutate(m)
		e = nil
		code := call(t, "POST", s.url+"/api/v1/slos", admin, m, &e)
		if msg, _ := e["error"].(string); code != 400 || !strings.Contains(msg, c.want) {
			t.Errorf("%v: %d %v, want 400 naming %s", m, code, e, c.want)
		}
	}
	// A file whose second document is bad applies nothing.
	f := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(f, []byte(`apiVersion: prodex/v1
kind: SLO
metadata: {name: first}
spec: {dataset: api, target: 99, window: 7d, sli: {good: "ok"}}
---
apiVersion: prodex/v1
kind: SLO
metadata: {name: second}
spec: {dataset: api, target: 99, window: 7d, sli: {good: "status_code < 500"}, notify: [{type: webhook}]}
`), 0o644)
	if out, err := prodexCLI(t, nil, "apply", "-f", f, "--server", s.url, "--key", admin); err == nil || !strings.Contains(err.Error(), "document 2") {
		t.Errorf("bad file applied: %v %s", err, out)
	}
	var list []map[string]any
	call(t, "GET", s.url+"/api/v1/slos", query, nil, &list)
	if len(list) != 0 {
		t.Errorf("a rejected file left SLOs: %v", list)
	}
	// OpenSLO import, then a dry run shows the diff without applying it.
	f = filepath.Join(t.TempDir(), "openslo.yaml")
	doc := `apiVersion: openslo/v1
kind: SLO
metadata: {name: search-latency}
spec:
  service: search
  budgetingMethod: Occurrences
  timeWindow: [{duration: 28d, isRolling: true}]
  objectives: [{target: 0.995}]
  indicator:
    metadata: {name: search-latency}
    spec:
      ratioMetric:
        good: {metricSource: {type: prodex, spec: {dataset: search, query: "duration_ms < 300"}}}
        total: {metricSource: {type: prodex, spec: {dataset: search, query: "true"}}}
`
	os.WriteFile(f, []byte(doc), 0o644)
	if out, err := prodexCLI(t, nil, "apply", "-f", f, "--server", s.url, "--key", admin); err != nil || !strings.Contains(out, "slo/search-latency created") {
		t.Fatalf("openslo apply: %v %s", err, out)
	}
	os.WriteFile(f, []byte(strings.Replace(doc, "0.995", "0.999", 1)), 0o644)
	out, err := prodexCLI(t, nil, "apply", "-f", f, "--dry-run", "--server", s.url, "--key", admin)
	if err != nil || !strings.Contains(out, "would be updated") || !strings.Contains(out, "target: 99.5 → 99.9") {
		t.Fatalf("dry run: %v %s", err, out)
	}
	var def map[string]any
	call(t, "GET", s.url+"/api/v1/slos/search-latency", query, nil, &def)
	if def["target"] != 99.5 {
		t.Errorf("dry run changed the SLO: %v", def)
	}
	if code := call(t, "GET", s.url+"/api/v1/slos/nope/status", query, nil, &e); code != 404 {
		t.Errorf("status of a missing SLO: %d", code)
	}
	if out, err := prodexCLI(t, nil, "slo", "delete", "search-latency", "--server", s.url, "--key", admin); err != nil {
		t.Errorf("delete: %v %s", err, out)
	}
}

// TestQueryBySLO: a query can keep an SLO's eligible, bad or good events,
// the same events its counts count.
func TestQueryBySLO(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	key := newKey(t, data, "admin")
	s := startServer(t, data)
	defer s.stop()
	applySLO(t, s, key, "apiVersion: prodex/v1\nkind: SLO\nmetadata: {name: api-ok}\nspec: {dataset: api, target: 99, window: 7d, sli: {eligible: 'duration_ms > 0', good: status_code < 500}}\n")
	sendEvents(t, s, key, "api", 1000, 8, time.Now(), 10*time.Minute)
	var st struct{ Eligible, Good, Bad int64 }
	for deadline := time.Now().Add(10 * time.Second); st.Eligible < 1000 && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		call(t, "GET", s.url+"/api/v1/slos/api-ok/status", key, nil, &st) // counted within a second
	}
	for events, want := range map[string]int64{"eligible": st.Eligible, "bad": st.Bad, "good": st.Good} {
		q := runQuery(t, s, key, "api", map[string]any{"time_range": 3600, "calculations": []map[string]any{{"op": "COUNT"}}, "slo": map[string]any{"name": "api-ok", "events": events}})
		if len(q.Results) != 1 || q.Results[0].Data["COUNT"] != float64(want) || want == 0 {
			t.Errorf("%s events: %+v, status says %d", events, q.Results, want)
		}
	}
	for _, c := range []struct {
		slo  map[string]any
		want string
	}{
		{map[string]any{"name": "nope"}, "slo.name: no SLO"},
		{map[string]any{"name": "api-ok", "events": "ugly"}, "slo.events"},
		{map[string]any{}, "slo.name: required"},
	} {
		var e struct{ Error string }
		if code := call(t, "POST", s.url+"/api/v1/query/api", key, map[string]any{"time_range": 3600, "slo": c.slo}, &e); code != 400 || !strings.Contains(e.Error, c.want) {
			t.Errorf("%v: %d %q", c.slo, code, e.Error)
		}
	}
	sendEvents(t, s, key, "web", 10, 0, time.Now(), 0)
	var e struct{ Error string }
	if code := call(t, "POST", s.url+"/api/v1/query/web", key, map[string]any{"time_range": 3600, "slo": map[string]any{"name": "api-ok"}}, &e); code != 400 || !strings.Contains(e.Error, "is on dataset api") {
		t.Errorf("another dataset's SLO: %d %q", code, e.Error)
	}
}
