package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prodex/prodex/internal/testserver"
)

// TestMultiNode: two prodex nodes share two ClickHouse shards and one
// PostgreSQL. Both ingest; an SLO applied on one is followed by the other;
// one node (the lease holder) pages. That node is killed mid-episode: the
// other takes the lease, does not page again, and resolves the episode
// once; every event either node acknowledged is stored.
func TestMultiNode(t *testing.T) {
	t.Parallel()
	began := time.Now()
	cl := testserver.ClickHouse(t, 2)
	dsn := testserver.Postgres(t)
	storeURL := "clickhouse://" + cl.Addrs[0] + "/multinode?cluster=" + url.QueryEscape(cl.Cluster)
	flags := []string{"--store", storeURL, "--meta", dsn, "--eval-interval", "200ms", "--commit-interval", "50ms"}

	a := startServer(t, t.TempDir(), flags...)
	secret := regexp.MustCompile(`(?m)^pdx\S+$`).FindString(a.log.String())
	if secret == "" {
		t.Fatalf("the first node printed no bootstrap key:\n%s", a.log.String())
	}
	b := startServer(t, t.TempDir(), flags...)
	if strings.Contains(b.log.String(), "No API keys existed") {
		t.Errorf("the second node made another bootstrap key")
	}
	nodes := []*server{a, b}
	defer func() {
		for _, s := range nodes {
			if s.cmd.ProcessState == nil {
				s.stop()
			}
			// Servers built with PRODEX_E2E_RACE=1 report races in their log.
			if strings.Contains(s.log.String(), "WARNING: DATA RACE") {
				t.Errorf("node %s hit a data race", s.addr)
			}
			if t.Failed() {
				t.Logf("node %s log (last 40 lines):\n%s", s.addr, logTail(s.log.String(), 40))
			}
		}
	}()
	t.Logf("ClickHouse ×2, PostgreSQL and two nodes up in %s", time.Since(began).Round(time.Millisecond))

	// A key made on one node works on the other.
	var made struct {
		Secret string `json:"key"`
	}
	if code := call(t, "POST", b.url+"/api/v1/keys", secret, map[string]any{"name": "ingest", "scope": "ingest"}, &made); code != 201 {
		t.Fatalf("create a key on node b: %d", code)
	}
	awaitCode(t, "node a accepts node b's key", 10*time.Second, func() int {
		return call(t, "POST", a.url+"/1/events/probe", made.Secret, map[string]any{"ok": true}, nil)
	}, 200)

	// An environment made through one node is served by both, apart from
	// the default one.
	if code := call(t, "POST", a.url+"/api/v1/environments", secret, map[string]any{"name": "staging"}, nil); code != 201 {
		t.Fatalf("create an environment on node a: %d", code)
	}
	var envKey struct {
		Secret string `json:"key"`
	}
	if code := call(t, "POST", a.url+"/api/v1/keys", secret, map[string]any{"name": "staging", "scope": "admin", "environment": "staging"}, &envKey); code != 201 {
		t.Fatalf("create a staging key on node a: %d", code)
	}
	awaitCode(t, "node b takes events of the environment node a made", 10*time.Second, func() int {
		return call(t, "POST", b.url+"/1/events/staging-probe", envKey.Secret, map[string]any{"env": "staging"}, nil)
	}, 200)
	// A dataset another node created is known within a second (the
	// store's catalog refresh).
	count := map[string]any{"calculations": []map[string]any{{"op": "COUNT"}}, "time_range": 600}
	awaitCode(t, "node a knows the dataset node b made", 5*time.Second, func() int {
		return call(t, "POST", a.url+"/api/v1/query/staging-probe", envKey.Secret, count, nil)
	}, 200)
	if res := runQuery(t, a, envKey.Secret, "staging-probe", count); len(res.Results) != 1 || res.Results[0].Data["COUNT"] != float64(1) {
		t.Errorf("the staging event through node a: %+v", res.Results)
	}
	if code := call(t, "POST", a.url+"/api/v1/query/staging-probe", secret, count, nil); code != 404 {
		t.Errorf("the default environment answers %d for the staging dataset, want 404", code)
	}

	rcv := newReceiver(t)
	applySLO(t, a, secret, fmt.Sprintf(`apiVersion: prodex/v1
kind: SLO
metadata: {name: multi-checkout}
spec:
  dataset: multi
  target: 99.9
  window: 30d
  sli:
    good: status_code < 500
  notify:
    - {type: webhook, url: %q}
`, rcv.srv.URL+"/hook"))
	awaitCode(t, "node b follows the SLO applied on node a", 10*time.Second, func() int {
		return call(t, "GET", b.url+"/api/v1/slos/multi-checkout", secret, nil, nil)
	}, 200)

	// Ingest through both: half the events fail, so the page fires.
	sent := 0
	for _, s := range nodes {
		sendEvents(t, s, made.Secret, "multi", 200, 2, time.Now(), time.Minute)
		sent += 200
	}
	took := rcv.waitFor(t, "page", "firing", 1, 20*time.Second)
	t.Logf("page after %s", took)
	var leader, follower *server
	for _, s := range nodes {
		if strings.Contains(s.log.String(), `"alert firing"`) {
			if leader != nil {
				t.Fatalf("both nodes opened the episode")
			}
			leader = s
		}
	}
	if leader == nil {
		t.Fatal("no node logged the page")
	}
	follower = a
	if leader == a {
		follower = b
	}
	// Let the page settle, then kill the leader mid-episode, while a
	// client keeps sending it events: what it acknowledged must be stored.
	time.Sleep(time.Second)
	acked := make(chan int)
	go func() {
		n := 0
		for postGood(leader.url, made.Secret, "multi", 100) {
			n += 100
		}
		acked <- n
	}()
	time.Sleep(300 * time.Millisecond)
	leader.kill9()
	killed := time.Now()
	n := <-acked
	sent += n
	t.Logf("the leader acknowledged %d events in its last 300 ms", n)

	// The follower takes over: it pages no more, and once traffic
	// recovers (200 bad events in 50,400: every page rule's burn rate
	// under 6) it resolves the episode, once.
	sendEvents(t, follower, made.Secret, "multi", 50000, 0, time.Now(), 0)
	sent += 50000
	rcv.waitFor(t, "page", "resolved", 1, 45*time.Second)
	t.Logf("resolved by the other node %s after the leader died", time.Since(killed).Round(time.Millisecond))
	time.Sleep(time.Second) // a wrongly reopened episode would page by now
	if p, r := rcv.count("page", "firing"), rcv.count("page", "resolved"); p != 1 || r != 1 {
		t.Errorf("%d page notifications and %d resolves, want one each", p, r)
	}
	var eps []struct{ ID, Severity, State string }
	call(t, "GET", follower.url+"/api/v1/alerts?slo=multi-checkout", secret, nil, &eps)
	pages := 0
	for _, ep := range eps {
		if ep.Severity == "page" {
			pages++
			if ep.State != "resolved" {
				t.Errorf("episode %s is %s", ep.ID, ep.State)
			}
		}
	}
	if pages != 1 {
		t.Errorf("%d page episodes, want 1: %+v", pages, eps)
	}

	// Every acknowledged event is stored: the killed node's too. The one
	// batch in flight when it died may be stored without its answer having
	// reached the client: at least once, never lost.
	res := runQuery(t, follower, secret, "multi", map[string]any{"calculations": []map[string]any{{"op": "COUNT"}}, "time_range": 7200})
	if len(res.Results) != 1 {
		t.Fatalf("stored %+v", res.Results)
	}
	if got := res.Results[0].Data["COUNT"]; got != float64(sent) && got != float64(sent+100) {
		t.Errorf("stored COUNT %v, want the %d acknowledged (or 100 more: the batch unanswered at the kill)", got, sent)
	}
	t.Logf("done in %s", time.Since(began).Round(time.Millisecond))
}

// awaitCode polls f until it answers code.
func awaitCode(t *testing.T, what string, d time.Duration, f func() int, code int) {
	t.Helper()
	got := 0
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if got = f(); got == code {
			return
		}
	}
	t.Fatalf("%s: still %d after %s, want %d", what, got, d, code)
}

// postGood sends n good events in one batch and reports whether every one
// was acknowledged.
func postGood(base, key, ds string, n int) bool {
	evs := make([]map[string]any, n)
	for i := range evs {
		evs[i] = map[string]any{"data": map[string]any{"status_code": 200}}
	}
	body, _ := json.Marshal(evs)
	req, _ := http.NewRequest("POST", base+"/1/batch/"+ds, bytes.NewReader(body))
	req.Header.Set("X-Honeycomb-Team", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var st []struct{ Status int }
	if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&st) != nil || len(st) != n {
		return false
	}
	for _, s := range st {
		if s.Status != 202 {
			return false
		}
	}
	return true
}
