package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prodex/prodex/internal/api"
	"github.com/prodex/prodex/internal/client"
	"github.com/prodex/prodex/internal/ingest"
	"github.com/prodex/prodex/internal/notify"
	"github.com/prodex/prodex/internal/query"
	"github.com/prodex/prodex/internal/slo"
)

// Soak drives a running server beyond its capacity for a while and checks
// that it holds: nothing acknowledged is lost, memory stays under its
// ceiling, queries answer, and an SLO that starts burning pages.
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
}

// Run measures the capacity, overloads the server and writes the report
// to w; it fails when the soak found a problem.
func (b Soak) Run(ctx context.Context, w io.Writer) error {
	c := &b.Client
	if c.Key == "" {
		return client.ErrNoKey
	}
	if !strings.HasPrefix(c.Server, "http://127.0.0.1") && !strings.HasPrefix(c.Server, "http://localhost") {
		return fmt.Errorf("--server %s: the soak only runs against a server on loopback", c.Server)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	calm, burning := make([][]byte, 16), make([][]byte, 16)
	for i := range calm {
		calm[i] = soakBatch(rng, b.Batch, 0.0002)
		burning[i] = soakBatch(rng, b.Batch, 0.3)
	}

	// The receiver the SLO pages.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	paged := make(chan time.Time, 1)
	go http.Serve(ln, http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		var m notify.Message // the webhook's body
		json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&m)
		if m.Severity == "page" && m.State == "firing" {
			select {
			case paged <- time.Now():
			default:
			}
		}
	}))
	def := slo.SLO{Name: "soak-checkout", Dataset: b.Dataset, Target: 99.9, Window: slo.Window{Days: 30},
		SLI:    slo.SLI{Eligible: `service == "checkout"`, Good: "status_code < 500"},
		Notify: []notify.Target{{Type: "webhook", URL: "http://" + ln.Addr().String() + "/hook"}}}
	if _, err := c.PutSLO(ctx, def); err != nil {
		return fmt.Errorf("define the SLO: %w", err)
	}
	defer c.DeleteSLO(context.WithoutCancel(ctx), def.Name)

	url := c.URL() + "/1/batch/" + b.Dataset
	headers := map[string]string{"X-Honeycomb-Team": c.Key, "Content-Type": "application/json", "Content-Encoding": "gzip"}
	before, err := soakCount(ctx, c, b.Dataset)
	if err != nil {
		return err
	}

	// 1. Capacity: as fast as the server takes it, retrying refusals.
	var acked atomic.Int64
	el, _, err := postAllFor(url, headers, calm, b.Measure, b.Workers, func(body []byte) error {
		acked.Add(accepted(body))
		return nil
	})
	if err != nil {
		return fmt.Errorf("measuring capacity: %w", err)
	}
	capacity := float64(acked.Load()) / el.Seconds()
	fmt.Fprintf(w, "capacity: %.0f events/s over %s (%d workers, batches of %d)\n", capacity, el.Round(time.Second), b.Workers, b.Batch)

	// 2. Overload: an open loop at overload × capacity, whatever the
	// answers; refusals are counted, not retried.
	rate := b.Overload * capacity / float64(b.Batch) // requests per second
	var sent, refused, failed, saturated atomic.Int64
	codes := sync.Map{}
	hc := &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 512}}
	stop := make(chan struct{})
	var rss atomic.Int64
	go func() { // the server's resident memory
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
	}()
	var qmu sync.Mutex
	var qtimes []time.Duration
	var qerrs, qcancelled int
	var qfirst error
	if b.QueryEvery > 0 {
		go func() { // someone debugging meanwhile
			spec := &query.Spec{Calculations: []query.Calculation{{Op: "COUNT"}, {Op: "P99", Column: "duration_ms"}},
				Breakdowns: []string{"service"}, TimeRange: 600}
			for {
				select {
				case <-stop:
					return
				case <-time.After(b.QueryEvery):
				}
				began := time.Now()
				_, err := c.QueryJSON(ctx, b.Dataset, spec)
				qmu.Lock()
				qtimes = append(qtimes, time.Since(began))
				switch {
				case err != nil && strings.Contains(err.Error(), "memory ceiling"):
					qcancelled++
				case err != nil:
					qerrs++
					if qfirst == nil {
						qfirst = err
					}
				}
				qmu.Unlock()
			}
		}()
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
			n, _ := codes.LoadOrStore(resp.StatusCode, new(atomic.Int64))
			n.(*atomic.Int64).Add(1)
			if resp.StatusCode == 200 {
				acked.Add(accepted(answer))
			} else {
				refused.Add(int64(b.Batch))
			}
		}(bodies[i%len(bodies)])
		next = next.Add(interval)
		time.Sleep(time.Until(next))
	}
	wg.Wait()
	overloadTime := time.Since(began)
	var alertAfter time.Duration = -1
	if !burnAt.IsZero() {
		select {
		case at := <-paged:
			alertAfter = at.Sub(burnAt)
		case <-time.After(2 * time.Minute):
		}
	}
	close(stop)

	after, err := soakCount(ctx, c, b.Dataset)
	if err != nil {
		return err
	}
	stored := after - before
	fmt.Fprintf(w, "overload: offered %.0f events/s (%.1f× capacity) for %s\n", float64(sent.Load())/overloadTime.Seconds(), b.Overload, overloadTime.Round(time.Second))
	var cs []string
	codes.Range(func(k, v any) bool {
		cs = append(cs, fmt.Sprintf("%d×%d", v.(*atomic.Int64).Load(), k.(int)))
		return true
	})
	slices.Sort(cs)
	fmt.Fprintf(w, "  answers: %s; %d connection failures; %d requests not sent (512 in flight)\n", strings.Join(cs, " "), failed.Load(), saturated.Load())
	fmt.Fprintf(w, "  refused %d events (%.0f %% of those sent)\n", refused.Load(), 100*float64(refused.Load())/float64(max(sent.Load(), 1)))
	verdict := "EQUAL"
	if stored != acked.Load() {
		verdict = "DIFFERENT"
	}
	fmt.Fprintf(w, "events acknowledged %d, stored %d: %s\n", acked.Load(), stored, verdict)
	if b.PID > 0 {
		fmt.Fprintf(w, "server peak RSS during overload %s", humanBytes(rss.Load()))
		if b.Ceiling != "" {
			fmt.Fprintf(w, " (ceiling %s)", b.Ceiling)
		}
		fmt.Fprintln(w)
	}
	qmu.Lock()
	slices.Sort(qtimes)
	if len(qtimes) > 0 {
		fmt.Fprintf(w, "queries during overload: %d, %d failed, %d cancelled at the memory ceiling, p50 %s, p99 %s, max %s\n", len(qtimes), qerrs, qcancelled,
			qtimes[len(qtimes)/2].Round(time.Millisecond), qtimes[len(qtimes)*99/100].Round(time.Millisecond), qtimes[len(qtimes)-1].Round(time.Millisecond))
	}
	if qfirst != nil {
		fmt.Fprintf(w, "  first query failure: %v\n", qfirst)
	}
	qmu.Unlock()
	if alertAfter >= 0 {
		fmt.Fprintf(w, "alert: paged %s after checkout started failing\n", alertAfter.Round(100*time.Millisecond))
	} else {
		fmt.Fprintln(w, "alert: NO page within 2 minutes of checkout failing")
	}
	if stored != acked.Load() || alertAfter < 0 || qerrs > 0 {
		return fmt.Errorf("the soak found a problem (see above)")
	}
	return nil
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
		if err == nil || !strings.Contains(err.Error(), "memory ceiling") {
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
