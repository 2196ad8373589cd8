package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"

	"github.com/prodex/prodex/internal/auth"
	"github.com/prodex/prodex/internal/event"
	"github.com/prodex/prodex/internal/ingest"
	"github.com/prodex/prodex/internal/metrics"
	"github.com/prodex/prodex/internal/notify"
	"github.com/prodex/prodex/internal/otlp"
	"github.com/prodex/prodex/internal/query"
	"github.com/prodex/prodex/internal/store/duckdb"
)

// Server is an assembled Prodex server: its stores and environments open,
// its listeners bound. Run serves; Shutdown (which Run calls) stops it.
type Server struct {
	cfg  Config
	log  *slog.Logger
	envs *environments
	// life is the environments' lifetime: their rule loops, housekeeping
	// and the guard's sampling end with it.
	life context.Context
	stop context.CancelFunc

	api, otlpHTTP, otlpGRPC net.Listener // otlp ones nil when off
	hs, ohs                 *http.Server
	gs                      *grpc.Server

	shutdown    sync.Once
	shutdownErr error
}

// New opens the stores (creating an admin key when none exists, printed
// on cfg.Stderr), starts every environment and binds the listeners.
func New(cfg Config) (*Server, error) {
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if os.Getenv("GOGC") == "" {
		// Ingest allocates short-lived decoded events at a high rate;
		// collecting less often buys ~20 % throughput for a heap that the
		// bounded ingest queue keeps small.
		debug.SetGCPercent(300)
	}
	guardOpts, _ := cfg.guardOptions() // checked above
	ingest.TuneCHeap()
	goLimit, dbShare, memLimit := cfg.memorySplit(guardOpts.MemoryCeiling)
	if goLimit > 0 {
		debug.SetMemoryLimit(goLimit)
	}
	opts := duckdb.Options{MaxColumns: cfg.MaxColumns, Retention: cfg.Retention, Threads: cfg.Threads, MemoryLimit: memLimit, CheckpointThreshold: cfg.CheckpointThreshold,
		MinFreeDisk: guardOpts.MinFreeDisk,
		OnDiskFailure: func(err error) {
			// See package duckdb's disk.go: the store reopens the
			// database from its WAL and resumes writing once it can.
			log.Error("a write failed for lack of disk space: ingest is refused (507) while the database is reopened from its write-ahead log; queries go on, and ingest resumes by itself once the data disk has room",
				"data", cfg.Data, "err", err)
		},
		OnRecovery: recoveryLog(log, cfg.Data)}
	var shared *sharedStores
	var st stores
	var err error
	if cfg.shared() {
		shared = &sharedStores{storeURL: cfg.Store, metaURL: cfg.Meta, maxColumns: cfg.MaxColumns, retention: cfg.Retention}
		st, err = shared.open(context.Background(), "")
	} else {
		st, err = openEmbedded(cfg.Data, opts)
	}
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: log}
	s.life, s.stop = context.WithCancel(context.Background())
	if err := s.assemble(st, shared, guardOpts, opts, dbShare); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

// assemble starts the environments on the default one's stores st, and
// binds the listeners; on an error, what it opened is closed again.
func (s *Server) assemble(st stores, shared *sharedStores, guardOpts ingest.GuardOptions, opts duckdb.Options, dbShare int64) error {
	cfg, log := s.cfg, s.log
	keys, err := auth.NewKeyring(context.Background(), st.meta)
	if err != nil {
		st.close()
		return err
	}
	keys.LimitSessions(auth.SessionLimits{Idle: cfg.SessionIdle, Lifetime: cfg.SessionLifetime})
	if len(keys.List()) == 0 {
		secret, _, err := keys.Create(context.Background(), auth.Admin, "bootstrap")
		if err != nil {
			st.close()
			return err
		}
		if cfg.Stderr != nil {
			fmt.Fprintf(cfg.Stderr, "No API keys existed, so an admin key was created. Keep it safe:\n%s\n", secret)
		}
	}
	notifier := notify.New(notify.Options{Log: log, Own: nonEmpty(cfg.Listen, cfg.OTLPHTTP)})
	running := &query.Running{}
	// envs is set once the environments are open; the guard reaches them
	// through it.
	var envs atomic.Pointer[environments]
	guardOpts.OnDisk = func(low bool) {
		if e := envs.Load(); e != nil {
			e.holdCheckpoints(low)
		}
	}
	var shrunk atomic.Int64 // unix ns of the last cache shrink
	guardOpts.OnMemoryHigh = func() {
		if running.CancelOldest() {
			log.Warn("cancelled a query to stay under the memory ceiling (the longest-running heavy one, else the oldest light one)", "ceiling", cfg.MemoryCeiling, "queries_left", running.Len())
			return
		}
		// Nothing to cancel: DuckDB's cache is what is left to give back
		// (else, ingest could stay refused with the server idle).
		if e := envs.Load(); e != nil && time.Since(time.Unix(0, shrunk.Load())) >= query.Relief {
			shrunk.Store(time.Now().UnixNano())
			go e.shrinkCaches(s.life)
		}
	}
	guard := ingest.NewGuard(guardOpts)
	running.Roomy, running.Calm = guard.Roomy, guard.Calm
	running.Saturated = func() bool {
		if e := envs.Load(); e != nil {
			return e.saturated()
		}
		return false
	}
	otlpDataset := cfg.OTLPDataset
	if otlpDataset != "" {
		otlpDataset, _ = event.NormalizeDataset(otlpDataset) // checked in New
	}
	go guard.Run(s.life)
	reg := metrics.New(func() []metrics.Env {
		if e := envs.Load(); e != nil {
			return e.metricsEnvs()
		}
		return nil
	}, guard, notifier)
	reg.WatchQueries(running)
	limits, pace, _ := cfg.requestLimits() // checked in New
	e, err := openEnvironments(s.life, envConfig{limits: limits, pace: pace, dataDir: cfg.Data, storeOpts: opts, keys: keys, notifier: notifier, log: log, link: cfg.externalURL(),
		maxQueued: cfg.MaxQueued, queryTimeout: cfg.QueryTimeout, historyRetention: cfg.HistoryRetention, otlpDataset: otlpDataset, keyHeader: cfg.KeyHeader,
		evalEvery: cfg.EvalInterval, guard: guard, running: running, dbShare: dbShare, metrics: reg, node: nodeID(cfg.Listen), commitEvery: cfg.commitInterval(), shared: shared}, st)
	if err != nil {
		st.close()
		return err
	}
	envs.Store(e)
	s.envs = e
	lns, err := listenAll(cfg.Listen, cfg.OTLPHTTP, cfg.OTLPGRPC)
	if err != nil {
		e.Close(context.Background())
		return err
	}
	s.api, s.otlpHTTP, s.otlpGRPC = lns[0], lns[1], lns[2]
	s.hs = &http.Server{Handler: reg.Instrument(e), ReadHeaderTimeout: 10 * time.Second}
	s.ohs = &http.Server{Handler: reg.Instrument(e.OTLP()), ReadHeaderTimeout: 10 * time.Second}
	s.gs = otlp.NewGRPCServer(e.Resolve, e.keyHeaders(), otlp.GRPCOptions{MaxRecvMsg: int(limits.MaxBodyBytes), RecvTimeout: cfg.BodyTimeout})
	return nil
}

