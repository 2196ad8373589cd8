package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestCrashLoop kills the server with SIGKILL again and again while events
// stream in and an SLO pages, and checks after every restart that
//
//   - every acknowledged event is stored, and nothing is stored that was
//     never sent;
//   - the SLO's per-minute counts (eligible, good, bad) agree exactly with
//     COUNT queries of the same classification over the stored events: a
//     crash neither loses nor doubles a counted minute;
//   - the page episode that fired before the crashes is still the one open
//     episode, its webhook was told of it under one dedup key only (no
//     "firing" with a new key, no "resolved"; a crash between a delivery
//     and its settling in the outbox may repeat the same key, which
//     receivers fold), and exactly one incident is open for it.
//
// The last round stops the server with SIGTERM instead, and the same checks
// run once more.
func TestCrashLoop(t *testing.T) {
	t.Parallel()
	const (
		rounds   = 5
		senders  = 4
		batch    = 100
		sloName  = "crash-checkout"
		dataset  = "crashloop"
		eligible = `kind == "req"`
		good     = `status_code < 500`
	)
	seed := uint64(time.Now().UnixNano())
	rnd := rand.New(rand.NewPCG(seed, 0x5eed))
	t.Logf("seed %d", seed)

	rcv := newReceiver(t)
	data := t.TempDir()
	key := newKey(t, data, "admin")
	// A small checkpoint threshold makes DuckDB checkpoint every second
	// or so under this load, so that some kills fall in a checkpoint and
	// every restart replays a WAL.
	flags := []string{"--eval-interval", "200ms", "--checkpoint-threshold", "2MB"}
	began := time.Now()
	s := startServer(t, data, flags...)
	defer func() {
		if s.cmd.ProcessState == nil { // still running: the test failed
			s.kill9()
		}
		if t.Failed() {
			t.Logf("seed %d; server log (last 80 lines):\n%s", seed, logTail(s.log.String(), 80))
		}
	}()
	mark := func(format string, args ...any) { // into the log, between runs
		fmt.Fprintf(s.log, "=== TestCrashLoop: "+format+"\n", args...)
	}
	restart := func() {
		t.Helper()
		// A new port each time, so that a parallel test cannot take ours
		// while the server is down.
		s.addr = freeAddr(t)
		s.url = "http://" + s.addr
		s.start(flags...)
	}

	var acked, sent atomic.Int64
	var errMu sync.Mutex
	var sendErrs []string
	// post sends a batch: ok when every event was acknowledged, dead when
	// the server did not answer, err when it answered wrongly.
	post := func(url string, evs []map[string]any) (ok, dead bool, err error) {
		body, _ := json.Marshal(evs)
		req, _ := http.NewRequest("POST", url+"/1/batch/"+dataset, bytes.NewReader(body))
		req.Header.Set("X-Honeycomb-Team", key)
		req.Header.Set("Content-Type", "application/json")
		sent.Add(int64(len(evs)))
		resp, err := crashClient.Do(req)
		if err != nil {
			return false, true, nil // the server died: not acknowledged
		}
		defer resp.Body.Close()
		var st []struct {
			Status int
			Error  string
		}
		json.NewDecoder(resp.Body).Decode(&st)
		switch {
		case resp.StatusCode == 429 || resp.StatusCode == 503:
			return false, false, nil // busy or shutting down: nothing accepted
		case resp.StatusCode != 200 || len(st) != len(evs):
			return false, false, fmt.Errorf("batch: %d %+v", resp.StatusCode, st)
		}
		for _, x := range st {
			if x.Status != 202 {
				return false, false, fmt.Errorf("event refused: %+v", x)
			}
		}
		acked.Add(int64(len(evs)))
		return true, false, nil
	}
	// events makes n events, about 90 % eligible and 70 % of those bad,
	// stamped over the last two minutes.
	events := func(r *rand.Rand, n int) []map[string]any {
		now := time.Now()
		evs := make([]map[string]any, n)
		for i := range evs {
			kind, code := "req", 200
			if r.IntN(10) == 0 {
				kind = "health"
			}
			if r.IntN(10) < 7 {
				code = 500
			}
			ts := now.Add(-time.Duration(r.Int64N(int64(2 * time.Minute))))
			evs[i] = map[string]any{"time": ts.Format(time.RFC3339Nano), "data": map[string]any{"kind": kind, "status_code": code, "duration_ms": r.IntN(500)}}
		}
		return evs
	}
	mustPost := func(n int) {
		t.Helper()
		for n > 0 {
			k := min(n, 1000)
			if ok, dead, err := post(s.url, events(rnd, k)); !ok {
				t.Fatalf("posting %d events: server gone %v, %v", k, dead, err)
			}
			n -= k
		}
	}
	// stream runs the senders until the server goes away or stop closes.
	stream := func(stop <-chan struct{}) *sync.WaitGroup {
		var wg sync.WaitGroup
		url := s.url
		for i := 0; i < senders; i++ {
			r := rand.New(rand.NewPCG(rnd.Uint64(), uint64(i)))
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					ok, dead, err := post(url, events(r, batch))
					switch {
					case dead:
						return
					case err != nil:
						errMu.Lock()
						sendErrs = append(sendErrs, err.Error())
						errMu.Unlock()
						return
					case !ok:
						time.Sleep(20 * time.Millisecond)
					}
				}
			}()
		}
		return &wg
	}

	// Events stored before the SLO exists are counted by its backfill; the
	// rest as they arrive.
	mustPost(2000)
	applySLO(t, s, key, fmt.Sprintf(`apiVersion: prodex/v1
kind: SLO
metadata: {name: %s}
spec:
  dataset: %s
  target: 99.9
  window: 30d
  sli:
    eligible: '%s'
    good: %s
  notify:
    - {type: webhook, url: %q}
`, sloName, dataset, eligible, good, rcv.srv.URL+"/hook"))
	mustPost(2000)
	rcv.waitFor(t, "page", "firing", 1, 15*time.Second)
	dedup := pageKeys(rcv, "firing")[0]
	t.Logf("paged with dedup key %s after %s", dedup, time.Since(began).Round(time.Millisecond))

	c := &crashCheck{t: t, key: key, slo: sloName, ds: dataset, dedup: dedup, rcv: rcv, from: began.Add(-time.Hour)}
	c.verify(s, acked.Load(), sent.Load(), "before the first crash")

	for round := 1; round <= rounds+1; round++ {
		graceful := round > rounds
		stop := make(chan struct{})
		a0, s0 := acked.Load(), sent.Load()
		wg := stream(stop)
		wait := 300*time.Millisecond + time.Duration(rnd.Int64N(int64(1700*time.Millisecond)))
		time.Sleep(wait)
		// On a loaded machine, let the round get at least one batch in.
		for deadline := time.Now().Add(10 * time.Second); acked.Load() == a0 && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
		if graceful {
			s.stop()
		} else {
			s.kill9()
		}
		close(stop)
		wg.Wait()
		how := "kill -9"
		if graceful {
			how = "SIGTERM"
		}
		mark("round %d: %s after %s; %d events acknowledged, %d sent", round, how, wait.Round(time.Millisecond), acked.Load(), sent.Load())
		t.Logf("round %d: %s after %s with %d events acknowledged of %d sent in the round", round, how, wait.Round(time.Millisecond), acked.Load()-a0, sent.Load()-s0)
		errMu.Lock()
		errs := sendErrs
		errMu.Unlock()
		if len(errs) > 0 {
			t.Fatalf("round %d: ingest errors: %v", round, errs)
		}
		if acked.Load() == a0 {
			t.Fatalf("round %d: no event was acknowledged: the round proved nothing", round)
		}
		restarted := time.Now()
		restart()
		c.verify(s, acked.Load(), sent.Load(), fmt.Sprintf("after round %d (%s), restarted in %s", round, how, time.Since(restarted).Round(time.Millisecond)))
	}
	s.stop()
	t.Logf("%d events acknowledged, %d sent, in %s", acked.Load(), sent.Load(), time.Since(began).Round(time.Millisecond))
}

