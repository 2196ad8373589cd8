package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestOTelJS sends a trace through the OpenTelemetry JavaScript SDK and its
// OTLP/HTTP protobuf exporter (from npm, installed by the test setup) and
// checks the span tree, the fields and the span event that were stored:
// the encoding of a second SDK, not only the Go one TestOTLPGoSDK uses.
func TestOTelJS(t *testing.T) {
	t.Parallel()
	script, _ := filepath.Abs("../../test/otel-js/send.js")
	if _, err := os.Stat(filepath.Join(filepath.Dir(script), "node_modules", "@opentelemetry", "exporter-trace-otlp-proto")); err != nil {
		t.Fatalf("the OpenTelemetry JS SDK is not installed: run 'npm ci --prefix test/otel-js' (scripts/test.sh does): %v", err)
	}
	data := t.TempDir()
	key := newKey(t, data, "admin")
	s := startOTLPServer(t, data)
	defer s.stop()

	cmd := exec.Command("node", script, "http://"+s.otlpHTTP, key)
	// The SDK reads OTEL_* settings (sampler, limits, exporter headers)
	// from the environment; keep the caller's out of the test.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OTEL_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node: %v\nstdout: %s\nstderr: %s\nserver: %s", err, stdout.String(), stderr.String(), s.log.String())
	}
	traceID := strings.TrimSpace(stdout.String())
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(traceID) {
		t.Fatalf("send.js printed %q, want a trace id (stderr: %s)", stdout.String(), stderr.String())
	}

	var tree traceAnswer
	if code := call(t, "GET", s.url+"/api/v1/traces/"+traceID, key, nil, &tree); code != 200 {
		t.Fatalf("trace: %d %+v", code, tree)
	}
	if tree.TraceID != traceID || tree.SpanCount != 2 || strings.Join(tree.Services, ",") != "web-js" || len(tree.Roots) != 1 {
		t.Fatalf("trace: %+v", tree)
	}
	r := tree.Roots[0]
	if r.Name != "GET /home" || r.Dataset != "web-js" || r.Error || len(r.Children) != 1 {
		t.Fatalf("root: %+v", r)
	}
	want := map[string]any{"span.kind": "server", "http.route": "/home", "http.status_code": float64(200),
		"library.name": "prodex-otel-js-test", "trace.trace_id": traceID, "trace.span_id": r.SpanID, "status_code": float64(0), "error": false}
	for k, v := range want {
		if r.Fields[k] != v {
			t.Errorf("root field %s = %#v, want %#v", k, r.Fields[k], v)
		}
	}
	if _, ok := r.Fields["trace.parent_id"]; ok {
		t.Errorf("root span has a trace.parent_id: %v", r.Fields["trace.parent_id"])
	}

	c := r.Children[0]
	if c.Name != "render" || c.Dataset != "web-js" || c.Fields["template"] != "home.html" || c.Fields["trace.parent_id"] != r.SpanID ||
		c.Fields["span.kind"] != "internal" || c.Fields["library.name"] != "prodex-otel-js-test" || c.DurationMS < 5 {
		t.Errorf("child: %+v", c)
	}
	if len(c.Annotations) != 1 || c.Annotations[0].Type != "span_event" || c.Annotations[0].Name != "cache miss" {
		t.Errorf("child annotations: %+v", c.Annotations)
	}
	if got, want := strings.Join(tree.CriticalPath, ","), r.SpanID+","+c.SpanID; got != want {
		t.Errorf("critical path %s, want %s", got, want)
	}

	// Root spans by query: one, the span event and the child left out.
	q := runQuery(t, s, key, "web-js", map[string]any{"time_range": 3600, "calculations": []map[string]any{{"op": "COUNT"}},
		"filters": []map[string]any{{"column": "trace.parent_id", "op": "does-not-exist"}, {"column": "meta.annotation_type", "op": "does-not-exist"}}})
	if len(q.Results) != 1 || q.Results[0].Data["COUNT"] != float64(1) {
		t.Errorf("root spans: %+v", q.Results)
	}
}
