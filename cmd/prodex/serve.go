package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"

	"github.com/prodex/prodex/internal/auth"
	"github.com/prodex/prodex/internal/event"
	"github.com/prodex/prodex/internal/ingest"
	"github.com/prodex/prodex/internal/metrics"
	"github.com/prodex/prodex/internal/notify"
	"github.com/prodex/prodex/internal/otlp"
	"github.com/prodex/prodex/internal/query"
	"github.com/prodex/prodex/internal/store/duckdb"
)

func serveCmd() *cobra.Command {
	var (
		dataDir, listen, memLimit string
		checkpointAt              string
		debugListen, externalURL  string
		otlpHTTP, otlpGRPC        string
		otlpDataset, keyHeader    string
		evalEvery                 time.Duration
		maxColumns, threads       int
		retention, queryTimeout   time.Duration
		maxQueued                 int64
		historyRetention          time.Duration
		memCeiling, minFreeDisk   string
		maxInFlight               int64
		storeURL, metaURL         string
		commitEvery               time.Duration
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the Prodex server (on the embedded store, or as one of several nodes on ClickHouse and PostgreSQL)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
			if os.Getenv("GOGC") == "" {
				// Ingest allocates short-lived decoded events at a high
				// rate; collecting less often buys ~20 % throughput for
				// a heap that the bounded ingest queue keeps small.
				debug.SetGCPercent(300)
			}
			var dbShare int64 // DuckDB's part of the memory ceiling, shared by the environments
			scfg, shared, err := openShared(context.Background(), storeURL, metaURL, maxColumns, retention)
			if err != nil {
				return err
			}
			if shared.events != nil {
				// This node keeps no data: no data disk to watch.
				minFreeDisk = "0"
				if !cmd.Flags().Changed("commit-interval") {
					commitEvery = 200 * time.Millisecond
				}
			}
			guardOpts, err := guardOptions(dataDir, memCeiling, minFreeDisk, maxInFlight)
			if err != nil {
				if shared.events != nil {
					shared.close()
				}
				return err
			}
			// envs is set once the environments are open; the guard and the
			// stores reach them through it.
			var envs *environments
			guardOpts.OnDisk = func(low bool) {
				if envs != nil {
					envs.holdCheckpoints(low)
				}
			}
			ingest.TuneCHeap()
			if c := guardOpts.MemoryCeiling; c > 0 {
				// Split the ceiling: the Go heap and DuckDB's buffers each
				// get 40 %, and the guard sheds ingest at 85 % of it.
				debug.SetMemoryLimit(c * 4 / 10)
				if memLimit == "" {
					// Split between the environments as they start.
					dbShare = c * 4 / 10
					memLimit = fmt.Sprintf("%dMB", dbShare/1e6)
				}
			}
			opts := duckdb.Options{MaxColumns: maxColumns, Retention: retention, Threads: threads, MemoryLimit: memLimit, CheckpointThreshold: checkpointAt,
				OnDiskFailure: func(err error) {
					// See duckdb.HoldCheckpoints: this process must not
					// write again. Everything acknowledged is in the WAL,
					// which the next start replays.
					log.Error("a write failed for lack of disk space; exiting so that the next start recovers every acknowledged event from the write-ahead log. Free space on the data disk, then start again",
						"data", dataDir, "err", err)
					os.Exit(exitDiskFailure)
				}}
			st := shared
			if st.events == nil {
				var err error
				if st, err = openEmbedded(dataDir, opts); err != nil {
					return err
				}
			}
			keys, err := auth.NewKeyring(context.Background(), st.meta)
			if err != nil {
				st.close()
				return err
			}
			if len(keys.List()) == 0 {
				secret, _, err := keys.Create(context.Background(), auth.Admin, "bootstrap")
				if err != nil {
					st.close()
					return err
				}
				fmt.Fprintf(os.Stderr, "No API keys existed, so an admin key was created. Keep it safe:\n%s\n", secret)
			}
			notifier := notify.New(notify.Options{Log: log, Own: nonEmpty(listen, otlpHTTP)})
			running := &query.Running{}
			guardOpts.OnMemoryHigh = func() {
				if running.CancelOldest() {
					log.Warn("cancelled the oldest query to stay under the memory ceiling", "ceiling", memCeiling, "queries_left", running.Len())
				}
			}
			guard := ingest.NewGuard(guardOpts)
			if externalURL == "" {
				externalURL = "http://" + listen
			}
			if otlpDataset != "" {
				if otlpDataset, err = event.NormalizeDataset(otlpDataset); err != nil {
					st.close()
					return fmt.Errorf("--otlp-dataset: %w", err)
				}
			}
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			go guard.Run(ctx)
			reg := metrics.New(func() []metrics.Env { return envs.metricsEnvs() }, guard, notifier)
			reg.WatchQueries(running)
			envs, err = openEnvironments(ctx, envConfig{dataDir: dataDir, storeOpts: opts, keys: keys, notifier: notifier, log: log, link: externalURL,
				maxQueued: maxQueued, queryTimeout: queryTimeout, historyRetention: historyRetention, otlpDataset: otlpDataset, keyHeader: keyHeader, evalEvery: evalEvery,
				guard: guard, running: running, dbShare: dbShare, metrics: reg, node: nodeID(listen), commitEvery: commitEvery, shared: scfg}, st)
			if err != nil {
				st.close()
				return err
			}
			var lns []net.Listener
			listenAll := func(addrs ...string) error {
				for _, a := range addrs {
					if a == "" {
						lns = append(lns, nil)
						continue
					}
					ln, err := net.Listen("tcp", a)
					if err != nil {
						for _, l := range lns {
							if l != nil {
								l.Close()
							}
						}
						return err
					}
					lns = append(lns, ln)
				}
				return nil
			}
			if err := listenAll(listen, otlpHTTP, otlpGRPC); err != nil {
				envs.Close(context.Background())
				return err
			}
			ln, otlpHTTPLn, otlpGRPCLn := lns[0], lns[1], lns[2]
			hs := &http.Server{Handler: reg.Instrument(envs), ReadHeaderTimeout: 10 * time.Second}
			ohs := &http.Server{Handler: reg.Instrument(envs.OTLP()), ReadHeaderTimeout: 10 * time.Second}
			gs := otlp.NewGRPCServer(envs.Resolve, envs.all[""].srv.KeyHeaders(), int(event.DefaultLimits().MaxBodyBytes))
			if debugListen != "" {
				go serveDebug(debugListen, log)
			}
			errc := make(chan error, 3)
			go func() { errc <- hs.Serve(ln) }()
			if otlpHTTPLn != nil {
				go func() { errc <- ohs.Serve(otlpHTTPLn) }()
				log.Info("OTLP/HTTP serving", "addr", otlpHTTPLn.Addr().String())
			}
			if otlpGRPCLn != nil {
				go func() { errc <- gs.Serve(otlpGRPCLn) }()
				log.Info("OTLP/gRPC serving", "addr", otlpGRPCLn.Addr().String())
			}
			if st.shared() {
				log.Info("prodex serving", "addr", ln.Addr().String(), "store", storeURL, "node", nodeID(listen))
			} else {
				log.Info("prodex serving", "addr", ln.Addr().String(), "data", dataDir, "environments", len(envs.List())+1)
			}
			select {
			case err := <-errc:
				if !errors.Is(err, http.ErrServerClosed) {
					log.Error("server failed", "err", err)
				}
			case <-ctx.Done():
				log.Info("shutting down: finishing requests and flushing accepted events")
			}
			sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			hs.Shutdown(sctx)
			ohs.Shutdown(sctx)
			if otlpGRPCLn != nil {
				gs.GracefulStop()
			}
			stop()
			err = envs.Close(sctx) // closes the notifier too
			if err != nil {
				return err
			}
			log.Info("stopped")
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&dataDir, "data", "data", "data directory of the embedded store")
	f.StringVar(&listen, "listen", "127.0.0.1:8080", "address to listen on")
	f.IntVar(&maxColumns, "max-columns", 10000, "most columns one dataset may have")
	f.DurationVar(&retention, "retention", 60*24*time.Hour, "default retention of new datasets")
	f.DurationVar(&historyRetention, "history-retention", 90*24*time.Hour, "how long query runs stay in the history (saved queries stay)")
	f.DurationVar(&queryTimeout, "query-timeout", 60*time.Second, "longest a query may run")
	f.Int64Var(&maxQueued, "max-queued", 200000, "events that may wait for a commit before ingest answers 429")
	f.StringVar(&externalURL, "external-url", "", "URL people reach this server at, for links in notifications (default http://LISTEN)")
	f.DurationVar(&evalEvery, "eval-interval", time.Second, "how often SLO alert rules are evaluated")
	f.StringVar(&debugListen, "debug-listen", "", "address for Go's /debug/pprof profiles (off when empty; keep it on loopback)")
	f.StringVar(&otlpHTTP, "otlp-http", "127.0.0.1:4318", "address for OTLP/HTTP (/v1/traces, /v1/logs; also served on --listen); empty: off")
	f.StringVar(&otlpGRPC, "otlp-grpc", "127.0.0.1:4317", "address for OTLP/gRPC; empty: off")
	f.StringVar(&otlpDataset, "otlp-dataset", "", "dataset for all OTLP spans and logs (default: one per service.name)")
	f.StringVar(&keyHeader, "key-header", "", "another header (gRPC metadata) an API key may come in, besides X-Honeycomb-Team and Authorization: Bearer")
	f.IntVar(&threads, "threads", 0, "DuckDB worker threads (0 = one per core)")
	f.StringVar(&checkpointAt, "checkpoint-threshold", "256MB", "WAL size at which DuckDB checkpoints: larger ingests faster, smaller replays faster after a crash")
	f.StringVar(&memLimit, "memory-limit", "", "DuckDB memory limit per environment, e.g. 4GB (default: 40% of --memory-ceiling, else DuckDB's 80% of RAM)")
	f.StringVar(&memCeiling, "memory-ceiling", "", "resident memory to stay under, e.g. 8GB: ingest is refused (503) from 85% of it and the oldest query is cancelled from 90% (default: none)")
	f.StringVar(&minFreeDisk, "min-free-disk", "512MB", "free space the data disk must keep: below it ingest is refused (507) until space is freed; 0: off")
	f.Int64Var(&maxInFlight, "max-inflight", 64, "ingest requests read and decoded at once before more get 429")
	f.StringVar(&storeURL, "store", "", "event store shared by several nodes: clickhouse://HOST:9000/DATABASE[?cluster=NAME] (with --meta; default: the embedded store in --data)")
	f.StringVar(&metaURL, "meta", "", "metadata store shared by several nodes: postgres://USER@HOST:5432/DATABASE (with --store)")
	f.DurationVar(&commitEvery, "commit-interval", 0, "least time between two ingest commits: requests meanwhile share one (default 0 on the embedded store, 200ms on ClickHouse)")
	return cmd
}

