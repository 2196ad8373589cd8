package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	pxserver "github.com/prodex/prodex/internal/server"
)

func serveCmd() *cobra.Command {
	cfg := pxserver.Defaults()
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the Prodex server (on the embedded store, or as one of several nodes on ClickHouse and PostgreSQL)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg.CommitIntervalSet = cmd.Flags().Changed("commit-interval")
			cfg.Stderr = os.Stderr
			// Once the listeners stopped, a second signal ends a close
			// that hangs.
			var stopSignals context.CancelFunc
			cfg.OnDrained = func() { stopSignals() }
			srv, err := pxserver.New(cfg)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			stopSignals = stop
			return srv.Run(ctx)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Data, "data", cfg.Data, "data directory of the embedded store")
	f.StringVar(&cfg.Listen, "listen", cfg.Listen, "address to listen on")
	f.IntVar(&cfg.MaxColumns, "max-columns", cfg.MaxColumns, "most columns one dataset may have")
	f.DurationVar(&cfg.Retention, "retention", cfg.Retention, "default retention of new datasets")
	f.DurationVar(&cfg.HistoryRetention, "history-retention", cfg.HistoryRetention, "how long query runs stay in the history (saved queries stay)")
	f.DurationVar(&cfg.QueryTimeout, "query-timeout", cfg.QueryTimeout, "longest a query may run")
	f.Int64Var(&cfg.MaxQueued, "max-queued", cfg.MaxQueued, "events that may wait for a commit before ingest answers 429")
	f.StringVar(&cfg.ExternalURL, "external-url", cfg.ExternalURL, "URL people reach this server at, for links in notifications (default http://LISTEN)")
	f.DurationVar(&cfg.EvalInterval, "eval-interval", cfg.EvalInterval, "how often SLO alert rules are evaluated")
	f.StringVar(&cfg.DebugListen, "debug-listen", cfg.DebugListen, "address for Go's /debug/pprof profiles (off when empty; keep it on loopback)")
	f.StringVar(&cfg.OTLPHTTP, "otlp-http", cfg.OTLPHTTP, "address for OTLP/HTTP (/v1/traces, /v1/logs; also served on --listen); empty: off")
	f.StringVar(&cfg.OTLPGRPC, "otlp-grpc", cfg.OTLPGRPC, "address for OTLP/gRPC; empty: off")
	f.StringVar(&cfg.OTLPDataset, "otlp-dataset", cfg.OTLPDataset, "dataset for all OTLP spans and logs (default: one per service.name)")
	f.StringVar(&cfg.KeyHeader, "key-header", cfg.KeyHeader, "another header (gRPC metadata) an API key may come in, besides X-Honeycomb-Team and Authorization: Bearer")
	f.IntVar(&cfg.Threads, "threads", cfg.Threads, "DuckDB worker threads (0 = one per core)")
	f.StringVar(&cfg.CheckpointThreshold, "checkpoint-threshold", cfg.CheckpointThreshold, "WAL size at which DuckDB checkpoints: larger ingests faster, smaller replays faster after a crash")
	f.StringVar(&cfg.MemoryLimit, "memory-limit", cfg.MemoryLimit, "DuckDB memory limit per environment, e.g. 4GB (default: 40% of --memory-ceiling, else DuckDB's 80% of RAM)")
	f.StringVar(&cfg.MemoryCeiling, "memory-ceiling", cfg.MemoryCeiling, "resident memory to stay under, e.g. 8GB: from 70% of it heavy queries wait to start, from 85% one query is cancelled every 2s (the longest-running heavy one first), and from 90% ingest is refused (503) (default: none)")
	f.StringVar(&cfg.MinFreeDisk, "min-free-disk", cfg.MinFreeDisk, "free space the data disk must keep: below it ingest is refused (507) until space is freed; 0: off")
	f.Int64Var(&cfg.MaxInFlight, "max-inflight", cfg.MaxInFlight, "ingest requests read and decoded at once before more get 429")
	f.Int64Var(&cfg.MaxInFlightPerEnv, "max-inflight-per-env", cfg.MaxInFlightPerEnv, "ingest requests of one environment read and decoded at once before more get 429 (default: three quarters of --max-inflight)")
	f.Int64Var(&cfg.MaxInFlightPerKey, "max-inflight-per-key", cfg.MaxInFlightPerKey, "ingest requests of one API key read and decoded at once before more get 429 (default: half of --max-inflight)")
	f.StringVar(&cfg.DecodeMemory, "decode-memory", cfg.DecodeMemory, "memory the ingest requests being decoded may hold together, counted as it grows: more gets 503 (default: a quarter of --memory-ceiling, else 1GiB)")
	f.IntVar(&cfg.MaxRequestEvents, "max-request-events", cfg.MaxRequestEvents, "events one ingest request may carry (batch elements; OTLP spans, span events, links, log records): more gets 413")
	f.StringVar(&cfg.MaxRequestBytes, "max-request-bytes", cfg.MaxRequestBytes, "size of one ingest request body after decompression: more gets 413")
	f.DurationVar(&cfg.BodyTimeout, "body-timeout", cfg.BodyTimeout, "longest an ingest body (an OTLP/gRPC message) may take to arrive: later gets 408")
	f.StringVar(&cfg.MinBodyRate, "min-body-rate", cfg.MinBodyRate, "bytes a second an ingest body must keep on average after its first 5s: slower gets 408")
	f.StringVar(&cfg.Store, "store", cfg.Store, "event store shared by several nodes: clickhouse://HOST:9000/DATABASE[?cluster=NAME] (with --meta; default: the embedded store in --data)")
	f.StringVar(&cfg.Meta, "meta", cfg.Meta, "metadata store shared by several nodes: postgres://USER@HOST:5432/DATABASE (with --store)")
	f.DurationVar(&cfg.SessionIdle, "session-idle", cfg.SessionIdle, "a web UI session unused this long ends (sign in again)")
	f.DurationVar(&cfg.SessionLifetime, "session-lifetime", cfg.SessionLifetime, "a web UI session ends this long after sign-in, however much it is used")
	f.DurationVar(&cfg.CommitInterval, "commit-interval", cfg.CommitInterval, "least time between two ingest commits: requests meanwhile share one (default 0 on the embedded store, 200ms on ClickHouse)")
	return cmd
}
