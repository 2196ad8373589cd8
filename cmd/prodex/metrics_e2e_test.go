package main

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// scrape reads /metrics into "name{labels}" → value.
func scrape(t *testing.T, s *server, key string) map[string]float64 {
	t.Helper()
	req, _ := http.NewRequest("GET", s.url+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics: %d %s", resp.StatusCode, body)
	}
	out := map[string]float64{}
	for _, line := range strings.Split(string(body), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("bad metrics line %q", line)
		}
		out[line[:i]] = v
	}
	return out
}

// TestMetricsAndReadiness: /metrics counts what the server did, needs a
// key, and /readyz says the server is ready; a burst beyond --max-inflight
// is shed with 429 and Retry-After, and counted.
func TestMetricsAndReadiness(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	key := newKey(t, data, "admin")
	s := startServer(t, data, "--max-inflight", "1")
	defer s.stop()

	for i := 0; i < 3; i++ {
		if code, body, err := postWide(s.url, key, i, 100); err != nil || code != 200 {
			t.Fatalf("ingest: %d %s %v", code, body, err)
		}
	}
	countAll(t, s, key, "wide")

	m := scrape(t, s, key)
	for name, want := range map[string]float64{
		`prodex_ingest_events_stored_total{env=""}`:                             300,
		`prodex_ingest_queue_events{env=""}`:                                    0,
		`prodex_query_duration_seconds_count{env="",kind="query",outcome="ok"}`: 1,
		`prodex_ingest_commit_duration_seconds_count{env="",outcome="ok"}`:      3,
		`prodex_ingest_refused_requests_total{env="",reason="disk"}`:            0,
		`prodex_notifications_failed_total`:                                     0,
		`prodex_http_requests_total{code="200",method="post"}`:                  4,
		`prodex_disk_min_free_bytes`:                                            512e6,
	} {
		if got, ok := m[name]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", name, got, ok, want)
		}
	}
	if lag, ok := m[`prodex_alert_evaluation_lag_seconds{env=""}`]; !ok || lag > 5 {
		t.Errorf("evaluation lag %v (present %v)", lag, ok)
	}
	if m["prodex_memory_resident_bytes"] < 10e6 || m["prodex_disk_free_bytes"] <= 0 {
		t.Errorf("resident %v, free disk %v", m["prodex_memory_resident_bytes"], m["prodex_disk_free_bytes"])
	}
	if m["go_goroutines"] == 0 || m["process_resident_memory_bytes"] == 0 {
		t.Error("the Go and process collectors are missing")
	}
	if code := call(t, "GET", s.url+"/metrics", "", nil, nil); code != 401 {
		t.Errorf("/metrics without a key: %d", code)
	}
	var ready struct {
		Status string
		Checks []map[string]any
	}
	if code := call(t, "GET", s.url+"/readyz", "", nil, &ready); code != 200 || ready.Status != "ready" {
		t.Errorf("/readyz: %d %+v", code, ready)
	}
	for _, c := range ready.Checks { // idle: nothing is degraded
		if c["degraded"] != nil || c["problem"] != nil {
			t.Errorf("/readyz of an idle server: %v", c)
		}
	}
	if code := call(t, "GET", s.url+"/readyz/meta", "", nil, &ready); code != 200 || ready.Status != "ready" {
		t.Errorf("/readyz/meta: %d %+v", code, ready)
	}

	// A burst of large requests, one decoded at a time: the rest are shed.
	big := bytes.Repeat([]byte(`{"data":{"msg":"`+strings.Repeat("z", 500)+`"}},`), 20000)
	big = append(append([]byte{'['}, big[:len(big)-1]...), ']')
	var mu sync.Mutex
	codes := map[int]int{}
	retryAfter := true
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("POST", s.url+"/1/batch/burst", bytes.NewReader(big))
			req.Header.Set("X-Honeycomb-Team", key)
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			mu.Lock()
			codes[resp.StatusCode]++
			if resp.StatusCode == 429 && resp.Header.Get("Retry-After") == "" {
				retryAfter = false
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	if codes[200] == 0 || codes[429] == 0 || codes[200]+codes[429] != 8 || !retryAfter {
		t.Fatalf("burst answered %v (Retry-After on every 429: %v); want some 200 and some 429", codes, retryAfter)
	}
	m = scrape(t, s, key)
	if got := m[`prodex_ingest_refused_requests_total{env="",reason="busy"}`]; got != float64(codes[429]) {
		t.Errorf("busy refusals counted %v, answered %d", got, codes[429])
	}
	if got := countAll(t, s, key, "burst"); got != 20000*codes[200] {
		t.Errorf("burst: %d events stored, want %d", got, 20000*codes[200])
	}
}
