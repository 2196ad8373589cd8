package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var quiet = slog.New(slog.DiscardHandler)

func msg(state string) Message {
	ex := 3*3600.0 + 12*60
	return Message{SLO: "checkout", Dataset: "shop", Severity: "page", State: state, Rule: "burn 14.4x over 1h and 5m",
		Summary: "burning", SLI: 99.1, Target: 99.9, BudgetRemainingPercent: 42, BurnRates: map[string]float64{"1h": 15, "5m": 20},
		ExhaustionSeconds: &ex, Link: "http://prodex/slos/checkout", DedupKey: "checkout/page/1", At: time.Unix(1700000000, 0).UTC()}
}

// capture is a receiver that records requests and answers with the given
// statuses in turn, then 200.
type capture struct {
	mu      sync.Mutex
	bodies  [][]byte
	headers []http.Header
	status  []int
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
		if code == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "0")
		}
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

func (c *capture) body(i int) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bodies[i]
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// sendOne delivers m to a capture target and returns the request.
func sendOne(t *testing.T, target Target, m Message) ([]byte, http.Header) {
	t.Helper()
	c := newCapture(t)
	if target.Type != "pagerduty" || target.URL == "" {
		target.URL = c.srv.URL
	}
	n := New(Options{Backoff: time.Millisecond, Log: quiet})
	n.Send(target, m)
	if err := n.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if sent, failed := n.Stats(); sent != 1 || failed != 0 {
		t.Fatalf("stats: %d sent, %d failed", sent, failed)
	}
	return c.body(0), c.headers[0]
}

func TestWebhook(t *testing.T) {
	for _, secret := range []string{"", "s3cret"} {
		m := msg("firing")
		body, h := sendOne(t, Target{Type: "webhook", Secret: secret}, m)
		if ct := h.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type %q", ct)
		}
		var got Message
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatal(err)
		}
		if !got.At.Equal(m.At) {
			t.Errorf("at %v, want %v", got.At, m.At)
		}
		got.At = m.At
		if !reflect.DeepEqual(got, m) {
			t.Errorf("body\n%+v, want\n%+v", got, m)
		}
		sig := h.Get("X-Prodex-Signature")
		if secret == "" {
			if sig != "" {
				t.Errorf("unsigned webhook has signature %q", sig)
			}
			continue
		}
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write(body)
		if want := "sha256=" + hex.EncodeToString(mac.Sum(nil)); sig != want {
			t.Errorf("signature %q, want %q", sig, want)
		}
	}
}

func TestSlack(t *testing.T) {
	type field struct{ Title, Value string }
	for _, c := range []struct {
		name, severity, state string
		color, text           string
	}{
		{"page firing", "page", "firing", slackRed, "PAGE firing: SLO checkout — burning"},
		{"ticket firing", "ticket", "firing", slackOrange, "TICKET firing: SLO checkout — burning"},
		{"page resolved", "page", "resolved", slackGreen, "PAGE resolved: SLO checkout — burning"},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := msg(c.state)
			m.Severity = c.severity
			body, _ := sendOne(t, Target{Type: "slack"}, m)
			var got struct {
				Text        string
				Attachments []struct {
					Fallback, Color, Title, Text string
					TitleLink                    string `json:"title_link"`
					Fields                       []field
					Ts                           int64
				}
			}
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatal(err)
			}
			if got.Text != c.text || len(got.Attachments) != 1 {
				t.Fatalf("text %q with %d attachments, want %q", got.Text, len(got.Attachments), c.text)
			}
			a := got.Attachments[0]
			if a.Color != c.color || a.TitleLink != m.Link || a.Title != "SLO checkout" || a.Fallback != c.text ||
				a.Text != "Rule: burn 14.4x over 1h and 5m" || a.Ts != 1700000000 {
				t.Errorf("attachment %+v", a)
			}
			want := []field{{"SLI", "99.100%"}, {"Target", "99.9%"}, {"Budget remaining", "42.0%"},
				{"Time to exhaustion", "3h12m"}, {"Burn rates", "5m 20.0x, 1h 15.0x"}}
			if !reflect.DeepEqual(a.Fields, want) {
				t.Errorf("fields %v, want %v", a.Fields, want)
			}
		})
	}
}

func TestSlackEscapes(t *testing.T) {
	m := msg("firing")
	m.Summary = "errors <5xx> & more"
	if got := slackMessage(m).Text; got != "PAGE firing: SLO checkout — errors &lt;5xx&gt; &amp; more" {
		t.Errorf("text %q", got)
	}
}