// crashClient posts the crash loop's batches; a killed server fails its
// requests at once.
var crashClient = &http.Client{Timeout: 30 * time.Second}

// crashCheck verifies the crash loop's invariants against a running server.
type crashCheck struct {
	t            *testing.T
	key, slo, ds string
	dedup        string // of the one page episode
	rcv          *receiver
	from         time.Time // before every event's time
}

// count is a COUNT query over every stored event, with filters or an SLO
// classification.
func (c *crashCheck) count(s *server, filters []map[string]any, sloEvents string) int64 {
	c.t.Helper()
	spec := map[string]any{
		"start_time": c.from.Unix(), "end_time": time.Now().Add(time.Hour).Unix(),
		"calculations": []map[string]any{{"op": "COUNT"}},
	}
	if filters != nil {
		spec["filters"] = filters
	}
	if sloEvents != "" {
		spec["slo"] = map[string]any{"name": c.slo, "events": sloEvents}
	}
	res := runQuery(c.t, s, c.key, c.ds, spec)
	switch {
	case len(res.Results) == 0:
		return 0
	case len(res.Results) > 1:
		c.t.Fatalf("COUNT %v: %d result rows", spec, len(res.Results))
	}
	n, _ := res.Results[0].Data["COUNT"].(float64)
	return int64(n)
}

type crashStatus struct {
	Eligible, Good, Bad int64
	Invalid             int64 `json:"invalid_events"`
	Alerts              []struct {
		ID, Severity, State string
	}
}

