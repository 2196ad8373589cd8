package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestQueryOverMemoryLimitAnswers503: a query that needs more than the
// database's memory limit is refused with 503 and Retry-After, saying
// which limit and without the database's text, and a light query on the
// same events still answers.
func TestQueryOverMemoryLimitAnswers503(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	ingestKey, queryKey := newKey(t, data, "ingest"), newKey(t, data, "query")
	s := startServer(t, data, "--memory-limit", "24MB", "--threads", "1")
	defer s.stop()
	for b := 0; b < 20; b++ {
		var buf bytes.Buffer
		buf.WriteByte('[')
		for i := 0; i < 10000; i++ {
			if i > 0 {
				buf.WriteByte(',')
			}
			n := b*10000 + i
			fmt.Fprintf(&buf, `{"data":{"service":"s%d","user_id":%d,"host":"host-%d","duration_ms":%d}}`, n%5, n, n%97, n%1000)
		}
		buf.WriteByte(']')
		req, _ := http.NewRequest("POST", s.url+"/1/batch/mem", &buf)
		req.Header.Set("X-Honeycomb-Team", ingestKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("ingest batch %d: %d", b, resp.StatusCode)
		}
	}
	if n := countAll(t, s, queryKey, "mem"); n != 200000 {
		t.Fatalf("%d events stored", n)
	}

	heavy := map[string]any{"time_range": 3600, "breakdowns": []string{"user_id", "host"},
		"calculations": []map[string]any{{"op": "P99", "column": "duration_ms"}, {"op": "P999", "column": "duration_ms"}, {"op": "COUNT_DISTINCT", "column": "duration_ms"}}}
	b, _ := json.Marshal(heavy)
	req, _ := http.NewRequest("POST", s.url+"/api/v1/query/mem", bytes.NewReader(b))
	req.Header.Set("X-Honeycomb-Team", queryKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" ||
		!strings.Contains(string(body), "--memory-limit") || strings.Contains(string(body), "Out of Memory") || strings.Contains(string(body), "SELECT") {
		t.Fatalf("a query over the memory limit: %d (Retry-After %q) %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	res := runQuery(t, s, queryKey, "mem", map[string]any{"time_range": 3600, "breakdowns": []string{"service"},
		"calculations": []map[string]any{{"op": "COUNT"}}})
	if len(res.Results) != 5 {
		t.Errorf("the light query after it: %d groups, want 5", len(res.Results))
	}
}