func TestPagerDuty(t *testing.T) {
	body, _ := sendOne(t, Target{Type: "pagerduty", RoutingKey: "rk"}, msg("firing"))
	var got map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"routing_key":  "rk",
		"event_action": "trigger",
		"dedup_key":    "checkout/page/1",
		"payload": map[string]any{
			"summary": "burning", "source": "prodex", "severity": "critical", "component": "checkout", "group": "shop",
			"timestamp": "2023-11-14T22:13:20Z",
			"custom_details": map[string]any{
				"severity": "page", "rule": "burn 14.4x over 1h and 5m", "sli": 99.1, "target": 99.9,
				"budget_remaining_percent": 42.0, "burn_rates": map[string]any{"5m": 20.0, "1h": 15.0},
				"exhaustion_seconds": 11520.0, "time_to_exhaustion": "3h12m",
			},
		},
		"links": []any{map[string]any{"href": "http://prodex/slos/checkout", "text": "SLO"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("trigger\n%v, want\n%v", got, want)
	}

	m := msg("firing")
	m.Severity = "ticket"
	if sev := pagerDutyEvent(Target{RoutingKey: "rk"}, m).Payload.Severity; sev != "warning" {
		t.Errorf("ticket severity %q, want warning", sev)
	}

	// A resolve is the documented minimum: no payload.
	body, _ = sendOne(t, Target{Type: "pagerduty", RoutingKey: "rk"}, msg("resolved"))
	got = nil
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	want = map[string]any{"routing_key": "rk", "event_action": "resolve", "dedup_key": "checkout/page/1"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("resolve %v, want %v", got, want)
	}

	if u := (Target{Type: "pagerduty", RoutingKey: "rk"}).endpoint(); u != PagerDutyURL {
		t.Errorf("default endpoint %q", u)
	}
}

func TestRetries(t *testing.T) {
	for _, c := range []struct {
		name         string
		status       []int
		backoff      time.Duration
		attempts     int
		sent, failed int64
	}{
		{"success", nil, time.Millisecond, 1, 1, 0},
		{"5xx then success", []int{500, 503}, time.Millisecond, 3, 1, 0},
		{"400 is permanent", []int{400}, time.Millisecond, 1, 0, 1},
		{"404 is permanent", []int{404}, time.Millisecond, 1, 0, 1},
		{"retries exhausted", []int{500, 500, 500, 500}, time.Millisecond, 3, 0, 1}, // MaxRetries 2
		// Retry-After: 0 beats an hour's backoff, else the test times out.
		{"429 honours Retry-After", []int{429}, time.Hour, 2, 1, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			rc := newCapture(t, c.status...)
			n := New(Options{Backoff: c.backoff, MaxRetries: 2, Log: quiet})
			n.Send(Target{Type: "webhook", URL: rc.srv.URL}, msg("firing"))
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := n.Close(ctx); err != nil {
				t.Fatal(err)
			}
			if rc.n() != c.attempts {
				t.Errorf("%d attempts, want %d", rc.n(), c.attempts)
			}
			if sent, failed := n.Stats(); sent != c.sent || failed != c.failed {
				t.Errorf("%d sent, %d failed; want %d, %d", sent, failed, c.sent, c.failed)
			}
		})
	}
}

