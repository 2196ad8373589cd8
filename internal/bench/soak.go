package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dustin/go-humanize"

	"github.com/prodex/prodex/internal/api"
	"github.com/prodex/prodex/internal/client"
	"github.com/prodex/prodex/internal/notify"
	"github.com/prodex/prodex/internal/query"
	"github.com/prodex/prodex/internal/slo"
)

// Soak drives a running server beyond its capacity for a while and checks
// that it holds: nothing acknowledged is lost, memory stays under its
// ceiling, queries answer, and an SLO that starts burning pages.
//
// With attackers switched on (a sender of events with thousands of new
// columns, connections that send their bodies slowly, a heavy query), it
// runs the same overload twice, first without them (the baseline) and then
// with them, and reports what the done-when of the hardening asks: peak
// RSS against the ceiling + 10 %, legitimate events acknowledged against
// the baseline (≥ 95 %), queries answered (≥ 90 %) and how long the page
// took (≤ 10 s).
type Soak struct {
	Client     client.Client // of a server on loopback
	Dataset    string
	PID        int    // of the server, to sample its resident memory (0: not sampled)
	Ceiling    string // the server's --memory-ceiling, for the report
	Batch      int    // events per request
	Workers    int    // concurrent requests while measuring capacity
	Measure    time.Duration
	Duration   time.Duration // of the overload
	BurnAfter  time.Duration // into the overload, when checkout starts failing
	QueryEvery time.Duration // pause between two queries during the overload (0: no queries)
	Overload   float64       // offered load, as a multiple of the measured capacity

	// The attackers, each off at its zero value.
	Attack Attack
	// Baseline, with an attacker on, runs the overload without the
	// attackers first, to compare with.
	Baseline bool
}

// The done-when of the hardening, which an attacked soak reports against.
const (
	rssMargin      = 1.10 // peak RSS at most the ceiling + 10 %
	minAckShare    = 0.95 // legitimate events acknowledged, against the baseline
	minAnswered    = 0.90 // the soak's queries answered
	maxPageLatency = 10 * time.Second
)

// Run measures the capacity, overloads the server (once, or without and
// then with the attackers) and writes the report to w; it fails when the
// soak found a problem.
func (b Soak) Run(ctx context.Context, w io.Writer) error {
	c := &b.Client
	if c.Key == "" {
		return client.ErrNoKey
	}
	if !strings.HasPrefix(c.Server, "http://127.0.0.1") && !strings.HasPrefix(c.Server, "http://localhost") {
		return fmt.Errorf("--server %s: the soak only runs against a server on loopback", c.Server)
	}
	var ceiling int64
	if b.Ceiling != "" {
		n, err := humanize.ParseBytes(b.Ceiling)
		if err != nil {
			return fmt.Errorf("--ceiling %q: %w", b.Ceiling, err)
		}
		ceiling = int64(n)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	calm, burning := make([][]byte, 16), make([][]byte, 16)
	for i := range calm {
		calm[i] = soakBatch(rng, b.Batch, 0.0002)
		burning[i] = soakBatch(rng, b.Batch, 0.3)
	}

	// The receiver the SLOs page, one SLO per phase.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	var pmu sync.Mutex
	paged := map[string]chan time.Time{}
	pagedFor := func(name string) chan time.Time {
		pmu.Lock()
		defer pmu.Unlock()
		if paged[name] == nil {
			paged[name] = make(chan time.Time, 1)
		}
		return paged[name]
	}
	go http.Serve(ln, http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		var m notify.Message // the webhook's body
		json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&m)
		if m.Severity == "page" && m.State == "firing" {
			select {
			case pagedFor(m.SLO) <- time.Now():
			default:
			}
		}
	}))
	hook := "http://" + ln.Addr().String() + "/hook"

	phases := []*phase{{name: "overload", dataset: b.Dataset, slo: "soak-checkout"}}
	if b.Attack.On() {
		phases[0].name, phases[0].attack = "attack", true
		if b.Baseline {
			phases = []*phase{{name: "baseline", dataset: b.Dataset, slo: "soak-checkout"},
				{name: "attack", dataset: b.Dataset + "-attack", slo: "soak-checkout-attack", attack: true}}
		}
	}
	for _, p := range phases {
		def := slo.SLO{Name: p.slo, Dataset: p.dataset, Target: 99.9, Window: slo.Window{Days: 30},
			SLI:    slo.SLI{Eligible: `service == "checkout"`, Good: "status_code < 500"},
			Notify: []notify.Target{{Type: "webhook", URL: hook}}}
		if _, err := c.PutSLO(ctx, def); err != nil {
			return fmt.Errorf("define the SLO: %w", err)
		}
		defer c.DeleteSLO(context.WithoutCancel(ctx), def.Name)
		p.paged = pagedFor(p.slo)
	}

	// 1. Capacity: as fast as the server takes it, retrying refusals.
	headers := map[string]string{"X-Honeycomb-Team": c.Key, "Content-Type": "application/json", "Content-Encoding": "gzip"}
	var acked atomic.Int64
	el, _, err := postAllFor(c.URL()+"/1/batch/"+phases[0].dataset, headers, calm, b.Measure, b.Workers, func(body []byte) error {
		acked.Add(accepted(body))
		return nil
	})
	if err != nil {
		return fmt.Errorf("measuring capacity: %w", err)
	}
	capacity := float64(acked.Load()) / el.Seconds()
	fmt.Fprintf(w, "capacity: %.0f events/s over %s (%d workers, batches of %d)\n", capacity, el.Round(time.Second), b.Workers, b.Batch)

	// 2. The overload, once per phase.
	var problems []string
	for _, p := range phases {
		if err := b.overload(ctx, p, capacity, calm, burning, headers); err != nil {
			return err
		}
		problems = append(problems, p.report(w, b.PID > 0, b.Ceiling)...)
	}
	problems = append(problems, b.verdict(w, phases, ceiling)...)
	if len(problems) > 0 {
		return fmt.Errorf("the soak found a problem: %s", strings.Join(problems, "; "))
	}
	return nil
}

