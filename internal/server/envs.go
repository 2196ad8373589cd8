package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prodex/prodex/internal/api"
	"github.com/prodex/prodex/internal/auth"
	"github.com/prodex/prodex/internal/event"
	"github.com/prodex/prodex/internal/ingest"
	"github.com/prodex/prodex/internal/metrics"
	"github.com/prodex/prodex/internal/notify"
	"github.com/prodex/prodex/internal/otlp"
	"github.com/prodex/prodex/internal/query"
	"github.com/prodex/prodex/internal/rules"
	"github.com/prodex/prodex/internal/store/duckdb"
)

// environment is one environment's running parts: its own store, writer,
// SLO rules and API, so that nothing of one is reachable from another.
type environment struct {
	name    string
	st      stores
	w       *ingest.Writer
	slos    *rules.Manager
	srv     *api.Server
	handler http.Handler
	otlp    http.Handler
	stop    context.CancelFunc
	// loops are the environment's goroutines that use its stores (rule
	// evaluation, housekeeping, key reloads): its stores close once they
	// have ended, so that no query outlives its database.
	loops sync.WaitGroup
}

// envConfig is what every environment is started with.
type envConfig struct {
	dataDir      string
	storeOpts    duckdb.Options
	keys         *auth.Keyring
	notifier     *notify.Notifier
	log          *slog.Logger
	link         string
	maxQueued    int64
	limits       event.Limits // of one ingest request
	pace         api.Pace     // of ingest bodies
	queryTimeout time.Duration
	// historyRetention bounds the query history.
	historyRetention time.Duration
	otlpDataset      string
	keyHeader        string
	evalEvery        time.Duration
	// guard refuses ingest while memory or disk run short (shared: both
	// are the process's and the machine's, not an environment's).
	guard *ingest.Guard
	// dbShare, when set, is the memory (bytes) all environments' DuckDB
	// instances share, split evenly between them (DuckDB's limit is per
	// instance).
	dbShare int64
	// running holds every environment's queries in progress, cancelled
	// oldest first when the process reaches its memory ceiling.
	running *query.Running
	// metrics, when set, is told of commits, queries and evaluations.
	metrics *metrics.Registry
	// node names this node when several share the stores; rules hold the
	// alert lease under it.
	node string
	// commitEvery, when set, is the least time between two commits.
	commitEvery time.Duration
	// shared, when set, opens the environments' stores on ClickHouse and
	// PostgreSQL rather than under the data directory.
	shared *sharedStores
}

// followEvery is how often a node on the shared stores looks for the
// environments, SLOs and keys other nodes changed.
const followEvery = 2 * time.Second

// environments runs the environments and sends each request to the one
// its key belongs to.
type environments struct {
	cfg     envConfig
	ctx     context.Context
	startMu sync.Mutex // one environment starting at a time (Create, follow, Close)
	mu      sync.RWMutex
	all     map[string]*environment
}

// openEnvironments starts the default environment (whose store holds the
// keys) and, on the embedded store, every one found under DIR/envs. They
// run until ctx ends; Close then stops them.
func openEnvironments(ctx context.Context, cfg envConfig, root stores) (*environments, error) {
	e := &environments{cfg: cfg, ctx: ctx, all: map[string]*environment{}}
	if _, err := e.start("", &root); err != nil {
		return nil, err
	}
	if cfg.shared != nil {
		if err := e.follow(ctx); err != nil {
			e.Close(context.Background())
			return nil, err
		}
		go repeatEvery(ctx, followEvery, cfg.log, "following the environments of other nodes failed; environments they create are not served here until it works again", e.follow)
		return e, nil
	}
	dirs, _ := os.ReadDir(filepath.Join(cfg.dataDir, "envs"))
	for _, d := range dirs {
		if d.IsDir() && auth.CheckEnv(d.Name()) == nil {
			if _, err := e.start(d.Name(), nil); err != nil {
				e.Close(context.Background())
				return nil, fmt.Errorf("environment %s: %w", d.Name(), err)
			}
		}
	}
	return e, nil
}

