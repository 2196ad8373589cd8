package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/vmihailenco/msgpack/v5"
)

// TestLibhoneyJS sends events through Honeycomb's own JavaScript client
// (libhoney from npm, installed by the test setup) and checks that counts
// and percentiles come back exact.
func TestLibhoneyJS(t *testing.T) {
	script, _ := filepath.Abs("../../test/libhoney/send.js")
	if _, err := os.Stat(filepath.Join(filepath.Dir(script), "node_modules", "libhoney")); err != nil {
		t.Fatalf("libhoney is not installed: run 'npm ci --prefix test/libhoney' (the README's test command does): %v", err)
	}
	data := t.TempDir()
	key := newKey(t, data, "admin")
	s := startServer(t, data)
	defer s.stop()

	const n = 1000
	out, err := exec.Command("node", script, s.url, key, "LibHoney-Test", fmt.Sprint(n)).CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v: %s", err, out)
	}
	var sum struct {
		OK, Failed int
		Errors     []string
	}
	if err := json.Unmarshal(bytes.TrimSpace(out), &sum); err != nil {
		t.Fatalf("%s: %v", out, err)
	}
	if sum.OK != n || sum.Failed != 0 {
		t.Fatalf("libhoney responses: %+v", sum)
	}

	// Expected answers, computed here from what send.js sends.
	weight := func(i int) int {
		if i%4 == 0 {
			return 10
		}
		return 1
	}
	var count int
	var durs []int // one entry per represented event
	perService := map[string]int{}
	for i := 0; i < n; i++ {
		w := weight(i)
		count += w
		perService[[]string{"api", "web", "db"}[i%3]] += w
		for k := 0; k < w; k++ {
			durs = append(durs, i)
		}
	}
	sort.Ints(durs)
	nearestRank := func(p float64) float64 { return float64(durs[int(math.Ceil(p*float64(len(durs))))-1]) }

	// dataset names are case-insensitive
	res := runQuery(t, s, key, "libhoney-test", map[string]any{
		"time_range":   3600,
		"calculations": []map[string]any{{"op": "COUNT"}, {"op": "P50", "column": "duration_ms"}, {"op": "P99", "column": "duration_ms"}, {"op": "MAX", "column": "seq"}},
	})
	if len(res.Results) != 1 {
		t.Fatalf("results %+v", res.Results)
	}
	got := res.Results[0].Data
	if got["COUNT"] != float64(count) || got["P50(duration_ms)"] != nearestRank(0.5) || got["P99(duration_ms)"] != nearestRank(0.99) || got["MAX(seq)"] != float64(n-1) {
		t.Fatalf("got %v, want COUNT %d P50 %v P99 %v", got, count, nearestRank(0.5), nearestRank(0.99))
	}
	res = runQuery(t, s, key, "libhoney-test", map[string]any{
		"time_range": 3600, "breakdowns": []string{"service"}, "calculations": []map[string]any{{"op": "COUNT"}},
		"filters": []map[string]any{{"column": "nested.ok", "op": "exists"}},
	})
	for _, r := range res.Results {
		if svc := r.Data["service"].(string); r.Data["COUNT"] != float64(perService[svc]) {
			t.Errorf("service %s: COUNT %v, want %d", svc, r.Data["COUNT"], perService[svc])
		}
	}
	var cols []map[string]any
	call(t, "GET", s.url+"/1/columns/libhoney-test", key, nil, &cols)
	names := map[string]string{}
	for _, c := range cols {
		names[c["key_name"].(string)] = c["type"].(string)
	}
	for name, typ := range map[string]string{"service": "string", "status_code": "integer", "duration_ms": "integer", "http.route": "string", "nested.ok": "boolean"} {
		if names[name] != typ {
			t.Errorf("column %s: type %q, want %q (all: %v)", name, names[name], typ, names)
		}
	}
}