func TestNetworkErrorRetried(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // connection refused from now on
	var attempts atomic.Int32
	client := &http.Client{Transport: roundTripper(func(r *http.Request) (*http.Response, error) {
		attempts.Add(1)
		return http.DefaultTransport.RoundTrip(r)
	})}
	n := New(Options{Client: client, Backoff: time.Millisecond, MaxRetries: 3, Log: quiet})
	n.Send(Target{Type: "slack", URL: url + "/services/SECRET"}, msg("firing"))
	n.Close(context.Background())
	if attempts.Load() != 4 {
		t.Errorf("%d attempts, want 4", attempts.Load())
	}
	if sent, failed := n.Stats(); sent != 0 || failed != 1 {
		t.Errorf("%d sent, %d failed", sent, failed)
	}
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestRetryAfter(t *testing.T) {
	now := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		in   string
		want time.Duration
	}{
		{"", -1},
		{"0", 0},
		{"7", 7 * time.Second},
		{"3600", maxBackoff},
		{"-1", -1},
		{"soon", -1},
		{now.Add(30 * time.Second).Format(http.TimeFormat), 30 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},
	} {
		if got := retryAfter(c.in, now); got != c.want {
			t.Errorf("retryAfter(%q) = %v, want %v", c.in, got, c.want)
		}
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
	n := New(Options{Backoff: time.Millisecond, Client: &http.Client{Timeout: 30 * time.Second}, Log: quiet})
	n.Send(Target{Type: "webhook", URL: hang.URL}, msg("firing"))
	waitFor(t, "the hanging receiver to be called", func() bool { return hung.Load() == 1 })
	n.Send(Target{Type: "webhook", URL: hang.URL}, msg("resolved")) // queued behind the hang
	start := time.Now()
	n.Send(Target{Type: "webhook", URL: ok.srv.URL}, msg("firing"))
	waitFor(t, "the healthy receiver", func() bool { return ok.n() == 1 })
	if d := time.Since(start); d > time.Second {
		t.Errorf("healthy receiver waited %s behind a hanging one", d)
	}
}

func TestOrder(t *testing.T) {
	c := newCapture(t, 500, 500) // retries must not reorder
	n := New(Options{Backoff: time.Millisecond, Log: quiet})
	const count = 50
	for i := range count {
		m := msg("firing")
		m.DedupKey = string(rune('A' + i))
		n.Send(Target{Type: "webhook", URL: c.srv.URL}, m)
	}
	n.Close(context.Background())
	var got, want strings.Builder
	for i := range count {
		want.WriteRune(rune('A' + i))
	}
	for _, b := range c.bodies[2:] {
		var m Message
		json.Unmarshal(b, &m)
		got.WriteString(m.DedupKey)
	}
	if got.String() != want.String() {
		t.Errorf("delivered in order %q, want %q", got.String(), want.String())
	}
}

func TestOverflow(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	var keys []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m Message
		json.NewDecoder(r.Body).Decode(&m)
		mu.Lock()
		keys = append(keys, m.DedupKey)
		mu.Unlock()
		<-release
	}))
	defer srv.Close()
	n := New(Options{QueueSize: 2, Log: quiet})
	target := Target{Type: "webhook", URL: srv.URL}
	send := func(key string) {
		m := msg("firing")
		m.DedupKey = key
		n.Send(target, m)
	}
	send("0")
	waitFor(t, "the first delivery", func() bool { mu.Lock(); defer mu.Unlock(); return len(keys) == 1 })
	for _, k := range []string{"1", "2", "3", "4", "5"} { // queue holds 2: 1, 2 and 3 are dropped
		send(k)
	}
	if sent, failed := n.Stats(); sent != 0 || failed != 3 {
		t.Errorf("while blocked: %d sent, %d failed; want 0, 3", sent, failed)
	}
	close(release)
	n.Close(context.Background())
	if got := strings.Join(keys, ","); got != "0,4,5" {
		t.Errorf("delivered %s, want the first and the newest two: 0,4,5", got)
	}
	if sent, failed := n.Stats(); sent != 3 || failed != 3 {
		t.Errorf("%d sent, %d failed; want 3, 3", sent, failed)
	}
}

func TestClose(t *testing.T) {
	t.Run("delivers queued", func(t *testing.T) {
		slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(5 * time.Millisecond)
		}))
		defer slow.Close()
		n := New(Options{Log: quiet})
		for range 10 {
			n.Send(Target{Type: "webhook", URL: slow.URL}, msg("firing"))
		}
		if err := n.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		if sent, failed := n.Stats(); sent != 10 || failed != 0 {
			t.Errorf("%d sent, %d failed; want 10, 0", sent, failed)
		}
		n.Send(Target{Type: "webhook", URL: slow.URL}, msg("firing"))
		if _, failed := n.Stats(); failed != 1 {
			t.Errorf("send after close: %d failed, want 1", failed)
		}
		if err := n.Close(context.Background()); err != nil {
			t.Errorf("second close: %v", err)
		}
	})
	t.Run("gives up at deadline", func(t *testing.T) {
		release := make(chan struct{})
		hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
		defer hang.Close()
		defer close(release)
		n := New(Options{Log: quiet})
		for range 3 {
			n.Send(Target{Type: "webhook", URL: hang.URL}, msg("firing"))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		start := time.Now()
		if err := n.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("close: %v, want deadline exceeded", err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("close took %s past its deadline", d)
		}
		if sent, failed := n.Stats(); sent != 0 || failed != 3 {
			t.Errorf("%d sent, %d failed; want 0, 3", sent, failed)
		}
	})
}

