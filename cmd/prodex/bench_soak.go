package main

import (
	"bytes"
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

	"github.com/spf13/cobra"

	"github.com/prodex/prodex/internal/ingest"
)

// benchSoakCmd drives a running server beyond its capacity for a while and
// checks that it holds: nothing acknowledged is lost, memory stays under
// its ceiling, queries answer and an SLO that starts burning pages.
func benchSoakCmd() *cobra.Command {
	var c client
	var pid, batch, workers int
	var duration, measure, burnAfter, queryEvery time.Duration
	var overload float64
	var ds, ceiling string
	cmd := &cobra.Command{
		Use:   "soak",
		Short: "Drive ingest at a multiple of capacity while querying and burning an SLO; report acknowledged vs stored, peak RSS, alert latency",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if c.key == "" {
				return fmt.Errorf("no API key: pass --key or set PRODEX_KEY")
			}
			if !strings.HasPrefix(c.server, "http://127.0.0.1") && !strings.HasPrefix(c.server, "http://localhost") {
				return fmt.Errorf("--server %s: the soak only runs against a server on loopback", c.server)
			}
			rng := rand.New(rand.NewPCG(3, 4))
			calm, burning := make([][]byte, 16), make([][]byte, 16)
			for i := range calm {
				calm[i] = soakBatch(rng, batch, 0.0002)
				burning[i] = soakBatch(rng, batch, 0.3)
			}

			// The receiver the SLO pages.
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				return err
			}
			defer ln.Close()
			paged := make(chan time.Time, 1)
			go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var m struct{ Severity, State string }
				json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&m)
				if m.Severity == "page" && m.State == "firing" {
					select {
					case paged <- time.Now():
					default:
					}
				}
			}))
			slo := "soak-checkout"
			def := map[string]any{"name": slo, "dataset": ds, "target": 99.9, "window": "30d",
				"sli":    map[string]any{"eligible": `service == "checkout"`, "good": "status_code < 500"},
				"notify": []map[string]any{{"type": "webhook", "url": "http://" + ln.Addr().String() + "/hook"}}}
			if err := c.do("PUT", "/api/v1/slos/"+slo, def, nil); err != nil {
				return fmt.Errorf("define the SLO: %w", err)
			}
			defer c.do("DELETE", "/api/v1/slos/"+slo, nil, nil)

			url := strings.TrimRight(c.server, "/") + "/1/batch/" + ds
			headers := map[string]string{"X-Honeycomb-Team": c.key, "Content-Type": "application/json", "Content-Encoding": "gzip"}
			before, err := soakCount(&c, ds)
			if err != nil {
				return err
			}

			// 1. Capacity: as fast as the server takes it, retrying refusals.
			var acked atomic.Int64
			el, _, err := postAllFor(url, headers, calm, measure, workers, func(body []byte) error {
				acked.Add(accepted(body))
				return nil
			})
			if err != nil {
				return fmt.Errorf("measuring capacity: %w", err)
			}
			capacity := float64(acked.Load()) / el.Seconds()
			fmt.Printf("capacity: %.0f events/s over %s (%d workers, batches of %d)\n", capacity, el.Round(time.Second), workers, batch)

			// 2. Overload: an open loop at overload × capacity, whatever the
			// answers; refusals are counted, not retried.
			rate := overload * capacity / float64(batch) // requests per second
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
						if n, err := ingest.ResidentOf(pid); err == nil && n > rss.Load() {
							rss.Store(n)
						}
					}
				}
			}()
			var qmu sync.Mutex
			var qtimes []time.Duration
			var qerrs, qcancelled int
			var qfirst error
			if queryEvery > 0 {
				go func() { // someone debugging meanwhile
					spec := map[string]any{"calculations": []map[string]any{{"op": "COUNT"}, {"op": "P99", "column": "duration_ms"}},
						"breakdowns": []string{"service"}, "time_range": 600}
					for {
						select {
						case <-stop:
							return
						case <-time.After(queryEvery):
						}
						began := time.Now()
						err := c.do("POST", "/api/v1/query/"+ds, spec, nil)
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
			for i := 0; time.Since(began) < duration; i++ {
				bodies := calm
				if time.Since(began) >= burnAfter {
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
					sent.Add(int64(batch))
					resp, err := hc.Do(req)
					if err != nil {
						failed.Add(1)
						return
					}
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					n, _ := codes.LoadOrStore(resp.StatusCode, new(atomic.Int64))
					n.(*atomic.Int64).Add(1)
					if resp.StatusCode == 200 {
						acked.Add(accepted(b))
					} else {
						refused.Add(int64(batch))
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

			after, err := soakCount(&c, ds)
			if err != nil {
				return err
			}
			stored := after - before
			fmt.Printf("overload: offered %.0f events/s (%.1f× capacity) for %s\n", float64(sent.Load())/overloadTime.Seconds(), overload, overloadTime.Round(time.Second))
			var cs []string
			codes.Range(func(k, v any) bool {
				cs = append(cs, fmt.Sprintf("%d×%d", v.(*atomic.Int64).Load(), k.(int)))
				return true
			})
			slices.Sort(cs)
			fmt.Printf("  answers: %s; %d connection failures; %d requests not sent (512 in flight)\n", strings.Join(cs, " "), failed.Load(), saturated.Load())
			fmt.Printf("  refused %d events (%.0f %% of those sent)\n", refused.Load(), 100*float64(refused.Load())/float64(max(sent.Load(), 1)))
			verdict := "EQUAL"
			if stored != acked.Load() {
				verdict = "DIFFERENT"
			}
			fmt.Printf("events acknowledged %d, stored %d: %s\n", acked.Load(), stored, verdict)
			if pid > 0 {
				fmt.Printf("server peak RSS during overload %s", humanBytes(rss.Load()))
				if ceiling != "" {
					fmt.Printf(" (ceiling %s)", ceiling)
				}
				fmt.Println()
			}
			qmu.Lock()
			slices.Sort(qtimes)
			if len(qtimes) > 0 {
				fmt.Printf("queries during overload: %d, %d failed, %d cancelled at the memory ceiling, p50 %s, p99 %s, max %s\n", len(qtimes), qerrs, qcancelled,
					qtimes[len(qtimes)/2].Round(time.Millisecond), qtimes[len(qtimes)*99/100].Round(time.Millisecond), qtimes[len(qtimes)-1].Round(time.Millisecond))
			}
			if qfirst != nil {
				fmt.Printf("  first query failure: %v\n", qfirst)
			}
			qmu.Unlock()
			if alertAfter >= 0 {
				fmt.Printf("alert: paged %s after checkout started failing\n", alertAfter.Round(100*time.Millisecond))
			} else {
				fmt.Println("alert: NO page within 2 minutes of checkout failing")
			}
			if stored != acked.Load() || alertAfter < 0 || qerrs > 0 {
				return fmt.Errorf("the soak found a problem (see above)")
			}
			return nil
		},
	}
	addClientFlags(cmd, &c)
	f := cmd.Flags()
	f.StringVar(&ds, "dataset", "soak", "dataset to write")
	f.IntVar(&pid, "pid", 0, "server process id, to sample its resident memory")
	f.StringVar(&ceiling, "ceiling", "", "the server's --memory-ceiling, for the report")
	f.IntVar(&batch, "batch", 500, "events per request")
	f.IntVar(&workers, "workers", 8, "concurrent requests while measuring capacity")
	f.DurationVar(&measure, "measure", 15*time.Second, "how long to measure capacity")
	f.DurationVar(&duration, "duration", 2*time.Minute, "how long to overload")
	f.DurationVar(&burnAfter, "burn-after", 30*time.Second, "when in the overload checkout starts failing")
	f.DurationVar(&queryEvery, "query-every", time.Second, "pause between two queries during the overload (0: no queries)")
	f.Float64Var(&overload, "overload", 2, "offered load as a multiple of the measured capacity")
	return cmd
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
	var st []struct{ Status int }
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
func soakCount(c *client, ds string) (int64, error) {
	var res queryResult
	var err error
	for try := 0; try < 12; try++ {
		err = c.do("POST", "/api/v1/query/"+ds, map[string]any{"calculations": []map[string]any{{"op": "COUNT"}}, "time_range": 86400}, &res)
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
	if len(res.Results) == 0 {
		return 0, nil
	}
	n, _ := res.Results[0].Data["COUNT"].(float64)
	return int64(n), nil
}

func humanBytes(n int64) string { return fmt.Sprintf("%.0f MB", float64(n)/1e6) }
