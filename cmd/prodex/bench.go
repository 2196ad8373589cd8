package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"
)

func benchCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "bench", Short: "Measure ingest (against a running server) and queries (on an embedded store)"}
	cmd.AddCommand(benchIngestCmd(), benchQueryCmd(), benchExplainCmd(), benchOTLPCmd(), benchSoakCmd())
	return cmd
}

func benchIngestCmd() *cobra.Command {
	var c client
	var events, batch, fields, workers, distinct, pid, slos int
	var ds string
	cmd := &cobra.Command{
		Use:   "ingest",
		Short: "Send synthetic wide events through /1/batch (gzip JSON) and report events/s (--server A,B spreads them over several nodes)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if c.key == "" {
				return fmt.Errorf("no API key: pass --key or set PRODEX_KEY")
			}
			// Several nodes (--server A,B): SLOs go to the first.
			nodes := strings.Split(c.server, ",")
			c.server = nodes[0]
			// SLOs on the dataset make each commit count their SLIs too.
			for i := 0; i < slos; i++ {
				name := fmt.Sprintf("bench-%02d", i)
				def := map[string]any{"name": name, "dataset": ds, "target": 99.9, "window": "30d", "sli": map[string]any{
					"eligible": fmt.Sprintf("service == %q", []string{"api", "web", "checkout", "search", "auth"}[i%5]),
					"good":     fmt.Sprintf("status_code < 500 && duration_ms < %d", 100+10*i),
				}}
				if err := c.do("PUT", "/api/v1/slos/"+name, def, nil); err != nil {
					return fmt.Errorf("define SLO %s: %w", name, err)
				}
			}
			bodies := make([][]byte, distinct)
			rng := rand.New(rand.NewPCG(1, 2))
			now := time.Now()
			for i := range bodies {
				bodies[i] = benchBatch(rng, now, i*batch, batch, fields)
			}
			var sent, rejected atomic.Int64
			var urls []string // one per node: requests take turns
			for _, srv := range nodes {
				urls = append(urls, strings.TrimRight(srv, "/")+"/1/batch/"+ds)
			}
			headers := map[string]string{"X-Honeycomb-Team": c.key, "Content-Type": "application/json", "Content-Encoding": "gzip"}
			el, retries, err := postAll(urls, headers, bodies, int64(events/batch), workers, func(body []byte) error {
				var st []struct{ Status int }
				json.Unmarshal(body, &st)
				for _, s := range st {
					if s.Status == 202 {
						sent.Add(1)
					} else {
						rejected.Add(1)
					}
				}
				return nil
			})
			if err != nil {
				return err
			}
			fmt.Printf("events %d acknowledged, %d rejected, %d retried batches (429) in %.2fs: %.0f events/s (batch %d, %d fields, gzip JSON, %d workers, %d node(s))\n",
				sent.Load(), rejected.Load(), retries, el.Seconds(), float64(sent.Load())/el.Seconds(), batch, fields, workers, len(urls))
			if pid > 0 {
				if hwm, err := peakRSS(pid); err == nil {
					fmt.Printf("server peak RSS %s\n", hwm)
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&events, "events", 1_000_000, "events to send")
	f.IntVar(&batch, "batch", 500, "events per request")
	f.IntVar(&fields, "fields", 20, "fields per event")
	f.IntVar(&workers, "workers", 8, "concurrent requests")
	f.IntVar(&distinct, "distinct", 200, "distinct request bodies generated up front (reused round-robin)")
	f.IntVar(&slos, "slos", 0, "SLOs to define on the dataset first (their SLIs are counted at every commit)")
	f.IntVar(&pid, "pid", 0, "server process id, to report its peak RSS")
	f.StringVar(&ds, "dataset", "bench", "dataset to write")
	addClientFlags(cmd, &c)
	return cmd
}

// postAll posts total requests, bodies round-robin, from workers at once,
// each answered after its commit: a 429 or 503 is retried after a pause,
// another non-200 stops the run. check reads each 200 answer's body. It
// returns the time taken and the retries.
func postAll(urls []string, headers map[string]string, bodies [][]byte, total int64, workers int, check func([]byte) error) (time.Duration, int64, error) {
	return postWhile(urls, headers, bodies, workers, func(i int64, _ time.Duration) bool { return i < total }, check)
}

// postAllFor is postAll for a duration rather than a number of requests.
func postAllFor(url string, headers map[string]string, bodies [][]byte, d time.Duration, workers int, check func([]byte) error) (time.Duration, int64, error) {
	return postWhile([]string{url}, headers, bodies, workers, func(_ int64, el time.Duration) bool { return el < d }, check)
}

// postWhile posts request i, to urls[i mod len(urls)], while more(i, time
// elapsed) holds.
func postWhile(urls []string, headers map[string]string, bodies [][]byte, workers int, more func(i int64, el time.Duration) bool, check func([]byte) error) (time.Duration, int64, error) {
	var next, retries atomic.Int64
	var firstErr atomic.Value
	hc := &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1) - 1; more(i, time.Since(start)) && firstErr.Load() == nil; i = next.Add(1) - 1 {
				for {
					req, _ := http.NewRequest("POST", urls[i%int64(len(urls))], bytes.NewReader(bodies[i%int64(len(bodies))]))
					for k, v := range headers {
						req.Header.Set(k, v)
					}
					resp, err := hc.Do(req)
					if err != nil {
						firstErr.CompareAndSwap(nil, err)
						return
					}
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode == 429 || resp.StatusCode == 503 {
						retries.Add(1)
						time.Sleep(20 * time.Millisecond)
						continue
					}
					if resp.StatusCode == 200 {
						err = check(body)
					} else {
						err = fmt.Errorf("status %s: %s", resp.Status, body)
					}
					if err != nil {
						firstErr.CompareAndSwap(nil, err)
						return
					}
					break
				}
			}
		}()
	}
	wg.Wait()
	if e := firstErr.Load(); e != nil {
		return 0, retries.Load(), e.(error)
	}
	return time.Since(start), retries.Load(), nil
}