func (c *crashCheck) verify(s *server, acked, sent int64, when string) {
	t := c.t
	t.Helper()

	status := func() crashStatus {
		var st crashStatus
		if code := call(t, "GET", s.url+"/api/v1/slos/"+c.slo+"/status", c.key, nil, &st); code != 200 {
			t.Fatalf("%s: SLO status: %d", when, code)
		}
		return st
	}
	first := status() // before the counter may have caught up

	// (a) Nothing acknowledged is lost; nothing unsent appears.
	stored := c.count(s, nil, "")
	if stored < acked || stored > sent {
		t.Fatalf("%s: %d events stored, want at least the %d acknowledged and at most the %d sent", when, stored, acked, sent)
	}

	// (b) The SLO's counts are those of the stored events, once the
	// counter has caught up with what the crash left uncounted.
	elig := []map[string]any{{"column": "kind", "op": "=", "value": "req"}}
	want := crashStatus{
		Eligible: c.count(s, elig, ""),
		Good:     c.count(s, append(elig, map[string]any{"column": "status_code", "op": "<", "value": 500}), ""),
		Bad:      c.count(s, append(elig, map[string]any{"column": "status_code", "op": ">=", "value": 500}), ""),
	}
	if want.Eligible != want.Good+want.Bad || want.Bad == 0 {
		t.Fatalf("%s: the stored events are not what was sent: %+v", when, want)
	}
	// The query by the SLO's own classification sees the same events.
	for events, n := range map[string]int64{"eligible": want.Eligible, "good": want.Good, "bad": want.Bad} {
		if got := c.count(s, nil, events); got != n {
			t.Fatalf("%s: a query for the SLO's %s events counts %d, the filters %d", when, events, got, n)
		}
	}
	var st crashStatus
	for deadline := time.Now().Add(15 * time.Second); ; {
		st = status()
		if st.Eligible == want.Eligible && st.Good == want.Good && st.Bad == want.Bad {
			break
		}
		if time.Now().After(deadline) {
			problem := "missing counts"
			if st.Eligible > want.Eligible || st.Good > want.Good || st.Bad > want.Bad {
				problem = "events counted twice"
			}
			t.Fatalf("%s: SLO counts eligible %d good %d bad %d; the stored events: eligible %d good %d bad %d (%s)",
				when, st.Eligible, st.Good, st.Bad, want.Eligible, want.Good, want.Bad, problem)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if st.Invalid != 0 {
		t.Errorf("%s: %d invalid events", when, st.Invalid)
	}

	// (c) The page open before the crash is still the one open page, and
	// nobody was paged again. A few evaluations pass first (every 200ms),
	// so that a wrongly reopened page would have been sent.
	time.Sleep(time.Second)
	pages := 0
	for _, a := range st.Alerts {
		if a.Severity == "page" {
			pages++
			if a.ID != c.dedup || a.State != "firing" {
				t.Errorf("%s: open page %+v, want %s firing", when, a, c.dedup)
			}
		}
	}
	if pages != 1 {
		t.Errorf("%s: %d open pages in the SLO status, want 1: %+v", when, pages, st.Alerts)
	}
	var eps []struct{ ID, Severity, State string }
	call(t, "GET", s.url+"/api/v1/alerts?slo="+c.slo, c.key, nil, &eps)
	pages = 0
	for _, ep := range eps {
		if ep.Severity == "page" {
			pages++
			if ep.ID != c.dedup || ep.State != "firing" {
				t.Errorf("%s: page episode %+v, want only %s, firing", when, ep, c.dedup)
			}
		}
	}
	if pages != 1 {
		t.Errorf("%s: %d page episodes in the alert history, want 1: %+v", when, pages, eps)
	}
	if fired, resolved := slices.Compact(pageKeys(c.rcv, "firing")), pageKeys(c.rcv, "resolved"); len(fired) != 1 || fired[0] != c.dedup || len(resolved) != 0 {
		t.Errorf("%s: pages sent: firing %v, resolved %v; want one firing page, %s", when, fired, resolved, c.dedup)
	}
	// The incident of the page was opened once, whenever the crashes fell.
	var incs []struct {
		ID, Status string
		AlertID    string `json:"alert_id"`
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		incs = nil
		call(t, "GET", s.url+"/api/v1/incidents", c.key, nil, &incs)
		if len(incs) > 0 || time.Now().After(deadline) {
			break
		}
	}
	if len(incs) != 1 || incs[0].AlertID != c.dedup || incs[0].Status == "resolved" {
		t.Errorf("%s: incidents %+v, want one open for alert %s", when, incs, c.dedup)
	}
	if t.Failed() {
		t.FailNow()
	}
	t.Logf("%s: %d events stored (%d acknowledged, %d sent); SLO eligible %d good %d bad %d (%d of them uncounted at the first look); page %s firing, paged once",
		when, stored, acked, sent, st.Eligible, st.Good, st.Bad, st.Eligible-first.Eligible, c.dedup)
}

// pageKeys lists the dedup keys of the page notifications in a state, in
// the order they arrived.
func pageKeys(r *receiver, state string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, m := range r.msgs {
		if m["severity"] == "page" && m["state"] == state {
			k, _ := m["dedup_key"].(string)
			out = append(out, k)
		}
	}
	return out
}

// logTail is the last n lines of a log.
func logTail(log string, n int) string {
	lines := strings.Split(strings.TrimRight(log, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
