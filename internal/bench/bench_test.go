package bench

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prodex/prodex/internal/api"
	"github.com/prodex/prodex/internal/client"
	"github.com/prodex/prodex/internal/slo"
)

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	r, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestBatches: the synthetic batches are gzip'd JSON arrays of n events
// with the fields asked for.
func TestBatches(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var evs []struct {
		Time time.Time
		Data map[string]any
	}
	if err := json.Unmarshal(gunzip(t, benchBatch(rng, time.Now(), 100, 7, 20)), &evs); err != nil {
		t.Fatal(err)
	}
	if len(evs) != 7 || len(evs[0].Data) != 20 || evs[0].Data["seq"] != 100.0 || evs[0].Time.IsZero() {
		t.Errorf("ingest batch: %d events, first %v", len(evs), evs[0])
	}
	var soak []struct{ Data map[string]any }
	if err := json.Unmarshal(gunzip(t, soakBatch(rng, 1000, 1)), &soak); err != nil {
		t.Fatal(err)
	}
	bad := 0
	for _, ev := range soak {
		if ev.Data["status_code"] == 500.0 {
			bad++
			if ev.Data["service"] != "checkout" {
				t.Errorf("a failing event of %v", ev.Data["service"])
			}
		}
	}
	if len(soak) != 1000 || bad < 100 {
		t.Errorf("soak batch: %d events, %d failing", len(soak), bad)
	}
}

// TestPostAll: refusals (429, 503) are retried, every request is made
// once accepted, and another status stops the run.
func TestPostAll(t *testing.T) {
	var calls atomic.Int64
	var mu sync.Mutex
	seen := map[string]int{}
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		if r.Header.Get("X-Honeycomb-Team") != "k" {
			t.Errorf("headers not sent")
		}
		if n%3 == 0 {
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen[string(body)]++
		mu.Unlock()
		io.WriteString(w, `[{"status":202},{"status":202},{"status":400,"error":"no"}]`)
	}))
	defer s.Close()
	var acked atomic.Int64
	_, retries, err := postAll([]string{s.URL, s.URL}, map[string]string{"X-Honeycomb-Team": "k"}, [][]byte{[]byte("a"), []byte("b")}, 10, 3, func(b []byte) error {
		acked.Add(accepted(b))
		return nil
	})
	if err != nil || acked.Load() != 20 || retries == 0 || seen["a"] != 5 || seen["b"] != 5 {
		t.Errorf("acked %d, retries %d, bodies %v, %v", acked.Load(), retries, seen, err)
	}

	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "broken", http.StatusInternalServerError)
	}))
	defer failing.Close()
	if _, _, err := postAll([]string{failing.URL}, nil, [][]byte{nil}, 5, 2, func([]byte) error { return nil }); err == nil || !strings.Contains(err.Error(), "500") {
		t.Errorf("a 500 did not stop the run: %v", err)
	}
}

// TestIngest runs the ingest benchmark against a fake server: the SLOs go
// to the first node, the batches to every node, and the report counts
// what was acknowledged.
func TestIngest(t *testing.T) {
	var mu sync.Mutex
	var slos []string
	batches := map[string]int{}
	node := func(name string) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case r.Method == "PUT" && strings.HasPrefix(r.URL.Path, "/api/v1/slos/"):
				var d slo.SLO
				if err := json.Unmarshal(body, &d); err != nil || d.Dataset != "bench" || d.SLI.Eligible == "" {
					t.Errorf("SLO %s: %v", body, err)
				}
				slos = append(slos, name+" "+d.Name)
				json.NewEncoder(w).Encode(map[string]string{"name": d.Name, "action": "created"})
			case r.URL.Path == "/1/batch/bench" && r.Header.Get("Content-Encoding") == "gzip":
				batches[name]++
				var evs []any
				json.Unmarshal(gunzip(t, body), &evs)
				out := make([]api.BatchStatus, len(evs))
				for i := range out {
					out[i].Status = 202
				}
				json.NewEncoder(w).Encode(out)
			default:
				t.Errorf("%s %s %s", name, r.Method, r.URL)
			}
		}))
	}
	a, b := node("a"), node("b")
	defer a.Close()
	defer b.Close()
	var out bytes.Buffer
	ing := Ingest{Client: client.Client{Server: a.URL + "," + b.URL + "/", Key: "k"}, Dataset: "bench", Events: 1000, Batch: 100, Fields: 10, Workers: 2, Distinct: 3, SLOs: 2}
	if err := ing.Run(context.Background(), &out); err != nil {
		t.Fatal(err)
	}
	if want := `^events 1000 acknowledged, 0 rejected, 0 retried batches \(429\) in [0-9.]+s: [0-9]+ events/s \(batch 100, 10 fields, gzip JSON, 2 workers, 2 node\(s\)\)\n$`; !regexp.MustCompile(want).MatchString(out.String()) {
		t.Errorf("report %q", out.String())
	}
	if strings.Join(slos, ",") != "a bench-00,a bench-01" || batches["a"] != 5 || batches["b"] != 5 {
		t.Errorf("SLOs %v, batches %v", slos, batches)
	}
	if err := (Ingest{}).Run(context.Background(), &out); err != client.ErrNoKey {
		t.Errorf("without a key: %v", err)
	}
}
