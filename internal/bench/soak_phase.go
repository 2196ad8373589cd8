package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prodex/prodex/internal/ingest"
	"github.com/prodex/prodex/internal/query"
)

// phase is one overload of the soak and what it measured.
type phase struct {
	name, dataset, slo string
	attack             bool
	paged              chan time.Time

	took                         time.Duration
	sent, acked, refused, failed int64
	saturated                    int64
	codes                        map[int]int64
	stored                       int64
	rssPeak                      int64
	qtimes                       []time.Duration
	qerrs, qcancelled            int
	qfirst                       error
	pageAfter                    time.Duration // -1: no page
	attackers                    *attackers
}

func (p *phase) ackRate() float64 { return float64(p.acked) / max(p.took.Seconds(), 1e-9) }
func (p *phase) queries() int     { return len(p.qtimes) }
func (p *phase) answered() int    { return len(p.qtimes) - p.qerrs - p.qcancelled }

// overload offers overload × capacity in an open loop for b.Duration,
// whatever the answers (refusals are counted, not retried), while a light
// query runs every QueryEvery, checkout starts failing after BurnAfter and,
// in an attack phase, the attackers run; then it waits for the page and
// counts what was stored.
func (b Soak) overload(ctx context.Context, p *phase, capacity float64, calm, burning [][]byte, headers map[string]string) error {
	c := &b.Client
	url := c.URL() + "/1/batch/" + p.dataset
	// The dataset exists before the phase begins, so that the queries of
	// its first seconds find it.
	if _, _, err := postAll([]string{url}, headers, calm[:1], 1, 1, func([]byte) error { return nil }); err != nil {
		return fmt.Errorf("creating dataset %s: %w", p.dataset, err)
	}
	before, err := soakCount(ctx, c, p.dataset)
	if err != nil {
		return err
	}
	rate := b.Overload * capacity / float64(b.Batch) // requests per second
	var sent, acked, refused, failed, saturated atomic.Int64
	var cmu sync.Mutex
	codes := map[int]int64{}
	hc := &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 512}}
	defer hc.CloseIdleConnections()
	stop := make(chan struct{})
	var bg sync.WaitGroup
	var rss atomic.Int64
	bg.Go(func() { // the server's resident memory
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				if n, err := ingest.ResidentOf(b.PID); err == nil && n > rss.Load() {
					rss.Store(n)
				}
			}
		}
	})
	var qmu sync.Mutex
	if b.QueryEvery > 0 {
		bg.Go(func() { // someone debugging meanwhile
			spec := &query.Spec{Calculations: []query.Calculation{{Op: "COUNT"}, {Op: "P99", Column: "duration_ms"}},
				Breakdowns: []string{"service"}, TimeRange: 600}
			for {
				select {
				case <-stop:
					return
				case <-time.After(b.QueryEvery):
				}
				began := time.Now()
				_, err := c.QueryJSON(ctx, p.dataset, spec)
				qmu.Lock()
				p.qtimes = append(p.qtimes, time.Since(began))
				switch {
				case err != nil && strings.Contains(err.Error(), "memory"):
					p.qcancelled++
				case err != nil:
					p.qerrs++
					if p.qfirst == nil {
						p.qfirst = err
					}
				}
				qmu.Unlock()
			}
		})
	}
	if p.attack {
		p.attackers = b.Attack.start(ctx, c, b.Dataset, p.dataset, stop, &bg)
	}

	sem := make(chan struct{}, 512)
	var wg sync.WaitGroup
	began := time.Now()
	var burnAt time.Time
	interval := time.Duration(float64(time.Second) / rate)
	next := began
	for i := 0; time.Since(began) < b.Duration; i++ {
		bodies := calm
		if time.Since(began) >= b.BurnAfter {
			if burnAt.IsZero() {
				burnAt = time.Now()
			}
			bodies = burning
		}
		select {
		case sem <- struct{}{}:
		default:
			saturated.Add(1)
			next = next.Add(interval)
			time.Sleep(time.Until(next))
			continue
		}
		wg.Add(1)
		go func(body []byte) {
			defer wg.Done()
			defer func() { <-sem }()
			req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
			for k, v := range headers {
				req.Header.Set(k, v)
			}
			sent.Add(int64(b.Batch))
			resp, err := hc.Do(req)
			if err != nil {
				failed.Add(1)
				return
			}
			answer, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			cmu.Lock()
			codes[resp.StatusCode]++
			cmu.Unlock()
			if resp.StatusCode == 200 {
				acked.Add(accepted(answer))
			} else {
				refused.Add(int64(b.Batch))
			}
		}(bodies[i%len(bodies)])
		next = next.Add(interval)
		time.Sleep(time.Until(next))
	}
	// The rates count the time offered, not the wait for the last
	// answers (up to the client's timeout when the server stalls).
	p.took = time.Since(began)
	wg.Wait()
	p.pageAfter = -1
	if !burnAt.IsZero() {
		select {
		case at := <-p.paged:
			p.pageAfter = at.Sub(burnAt)
		case <-time.After(2 * time.Minute):
		}
	}
	close(stop)
	bg.Wait()

	after, err := soakCount(ctx, c, p.dataset)
	if err != nil {
		return err
	}
	p.stored = after - before
	p.sent, p.acked, p.refused, p.failed, p.saturated = sent.Load(), acked.Load(), refused.Load(), failed.Load(), saturated.Load()
	p.codes = codes
	p.rssPeak = rss.Load()
	return nil
}

