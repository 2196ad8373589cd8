package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// flakyReceiver is a webhook receiver that hangs every request until it is
// told to answer; only answered requests count as delivered.
type flakyReceiver struct {
	up        atomic.Bool
	mu        sync.Mutex
	attempts  []map[string]any // every request, answered or not
	delivered []map[string]any
	release   chan struct{}
	srv       *httptest.Server
}

func newFlakyReceiver(t *testing.T) *flakyReceiver {
	r := &flakyReceiver{release: make(chan struct{})}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var m map[string]any
		json.NewDecoder(req.Body).Decode(&m)
		r.mu.Lock()
		r.attempts = append(r.attempts, m)
		r.mu.Unlock()
		if !r.up.Load() {
			select { // hang until the sender gives up or dies
			case <-req.Context().Done():
			case <-r.release:
			}
			return
		}
		r.mu.Lock()
		r.delivered = append(r.delivered, m)
		r.mu.Unlock()
	}))
	t.Cleanup(r.srv.Close)
	t.Cleanup(func() { close(r.release) }) // runs first: frees hung handlers
	return r
}

// pages lists the dedup keys of page notifications in a state among msgs.
func (r *flakyReceiver) pages(delivered bool, state string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	msgs := r.attempts
	if delivered {
		msgs = r.delivered
	}
	var out []string
	for _, m := range msgs {
		if m["severity"] == "page" && m["state"] == state {
			k, _ := m["dedup_key"].(string)
			out = append(out, k)
		}
	}
	return out
}

func (r *flakyReceiver) await(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			r.mu.Lock()
			defer r.mu.Unlock()
			t.Fatalf("no %s within %s; attempts %v", what, d, r.attempts)
		}
	}
}

// TestOutboxPageSurvivesKill9: an SLO starts burning while its webhook
// receiver hangs, so the page fires but cannot be delivered; the server is
// killed with SIGKILL mid-delivery. Once the receiver is back, the
// restarted server delivers the page — the same episode's dedup key, at
// least once — and, settled, does not send it again after a further
// restart. Alerting never waited for the receiver.
func TestOutboxPageSurvivesKill9(t *testing.T) {
	t.Parallel()
	const sloName, dataset = "outbox-checkout", "outbox"
	began := time.Now()
	rcv := newFlakyReceiver(t)
	data := t.TempDir()
	key := newKey(t, data, "admin")
	flags := []string{"--eval-interval", "200ms"}
	s := startServer(t, data, flags...)
	defer func() {
		if s.cmd.ProcessState == nil {
			s.kill9()
		}
		if t.Failed() {
			t.Logf("server log (last 60 lines):\n%s", logTail(s.log.String(), 60))
		}
	}()
	applySLO(t, s, key, fmt.Sprintf(`apiVersion: prodex/v1
kind: SLO
metadata: {name: %s}
spec:
  dataset: %s
  target: 99.9
  window: 30d
  sli:
    good: status_code < 500
  notify:
    - {type: webhook, url: %q}
`, sloName, dataset, rcv.srv.URL+"/hook"))
	// Half the requests fail: the page rules fire at the next evaluation.
	sendEvents(t, s, key, dataset, 2000, 2, time.Now(), time.Minute)
	rcv.await(t, "page attempt", 15*time.Second, func() bool { return len(rcv.pages(false, "firing")) > 0 })
	dedup := rcv.pages(false, "firing")[0]
	t.Logf("page %s fired and hangs in delivery after %s", dedup, time.Since(began).Round(time.Millisecond))

	// The hanging receiver holds up nothing: rules keep being evaluated.
	time.Sleep(time.Second)
	var ready struct {
		Checks []struct{ Name, Problem string }
	}
	if code := call(t, "GET", s.url+"/readyz", "", nil, &ready); code != 200 {
		t.Errorf("/readyz while the receiver hangs: %d %+v", code, ready)
	}

	s.kill9()
	if n := len(rcv.pages(true, "firing")); n != 0 {
		t.Fatalf("%d pages delivered to a hanging receiver", n)
	}
	rcv.up.Store(true)
	s.addr = freeAddr(t)
	s.url = "http://" + s.addr
	s.start(flags...)
	rcv.await(t, "page delivered after the restart", 15*time.Second, func() bool { return len(rcv.pages(true, "firing")) > 0 })
	t.Logf("page delivered %s after the start", time.Since(began).Round(time.Millisecond))

	check := func(when string) {
		t.Helper()
		for _, k := range rcv.pages(true, "firing") {
			if k != dedup {
				t.Errorf("%s: a page with dedup key %s was delivered; want only %s", when, k, dedup)
			}
		}
		if res := rcv.pages(false, "resolved"); len(res) != 0 {
			t.Errorf("%s: resolves sent: %v", when, res)
		}
		var eps []struct{ ID, Severity, State string }
		call(t, "GET", s.url+"/api/v1/alerts?slo="+sloName, key, nil, &eps)
		if len(eps) != 1 || eps[0].ID != dedup || eps[0].State != "firing" {
			t.Errorf("%s: episodes %+v, want only %s firing", when, eps, dedup)
		}
	}
	// A few evaluations pass, so that a wrongly reopened episode pages.
	time.Sleep(time.Second)
	check("after the restart")
	delivered := len(rcv.pages(true, "firing"))

	// Delivered means settled: a restart sends nothing again.
	s.stop()
	s.addr = freeAddr(t)
	s.url = "http://" + s.addr
	s.start(flags...)
	time.Sleep(time.Second)
	check("after a second restart")
	if n := len(rcv.pages(true, "firing")); n != delivered {
		t.Errorf("%d pages delivered after the second restart, %d before: a settled page was sent again", n, delivered)
	}
	s.stop()
	t.Logf("done in %s; page %s delivered %d time(s)", time.Since(began).Round(time.Millisecond), dedup, delivered)
}