// exitDiskFailure is the exit status after a write failed for lack of disk
// space (EX_TEMPFAIL: a supervisor should start the server again).
const exitDiskFailure = 75

// guardOptions parses the serve flags that bound ingest.
func guardOptions(dir, ceiling, minFree string, maxInFlight int64) (ingest.GuardOptions, error) {
	o := ingest.GuardOptions{Dir: dir, MaxInFlight: maxInFlight}
	for _, f := range []struct {
		flag, v string
		dst     *int64
	}{{"--memory-ceiling", ceiling, &o.MemoryCeiling}, {"--min-free-disk", minFree, &o.MinFreeDisk}} {
		if f.v == "" || f.v == "0" {
			continue
		}
		n, err := humanize.ParseBytes(f.v)
		if err != nil || n > math.MaxInt64 {
			return o, fmt.Errorf("%s: %q is not a size like 512MB or 8GiB", f.flag, f.v)
		}
		*f.dst = int64(n)
	}
	if o.MemoryCeiling > 0 && o.MemoryCeiling < 256<<20 {
		return o, fmt.Errorf("--memory-ceiling: %s is too small; Prodex needs at least 256MB", ceiling)
	}
	if maxInFlight < 1 {
		return o, fmt.Errorf("--max-inflight: must be at least 1")
	}
	return o, nil
}