// start opens (sts nil) or takes an environment's stores and starts it.
func (e *environments) start(name string, sts *stores) (*environment, error) {
	if sts == nil && e.cfg.shared != nil {
		st, err := e.cfg.shared.open(e.ctx, name)
		if err != nil {
			return nil, err
		}
		sts = &st
	} else if sts == nil {
		st, err := openEmbedded(envDir(e.cfg.dataDir, name), e.cfg.storeOpts)
		if err != nil {
			return nil, err
		}
		sts = &st
	}
	st := *sts
	log := e.cfg.log.With("environment", name)
	if g := e.cfg.guard; g != nil && g.State().DiskOver && st.duck != nil {
		if err := st.duck.HoldCheckpoints(true); err != nil {
			log.Error("holding checkpoints on a low disk failed", "err", err)
		}
	}
	link := e.cfg.link
	ropts := rules.Options{Log: log, Link: link}
	if st.shared() {
		// Several nodes: one evaluates (the lease holder); every one
		// follows the SLOs the others change.
		ropts.Lease, ropts.Holder, ropts.SyncEvery = st.meta, e.cfg.node, followEvery
	}
	wopts := ingest.Options{MaxQueued: e.cfg.maxQueued, Guard: e.cfg.guard, Env: name, MinInterval: e.cfg.commitEvery}
	if m := e.cfg.metrics; m != nil {
		ropts.Evaluated = m.OnEvaluation(name)
		wopts.OnCommit = m.OnCommit(name)
	}
	slos, err := rules.New(context.Background(), ruleStore{st.events, st.meta}, e.cfg.notifier, ropts)
	if err != nil {
		st.close()
		return nil, fmt.Errorf("load SLOs: %w", err)
	}
	w := ingest.NewWriter(st.events, wopts)
	srv := &api.Server{Events: st.events, Meta: st.meta, Writer: w, Keys: e.cfg.keys, Limits: e.cfg.limits, Pace: e.cfg.pace, Log: log, QueryTimeout: e.cfg.queryTimeout, Running: e.cfg.running,
		SLOs: slos, KeyHeader: e.cfg.keyHeader, Env: name, SecureCookies: strings.HasPrefix(link, "https://")}
	if m := e.cfg.metrics; m != nil {
		srv.Observe = m.OnQuery(name)
	}
	if name == "" {
		srv.Envs = e
		srv.Ready, srv.MetaReady = e.ready, e.metaReady
		if e.cfg.metrics != nil {
			srv.Metrics = e.cfg.metrics.Handler()
		}
	}
	srv.OTLP = &otlp.Receiver{Sink: w, Limits: srv.Limits, Dataset: e.cfg.otlpDataset}
	slos.OnEpisode(srv.Incidents().OnAlert)
	if err := srv.Incidents().Reconcile(context.Background()); err != nil {
		log.Error("opening incidents for firing pages failed", "err", err)
	}
	ctx, stop := context.WithCancel(e.ctx)
	env := &environment{name: name, st: st, w: w, slos: slos, srv: srv, handler: srv.Handler(), otlp: srv.OTLPHandler(), stop: stop}
	env.loops.Go(func() {
		housekeeper{st: st, historyRetention: e.cfg.historyRetention, log: log, now: time.Now}.run(ctx)
	})
	if st.shared() && name == "" {
		env.loops.Go(func() {
			repeatEvery(ctx, followEvery, log, "reloading API keys failed; keys changed on other nodes are not seen until it works again", e.cfg.keys.Reload)
		})
	}
	env.loops.Go(func() { slos.Run(ctx, e.cfg.evalEvery) })
	e.mu.Lock()
	e.all[name] = env
	e.mu.Unlock()
	e.shareMemory()
	return env, nil
}