// benchBatch builds one gzip'd JSON batch of wide events: a mix of string,
// integer, float and boolean fields like a service's request events.
func benchBatch(rng *rand.Rand, now time.Time, seq, n, fields int) []byte {
	services := []string{"api", "web", "checkout", "search", "auth"}
	var buf bytes.Buffer
	buf.WriteByte('[')
	for i := 0; i < n; i++ {
		if i > 0 {
			buf.WriteByte(',')
		}
		ev := map[string]any{
			"service":     services[rng.IntN(len(services))],
			"status_code": []int{200, 200, 200, 200, 201, 404, 500}[rng.IntN(7)],
			"duration_ms": rng.ExpFloat64() * 80,
			"seq":         seq + i,
		}
		for f := len(ev); f < fields; f++ {
			switch f % 4 {
			case 0:
				ev["attr_s"+strconv.Itoa(f)] = "value-" + strconv.Itoa(rng.IntN(100))
			case 1:
				ev["attr_i"+strconv.Itoa(f)] = rng.IntN(10000)
			case 2:
				ev["attr_f"+strconv.Itoa(f)] = rng.Float64() * 1000
			case 3:
				ev["attr_b"+strconv.Itoa(f)] = rng.IntN(2) == 0
			}
		}
		data, _ := json.Marshal(ev)
		fmt.Fprintf(&buf, `{"time":%q,"data":%s}`, now.Add(-time.Duration(rng.IntN(3600))*time.Second).Format(time.RFC3339Nano), data)
	}
	buf.WriteByte(']')
	return gzipped(buf.Bytes())
}

// gzipped compresses a request body as clients do before sending it.
func gzipped(body []byte) []byte {
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write(body)
	w.Close()
	return gz.Bytes()
}

// peakRSS reads a process's peak resident set size from /proc.
func peakRSS(pid int) (string, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			return strings.TrimSpace(strings.TrimPrefix(line, "VmHWM:")), nil
		}
	}
	return "", fmt.Errorf("no VmHWM")
}