// recoveryLog logs the steps of a store's recovery from a failed write,
// each kind of step once in a row (the store looks for room again and
// again while it waits).
func recoveryLog(log *slog.Logger, data string) func(duckdb.Recovery) {
	var mu sync.Mutex
	last := ""
	return func(r duckdb.Recovery) {
		mu.Lock()
		repeated := r.Step == last && r.Step != "failed"
		last = r.Step
		mu.Unlock()
		if repeated {
			return
		}
		switch r.Step {
		case "reopened":
			log.Info("the database was reopened after the failed write; every acknowledged event is back", "data", data, "events", r.Events)
		case "waiting":
			log.Warn("ingest stays refused until the data disk has room", "data", data, "free_bytes", r.Free, "needed_bytes", r.Need)
		case "resumed":
			log.Info("writes go through again: ingest resumes", "data", data)
		default:
			log.Error("recovering from the failed write", "data", data, "lost_events", r.Lost, "err", r.Err)
		}
	}
}

// listenAll binds each address (nil for an empty one), or none.
func listenAll(addrs ...string) ([]net.Listener, error) {
	var lns []net.Listener
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
			return nil, err
		}
		lns = append(lns, ln)
	}
	return lns, nil
}

// Addr is the address the API listens on (useful with port 0).
func (s *Server) Addr() net.Addr { return s.api.Addr() }

// Run serves until ctx ends or a listener fails, then shuts down: requests
// in flight finish, accepted events are committed, notifications still
// queued get a few seconds, and the stores close.
func (s *Server) Run(ctx context.Context) error {
	if s.cfg.DebugListen != "" {
		go serveDebug(s.cfg.DebugListen, s.log)
	}
	errc := make(chan error, 3)
	go func() { errc <- s.hs.Serve(s.api) }()
	if s.otlpHTTP != nil {
		go func() { errc <- s.ohs.Serve(s.otlpHTTP) }()
		s.log.Info("OTLP/HTTP serving", "addr", s.otlpHTTP.Addr().String())
	}
	if s.otlpGRPC != nil {
		go func() { errc <- s.gs.Serve(s.otlpGRPC) }()
		s.log.Info("OTLP/gRPC serving", "addr", s.otlpGRPC.Addr().String())
	}
	if s.cfg.shared() {
		s.log.Info("prodex serving", "addr", s.api.Addr().String(), "store", s.cfg.Store, "node", nodeID(s.cfg.Listen))
	} else {
		s.log.Info("prodex serving", "addr", s.api.Addr().String(), "data", s.cfg.Data, "environments", len(s.envs.List())+1)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("server failed", "err", err)
		}
	case <-ctx.Done():
		s.log.Info("shutting down: finishing requests and flushing accepted events")
		s.stop() // readiness now reports the shutdown
	}
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Shutdown(sctx); err != nil {
		return err
	}
	s.log.Info("stopped")
	return nil
}

// Shutdown stops the listeners (letting requests in flight finish until
// ctx ends), then every environment, and closes the stores. It runs once;
// later calls return the first one's error.
func (s *Server) Shutdown(ctx context.Context) error {
	s.shutdown.Do(func() {
		s.hs.Shutdown(ctx)
		s.ohs.Shutdown(ctx)
		if s.otlpGRPC != nil {
			s.gs.GracefulStop()
		}
		// Listeners never served (Run not called) are closed here.
		for _, ln := range []net.Listener{s.api, s.otlpHTTP, s.otlpGRPC} {
			if ln != nil {
				ln.Close()
			}
		}
		s.stop()
		if s.cfg.OnDrained != nil {
			s.cfg.OnDrained()
		}
		s.shutdownErr = s.envs.Close(ctx) // closes the notifier too
	})
	return s.shutdownErr
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

func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}
