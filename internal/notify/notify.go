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
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// PagerDutyURL is the Events API v2 endpoint, used when a pagerduty
// target has no URL.
const PagerDutyURL = "https://events.pagerduty.com/v2/enqueue"

// maxBackoff caps the wait between attempts, Retry-After included, so a
// receiver cannot park its queue for long.
const maxBackoff = time.Minute

// idleTimeout is how long a target's goroutine waits for work before
// exiting, so targets removed from the configuration do not leak.
const idleTimeout = 5 * time.Minute

// Target is where a notification goes.
type Target struct {
	Type       string `json:"type"`                  // webhook, slack or pagerduty
	URL        string `json:"url,omitempty"`         // receiver URL; pagerduty defaults to PagerDutyURL
	Secret     string `json:"secret,omitempty"`      // webhook: HMAC-SHA256 key; signs the body in X-Prodex-Signature
	RoutingKey string `json:"routing_key,omitempty"` // pagerduty integration key (required for pagerduty)
}

// Validate reports what is wrong with a target; messages start with the
// field's JSON name so configuration errors point at the culprit. A
// redacted form where a secret goes is taken as set: Restore replaces it
// by the secret it stands for, or refuses it.
func (t Target) Validate() error {
	switch t.Type {
	case "webhook", "slack", "pagerduty":
	case "":
		return errors.New("type: required (webhook, slack or pagerduty)")
	default:
		return fmt.Errorf("type: %q is not webhook, slack or pagerduty", t.Type)
	}
	if t.Type == "pagerduty" && t.RoutingKey == "" {
		return errors.New("routing_key: required for pagerduty")
	}
	if t.URL == "" {
		if t.Type == "pagerduty" {
			return nil
		}
		return fmt.Errorf("url: required for %s", t.Type)
	}
	if t.Type != "pagerduty" && IsRedacted(t.URL) {
		return nil // stands for the stored URL (Restore)
	}
	u, err := url.Parse(t.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		// A Slack or webhook URL is a secret: the message, which reaches
		// logs and answers, shows it redacted.
		return fmt.Errorf("url: %q is not an http(s) URL", t.Redacted().URL)
	}
	return nil
}

// endpoint is the URL to POST to.
func (t Target) endpoint() string {
	if t.Type == "pagerduty" && t.URL == "" {
		return PagerDutyURL
	}
	return t.URL
}

// Message is one alert state change.
type Message struct {
	SLO                    string             `json:"slo"`
	Dataset                string             `json:"dataset"`
	Severity               string             `json:"severity"` // page or ticket
	State                  string             `json:"state"`    // firing or resolved
	Rule                   string             `json:"rule"`     // e.g. "burn 14.4x over 1h and 5m"
	Summary                string             `json:"summary"`  // one human line
	SLI                    float64            `json:"sli"`      // percent
	Target                 float64            `json:"target"`   // percent
	BudgetRemainingPercent float64            `json:"budget_remaining_percent"`
	BurnRates              map[string]float64 `json:"burn_rates"` // keyed by window: "5m", "1h", ...
	ExhaustionSeconds      *float64           `json:"exhaustion_seconds"`
	Link                   string             `json:"link,omitempty"` // the SLO page
	DedupKey               string             `json:"dedup_key"`      // same for the firing and the resolve of one episode
	At                     time.Time          `json:"at"`
}

// Options configure a Notifier. Zero values take the defaults.
type Options struct {
	Client     *http.Client  // default: 10 s timeout
	MaxRetries int           // retries after the first attempt; default 5
	Backoff    time.Duration // first retry delay, doubling, capped at 1 min; default 1 s
	QueueSize  int           // per target; default 1000; when full the oldest pending message is dropped and counted as failed
	Log        *slog.Logger  // default slog.Default()
	// Own are the server's own listen addresses (host:port): the default
	// client refuses to deliver to them (see ErrSelf).
	Own []string
}

// Notifier delivers messages to targets in the background.
type Notifier struct {
	o    Options
	idle time.Duration

	// ctx is cancelled when Close gives up: it aborts requests in flight
	// and waits between retries.
	ctx    context.Context
	cancel context.CancelFunc

	mu     sync.Mutex
	queues map[Target]*queue // a queue exists while its goroutine runs
	closed bool
	wg     sync.WaitGroup

	sent, failed atomic.Int64
}

// queue is one target's pending messages, oldest first.
type queue struct {
	msgs  []pending     // guarded by Notifier.mu
	ready chan struct{} // buffered 1: "look at msgs again"
}

