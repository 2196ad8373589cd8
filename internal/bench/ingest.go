package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prodex/prodex/internal/api"
	"github.com/prodex/prodex/internal/client"
	"github.com/prodex/prodex/internal/slo"
)

// Ingest sends synthetic wide events through /1/batch, gzip'd JSON, from
// several workers, and reports the events acknowledged per second.
type Ingest struct {
	// Client's Server may name several nodes, comma-separated: requests
	// take turns among them, and the SLOs go to the first.
	Client   client.Client
	Dataset  string
	Events   int // to send
	Batch    int // events per request
	Fields   int // per event
	Workers  int // concurrent requests
	Distinct int // request bodies made up front, reused round-robin
	SLOs     int // defined on the dataset first, so that each commit counts their SLIs
	PID      int // of the server, to report its peak RSS (0: not reported)
}

// Run sends the events and writes the report to w.
func (b Ingest) Run(ctx context.Context, w io.Writer) error {
	if b.Client.Key == "" {
		return client.ErrNoKey
	}
	nodes := strings.Split(b.Client.Server, ",")
	c := b.Client
	c.Server = nodes[0]
	for i := 0; i < b.SLOs; i++ {
		name := fmt.Sprintf("bench-%02d", i)
		def := slo.SLO{Name: name, Dataset: b.Dataset, Target: 99.9, Window: slo.Window{Days: 30}, SLI: slo.SLI{
			Eligible: fmt.Sprintf("service == %q", []string{"api", "web", "checkout", "search", "auth"}[i%5]),
			Good:     fmt.Sprintf("status_code < 500 && duration_ms < %d", 100+10*i),
		}}
		if _, err := c.PutSLO(ctx, def); err != nil {
			return fmt.Errorf("define SLO %s: %w", name, err)
		}
	}
	bodies := make([][]byte, b.Distinct)
	rng := rand.New(rand.NewPCG(1, 2))
	now := time.Now()
	for i := range bodies {
		bodies[i] = benchBatch(rng, now, i*b.Batch, b.Batch, b.Fields)
	}
	var sent, rejected atomic.Int64
	var urls []string // one per node: requests take turns
	for _, srv := range nodes {
		urls = append(urls, strings.TrimRight(srv, "/")+"/1/batch/"+b.Dataset)
	}
	headers := map[string]string{"X-Honeycomb-Team": b.Client.Key, "Content-Type": "application/json", "Content-Encoding": "gzip"}
	el, retries, err := postAll(urls, headers, bodies, int64(b.Events/b.Batch), b.Workers, func(body []byte) error {
		var st []api.BatchStatus
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
	fmt.Fprintf(w, "events %d acknowledged, %d rejected, %d retried batches (429) in %.2fs: %.0f events/s (batch %d, %d fields, gzip JSON, %d workers, %d node(s))\n",
		sent.Load(), rejected.Load(), retries, el.Seconds(), float64(sent.Load())/el.Seconds(), b.Batch, b.Fields, b.Workers, len(urls))
	if b.PID > 0 {
		if hwm, err := peakRSS(b.PID); err == nil {
			fmt.Fprintf(w, "server peak RSS %s\n", hwm)
		}
	}
	return nil
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
