// Package notify delivers alert notifications — generic webhooks, Slack
// incoming webhooks and PagerDuty Events API v2 — without ever blocking
// the alert evaluator: each receiver has its own queue and goroutine, so a
// receiver that hangs or fails delays only itself.
package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Target is where a notification goes.
type Target struct {
	Type       string `json:"type"`                  // webhook, slack or pagerduty
	URL        string `json:"url,omitempty"`         // pagerduty: defaults to PagerDutyURL
	Secret     string `json:"secret,omitempty"`      // webhook: HMAC-SHA256 key for X-Prodex-Signature
	RoutingKey string `json:"routing_key,omitempty"` // pagerduty integration key
}

// PagerDutyURL is the Events API v2 endpoint.
const PagerDutyURL = "https://events.pagerduty.com/v2/enqueue"

// Validate checks a target; messages name the field.
func (t Target) Validate() error {
	switch t.Type {
	case "webhook", "slack", "pagerduty":
	default:
		return fmt.Errorf("type: %q is not webhook, slack or pagerduty", t.Type)
	}
	if t.Type == "pagerduty" {
		if t.RoutingKey == "" {
			return fmt.Errorf("routing_key: required for pagerduty")
		}
		if t.URL == "" {
			return nil
		}
	}
	u, err := url.Parse(t.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("url: %q is not an absolute http(s) URL", t.URL)
	}
	return nil
}

// Message is one alert state change.
type Message struct {
	SLO                    string             `json:"slo"`
	Dataset                string             `json:"dataset"`
	Severity               string             `json:"severity"` // page or ticket
	State                  string             `json:"state"`    // firing or resolved
	Rule                   string             `json:"rule"`
	Summary                string             `json:"summary"`
	SLI                    float64            `json:"sli"`
	Target                 float64            `json:"target"`
	BudgetRemainingPercent float64            `json:"budget_remaining_percent"`
	BurnRates              map[string]float64 `json:"burn_rates"`
	ExhaustionSeconds      *float64           `json:"exhaustion_seconds"`
	Link                   string             `json:"link,omitempty"`
	DedupKey               string             `json:"dedup_key"`
	At                     time.Time          `json:"at"`
}

// Options configure a Notifier.
type Options struct {
	Client     *http.Client  // default: 10 s timeout
	MaxRetries int           // default 5
	Backoff    time.Duration // first retry delay, doubling up to a minute; default 1 s
	QueueSize  int           // per target; default 1000, then the oldest is dropped
	Log        *slog.Logger
}

// Notifier sends messages.
type Notifier struct {
	o      Options
	mu     sync.Mutex
	queues map[Target]*queue
	closed bool
	wg     sync.WaitGroup
	stop   chan struct{}

	sent, failed atomic.Int64
}

type queue struct {
	mu    sync.Mutex
	msgs  []Message
	ready chan struct{}
}

// New returns a Notifier.
func New(o Options) *Notifier {
	if o.Client == nil {
		o.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if o.MaxRetries <= 0 {
		o.MaxRetries = 5
	}
	if o.Backoff <= 0 {
		o.Backoff = time.Second
	}
	if o.QueueSize <= 0 {
		o.QueueSize = 1000
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	return &Notifier{o: o, queues: map[Target]*queue{}, stop: make(chan struct{})}
}

// Send queues m for t and returns at once.
func (n *Notifier) Send(t Target, m Message) {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		n.failed.Add(1)
		return
	}
	q := n.queues[t]
	if q == nil {
		q = &queue{ready: make(chan struct{}, 1)}
		n.queues[t] = q
		n.wg.Add(1)
		go n.deliver(t, q)
	}
	n.mu.Unlock()
	q.mu.Lock()
	if len(q.msgs) >= n.o.QueueSize {
		q.msgs = q.msgs[1:]
		n.failed.Add(1)
		n.o.Log.Error("notification queue full: dropped the oldest message", "type", t.Type)
	}
	q.msgs = append(q.msgs, m)
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// Stats returns the messages delivered and given up on.
func (n *Notifier) Stats() (sent, failed int64) { return n.sent.Load(), n.failed.Load() }

// Close stops accepting messages and delivers what is queued until ctx
// ends.
func (n *Notifier) Close(ctx context.Context) error {
	n.mu.Lock()
	n.closed = true
	for _, q := range n.queues {
		select {
		case q.ready <- struct{}{}:
		default:
		}
	}
	n.mu.Unlock()
	done := make(chan struct{})
	go func() { n.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		close(n.stop)
		<-done
		return ctx.Err()
	}
}

func (n *Notifier) deliver(t Target, q *queue) {
	defer n.wg.Done()
	for {
		q.mu.Lock()
		if len(q.msgs) == 0 {
			q.mu.Unlock()
			n.mu.Lock()
			closed := n.closed
			n.mu.Unlock()
			if closed {
				return
			}
			select {
			case <-q.ready:
			case <-n.stop:
				return
			}
			continue
		}
		m := q.msgs[0]
		q.msgs = q.msgs[1:]
		q.mu.Unlock()
		if err := n.sendWithRetry(t, m); err != nil {
			n.failed.Add(1)
			n.o.Log.Error("notification failed", "type", t.Type, "slo", m.SLO, "state", m.State, "err", err)
		} else {
			n.sent.Add(1)
		}
	}
}

// permanent is a failure retrying cannot fix.
type permanent struct{ error }

func (n *Notifier) sendWithRetry(t Target, m Message) error {
	body, err := encode(t, m)
	if err != nil {
		return err
	}
	wait := n.o.Backoff
	for attempt := 0; ; attempt++ {
		retryAfter, err := n.post(t, body)
		if err == nil {
			return nil
		}
		if _, ok := err.(permanent); ok || attempt >= n.o.MaxRetries {
			return err
		}
		d := wait
		if retryAfter > 0 {
			d = min(retryAfter, time.Minute)
		}
		select {
		case <-time.After(d):
		case <-n.stop:
			return err
		}
		wait = min(2*wait, time.Minute)
	}
}

func (n *Notifier) post(t Target, body []byte) (time.Duration, error) {
	u := t.URL
	if t.Type == "pagerduty" && u == "" {
		u = PagerDutyURL
	}
	req, err := http.NewRequest("POST", u, bytes.NewReader(body))
	if err != nil {
		return 0, permanent{err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "prodex")
	if t.Type == "webhook" && t.Secret != "" {
		req.Header.Set("X-Prodex-Signature", Sign(t.Secret, body))
	}
	resp, err := n.o.Client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	switch {
	case resp.StatusCode/100 == 2:
		return 0, nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		ra, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
		return time.Duration(ra) * time.Second, fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(msg)))
	}
	return 0, permanent{fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(msg)))}
}

