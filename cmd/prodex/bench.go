package main

import (
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/prodex/prodex/internal/bench"
	pxserver "github.com/prodex/prodex/internal/server"
	"github.com/prodex/prodex/internal/store/duckdb"
)

func benchCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "bench", Short: "Measure ingest (against a running server) and queries (on an embedded store)"}
	cmd.AddCommand(benchIngestCmd(), benchQueryCmd(), benchExplainCmd(), benchOTLPCmd(), benchSoakCmd())
	return cmd
}

func benchIngestCmd() *cobra.Command {
	var c client
	var b bench.Ingest
	cmd := &cobra.Command{
		Use:   "ingest",
		Short: "Send synthetic wide events through /1/batch (gzip JSON) and report events/s (--server A,B spreads them over several nodes)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			b.Client = c.Client
			return b.Run(cmd.Context(), os.Stdout)
		},
	}
	f := cmd.Flags()
	f.IntVar(&b.Events, "events", 1_000_000, "events to send")
	f.IntVar(&b.Batch, "batch", 500, "events per request")
	f.IntVar(&b.Fields, "fields", 20, "fields per event")
	f.IntVar(&b.Workers, "workers", 8, "concurrent requests")
	f.IntVar(&b.Distinct, "distinct", 200, "distinct request bodies generated up front (reused round-robin)")
	f.IntVar(&b.SLOs, "slos", 0, "SLOs to define on the dataset first (their SLIs are counted at every commit)")
	f.IntVar(&b.PID, "pid", 0, "server process id, to report its peak RSS")
	f.StringVar(&b.Dataset, "dataset", "bench", "dataset to write")
	addClientFlags(cmd, &c)
	return cmd
}

func benchOTLPCmd() *cobra.Command {
	var b bench.OTLP
	cmd := &cobra.Command{
		Use:   "otlp",
		Short: "Send synthetic traces over OTLP/HTTP protobuf and report spans/s",
		Long: `Sends requests of spans (5 services, 10-span traces, 12 attributes per
span: http, db and user fields of the kinds an instrumented service emits)
to a running server's OTLP/HTTP endpoint, each answered after its commit.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return b.Run(cmd.Context(), os.Stdout) },
	}
	f := cmd.Flags()
	f.StringVar(&b.URL, "url", "http://127.0.0.1:4318", "OTLP/HTTP base URL")
	keyFlag(cmd, &b.Key)
	f.IntVar(&b.Spans, "spans", 1_000_000, "spans to send")
	f.IntVar(&b.Batch, "batch", 500, "spans per request")
	f.IntVar(&b.Workers, "workers", 16, "concurrent requests")
	f.IntVar(&b.Distinct, "distinct", 100, "distinct request bodies generated up front (reused round-robin)")
	f.BoolVar(&b.Gzip, "gzip", true, "gzip the requests, as OTLP exporters usually do")
	f.IntVar(&b.PID, "pid", 0, "server process id, to report its peak RSS")
	return cmd
}

// benchStoreFlags adds --data and --store, the store the query and explain
// benchmarks load and keep.
func benchStoreFlags(cmd *cobra.Command, st *bench.Store, dir, usage string) {
	st.Open = func(dir string) (*duckdb.Store, error) { return pxserver.OpenStore(dir, duckdb.Options{}) }
	st.Progress = os.Stderr
	cmd.Flags().StringVar(&st.URL, "store", "", "run on ClickHouse instead: clickhouse://HOST:PORT/DATABASE[?cluster=NAME] (data kept for reruns)")
	cmd.Flags().StringVar(&st.Dir, "data", dir, usage)
}

func benchQueryCmd() *cobra.Command {
	var b bench.Query
	cmd := &cobra.Command{
		Use:   "query",
		Short: "Time COUNT + P99 by service by minute over N stored events, against hand-written SQL on the same engine",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, args []string) error { return b.Run(cmd.Context(), os.Stdout) },
	}
	benchStoreFlags(cmd, &b.Store, "bench-data", "data directory of the embedded store to load and query (reused between runs)")
	f := cmd.Flags()
	f.IntVar(&b.Events, "events", 100_000_000, "events to store")
	f.DurationVar(&b.Span, "span", 16*time.Hour, "time the events are spread over")
	f.IntVar(&b.Runs, "runs", 3, "timed runs of each query (the median is reported)")
	return cmd
}

func benchExplainCmd() *cobra.Command {
	var b bench.Explain
	cmd := &cobra.Command{
		Use:   "explain",
		Short: "Time explain over N stored events of 50 columns, selecting ~2 % (errors)",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, args []string) error { return b.Run(cmd.Context(), os.Stdout) },
	}
	benchStoreFlags(cmd, &b.Store, "bench-explain-data", "data directory of the embedded store (reused between runs)")
	cmd.Flags().IntVar(&b.Events, "events", 10_000_000, "events to store")
	cmd.Flags().IntVar(&b.Runs, "runs", 3, "timed runs")
	return cmd
}

func benchSoakCmd() *cobra.Command {
	var c client
	var b bench.Soak
	cmd := &cobra.Command{
		Use:   "soak",
		Short: "Drive ingest at a multiple of capacity while querying and burning an SLO, optionally under attack; report acknowledged vs stored, peak RSS, queries answered, alert latency",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			b.Client = c.Client
			return b.Run(cmd.Context(), os.Stdout)
		},
	}
	addClientFlags(cmd, &c)
	f := cmd.Flags()
	f.StringVar(&b.Dataset, "dataset", "soak", "dataset to write")
	f.IntVar(&b.PID, "pid", 0, "server process id, to sample its resident memory")
	f.StringVar(&b.Ceiling, "ceiling", "", "the server's --memory-ceiling, for the report")
	f.IntVar(&b.Batch, "batch", 500, "events per request")
	f.IntVar(&b.Workers, "workers", 8, "concurrent requests while measuring capacity")
	f.DurationVar(&b.Measure, "measure", 15*time.Second, "how long to measure capacity")
	f.DurationVar(&b.Duration, "duration", 2*time.Minute, "how long to overload")
	f.DurationVar(&b.BurnAfter, "burn-after", 30*time.Second, "when in the overload checkout starts failing")
	f.DurationVar(&b.QueryEvery, "query-every", time.Second, "pause between two queries during the overload (0: no queries)")
	f.Float64Var(&b.Overload, "overload", 2, "offered load as a multiple of the measured capacity")
	f.IntVar(&b.Attack.WideColumns, "wide-columns", 0, "attacker: send events of this many new integer fields each, one after another, to DATASET-wide (0: off)")
	f.DurationVar(&b.Attack.WideEvery, "wide-every", time.Second, "pause between two wide events")
	f.IntVar(&b.Attack.SlowBodies, "slow-bodies", 0, "attacker: hold this many connections sending a 100 MB body a byte at a time to DATASET-slow (0: off)")
	f.DurationVar(&b.Attack.SlowByteEvery, "slow-byte-every", 5*time.Second, "pause between two bytes of a slow body")
	f.BoolVar(&b.Attack.HeavyQuery, "heavy-query", false, "attacker: run a wide GROUP BY (P99 and P999 by user_id and host over a day) and explain back to back")
	f.BoolVar(&b.Baseline, "baseline", true, "with an attacker on, first run the same overload without attackers and compare")
	return cmd
}