// serveDebug serves the Go runtime profiles on their own listener, so that
// they are never reachable through the public address.
func serveDebug(addr string, log *slog.Logger) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	if err := http.ListenAndServe(addr, mux); err != nil {
		log.Error("debug listener failed", "addr", addr, "err", err)
	}
}

// housekeeping drops expired data and query history older than
// historyRetention, and persists column statistics.
func housekeeping(ctx context.Context, sts stores, historyRetention time.Duration, log *slog.Logger) {
	st := sts.events
	sweep := func() {
		if n, err := st.DropExpired(ctx, time.Now()); err != nil {
			log.Error("retention sweep failed", "err", err)
		} else if n > 0 {
			log.Info("retention dropped segments", "count", n)
		}
		if n, err := sts.meta.DropRunsBefore(ctx, time.Now().Add(-historyRetention)); err != nil {
			log.Error("query history sweep failed", "err", err)
		} else if n > 0 {
			log.Info("query history dropped runs", "count", n)
		}
	}
	sweep()
	lastCountErr := ""
	save := time.NewTicker(30 * time.Second)
	ret := time.NewTicker(10 * time.Minute)
	defer save.Stop()
	defer ret.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-save.C:
			if err := st.SaveLastSeen(ctx); err != nil && ctx.Err() == nil {
				log.Error("saving column statistics failed", "err", err)
			}
			if e := st.CountError(); e != "" && e != lastCountErr {
				if strings.Contains(e, "write-write conflict") {
					// DuckDB refuses to update a count again while a query
					// that began before the last update still runs; the
					// next round counts the same rows.
					log.Warn("SLI counting met a query in progress; the rows will be counted again", "err", e)
				} else {
					log.Error("SLI counting failed; the rows will be counted again", "err", e)
				}
				lastCountErr = e
			}
		case <-ret.C:
			sweep()
		}
	}
}

// repeatEvery runs f every interval until ctx ends, for what a node
// follows of the others' changes; it logs when f starts failing (what
// is lost until it works again) and when it works again.
func repeatEvery(ctx context.Context, every time.Duration, log *slog.Logger, failing string, f func(context.Context) error) {
	t := time.NewTicker(every)
	defer t.Stop()
	failed := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := f(ctx)
		switch {
		case err != nil && !failed && ctx.Err() == nil:
			log.Error(failing, "err", err)
		case err == nil && failed:
			log.Info("working again: " + failing)
		}
		failed = err != nil
	}
}

// openStore opens the embedded store with a clear message when another
// process (a running server) holds it.
func openStore(dir string, opts duckdb.Options) (*duckdb.Store, error) {
	st, err := duckdb.Open(dir, opts)
	if err != nil {
		return nil, fmt.Errorf("%w\n(is a prodex server running on %s? then use --server and an admin --key instead)", err, dir)
	}
	return st, nil
}

func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}
