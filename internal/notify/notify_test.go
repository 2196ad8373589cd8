package notify

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func msg(state string) Message {
	ex := 3600.0
	return Message{SLO: "checkout", Dataset: "shop", Severity: "page", State: state, Rule: "burn:page:1h/5m:14.4",
		Summary: "burning", SLI: 99.1, Target: 99.9, BudgetRemainingPercent: 42, BurnRates: map[string]float64{"5m": 20, "1h": 15},
		ExhaustionSeconds: &ex, Link: "http://prodex/slos/checkout", DedupKey: "checkout/page/1", At: time.Unix(1700000000, 0).UTC()}
}

// capture is a receiver that records bodies and headers.
type capture struct {
	mu      sync.Mutex
	bodies  [][]byte
	headers []http.Header
	status  []int // answers to give in turn; then 200
	srv     *httptest.Server
}

func newCapture(t *testing.T, status ...int) *capture {
	c := &capture{status: status}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		c.mu.Lock()
		c.bodies = append(c.bodies, b)
		c.headers = append(c.headers, r.Header.Clone())
		code := 200
		if len(c.status) > 0 {
			code, c.status = c.status[0], c.status[1:]
		}
		c.mu.Unlock()
		w.WriteHeader(code)
	}))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *capture) n() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.bodies)
}

func waitN(t *testing.T, c *capture, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for c.n() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d deliveries, want %d", c.n(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func decode(t *testing.T, b []byte) map[string]any {
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestFormats(t *testing.T) {
	c := newCapture(t)
	n := New(Options{Backoff: time.Millisecond})
	defer n.Close(context.Background())
	n.Send(Target{Type: "webhook", URL: c.srv.URL, Secret: "s3cret"}, msg("firing"))
	waitN(t, c, 1)
	n.Send(Target{Type: "slack", URL: c.srv.URL}, msg("firing"))
	waitN(t, c, 2)
	n.Send(Target{Type: "pagerduty", URL: c.srv.URL, RoutingKey: "rk"}, msg("firing"))
	waitN(t, c, 3)
	n.Send(Target{Type: "pagerduty", URL: c.srv.URL, RoutingKey: "rk"}, msg("resolved"))
	waitN(t, c, 4)

	wh := decode(t, c.bodies[0])
	if wh["slo"] != "checkout" || wh["state"] != "firing" || wh["dedup_key"] != "checkout/page/1" || wh["exhaustion_seconds"] != 3600.0 {
		t.Errorf("webhook body %v", wh)
	}
	if got, want := c.headers[0].Get("X-Prodex-Signature"), Sign("s3cret", c.bodies[0]); got != want || len(got) != 7+64 {
		t.Errorf("signature %q, want %q", got, want)
	}
	sl := decode(t, c.bodies[1])
	att := sl["attachments"].([]any)[0].(map[string]any)
	if sl["text"] != "PAGE firing: SLO checkout — burning" || att["color"] != "#e01e5a" || att["title_link"] != "http://prodex/slos/checkout" || len(att["fields"].([]any)) != 4 {
		t.Errorf("slack body %v", sl)
	}
	pd := decode(t, c.bodies[2])
	payload := pd["payload"].(map[string]any)
	if pd["routing_key"] != "rk" || pd["event_action"] != "trigger" || pd["dedup_key"] != "checkout/page/1" || payload["severity"] != "critical" || payload["source"] != "prodex" {
		t.Errorf("pagerduty trigger %v", pd)
	}
	res := decode(t, c.bodies[3])
	if res["event_action"] != "resolve" || res["dedup_key"] != "checkout/page/1" {
		t.Errorf("pagerduty resolve %v", res)
	}
	if sent, failed := n.Stats(); sent != 4 || failed != 0 {
		t.Errorf("stats %d sent %d failed", sent, failed)
	}
}

func TestRetries(t *testing.T) {
	c := newCapture(t, 500, 503, 200)
	bad := newCapture(t, 400)
	n := New(Options{Backoff: time.Millisecond})
	n.Send(Target{Type: "webhook", URL: c.srv.URL}, msg("firing"))
	n.Send(Target{Type: "webhook", URL: bad.srv.URL}, msg("firing"))
	n.Close(context.Background())
	if c.n() != 3 {
		t.Errorf("5xx: %d attempts, want 3", c.n())
	}
	if bad.n() != 1 {
		t.Errorf("400: %d attempts, want 1 (no retry)", bad.n())
	}
	if sent, failed := n.Stats(); sent != 1 || failed != 1 {
		t.Errorf("stats %d sent %d failed", sent, failed)
	}
}

// TestHangingReceiverIsolated: a receiver that never answers does not
// delay another.
func TestHangingReceiverIsolated(t *testing.T) {
	release := make(chan struct{})
	var hung atomic.Int32
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hung.Add(1)
		<-release
	}))
	defer hang.Close()
	defer close(release)
	ok := newCapture(t)
	n := New(Options{Backoff: time.Millisecond, Client: &http.Client{Timeout: 30 * time.Second}})
	n.Send(Target{Type: "webhook", URL: hang.URL}, msg("firing"))
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	n.Send(Target{Type: "webhook", URL: ok.srv.URL}, msg("firing"))
	waitN(t, ok, 1)
	if d := time.Since(start); d > time.Second || hung.Load() != 1 {
		t.Errorf("healthy receiver waited %s behind a hanging one", d)
	}
}

func TestOrderAndOverflow(t *testing.T) {
	c := newCapture(t)
	n := New(Options{QueueSize: 3})
	for i := 0; i < 3; i++ {
		m := msg("firing")
		m.Rule = string(rune('a' + i))
		n.Send(Target{Type: "webhook", URL: c.srv.URL}, m)
	}
	n.Close(context.Background())
	var rules string
	for _, b := range c.bodies {
		rules += decode(t, b)["rule"].(string)
	}
	if rules != "abc" {
		t.Errorf("delivered in order %q", rules)
	}

	// Overflow: a receiver that blocks while more than the queue arrives.
	block := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block }))
	defer slow.Close()
	n = New(Options{QueueSize: 2, Client: &http.Client{Timeout: 5 * time.Second}})
	for i := 0; i < 6; i++ {
		n.Send(Target{Type: "webhook", URL: slow.URL}, msg("firing"))
		time.Sleep(5 * time.Millisecond)
	}
	close(block)
	n.Close(context.Background())
	if _, failed := n.Stats(); failed < 3 {
		t.Errorf("%d dropped, want at least 3", failed)
	}
}

func TestValidate(t *testing.T) {
	for _, c := range []struct {
		t    Target
		want string
	}{
		{Target{Type: "webhook", URL: "http://x/hook"}, ""},
		{Target{Type: "pagerduty", RoutingKey: "k"}, ""},
		{Target{Type: "email"}, "type"},
		{Target{Type: "webhook", URL: "ftp://x"}, "url"},
		{Target{Type: "slack"}, "url"},
		{Target{Type: "pagerduty"}, "routing_key"},
	} {
		err := c.t.Validate()
		if (c.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%+v: %v, want %q", c.t, err, c.want)
		}
	}
}

func contains(s, sub string) bool {
	return len(sub) == 0 || (len(s) >= len(sub) && (s[:len(sub)] == sub || contains(s[1:], sub)))
}