// shareMemory gives each environment's DuckDB an even part of dbShare.
func (e *environments) shareMemory() {
	if e.cfg.dbShare <= 0 {
		return
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	part := fmt.Sprintf("%dMB", max(e.cfg.dbShare/int64(len(e.all))/1e6, 64))
	for _, env := range e.all {
		if env.st.duck == nil {
			continue
		}
		if err := env.st.duck.SetMemoryLimit(part); err != nil {
			e.cfg.log.Error("setting DuckDB's memory limit failed", "environment", env.name, "err", err)
		}
	}
}

// follow starts the environments other nodes created (listed in the
// shared metadata store) that this node does not run yet.
func (e *environments) follow(ctx context.Context) error {
	e.mu.RLock()
	root := e.all[""].st.meta
	e.mu.RUnlock()
	names, err := root.Environments(ctx)
	if err != nil {
		return fmt.Errorf("list environments: %w", err)
	}
	e.startMu.Lock()
	defer e.startMu.Unlock()
	for _, name := range names {
		e.mu.RLock()
		_, running := e.all[name]
		e.mu.RUnlock()
		if running || auth.CheckEnv(name) != nil || ctx.Err() != nil {
			continue
		}
		if _, err := e.start(name, nil); err != nil {
			return fmt.Errorf("environment %s: %w", name, err)
		}
		e.cfg.log.Info("environment started", "environment", name)
	}
	return nil
}

// List implements api.Environments: the named environments (not the
// default one).
func (e *environments) List() []string {
	e.mu.RLock()
	defer e.mu.RUnlock()
	out := []string{}
	for n := range e.all {
		if n != "" {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// Create implements api.Environments.
func (e *environments) Create(ctx context.Context, name string) error {
	if err := auth.CheckEnv(name); err != nil || name == "" {
		return fmt.Errorf("invalid environment name %q", name)
	}
	e.startMu.Lock()
	defer e.startMu.Unlock()
	e.mu.RLock()
	_, exists := e.all[name]
	e.mu.RUnlock()
	if exists {
		return fmt.Errorf("environment %s exists", name)
	}
	if e.cfg.shared != nil {
		_, err := e.start(name, nil) // its schema makes it known to the other nodes
		return err
	}
	if err := os.MkdirAll(envDir(e.cfg.dataDir, name), 0o755); err != nil {
		return err
	}
	_, err := e.start(name, nil)
	return err
}

// of is the environment of a request's key (the default one when the key
// is unknown, whose handler then refuses it).
func (e *environments) of(r *http.Request) *environment {
	e.mu.RLock()
	defer e.mu.RUnlock()
	root := e.all[""]
	if env := e.all[root.srv.EnvOf(r)]; env != nil {
		return env
	}
	return root
}

// ServeHTTP sends a request to its environment's API.
func (e *environments) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e.of(r).handler.ServeHTTP(w, r)
}

// OTLP sends an OTLP/HTTP request to its environment's receiver.
func (e *environments) OTLP() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { e.of(r).otlp.ServeHTTP(w, r) })
}

// Resolve implements otlp.Resolve for gRPC.
func (e *environments) Resolve(ctx context.Context, key string) (*otlp.Receiver, string, error) {
	e.mu.RLock()
	env := e.all[e.cfg.keys.EnvOf(key)]
	if env == nil {
		env = e.all[""]
	}
	e.mu.RUnlock()
	id, err := env.srv.Authorize(ctx, key)
	if err != nil {
		return nil, "", err
	}
	return env.srv.OTLP, id, nil
}

// keyHeaders are the headers (gRPC metadata) an API key may come in.
func (e *environments) keyHeaders() []string {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.all[""].srv.KeyHeaders()
}

// holdCheckpoints holds (low) or resumes every store's checkpoints as the
// data disk goes below its free-space minimum and back.
func (e *environments) holdCheckpoints(low bool) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	for _, env := range e.all {
		if env.st.duck == nil {
			continue
		}
		if err := env.st.duck.HoldCheckpoints(low); err != nil {
			e.cfg.log.Error("changing checkpoints on the disk's free space failed", "environment", env.name, "low", low, "err", err)
		}
	}
	if low {
		e.cfg.log.Warn("the data disk is below its free-space minimum: ingest is refused and checkpoints held until space is freed")
	} else {
		e.cfg.log.Info("the data disk has room again: ingest and checkpoints resume")
	}
}

// metricsEnvs lists the environments' parts for a metrics scrape.
// shrinkCaches has every environment's DuckDB drop what it can of its
// cached buffers (see duckdb.Store.ShrinkCache).
func (e *environments) shrinkCaches(ctx context.Context) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	for _, env := range e.all {
		if env.st.duck != nil {
			if err := env.st.duck.ShrinkCache(ctx); err != nil {
				e.cfg.log.Warn("shrinking DuckDB's cache at the memory ceiling fell short", "environment", env.name, "err", err)
			}
		}
	}
}

// saturated reports whether any environment's writer is refusing events
// for a full queue: the machine, which they all share, is saturated.
func (e *environments) saturated() bool {
	e.mu.RLock()
	defer e.mu.RUnlock()
	for _, env := range e.all {
		if env.w.Saturated() {
			return true
		}
	}
	return false
}

func (e *environments) metricsEnvs() []metrics.Env {
	e.mu.RLock()
	defer e.mu.RUnlock()
	out := make([]metrics.Env, 0, len(e.all))
	for _, env := range e.all {
		me := metrics.Env{Name: env.name, Writer: env.w, Rules: env.slos}
		if env.st.duck != nil {
			me.Store = env.st.duck
		}
		out = append(out, me)
	}
	return out
}

// notifyFlush bounds how long a shutdown waits for notifications still
// queued: what is not delivered by then stays owed in the stores and is
// sent again at the next start.
const notifyFlush = 5 * time.Second

// Close stops every environment: their writers commit what they accepted,
// their rule and housekeeping loops end, the notifier delivers what it can (settling it in
// the stores, which are still open), then their stores close.
func (e *environments) Close(ctx context.Context) error {
	e.startMu.Lock()
	defer e.startMu.Unlock()
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, env := range e.all {
		env.w.Close()
		env.stop()
		env.loops.Wait()
	}
	if n := e.cfg.notifier; n != nil {
		nctx, cancel := context.WithTimeout(ctx, notifyFlush)
		if err := n.Close(nctx); err != nil {
			e.cfg.log.Warn("notifications still undelivered at shutdown stay owed; the next start sends them", "err", err)
		}
		cancel()
	}
	var first error
	for _, env := range e.all {
		if err := env.st.close(); err != nil && first == nil {
			first = fmt.Errorf("close store of environment %q: %w", env.name, err)
		}
	}
	return first
}
