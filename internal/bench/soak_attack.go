package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prodex/prodex/internal/auth"
	"github.com/prodex/prodex/internal/client"
	"github.com/prodex/prodex/internal/explain"
	"github.com/prodex/prodex/internal/query"
)

// Attack is what a soak may run alongside its legitimate load, each as a
// key holder of the server could: the findings of the hardening, made
// repeatable.
type Attack struct {
	// WideColumns, when > 0, sends one event after another, each of this
	// many integer fields never seen before, to DATASET-wide.
	WideColumns int
	// WideEvery is the pause between two wide events (default 1 s).
	WideEvery time.Duration
	// SlowBodies, when > 0, holds this many connections that announce a
	// 100 MB body to /1/batch/DATASET-slow, send "[" and then one byte
	// every SlowByteEvery; each is opened again once the server ends it.
	SlowBodies    int
	SlowByteEvery time.Duration // default 5 s
	// HeavyQuery runs, back to back, a wide GROUP BY (COUNT, P99 and P999
	// by user_id and host over a day of the attacked dataset) and
	// explain, over the wide dataset when there is one.
	HeavyQuery bool
}

// On says whether any attacker is switched on.
func (a Attack) On() bool { return a.WideColumns > 0 || a.SlowBodies > 0 || a.HeavyQuery }

// attackers are the attackers of one phase and what they met.
type attackers struct {
	mu sync.Mutex
	// per attacker ("wide", "slow", "heavy query", "explain"): answers by
	// status (0: no answer: the connection failed or the client gave up),
	// and the longest wait for one.
	codes   map[string]map[int]int
	longest map[string]time.Duration
	opened  int    // slow connections opened
	key     string // whose key the senders used
}

func (a *attackers) note(who string, code int, took time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.codes[who] == nil {
		a.codes[who] = map[int]int{}
	}
	a.codes[who][code]++
	a.longest[who] = max(a.longest[who], took)
}

// start runs the attackers until stop is closed; bg waits for them.
// base names the datasets of the wide and slow senders; target is the
// dataset the heavy query reads.
func (a Attack) start(ctx context.Context, c *client.Client, base, target string, stop chan struct{}, bg *sync.WaitGroup) *attackers {
	at := &attackers{codes: map[string]map[int]int{}, longest: map[string]time.Duration{}, key: "the soak's own key (it cannot make keys)"}
	// The senders are another tenant, with an ingest key of their own as
	// a real one would hold: what keeps the legitimate ingest going is
	// then the per-key share of the in-flight slots. A key that cannot
	// make keys leaves them the soak's.
	sc := c
	if k, err := c.CreateKey(ctx, "", auth.Ingest, "soak attacker"); err == nil {
		own := *c
		own.Key = k.Key
		sc, at.key = &own, "an ingest key of their own"
	}
	actx, cancel := context.WithCancel(ctx)
	bg.Go(func() {
		<-stop
		cancel()
	})
	if a.WideColumns > 0 {
		every := a.WideEvery
		if every <= 0 {
			every = time.Second
		}
		bg.Go(func() { a.wide(actx, sc, base+"-wide", every, at) })
	}
	for i := 0; i < a.SlowBodies; i++ {
		every := a.SlowByteEvery
		if every <= 0 {
			every = 5 * time.Second
		}
		bg.Go(func() { slowBody(actx, sc, base+"-slow", every, at) })
	}
	if a.HeavyQuery {
		wide := ""
		if a.WideColumns > 0 {
			wide = base + "-wide"
		}
		bg.Go(func() { heavy(actx, c, target, wide, at) })
	}
	return at
}

// wide posts one event of n new integer fields after another.
func (a Attack) wide(ctx context.Context, c *client.Client, ds string, every time.Duration, at *attackers) {
	hc := &http.Client{Timeout: 5 * time.Minute}
	for seq := 0; ctx.Err() == nil; seq++ {
		fields := make(map[string]int, a.WideColumns)
		for i := range a.WideColumns {
			fields[fmt.Sprintf("w%d_%d", seq, i)] = i
		}
		body, _ := json.Marshal([]map[string]any{{"data": fields}})
		req, _ := http.NewRequestWithContext(ctx, "POST", c.URL()+"/1/batch/"+ds, bytes.NewReader(body))
		req.Header.Set("X-Honeycomb-Team", c.Key)
		req.Header.Set("Content-Type", "application/json")
		began := time.Now()
		code := 0
		if resp, err := hc.Do(req); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			code = resp.StatusCode
		}
		if ctx.Err() != nil && code == 0 {
			return // stopped, not refused
		}
		at.note("wide", code, time.Since(began))
		select {
		case <-ctx.Done():
		case <-time.After(every):
		}
	}
}