// TestWireFormats sends what libhoney-go sends (msgpack or JSON, zstd) and
// gzip'd JSON, plus single events with Honeycomb's headers.
func TestWireFormats(t *testing.T) {
	data := t.TempDir()
	key := newKey(t, data, "ingest")
	qkey := newKey(t, data, "query")
	s := startServer(t, data)
	defer s.stop()
	now := time.Now().UTC()

	post := func(path, ctype, enc string, body []byte, hdr map[string]string) (int, []byte) {
		req, _ := http.NewRequest("POST", s.url+path, bytes.NewReader(body))
		req.Header.Set("X-Honeycomb-Team", key)
		req.Header.Set("Content-Type", ctype)
		if enc != "" {
			req.Header.Set("Content-Encoding", enc)
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		return resp.StatusCode, b.Bytes()
	}
	zst := func(b []byte) []byte {
		e, _ := zstd.NewWriter(nil)
		return e.EncodeAll(b, nil)
	}
	gz := func(b []byte) []byte {
		var buf bytes.Buffer
		w := gzip.NewWriter(&buf)
		w.Write(b)
		w.Close()
		return buf.Bytes()
	}

	// msgpack + zstd, with msgpack timestamps, as libhoney-go sends it
	type mpEvent struct {
		Data       map[string]any `msgpack:"data"`
		SampleRate int            `msgpack:"samplerate,omitempty"`
		Time       time.Time      `msgpack:"time"`
	}
	mp, err := msgpack.Marshal([]mpEvent{
		{Data: map[string]any{"fmt": "msgpack", "v": 1}, Time: now},
		{Data: map[string]any{"fmt": "msgpack", "v": 2.5}, SampleRate: 4, Time: now},
	})
	if err != nil {
		t.Fatal(err)
	}
	code, body := post("/1/batch/wire", "application/msgpack", "zstd", zst(mp), nil)
	if code != 200 || string(body) != `[{"status":202},{"status":202}]`+"\n" {
		t.Fatalf("msgpack batch: %d %s", code, body)
	}
	js := []byte(fmt.Sprintf(`[{"data":{"fmt":"json-zstd","v":3},"time":%q},{"data":{"fmt":"json-zstd","v":4},"samplerate":2},{"data":"oops"}]`, now.Format(time.RFC3339Nano)))
	code, body = post("/1/batch/wire", "application/json", "zstd", zst(js), nil)
	var st []struct {
		Status int
		Error  string
	}
	json.Unmarshal(body, &st)
	if code != 200 || len(st) != 3 || st[0].Status != 202 || st[1].Status != 202 || st[2].Status != 400 || st[2].Error == "" {
		t.Fatalf("json+zstd batch: %d %s", code, body)
	}
	code, body = post("/1/batch/wire", "application/json", "gzip", gz([]byte(`[{"data":{"fmt":"json-gzip","v":5}}]`)), nil)
	if code != 200 {
		t.Fatalf("gzip batch: %d %s", code, body)
	}
	code, body = post("/1/events/wire", "application/json", "", []byte(`{"fmt":"single","v":6}`), map[string]string{
		"X-Honeycomb-Event-Time": fmt.Sprint(now.Unix()), "X-Honeycomb-Samplerate": "3"})
	if code/100 != 2 {
		t.Fatalf("single event: %d %s", code, body)
	}
	// whole-request errors
	for _, c := range []struct {
		ctype, enc string
		body       []byte
		want       int
	}{
		{"application/json", "", []byte(`{"not":"an array"}`), 400},
		{"application/json", "br", []byte(`[]`), 415},
		{"text/csv", "", []byte(`a,b`), 415},
		{"application/json", "gzip", []byte(`not gzip`), 400},
	} {
		if code, body := post("/1/batch/wire", c.ctype, c.enc, c.body, nil); code != c.want || !strings.Contains(string(body), `"error"`) {
			t.Errorf("%s %s %q: %d %s, want %d with an error message", c.ctype, c.enc, c.body, code, body, c.want)
		}
	}
	if code, body := post("/1/batch/..%2Fetc", "application/json", "", []byte(`[]`), nil); code != 400 {
		t.Errorf("bad dataset name: %d %s", code, body)
	}

	res := runQuery(t, s, qkey, "wire", map[string]any{
		"time_range": 600, "breakdowns": []string{"fmt"}, "calculations": []map[string]any{{"op": "COUNT"}, {"op": "SUM", "column": "v"}},
		"orders": []map[string]any{{"column": "fmt", "order": "ascending"}},
	})
	want := map[string][2]float64{"msgpack": {5, 1 + 2.5*4}, "json-zstd": {3, 3 + 4*2}, "json-gzip": {1, 5}, "single": {3, 18}}
	if len(res.Results) != len(want) {
		t.Fatalf("results %+v", res.Results)
	}
	for _, r := range res.Results {
		w := want[r.Data["fmt"].(string)]
		if r.Data["COUNT"] != w[0] || r.Data["SUM(v)"] != w[1] {
			t.Errorf("%v: got COUNT %v SUM %v, want %v", r.Data["fmt"], r.Data["COUNT"], r.Data["SUM(v)"], w)
		}
	}
}

// TestAuth checks 401 for missing or wrong keys and 403 for a key without
// the route's scope.
func TestAuth(t *testing.T) {
	data := t.TempDir()
	ingest := newKey(t, data, "ingest")
	query := newKey(t, data, "query")
	s := startServer(t, data)
	defer s.stop()
	batch := []map[string]any{{"data": map[string]any{"a": 1}}}
	var e map[string]any
	for _, c := range []struct {
		method, path, key string
		body              any
		want              int
	}{
		{"POST", "/1/batch/x", "", batch, 401},
		{"POST", "/1/batch/x", "pdx" + strings.Repeat("0", 48), batch, 401},
		{"POST", "/1/batch/x", query, batch, 403},
		{"POST", "/1/batch/x", ingest, batch, 200},
		{"POST", "/api/v1/query/x", ingest, map[string]any{}, 403},
		{"POST", "/api/v1/query/x", query, map[string]any{}, 200},
		{"POST", "/api/v1/keys", query, map[string]any{"scope": "admin"}, 403},
		{"GET", "/1/columns/x", ingest, nil, 403},
	} {
		e = nil
		var raw json.RawMessage
		got := call(t, c.method, s.url+c.path, c.key, c.body, &raw)
		json.Unmarshal(raw, &e) //nolint:errcheck // a batch answers with an array
		if got != c.want {
			t.Errorf("%s %s with key %.8q: %d %v, want %d", c.method, c.path, c.key, got, e, c.want)
		}
		if c.want >= 400 && (e == nil || e["error"] == nil) {
			t.Errorf("%s %s: no JSON error message: %v", c.method, c.path, e)
		}
	}
}

// sender sends batches of sequentially numbered events one after another
// and remembers how many were acknowledged: acknowledged events are a prefix.
type sender struct {
	url, key, ds, client string
	acked                int
	busy                 int // 429 answers, each with a Retry-After
}

func (c *sender) run(stop <-chan struct{}, batch int) {
	hc := &http.Client{Timeout: 30 * time.Second}
	for {
		select {
		case <-stop:
			return
		default:
		}
		var evs []map[string]any
		for i := 0; i < batch; i++ {
			evs = append(evs, map[string]any{"data": map[string]any{"client": c.client, "seq": c.acked + i, "pad": strings.Repeat("x", 50)}})
		}
		body, _ := json.Marshal(evs)
		req, _ := http.NewRequest("POST", c.url+"/1/batch/"+c.ds, bytes.NewReader(body))
		req.Header.Set("X-Honeycomb-Team", c.key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			return // the server died: this batch was not acknowledged
		}
		var st []struct{ Status int }
		json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if resp.StatusCode != 200 || len(st) != batch {
			if resp.StatusCode == 429 || resp.StatusCode == 503 {
				if resp.StatusCode == 429 && resp.Header.Get("Retry-After") != "" {
					c.busy++
				}
				time.Sleep(50 * time.Millisecond)
				continue
			}
			return
		}
		for _, x := range st {
			if x.Status != 202 {
				return
			}
		}
		c.acked += batch
	}
}

// checkAcked verifies every acknowledged event of every sender is stored.
func checkAcked(t *testing.T, s *server, key string, senders []*sender) {
	t.Helper()
	total := 0
	for _, c := range senders {
		total += c.acked
		res := runQuery(t, s, key, c.ds, map[string]any{
			"time_range":   3600,
			"calculations": []map[string]any{{"op": "COUNT_DISTINCT", "column": "seq"}},
			"filters":      []map[string]any{{"column": "client", "op": "=", "value": c.client}, {"column": "seq", "op": "<", "value": c.acked}},
		})
		got := 0.0
		if len(res.Results) == 1 {
			got, _ = res.Results[0].Data["COUNT_DISTINCT(seq)"].(float64)
		}
		if int(got) != c.acked {
			t.Errorf("client %s: %d of %d acknowledged events stored", c.client, int(got), c.acked)
		}
	}
	if total == 0 {
		t.Fatal("no event was acknowledged: the test proved nothing")
	}
	t.Logf("%d acknowledged events, all stored", total)
}

func crashOrStop(t *testing.T, kill bool) {
	data := t.TempDir()
	key := newKey(t, data, "admin")
	s := startServer(t, data)
	var senders []*sender
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < 3; i++ {
		c := &sender{url: s.url, key: key, ds: "crash", client: fmt.Sprint("c", i)}
		senders = append(senders, c)
		wg.Add(1)
		go func() { defer wg.Done(); c.run(stop, 200) }()
	}
	time.Sleep(1500 * time.Millisecond)
	if kill {
		s.kill9()
	} else {
		s.stop()
	}
	close(stop)
	wg.Wait()
	s.start()
	defer s.stop()
	checkAcked(t, s, key, senders)
}

// TestKill9LosesNoAcknowledgedEvent kills the server mid-stream.
func TestKill9LosesNoAcknowledgedEvent(t *testing.T) { crashOrStop(t, true) }

// TestGracefulShutdownFlushes stops the server with SIGTERM mid-stream.
func TestGracefulShutdownFlushes(t *testing.T) { crashOrStop(t, false) }

// TestBackpressure overloads a server whose queue holds 600 events: it
// must answer 429 with Retry-After rather than buffer, and store every
// event it acknowledged.
func TestBackpressure(t *testing.T) {
	data := t.TempDir()
	key := newKey(t, data, "admin")
	s := startServer(t, data, "--max-queued", "600")
	defer s.stop()
	var senders []*sender
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < 12; i++ {
		c := &sender{url: s.url, key: key, ds: "busy", client: fmt.Sprint("c", i)}
		senders = append(senders, c)
		wg.Add(1)
		go func() { defer wg.Done(); c.run(stop, 500) }()
	}
	time.Sleep(2 * time.Second)
	close(stop)
	wg.Wait()
	busy := 0
	for _, c := range senders {
		busy += c.busy
	}
	if busy == 0 {
		t.Error("no 429 with Retry-After under a 600-event queue and 12 concurrent senders")
	}
	t.Logf("%d answers were 429", busy)
	checkAcked(t, s, key, senders)
}

// TestCLISendAndQuery drives the send and query commands.
func TestCLISendAndQuery(t *testing.T) {
	data := t.TempDir()
	key := newKey(t, data, "admin")
	s := startServer(t, data)
	defer s.stop()
	var in strings.Builder
	for i := 0; i < 100; i++ {
		fmt.Fprintf(&in, `{"service":"svc%d","status_code":%d,"duration_ms":%d}`+"\n", i%2, []int{200, 500}[i%5/4], i)
	}
	in.WriteString("not json\n")
	env := []string{"--server", s.url, "--key", key}
	if _, err := prodexCLI(t, strings.NewReader(in.String()), append([]string{"send", "cli"}, env...)...); err == nil || !strings.Contains(err.Error(), "line 101") {
		t.Fatalf("send with a bad line: %v", err)
	}
	out, err := prodexCLI(t, nil, append([]string{"query", "cli", "--calc", "COUNT", "--calc", "P99(duration_ms)", "--where", "status_code >= 500", "--by", "service", "--order", "service asc", "--last", "2h"}, env...)...)
	if err != nil {
		t.Fatal(err)
	}
	want := "service  COUNT  P99(duration_ms)\nsvc0     10     94\nsvc1     10     99\n"
	if out != want {
		t.Fatalf("query output\n%s\nwant\n%s", out, want)
	}
	if _, err := prodexCLI(t, nil, append([]string{"query", "cli", "--calc", "P98(duration_ms)"}, env...)...); err == nil || !strings.Contains(err.Error(), "400") {
		t.Fatalf("bad calc: %v", err)
	}
}
