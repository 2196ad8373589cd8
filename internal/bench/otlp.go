package bench

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/prodex/prodex/internal/client"
	"github.com/prodex/prodex/internal/otlp"
)

// OTLP sends synthetic traces over OTLP/HTTP protobuf and reports the spans
// acknowledged per second: requests of spans (5 services, 10-span traces,
// 12 attributes per span: http, db and user fields of the kinds an
// instrumented service emits), each answered after its commit.
type OTLP struct {
	URL      string // OTLP/HTTP base URL
	Key      string
	Spans    int  // to send
	Batch    int  // spans per request
	Workers  int  // concurrent requests
	Distinct int  // request bodies made up front, reused round-robin
	Gzip     bool // compress the requests, as exporters usually do
	PID      int  // of the server, to report its peak RSS (0: not reported)
}

// Run sends the spans and writes the report to w.
func (b OTLP) Run(ctx context.Context, w io.Writer) error {
	if b.Key == "" {
		return client.ErrNoKey
	}
	bodies := make([][]byte, b.Distinct)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range bodies {
		body, err := benchTraces(rng, time.Now(), b.Batch, b.Gzip)
		if err != nil {
			return err
		}
		bodies[i] = body
	}
	var sent atomic.Int64
	headers := map[string]string{"X-Honeycomb-Team": b.Key, "Content-Type": "application/x-protobuf"}
	if b.Gzip {
		headers["Content-Encoding"] = "gzip"
	}
	el, retries, err := postAll([]string{b.URL + "/v1/traces"}, headers, bodies, int64(b.Spans/b.Batch), b.Workers, func(body []byte) error {
		r := ptraceotlp.NewExportResponse()
		if err := r.UnmarshalProto(body); err != nil || r.PartialSuccess().RejectedSpans() > 0 {
			return fmt.Errorf("rejected spans: %v %s", err, r.PartialSuccess().ErrorMessage())
		}
		sent.Add(int64(b.Batch))
		return nil
	})
	if err != nil {
		return err
	}
	enc := "protobuf"
	if b.Gzip {
		enc = "gzip protobuf"
	}
	fmt.Fprintf(w, "spans %d acknowledged, %d retried requests (429) in %.2fs: %.0f spans/s (%d per request, %s, %d workers)\n",
		sent.Load(), retries, el.Seconds(), float64(sent.Load())/el.Seconds(), b.Batch, enc, b.Workers)
	if b.PID > 0 {
		if hwm, err := peakRSS(b.PID); err == nil {
			fmt.Fprintf(w, "server peak RSS %s\n", hwm)
		}
	}
	return nil
}

// benchTraces builds one export request of n spans.
func benchTraces(rng *rand.Rand, now time.Time, n int, compress bool) ([]byte, error) {
	body, err := ptraceotlp.NewExportRequestFromTraces(otlp.SyntheticTraces(rng, now, n)).MarshalProto()
	if err != nil || !compress {
		return body, err
	}
	return gzipped(body), nil
}
