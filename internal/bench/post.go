// Package bench measures Prodex: ingest through the HTTP API and OTLP, and
// queries and explain on a store of its own (prodex bench); the soak drives
// a server past its capacity and checks that it holds.
package bench

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

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
