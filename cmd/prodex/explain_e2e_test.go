package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestExplainCLI: a slow build on one host is found from a heatmap region.
func TestExplainCLI(t *testing.T) {
	data := t.TempDir()
	key := newKey(t, data, "admin")
	s := startServer(t, data)
	defer s.stop()
	r := rand.New(rand.NewSource(9))
	var evs []map[string]any
	for i := 0; i < 3000; i++ {
		build, host := 4500+r.Intn(20), fmt.Sprintf("db-%d", 1+r.Intn(5))
		d := 10 + r.Float64()*290
		if build == 4512 && host == "db-3" {
			d = 800 + r.Float64()*4000
		}
		evs = append(evs, map[string]any{"time": time.Now().Add(-time.Duration(r.Intn(1800)) * time.Second).Format(time.RFC3339),
			"data": map[string]any{"build_id": build, "host": host, "duration_ms": d, "user": fmt.Sprint("u", r.Intn(300))}})
	}
	body, _ := json.Marshal(evs)
	req, _ := http.NewRequest("POST", s.url+"/1/batch/shop", bytes.NewReader(body))
	req.Header.Set("X-Honeycomb-Team", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("batch: %v %v", err, resp)
	}
	resp.Body.Close()
	out, err := prodexCLI(t, nil, "explain", "shop", "--heatmap", "duration_ms:800:5000", "--values", "1", "--server", s.url, "--key", key)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	// header, column header, then duration_ms, build_id, host
	if len(lines) < 5 || !strings.HasPrefix(lines[3], "build_id") || !strings.Contains(lines[3], "4512") || !strings.HasPrefix(lines[4], "host") || !strings.Contains(lines[4], "db-3") {
		t.Fatalf("explain output:\n%s", out)
	}
	if _, err := prodexCLI(t, nil, "explain", "shop", "--heatmap", "host:1:2", "--server", s.url, "--key", key); err == nil || !strings.Contains(err.Error(), "400") {
		t.Errorf("heatmap on a string column: %v", err)
	}
}
