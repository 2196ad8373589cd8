package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
)

// TestEnvironmentsIsolate walks every route of the API with a key of one
// environment against what another environment holds: datasets, SLOs,
// markers, risks, incidents, notes, queries, traces, audit — nothing is
// read, changed or deleted across; and keys, people and environments are
// managed from the default environment only.
func TestEnvironmentsIsolate(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	a := newKey(t, data, "admin")
	s := startOTLPServer(t, data)
	defer s.stop()
	u := s.url
	req := func(method, path, key string, body any) (int, string) {
		t.Helper()
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		r, _ := http.NewRequest(method, u+path, rd)
		if key != "" {
			r.Header.Set("X-Honeycomb-Team", key)
		}
		r.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(out)
	}
	must := func(code int, body string) string {
		t.Helper()
		if code/100 != 2 {
			t.Fatalf("setup: %d %s", code, body)
		}
		return body
	}
	id := func(body string) string {
		var v struct {
			ID string `json:"id"`
		}
		json.Unmarshal([]byte(body), &v)
		return v.ID
	}

	// The default environment's things.
	now := time.Now().Unix()
	must(req("POST", "/1/batch/payments", a, []map[string]any{{"data": map[string]any{"secret_field": "A", "status_code": 200}}}))
	must(req("POST", "/1/batch/checkout", a, []map[string]any{{"data": map[string]any{"status_code": 200}}}))
	applySLO(t, s, a, "apiVersion: prodex/v1\nkind: SLO\nmetadata: {name: checkout-availability}\nspec: {dataset: checkout, target: 99.9, window: 30d, sli: {good: status_code < 500}}\n"+
		"---\napiVersion: prodex/v1\nkind: Risk\nmetadata: {name: db-failover}\nspec: {slo: checkout-availability, ettd: 30m, ettr: 60m, frequency_per_year: 4, impact_percent: 50}\n")
	marker := id(must(req("POST", "/1/markers/checkout", a, map[string]any{"message": "v1", "type": "deploy"})))
	incident := id(must(req("POST", "/api/v1/incidents", a, map[string]any{"title": "A's incident", "slo": "checkout-availability"})))
	note := id(must(req("POST", "/api/v1/notes", a, map[string]any{"target_type": "slo", "target_id": "checkout-availability", "text": "A's note"})))
	var q struct {
		QueryID string `json:"query_id"`
	}
	json.Unmarshal([]byte(must(req("POST", "/api/v1/query/payments", a, map[string]any{"time_range": 3600}))), &q)
	saved := id(must(req("POST", "/api/v1/saved-queries", a, map[string]any{"query_id": q.QueryID, "name": "A's query"})))
	trace := "5b8efff798038103d269b633813fc60c"
	must(req("POST", "/v1/traces", a, json.RawMessage(`{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"payments"}}]},`+
		`"scopeSpans":[{"spans":[{"traceId":"`+trace+`","spanId":"eee19b7ec3c1b174","name":"A's span","startTimeUnixNano":"`+fmt.Sprint(now*1e9)+`"}]}]}]}`)))
	must(req("PUT", "/api/v1/users/dana", a, map[string]any{"role": "editor"}))

	// A second environment and its admin.
	must(req("POST", "/api/v1/environments", a, map[string]any{"name": "staging"}))
	var bk struct{ Key string }
	json.Unmarshal([]byte(must(req("POST", "/api/v1/keys", a, map[string]any{"scope": "admin", "environment": "staging"}))), &bk)
	b := bk.Key
	must(req("POST", "/1/batch/checkout", b, []map[string]any{{"data": map[string]any{"status_code": 503, "staging_only": true}}}))

	type check struct {
		pattern, method, path string
		body                  any
		codes                 []int  // any of these
		never                 string // must not appear in the answer
	}
	none := "A's"
	cases := []check{
		{"POST /1/events/{dataset}", "POST", "/1/events/payments", map[string]any{"from": "B"}, []int{200}, ""},
		{"POST /1/batch/{dataset}", "POST", "/1/batch/payments", []map[string]any{{"data": map[string]any{"from": "B"}}}, []int{200}, ""},
		{"GET /1/columns/{dataset}", "GET", "/1/columns/payments", nil, []int{200}, "secret_field"},
		{"GET /1/auth", "GET", "/1/auth", nil, []int{200}, ""},
		{"POST /api/v1/query/{dataset}", "POST", "/api/v1/query/checkout", map[string]any{"time_range": 3600, "calculations": []map[string]any{{"op": "COUNT"}}}, []int{200}, `"COUNT":2`},
		{"POST /api/v1/explain/{dataset}", "POST", "/api/v1/explain/checkout", map[string]any{"time_range": 3600, "selection": map[string]any{"filters": []map[string]any{{"column": "status_code", "op": "=", "value": 200}}}}, []int{200, 400}, "A's"},
		{"GET /api/v1/datasets", "GET", "/api/v1/datasets", nil, []int{200}, "secret"},
		{"PUT /api/v1/datasets/{dataset}", "PUT", "/api/v1/datasets/nope-in-b", map[string]any{"retention_days": 1}, []int{404}, ""},
		{"GET /api/v1/keys", "GET", "/api/v1/keys", nil, []int{403}, ""},
		{"POST /api/v1/keys", "POST", "/api/v1/keys", map[string]any{"scope": "admin"}, []int{403}, ""},
		{"DELETE /api/v1/keys/{id}", "DELETE", "/api/v1/keys/" + a[3:11], nil, []int{403}, ""},
		{"GET /api/v1/environments", "GET", "/api/v1/environments", nil, []int{403}, ""},
		{"POST /api/v1/environments", "POST", "/api/v1/environments", map[string]any{"name": "prod2"}, []int{403}, ""},
		{"GET /api/v1/users", "GET", "/api/v1/users", nil, []int{403}, ""},
		{"PUT /api/v1/users/{name}", "PUT", "/api/v1/users/dana", map[string]any{"role": "admin"}, []int{403}, ""},
		{"DELETE /api/v1/users/{name}", "DELETE", "/api/v1/users/dana", nil, []int{403}, ""},
		{"POST /api/v1/users/{name}/keys", "POST", "/api/v1/users/dana/keys", map[string]any{"name": "x"}, []int{403}, ""},
		{"GET /api/v1/slos", "GET", "/api/v1/slos", nil, []int{200}, "checkout-availability"},
		{"GET /api/v1/slos/{name}", "GET", "/api/v1/slos/checkout-availability", nil, []int{404}, ""},
		{"GET /api/v1/slos/{name}/status", "GET", "/api/v1/slos/checkout-availability/status", nil, []int{404}, ""},
		{"GET /api/v1/slos/{name}/gate", "GET", "/api/v1/slos/checkout-availability/gate", nil, []int{404}, ""},
		{"GET /api/v1/slos/{name}/risks", "GET", "/api/v1/slos/checkout-availability/risks", nil, []int{404}, ""},
		{"GET /api/v1/slos/{name}/incidents", "GET", "/api/v1/slos/checkout-availability/incidents", nil, []int{404}, ""},
		{"DELETE /api/v1/slos/{name}", "DELETE", "/api/v1/slos/checkout-availability", nil, []int{404}, ""},
		{"PUT /api/v1/slos/{name}", "PUT", "/api/v1/slos/b-slo", map[string]any{"dataset": "checkout", "target": 99, "window": "7d", "sli": map[string]any{"good": "status_code < 500"}}, []int{200, 201}, ""},
		{"POST /api/v1/slos", "POST", "/api/v1/slos", map[string]any{"name": "b-slo2", "dataset": "checkout", "target": 99, "window": "7d", "sli": map[string]any{"good": "true"}}, []int{201}, ""},
		{"POST /api/v1/apply", "POST", "/api/v1/apply", json.RawMessage(`{"apiVersion":"prodex/v1","kind":"Risk","metadata":{"name":"r"},"spec":{"slo":"checkout-availability","ettd":"1m","ettr":"1m","frequency_per_year":1,"impact_percent":1}}`), []int{400}, ""},
		{"GET /api/v1/alerts", "GET", "/api/v1/alerts", nil, []int{200}, "checkout-availability"},
		{"GET /1/markers/{dataset}", "GET", "/1/markers/checkout", nil, []int{200}, marker},
		{"POST /1/markers/{dataset}", "POST", "/1/markers/checkout", map[string]any{"message": "B's", "type": "deploy"}, []int{201}, ""},
		{"PUT /1/markers/{dataset}/{id}", "PUT", "/1/markers/checkout/" + marker, map[string]any{"message": "hijacked"}, []int{404}, ""},
		{"DELETE /1/markers/{dataset}/{id}", "DELETE", "/1/markers/checkout/" + marker, nil, []int{404}, ""},
		{"GET /api/v1/risks", "GET", "/api/v1/risks", nil, []int{200}, "db-failover"},
		{"POST /api/v1/risks", "POST", "/api/v1/risks", map[string]any{"name": "x", "slo": "checkout-availability", "ettd": "1m", "ettr": "1m", "frequency_per_year": 1, "impact_percent": 1}, []int{400}, ""},
		{"GET /api/v1/risks/{name}", "GET", "/api/v1/risks/db-failover", nil, []int{404}, ""},
		{"PUT /api/v1/risks/{name}", "PUT", "/api/v1/risks/db-failover", map[string]any{"slo": "checkout-availability", "ettd": "1m", "ettr": "1m", "frequency_per_year": 1, "impact_percent": 1}, []int{400}, ""},
		{"DELETE /api/v1/risks/{name}", "DELETE", "/api/v1/risks/db-failover", nil, []int{404}, ""},
		{"POST /api/v1/risks/{name}/what-if", "POST", "/api/v1/risks/db-failover/what-if", map[string]any{"ettd": "1m"}, []int{404}, ""},
		{"POST /api/v1/risks/{name}/incidents", "POST", "/api/v1/risks/db-failover/incidents", map[string]any{"alert_id": "x"}, []int{404}, ""},
		{"GET /api/v1/incidents", "GET", "/api/v1/incidents", nil, []int{200}, incident},
		{"POST /api/v1/incidents", "POST", "/api/v1/incidents", map[string]any{"title": "B's", "slo": "checkout-availability"}, []int{400}, ""},
		{"GET /api/v1/incidents/{id}", "GET", "/api/v1/incidents/" + incident, nil, []int{404}, ""},
		{"PATCH /api/v1/incidents/{id}", "PATCH", "/api/v1/incidents/" + incident, map[string]any{"status": "resolved"}, []int{404}, ""},
		{"GET /api/v1/incidents/{id}/timeline", "GET", "/api/v1/incidents/" + incident + "/timeline", nil, []int{404}, ""},
		{"GET /api/v1/notes", "GET", "/api/v1/notes", nil, []int{200}, note},
		{"POST /api/v1/notes", "POST", "/api/v1/notes", map[string]any{"target_type": "slo", "target_id": "checkout-availability", "text": "x"}, []int{400}, ""},
		{"PUT /api/v1/notes/{id}", "PUT", "/api/v1/notes/" + note, map[string]any{"text": "hijacked"}, []int{404}, ""},
		{"DELETE /api/v1/notes/{id}", "DELETE", "/api/v1/notes/" + note, nil, []int{404}, ""},
		{"GET /api/v1/history", "GET", "/api/v1/history", nil, []int{200}, q.QueryID},
		{"GET /api/v1/queries/{id}", "GET", "/api/v1/queries/" + q.QueryID, nil, []int{404}, ""},
		{"POST /api/v1/queries/{id}/run", "POST", "/api/v1/queries/" + q.QueryID + "/run", nil, []int{404}, ""},
		{"GET /q/{id}", "GET", "/q/" + q.QueryID, nil, []int{404}, ""},
		{"GET /api/v1/saved-queries", "GET", "/api/v1/saved-queries", nil, []int{200}, saved},
		{"POST /api/v1/saved-queries", "POST", "/api/v1/saved-queries", map[string]any{"query_id": q.QueryID, "name": "steal"}, []int{400}, ""},
		{"GET /api/v1/saved-queries/{id}", "GET", "/api/v1/saved-queries/" + saved, nil, []int{404}, ""},
		{"PUT /api/v1/saved-queries/{id}", "PUT", "/api/v1/saved-queries/" + saved, map[string]any{"name": "x"}, []int{404}, ""},
		{"DELETE /api/v1/saved-queries/{id}", "DELETE", "/api/v1/saved-queries/" + saved, nil, []int{404}, ""},
		{"GET /api/v1/traces/{trace_id}", "GET", "/api/v1/traces/" + trace, nil, []int{404}, ""},
		{"POST /v1/traces", "POST", "/v1/traces", json.RawMessage(`{"resourceSpans":[]}`), []int{200}, ""},
		{"POST /v1/logs", "POST", "/v1/logs", json.RawMessage(`{"resourceLogs":[]}`), []int{200}, ""},
		{"GET /api/v1/audit", "GET", "/api/v1/audit?limit=1000", nil, []int{200}, `"key_id":"` + a[3:11] + `"`},
		{"GET /healthz", "GET", "/healthz", nil, []int{200}, ""},
		{"GET /readyz", "GET", "/readyz", nil, []int{200}, ""},
		{"GET /readyz/meta", "GET", "/readyz/meta", nil, []int{200}, ""},
		{"GET /metrics", "GET", "/metrics", nil, []int{403}, ""},
		{"GET /api/v1/openapi.json", "GET", "/api/v1/openapi.json", nil, []int{200}, ""},
		{"GET /{$}", "GET", "/", nil, []int{200}, ""},
		{"GET /signout", "GET", "/signout", nil, []int{200}, ""}, // redirected to the page
		{"/", "GET", "/nowhere", nil, []int{404}, ""},
	}
	covered := map[string]bool{}
	for _, c := range cases {
		covered[c.pattern] = true
		code, body := req(c.method, c.path, b, c.body)
		ok := false
		for _, want := range c.codes {
			ok = ok || code == want
		}
		if !ok || c.never != "" && strings.Contains(body, c.never) || strings.Contains(body, none) && c.method == "GET" {
			t.Errorf("%s with another environment's key: %d %s", c.pattern, code, clipText(body))
		}
	}
	// Every route the API serves is in the table.
	files, _ := filepath.Glob("../../internal/api/*.go")
	re := regexp.MustCompile(`HandleFunc\("([^"]+)"`)
	for _, f := range files {
		src, _ := os.ReadFile(f)
		for _, m := range re.FindAllStringSubmatch(string(src), -1) {
			if !covered[m[1]] {
				t.Errorf("route %q is not walked by this test", m[1])
			}
		}
	}

	// The default environment's things are as they were, and it does not
	// see the other's.
	for path, want := range map[string]string{
		"/api/v1/risks/db-failover":          "db-failover",
		"/api/v1/incidents/" + incident:      `"status":"investigating"`,
		"/api/v1/slos/checkout-availability": "checkout-availability",
		"/1/markers/checkout":                `"message":"v1"`,
		"/api/v1/saved-queries/" + saved:     "A's query",
		"/api/v1/traces/" + trace:            "A's span",
		"/api/v1/users":                      "dana",
	} {
		if code, body := req("GET", path, a, nil); code != 200 || !strings.Contains(body, want) {
			t.Errorf("default environment %s: %d %s", path, code, clipText(body))
		}
	}
	for path, never := range map[string]string{"/api/v1/slos": "b-slo", "/1/markers/checkout": "B's", "/1/columns/checkout": "staging_only"} {
		if code, body := req("GET", path, a, nil); code != 200 || strings.Contains(body, never) {
			t.Errorf("default environment sees the other's %s: %d %s", path, code, clipText(body))
		}
	}
	if code, body := req("POST", "/api/v1/query/payments", a, map[string]any{"time_range": 3600, "calculations": []map[string]any{{"op": "COUNT"}}}); !strings.Contains(body, `"results":[{"data":{"COUNT":2}}]`) { // an event and the span
		t.Errorf("default payments after the other's writes: %d %s", code, clipText(body))
	}
	// OTLP/gRPC goes to the key's environment too.
	cc, err := grpc.NewClient(s.otlpGRPC, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	greq := ptraceotlp.NewExportRequest()
	bTrace := "6b8efff798038103d269b633813fc60c"
	if err := greq.UnmarshalJSON([]byte(`{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"payments"}}]},` +
		`"scopeSpans":[{"spans":[{"traceId":"` + bTrace + `","spanId":"eee19b7ec3c1b175","name":"B's span","startTimeUnixNano":"` + fmt.Sprint(now*1e9) + `"}]}]}]}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := ptraceotlp.NewGRPCClient(cc).Export(metadata.AppendToOutgoingContext(context.Background(), "x-honeycomb-team", b), greq); err != nil {
		t.Fatalf("gRPC export with the other environment's key: %v", err)
	}
	if code, _ := req("GET", "/api/v1/traces/"+bTrace, b, nil); code != 200 {
		t.Errorf("its own trace over gRPC: %d", code)
	}
	if code, _ := req("GET", "/api/v1/traces/"+bTrace, a, nil); code != 404 {
		t.Errorf("the default environment sees the other's gRPC trace: %d", code)
	}

	// An environment survives a restart.
	s.stop()
	s.start()
	if code, body := req("GET", "/api/v1/slos", b, nil); code != 200 || !strings.Contains(body, "b-slo") {
		t.Errorf("after a restart: %d %s", code, clipText(body))
	}
}