// report prints what the phase measured and returns the problems found:
// events acknowledged but not stored, no page, and (without attackers,
// which may make them time out) queries that failed.
func (p *phase) report(w io.Writer, sampled bool, ceiling string) []string {
	fmt.Fprintf(w, "%s: offered %.0f events/s for %s into %s\n", p.name, float64(p.sent)/p.took.Seconds(), p.took.Round(time.Second), p.dataset)
	var cs []string
	for code, n := range p.codes {
		cs = append(cs, fmt.Sprintf("%d×%d", n, code))
	}
	slices.Sort(cs)
	fmt.Fprintf(w, "  answers: %s; %d connection failures; %d requests not sent (512 in flight)\n", strings.Join(cs, " "), p.failed, p.saturated)
	fmt.Fprintf(w, "  refused %d events (%.0f %% of those sent)\n", p.refused, 100*float64(p.refused)/float64(max(p.sent, 1)))
	verdict := "EQUAL"
	if p.stored != p.acked {
		verdict = "DIFFERENT"
	}
	fmt.Fprintf(w, "  events acknowledged %d (%.0f events/s), stored %d: %s\n", p.acked, p.ackRate(), p.stored, verdict)
	if sampled {
		fmt.Fprintf(w, "  server peak RSS during %s %s", p.name, humanBytes(p.rssPeak))
		if ceiling != "" {
			fmt.Fprintf(w, " (ceiling %s)", ceiling)
		}
		fmt.Fprintln(w)
	}
	qs := slices.Clone(p.qtimes)
	slices.Sort(qs)
	if len(qs) > 0 {
		fmt.Fprintf(w, "  queries during %s: %d answered of %d, %d failed, %d cancelled for memory, p50 %s, p99 %s, max %s\n", p.name, p.answered(), len(qs), p.qerrs, p.qcancelled,
			qs[len(qs)/2].Round(time.Millisecond), qs[len(qs)*99/100].Round(time.Millisecond), qs[len(qs)-1].Round(time.Millisecond))
	}
	if p.qfirst != nil {
		fmt.Fprintf(w, "  first query failure: %v\n", p.qfirst)
	}
	if p.attackers != nil {
		p.attackers.report(w)
	}
	var problems []string
	if p.pageAfter >= 0 {
		fmt.Fprintf(w, "  alert: paged %s after checkout started failing\n", p.pageAfter.Round(100*time.Millisecond))
	} else {
		fmt.Fprintln(w, "  alert: NO page within 2 minutes of checkout failing")
		problems = append(problems, p.name+": no page")
	}
	if p.stored != p.acked {
		problems = append(problems, fmt.Sprintf("%s: %d events acknowledged, %d stored", p.name, p.acked, p.stored))
	}
	if p.qerrs > 0 && !p.attack {
		problems = append(problems, fmt.Sprintf("%s: %d queries failed", p.name, p.qerrs))
	}
	return problems
}