// Sign is the X-Prodex-Signature of a body: "sha256=" and the hex
// HMAC-SHA256 of the body under the secret.
func Sign(secret string, body []byte) string {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write(body)
	return "sha256=" + hex.EncodeToString(h.Sum(nil))
}

// encode renders a message in the target's format.
func encode(t Target, m Message) ([]byte, error) {
	switch t.Type {
	case "webhook":
		return json.Marshal(m)
	case "slack":
		return json.Marshal(slack(m))
	case "pagerduty":
		return json.Marshal(pagerDuty(t, m))
	}
	return nil, permanent{fmt.Errorf("unknown target type %q", t.Type)}
}

func exhaustionText(m Message) string {
	if m.ExhaustionSeconds == nil {
		return "not shrinking"
	}
	return (time.Duration(*m.ExhaustionSeconds) * time.Second).Round(time.Minute).String()
}

func burnText(m Message) string {
	var parts []string
	for _, w := range []string{"5m", "30m", "1h", "6h", "1d", "3d"} {
		if v, ok := m.BurnRates[w]; ok {
			parts = append(parts, fmt.Sprintf("%s %.1f", w, v))
		}
	}
	return strings.Join(parts, ", ")
}

// slack is an incoming-webhook message: text plus one attachment.
func slack(m Message) map[string]any {
	color := "#2eb67d" // resolved
	if m.State == "firing" {
		color = "#e01e5a"
		if m.Severity == "ticket" {
			color = "#ecb22e"
		}
	}
	field := func(title, value string) map[string]any {
		return map[string]any{"title": title, "value": value, "short": true}
	}
	att := map[string]any{
		"color":    color,
		"fallback": m.Summary,
		"fields": []any{
			field("SLI", fmt.Sprintf("%.3f%% (target %g%%)", m.SLI, m.Target)),
			field("Budget remaining", fmt.Sprintf("%.1f%%", m.BudgetRemainingPercent)),
			field("Burn rates", burnText(m)),
			field("Time to exhaustion", exhaustionText(m)),
		},
		"ts": m.At.Unix(),
	}
	if m.Link != "" {
		att["title"] = "SLO " + m.SLO
		att["title_link"] = m.Link
	}
	return map[string]any{
		"text":        fmt.Sprintf("%s %s: SLO %s — %s", strings.ToUpper(m.Severity), m.State, m.SLO, m.Summary),
		"attachments": []any{att},
	}
}

// pagerDuty is an Events API v2 event: trigger or resolve, one dedup key
// per episode.
func pagerDuty(t Target, m Message) map[string]any {
	ev := map[string]any{"routing_key": t.RoutingKey, "dedup_key": m.DedupKey, "event_action": "trigger"}
	if m.State == "resolved" {
		ev["event_action"] = "resolve"
		return ev
	}
	sev := "critical"
	if m.Severity == "ticket" {
		sev = "warning"
	}
	ev["payload"] = map[string]any{
		"summary":   m.Summary,
		"source":    "prodex",
		"severity":  sev,
		"component": m.SLO,
		"group":     m.Dataset,
		"timestamp": m.At.Format(time.RFC3339),
		"custom_details": map[string]any{
			"rule": m.Rule, "sli": m.SLI, "target": m.Target, "budget_remaining_percent": m.BudgetRemainingPercent,
			"burn_rates": m.BurnRates, "time_to_exhaustion": exhaustionText(m),
		},
	}
	if m.Link != "" {
		ev["links"] = []any{map[string]any{"href": m.Link, "text": "SLO " + m.SLO}}
	}
	return ev
}