// verdict prints the done-when figures of an attacked soak and returns
// those not met. Without attackers there is nothing to compare.
func (b Soak) verdict(w io.Writer, phases []*phase, ceiling int64) []string {
	var attack, base *phase
	for _, p := range phases {
		if p.attack {
			attack = p
		} else {
			base = p
		}
	}
	if attack == nil {
		return nil
	}
	var missed []string
	check := func(what string, ok bool, figure string) {
		mark := "met"
		if !ok {
			mark = "NOT met"
			missed = append(missed, what)
		}
		fmt.Fprintf(w, "  %-44s %s: %s\n", what, figure, mark)
	}
	fmt.Fprintln(w, "done-when, under attack:")
	if b.PID > 0 && ceiling > 0 {
		limit := int64(float64(ceiling) * rssMargin)
		check("peak RSS ≤ ceiling + 10 %", attack.rssPeak <= limit,
			fmt.Sprintf("%s of %s (%.0f %%)", humanBytes(attack.rssPeak), humanBytes(limit), 100*float64(attack.rssPeak)/float64(limit)))
	} else {
		fmt.Fprintln(w, "  peak RSS: not sampled (give --pid and --ceiling)")
	}
	if base != nil {
		share := attack.ackRate() / max(base.ackRate(), 1)
		check("legitimate ingest acknowledged ≥ 95 % of baseline", share >= minAckShare,
			fmt.Sprintf("%.0f of %.0f events/s (%.0f %%)", attack.ackRate(), base.ackRate(), 100*share))
	}
	total := attack.queries()
	ans := attack.answered()
	check("queries answered ≥ 90 %", total > 0 && float64(ans) >= minAnswered*float64(total),
		fmt.Sprintf("%d of %d (%.0f %%)", ans, total, 100*float64(ans)/float64(max(total, 1))))
	pageOK := attack.pageAfter >= 0 && attack.pageAfter <= maxPageLatency
	figure := "no page"
	if attack.pageAfter >= 0 {
		figure = attack.pageAfter.Round(100 * time.Millisecond).String()
	}
	check("paged ≤ 10 s after the burn", pageOK, figure)
	return missed
}

// soakBatch is a gzip'd batch of request events without timestamps (the
// server stamps them on arrival); badShare of checkout's fail.
func soakBatch(rng *rand.Rand, n int, badShare float64) []byte {
	services := []string{"api", "web", "checkout", "search", "auth"}
	evs := make([]map[string]any, n)
	for i := range evs {
		svc := services[rng.IntN(len(services))]
		status := 200
		if svc == "checkout" && rng.Float64() < badShare {
			status = 500
		}
		evs[i] = map[string]any{"data": map[string]any{"service": svc, "status_code": status, "duration_ms": rng.ExpFloat64() * 80,
			"host": "host-" + strconv.Itoa(rng.IntN(20)), "build_id": 4500 + rng.IntN(12), "user_id": rng.IntN(100000)}}
	}
	raw, _ := json.Marshal(evs)
	return gzipped(raw)
}

// accepted counts the events a /1/batch answer accepted.
func accepted(body []byte) int64 {
	var st []api.BatchStatus
	json.Unmarshal(body, &st)
	var n int64
	for _, s := range st {
		if s.Status == 202 {
			n++
		}
	}
	return n
}

// soakCount counts a dataset's events of the last day (0 if it is new),
// retrying for a minute while the server sheds queries for memory.
func soakCount(ctx context.Context, c *client.Client, ds string) (int64, error) {
	var res api.QueryAnswer
	var err error
	for try := 0; try < 12; try++ {
		res, err = c.Query(ctx, ds, &query.Spec{Calculations: []query.Calculation{{Op: "COUNT"}}, TimeRange: 86400})
		if err == nil || !strings.Contains(err.Error(), "memory") {
			break
		}
		time.Sleep(5 * time.Second)
	}
	if err != nil {
		if strings.Contains(err.Error(), "does not exist") {
			return 0, nil
		}
		return 0, err
	}
	if res.Result == nil || len(res.Results) == 0 {
		return 0, nil
	}
	n, _ := res.Results[0].Data["COUNT"].(float64)
	return int64(n), nil
}

func humanBytes(n int64) string { return fmt.Sprintf("%.0f MB", float64(n)/1e6) }