// pending is a queued message and who to tell how it ended (may be nil).
type pending struct {
	m    Message
	done func(error)
}

// ErrClosed is how SendThen reports a message the Notifier never got to
// deliver because it was closing (or closed): the message did not fail,
// so an owner that keeps it durably should send it again after a restart.
var ErrClosed = errors.New("notifier closed before delivering")

func (q *queue) poke() {
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// New returns a Notifier; Close it to flush and stop its goroutines.
func New(o Options) *Notifier {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Client == nil {
		o.Client = guardedClient(o.Own, o.Log)
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
	ctx, cancel := context.WithCancel(context.Background())
	return &Notifier{o: o, idle: idleTimeout, ctx: ctx, cancel: cancel, queues: map[Target]*queue{}}
}

// Send queues m for t and returns at once. Each target has its own queue
// and goroutine, so a receiver that hangs or fails delays only itself;
// messages to one target are delivered in order. Messages for an invalid
// target, or sent after Close, are counted as failed.
func (n *Notifier) Send(t Target, m Message) { n.SendThen(t, m, nil) }

// SendThen is Send that also tells done, exactly once, how m ended: nil
// once delivered; the error once given up on (invalid target, permanent
// error, retries exhausted, dropped from a full queue); or an error
// wrapping ErrClosed when the Notifier closed first. The owner of a
// durable outbox uses it to forget what is delivered and keep the rest.
// done may run on any goroutine, before SendThen returns too; it must not
// block for long, as it holds up the target's queue.
func (n *Notifier) SendThen(t Target, m Message, done func(error)) {
	if err := t.Validate(); err != nil {
		n.failed.Add(1)
		n.o.Log.Error("notification target invalid", "type", t.Type, "slo", m.SLO, "err", err)
		tell(done, err)
		return
	}
	m = Clean(m)
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		n.failed.Add(1)
		n.o.Log.Warn("notification sent after close", "type", t.Type, "slo", m.SLO)
		tell(done, ErrClosed)
		return
	}
	q := n.queues[t]
	if q == nil {
		q = &queue{ready: make(chan struct{}, 1)}
		n.queues[t] = q
		n.wg.Add(1)
		go n.run(t, q)
	}
	var dropped pending
	if len(q.msgs) >= n.o.QueueSize {
		dropped = q.msgs[0]
		q.msgs[0] = pending{}
		q.msgs = q.msgs[1:]
		n.failed.Add(1)
		n.o.Log.Warn("notification queue full: dropped the oldest message", "type", t.Type, "receiver", host(t))
	}
	q.msgs = append(q.msgs, pending{m, done})
	q.poke()
	n.mu.Unlock()
	tell(dropped.done, errors.New("dropped: the receiver's queue was full"))
}

// tell calls done, if any, with how a message ended.
func tell(done func(error), err error) {
	if done != nil {
		done(err)
	}
}

// Clean copies what m shares with the caller, who may reuse it once Send
// returns, and makes it encodable: JSON has no NaN or infinity. Send does
// it; an owner that stores a message as JSON does it first.
func Clean(m Message) Message {
	if m.BurnRates != nil {
		m.BurnRates = maps.Clone(m.BurnRates)
		maps.DeleteFunc(m.BurnRates, func(_ string, v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) })
	}
	if e := m.ExhaustionSeconds; e != nil {
		if math.IsNaN(*e) || math.IsInf(*e, 0) {
			m.ExhaustionSeconds = nil // never runs out
		} else {
			v := max(*e, 0)
			m.ExhaustionSeconds = &v
		}
	}
	return m
}

// Stats returns totals for /metrics: messages delivered, and messages
// given up on (permanent errors, retries exhausted, dropped).
func (n *Notifier) Stats() (sent, failed int64) { return n.sent.Load(), n.failed.Load() }

// Close stops accepting messages, tries to deliver what is queued until
// ctx ends, then aborts the rest (counted as failed) and returns ctx's
// error. It is safe to call more than once.
func (n *Notifier) Close(ctx context.Context) error {
	n.mu.Lock()
	n.closed = true
	for _, q := range n.queues {
		q.poke()
	}
	n.mu.Unlock()
	done := make(chan struct{})
	go func() { n.wg.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
		n.cancel()
		<-done
	}
	n.cancel()
	return err
}