func TestIdleTargetStops(t *testing.T) {
	c := newCapture(t)
	n := New(Options{Log: quiet})
	n.idle = time.Millisecond
	target := Target{Type: "webhook", URL: c.srv.URL}
	n.Send(target, msg("firing"))
	waitFor(t, "the idle goroutine to exit", func() bool {
		n.mu.Lock()
		defer n.mu.Unlock()
		return len(n.queues) == 0
	})
	n.Send(target, msg("resolved"))
	n.Close(context.Background())
	if sent, _ := n.Stats(); sent != 2 {
		t.Errorf("%d sent, want 2", sent)
	}
}

func TestInvalidTargetCountsFailed(t *testing.T) {
	n := New(Options{Log: quiet})
	n.Send(Target{Type: "email", URL: "http://x"}, msg("firing"))
	n.Close(context.Background())
	if sent, failed := n.Stats(); sent != 0 || failed != 1 {
		t.Errorf("%d sent, %d failed", sent, failed)
	}
}

func TestClean(t *testing.T) {
	m := msg("firing")
	inf := math.Inf(1)
	m.ExhaustionSeconds = &inf
	m.BurnRates["1d"] = math.NaN()
	c := Clean(m)
	if c.ExhaustionSeconds != nil || len(c.BurnRates) != 2 {
		t.Errorf("clean: exhaustion %v, burn rates %v", c.ExhaustionSeconds, c.BurnRates)
	}
	if _, err := encode(Target{Type: "webhook"}, c); err != nil {
		t.Error(err)
	}
	c.BurnRates["5m"] = 1
	if m.BurnRates["5m"] != 20 {
		t.Error("clean shares the burn rate map with the caller")
	}
}

func TestValidate(t *testing.T) {
	for _, c := range []struct {
		t    Target
		want string // substring of the error; "" for valid
	}{
		{Target{Type: "webhook", URL: "http://x/hook"}, ""},
		{Target{Type: "slack", URL: "https://hooks.slack.com/services/T/B/X"}, ""},
		{Target{Type: "pagerduty", RoutingKey: "k"}, ""},
		{Target{Type: "pagerduty", RoutingKey: "k", URL: "https://pd.example/v2/enqueue"}, ""},
		{Target{}, "type: required"},
		{Target{Type: "email", URL: "http://x"}, `type: "email"`},
		{Target{Type: "webhook"}, "url: required"},
		{Target{Type: "webhook", URL: "ftp://x"}, "url: "},
		{Target{Type: "slack", URL: "/relative"}, "url: "},
		{Target{Type: "webhook", URL: "http://"}, "url: "},
		{Target{Type: "webhook", URL: "http://x:bad"}, "url: "},
		{Target{Type: "pagerduty"}, "routing_key: required"},
		{Target{Type: "pagerduty", RoutingKey: "k", URL: "nope"}, "url: "},
	} {
		err := c.t.Validate()
		if (c.want == "") != (err == nil) || (err != nil && !strings.HasPrefix(err.Error(), c.want)) {
			t.Errorf("%+v: %v, want %q", c.t, err, c.want)
		}
	}
}

func TestExhaustionText(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	for _, c := range []struct {
		in   *float64
		want string
	}{
		{nil, "not shrinking"},
		{f(0), "exhausted"},
		{f(20), "1m"},
		{f(45 * 60), "45m"},
		{f(3*3600 + 12*60 + 10), "3h12m"},
		{f(2*86400 + 5*3600), "2d5h"},
		{f(1e300), "3650d0h"},
	} {
		if got := exhaustionText(c.in); got != c.want {
			t.Errorf("exhaustionText(%v) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestBurnText(t *testing.T) {
	for _, c := range []struct {
		in   map[string]float64
		want string
	}{
		{nil, "none"},
		{map[string]float64{"3d": 1, "1h": 2.3, "5m": 14.4, "30m": 3, "1d": 0, "6h": 1}, "5m 14.4x, 30m 3.0x, 1h 2.3x, 6h 1.0x, 1d 0.0x, 3d 1.0x"},
		{map[string]float64{"weird": 1, "2h": 2}, "2h 2.0x, weird 1.0x"},
	} {
		if got := burnText(c.in); got != c.want {
			t.Errorf("burnText(%v) = %q, want %q", c.in, got, c.want)
		}
	}
}
