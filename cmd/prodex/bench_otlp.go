package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/prodex/prodex/internal/otlp"
)

func benchOTLPCmd() *cobra.Command {
	var key, url string
	var spans, batch, workers, distinct, pid int
	var compress bool
	cmd := &cobra.Command{
		Use:   "otlp",
		Short: "Send synthetic traces over OTLP/HTTP protobuf and report spans/s",
		Long: `Sends requests of spans (5 services, 10-span traces, 12 attributes per
span: http, db and user fields of the kinds an instrumented service emits)
to a running server's OTLP/HTTP endpoint, each answered after its commit.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if key == "" {
				return fmt.Errorf("no API key: pass --key or set PRODEX_KEY")
			}
			bodies := make([][]byte, distinct)
			rng := rand.New(rand.NewPCG(3, 4))
			for i := range bodies {
				b, err := benchTraces(rng, time.Now(), batch, compress)
				if err != nil {
					return err
				}
				bodies[i] = b
			}
			var sent atomic.Int64
			headers := map[string]string{"X-Honeycomb-Team": key, "Content-Type": "application/x-protobuf"}
			if compress {
				headers["Content-Encoding"] = "gzip"
			}
			el, retries, err := postAll([]string{url + "/v1/traces"}, headers, bodies, int64(spans/batch), workers, func(body []byte) error {
				r := ptraceotlp.NewExportResponse()
				if err := r.UnmarshalProto(body); err != nil || r.PartialSuccess().RejectedSpans() > 0 {
					return fmt.Errorf("rejected spans: %v %s", err, r.PartialSuccess().ErrorMessage())
				}
				sent.Add(int64(batch))
				return nil
			})
			if err != nil {
				return err
			}
			enc := "protobuf"
			if compress {
				enc = "gzip protobuf"
			}
			fmt.Printf("spans %d acknowledged, %d retried requests (429) in %.2fs: %.0f spans/s (%d per request, %s, %d workers)\n",
				sent.Load(), retries, el.Seconds(), float64(sent.Load())/el.Seconds(), batch, enc, workers)
			if pid > 0 {
				if hwm, err := peakRSS(pid); err == nil {
					fmt.Printf("server peak RSS %s\n", hwm)
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&url, "url", "http://127.0.0.1:4318", "OTLP/HTTP base URL")
	f.StringVar(&key, "key", os.Getenv("PRODEX_KEY"), "API key (env PRODEX_KEY)")
	f.IntVar(&spans, "spans", 1_000_000, "spans to send")
	f.IntVar(&batch, "batch", 500, "spans per request")
	f.IntVar(&workers, "workers", 16, "concurrent requests")
	f.IntVar(&distinct, "distinct", 100, "distinct request bodies generated up front (reused round-robin)")
	f.BoolVar(&compress, "gzip", true, "gzip the requests, as OTLP exporters usually do")
	f.IntVar(&pid, "pid", 0, "server process id, to report its peak RSS")
	return cmd
}

// benchTraces builds one export request of n spans.
func benchTraces(rng *rand.Rand, now time.Time, n int, compress bool) ([]byte, error) {
	body, err := ptraceotlp.NewExportRequestFromTraces(otlp.SyntheticTraces(rng, now, n)).MarshalProto()
	if err != nil || !compress {
		return body, err
	}
	return gzipped(body), nil
}