// run delivers t's messages one at a time until the queue is empty and
// the Notifier closed, or the target has been idle for n.idle.
func (n *Notifier) run(t Target, q *queue) {
	defer n.wg.Done()
	for {
		n.mu.Lock()
		if n.ctx.Err() != nil && len(q.msgs) > 0 {
			dropped := q.msgs
			q.msgs = nil
			n.failed.Add(int64(len(dropped)))
			n.o.Log.Error("notifier closed: gave up on queued notifications", "type", t.Type, "receiver", host(t), "count", len(dropped))
			n.mu.Unlock()
			for _, p := range dropped {
				tell(p.done, ErrClosed)
			}
			continue
		}
		if len(q.msgs) == 0 {
			if n.closed {
				delete(n.queues, t)
				n.mu.Unlock()
				return
			}
			n.mu.Unlock()
			idle := time.NewTimer(n.idle)
			select {
			case <-q.ready:
			case <-idle.C:
				n.mu.Lock()
				if len(q.msgs) == 0 {
					delete(n.queues, t)
					n.mu.Unlock()
					return
				}
				n.mu.Unlock()
			}
			idle.Stop()
			continue
		}
		p := q.msgs[0]
		q.msgs[0] = pending{}
		q.msgs = q.msgs[1:]
		n.mu.Unlock()
		m := p.m
		err := n.deliver(t, m)
		switch {
		case err == nil:
			n.sent.Add(1)
		case n.ctx.Err() != nil:
			// Aborted by Close, not refused by the receiver.
			n.failed.Add(1)
			n.o.Log.Error("notifier closed: gave up on a notification in flight", "type", t.Type, "receiver", host(t), "slo", m.SLO, "state", m.State, "err", err)
			err = fmt.Errorf("%w: %w", ErrClosed, err)
		default:
			n.failed.Add(1)
			n.o.Log.Error("notification failed", "type", t.Type, "receiver", host(t), "slo", m.SLO, "state", m.State, "err", err)
		}
		tell(p.done, err)
	}
}

// permanent is a failure retrying cannot fix.
type permanent struct{ error }

// deliver sends m to t, retrying transient failures with backoff.
func (n *Notifier) deliver(t Target, m Message) error {
	body, err := encode(t, m)
	if err != nil {
		return err
	}
	wait := min(n.o.Backoff, maxBackoff)
	for attempt := 0; ; attempt++ {
		after, err := n.post(t, body)
		if err == nil {
			return nil
		}
		var p permanent
		if errors.As(err, &p) || attempt >= n.o.MaxRetries || n.ctx.Err() != nil {
			return err
		}
		d := wait
		if after >= 0 {
			d = min(after, maxBackoff)
		}
		n.o.Log.Warn("notification attempt failed; retrying", "type", t.Type, "receiver", host(t), "slo", m.SLO, "attempt", attempt+1, "in", d, "err", err)
		timer := time.NewTimer(d)
		select {
		case <-timer.C:
		case <-n.ctx.Done():
			timer.Stop()
			return err
		}
		wait = min(2*wait, maxBackoff)
	}
}

// post makes one attempt. On a retryable failure it also returns the
// receiver's Retry-After, or -1 when there is none.
func (n *Notifier) post(t Target, body []byte) (time.Duration, error) {
	req, err := http.NewRequestWithContext(n.ctx, http.MethodPost, t.endpoint(), bytes.NewReader(body))
	if err != nil {
		return -1, permanent{err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "prodex")
	if t.Type == "webhook" && t.Secret != "" {
		req.Header.Set("X-Prodex-Signature", Sign(t.Secret, body))
	}
	resp, err := n.o.Client.Do(req)
	if err != nil {
		// Slack and webhook URLs carry credentials: keep them out of logs.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if errors.Is(err, ErrSelf) {
			return -1, permanent{err}
		}
		return -1, err
	}
	defer resp.Body.Close()
	text, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 == 2 {
		return -1, nil
	}
	err = fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(text)))
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
		return retryAfter(resp.Header.Get("Retry-After"), time.Now()), err
	}
	return -1, permanent{err}
}

// retryAfter parses a Retry-After header, delay-seconds or HTTP-date, and
// returns -1 when it is absent or malformed.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return -1
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(min(s, int(maxBackoff/time.Second))) * time.Second
	}
	if at, err := http.ParseTime(v); err == nil {
		return max(at.Sub(now), 0)
	}
	return -1
}

// host names a receiver in logs without its path, which may hold a token.
func host(t Target) string {
	if u, err := url.Parse(t.endpoint()); err == nil {
		return u.Host
	}
	return ""
}

// Sign is the X-Prodex-Signature of a body: "sha256=" and the hex
// HMAC-SHA256 of the body under the secret.
func Sign(secret string, body []byte) string {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write(body)
	return "sha256=" + hex.EncodeToString(h.Sum(nil))
}