// slowBody holds one connection announcing a 100 MB body and sending a
// byte of it every so often, opening another when the server ends it
// (after a refusal, one byte interval later).
func slowBody(ctx context.Context, c *client.Client, ds string, every time.Duration, at *attackers) {
	u, err := url.Parse(c.URL())
	if err != nil {
		return
	}
	for ctx.Err() == nil {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", u.Host)
		if err != nil {
			if ctx.Err() == nil {
				at.note("slow", 0, 0)
				time.Sleep(100 * time.Millisecond)
			}
			continue
		}
		at.mu.Lock()
		at.opened++
		at.mu.Unlock()
		began := time.Now()
		fmt.Fprintf(conn, "POST /1/batch/%s HTTP/1.1\r\nHost: %s\r\nX-Honeycomb-Team: %s\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n\r\n[", ds, u.Host, c.Key)
		answered := make(chan int, 1)
		go func() {
			code := 0
			if resp, err := http.ReadResponse(bufio.NewReader(conn), nil); err == nil {
				code = resp.StatusCode
			}
			answered <- code
		}()
		code, done := 0, false
		t := time.NewTicker(every)
		for !done {
			select {
			case code = <-answered:
				done = true
			case <-t.C:
				if _, err := conn.Write([]byte(" ")); err != nil {
					code, done = <-answered, true
				}
			case <-ctx.Done():
				done = true
			}
		}
		t.Stop()
		conn.Close()
		if ctx.Err() == nil {
			at.note("slow", code, time.Since(began))
		}
		// Cut off for its pace (408), it opens the next at once: it holds
		// a slot as long as the server lets it. Refused before its body
		// was read, it knocks again at its own pace: reconnecting in a
		// tight loop would be a flood of requests from the same two
		// cores, measuring the load generator rather than the server.
		if code != http.StatusRequestTimeout {
			select {
			case <-ctx.Done():
			case <-time.After(every):
			}
		}
	}
}

// heavy runs a wide GROUP BY and explain, one after the other, until ctx
// ends.
func heavy(ctx context.Context, c *client.Client, target, wide string, at *attackers) {
	spec := &query.Spec{Calculations: []query.Calculation{{Op: "COUNT"}, {Op: "P99", Column: "duration_ms"}, {Op: "P999", Column: "duration_ms"}},
		Breakdowns: []string{"user_id", "host"}, TimeRange: 86400, Limit: 1000}
	sel := explain.Request{TimeRange: 86400, Selection: explain.Selection{Filters: []query.Filter{{Column: "status_code", Op: ">=", Value: 500}}}}
	wideSel := explain.Request{TimeRange: 86400, Selection: explain.Selection{Filters: []query.Filter{{Column: "w0_0", Op: "exists"}}}}
	for i := 0; ctx.Err() == nil; i++ {
		began := time.Now()
		var err error
		who := "heavy query"
		switch {
		case i%2 == 0:
			_, err = c.QueryJSON(ctx, target, spec)
		case wide != "" && i%4 == 3:
			who = "explain (wide)"
			_, err = c.ExplainJSON(ctx, wide, &wideSel)
		default:
			who = "explain"
			_, err = c.ExplainJSON(ctx, target, &sel)
		}
		if ctx.Err() != nil {
			return
		}
		at.note(who, statusOf(err), time.Since(began))
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// statusOf is the HTTP status an API call answered (0: none).
func statusOf(err error) int {
	var e *client.Error
	switch {
	case err == nil:
		return 200
	case errors.As(err, &e):
		return e.StatusCode
	}
	return 0
}

// report prints each attacker's answers.
func (a *attackers) report(w io.Writer) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.codes["wide"] != nil || a.opened > 0 {
		fmt.Fprintf(w, "  the wide and slow senders used %s\n", a.key)
	}
	for _, who := range []string{"wide", "slow", "heavy query", "explain", "explain (wide)"} {
		codes := a.codes[who]
		if codes == nil && (who != "slow" || a.opened == 0) {
			continue
		}
		var cs []string
		for code, n := range codes {
			label := fmt.Sprint(code)
			if code == 0 {
				label = "no answer"
			}
			cs = append(cs, fmt.Sprintf("%d×%s", n, label))
		}
		slices.Sort(cs)
		extra := ""
		if who == "slow" {
			extra = fmt.Sprintf(", %d connections opened (those still open at the end are not answers)", a.opened)
		}
		fmt.Fprintf(w, "  attacker %s: %s; longest %s%s\n", who, strings.Join(cs, " "), a.longest[who].Round(100*time.Millisecond), extra)
	}
}
