package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/prodex/prodex/internal/api"
	"github.com/prodex/prodex/internal/auth"
	"github.com/prodex/prodex/internal/ingest"
	"github.com/prodex/prodex/internal/rules"
	"github.com/prodex/prodex/internal/store"
	"github.com/prodex/prodex/internal/store/clickhouse"
	"github.com/prodex/prodex/internal/store/duckdb"
	"github.com/prodex/prodex/internal/store/meta"
)

// eventStore is what an environment needs of its event store: the
// embedded DuckDB store, or ClickHouse shared by several nodes.
type eventStore interface {
	api.Events
	ingest.Appender
	SetCounter(ctx context.Context, c store.Counter, backfill bool, install func([]store.MinuteCount)) error
	RemoveCounter(ctx context.Context, name string) error
	OnCounts(f func([]store.MinuteCount))
	DropExpired(ctx context.Context, now time.Time) (int, error)
	SaveLastSeen(ctx context.Context) error
	CountError() string
	DB() *sql.DB
	Close() error
}

// metaStore is what an environment needs of its metadata store: the
// embedded DuckDB store, or PostgreSQL shared by several nodes.
type metaStore interface {
	api.Meta
	auth.Storage
	rules.Outbox
	PutSLO(ctx context.Context, name string, body []byte) error
	DeleteSLO(ctx context.Context, name string) error
	SLOs(ctx context.Context) (map[string][]byte, error)
	PutAlert(ctx context.Context, id, slo string, started time.Time, open bool, body []byte, owed ...store.Owed) error
	Alerts(ctx context.Context, slo string, openOnly bool, limit int) ([][]byte, error)
	DropRunsBefore(ctx context.Context, t time.Time) (int64, error)
	Lease(ctx context.Context, name, holder string, ttl time.Duration) (held bool, until time.Time, err error)
	Release(ctx context.Context, name, holder string) error
	Close() error
}

// ruleStore gives the alert rules the counts of one store and the
// definitions and episodes of the other.
type ruleStore struct {
	events eventStore
	metaStore
}

func (r ruleStore) SetCounter(ctx context.Context, c store.Counter, backfill bool, install func([]store.MinuteCount)) error {
	return r.events.SetCounter(ctx, c, backfill, install)
}

func (r ruleStore) RemoveCounter(ctx context.Context, name string) error {
	return r.events.RemoveCounter(ctx, name)
}

func (r ruleStore) OnCounts(f func([]store.MinuteCount)) { r.events.OnCounts(f) }

// ForgetCounter lets rules stop following a counter another node removed,
// on an event store shared by the nodes (the embedded one is not).
func (r ruleStore) ForgetCounter(name string) {
	if f, ok := r.events.(interface{ ForgetCounter(string) }); ok {
		f.ForgetCounter(name)
	}
}

// stores are an environment's two stores; duck is set when they are the
// embedded one, the metadata in the event store's database.
type stores struct {
	events eventStore
	meta   metaStore
	duck   *duckdb.Store
}

// openEmbedded opens the embedded store in dir: its events, and the
// metadata in the same database, written under the event store's guard.
func openEmbedded(dir string, opts duckdb.Options) (stores, error) {
	st, err := openStore(dir, opts)
	if err != nil {
		return stores{}, err
	}
	m, err := meta.OpenDuckDB(context.Background(), st.DB(), st.GuardWrite)
	if err != nil {
		st.Close()
		return stores{}, err
	}
	return stores{events: st, meta: m, duck: st}, nil
}

// close closes the stores.
func (s stores) close() error {
	return errors.Join(s.meta.Close(), s.events.Close())
}

// shared says whether several nodes may share the stores.
func (s stores) shared() bool { return s.duck == nil }

// shared is how a node reaches the stores several nodes share.
type shared struct {
	storeURL, metaURL string
	maxColumns        int
	retention         time.Duration
}

// openShared opens ClickHouse (events) and PostgreSQL (metadata) for a
// node of several (cfg nil when neither address is given). Both addresses
// are needed: a node's embedded metadata would not be seen by the others,
// and embedded events cannot be shared.
func openShared(ctx context.Context, storeURL, metaURL string, maxColumns int, retention time.Duration) (*shared, stores, error) {
	switch {
	case storeURL == "" && metaURL == "":
		return nil, stores{}, nil
	case !strings.HasPrefix(storeURL, "clickhouse://"):
		return nil, stores{}, fmt.Errorf("--store: want clickhouse://HOST:9000/DATABASE with --meta postgres://…, got %q", storeURL)
	case !strings.HasPrefix(metaURL, "postgres://") && !strings.HasPrefix(metaURL, "postgresql://"):
		return nil, stores{}, fmt.Errorf("--meta: want postgres://USER@HOST:5432/DATABASE with --store clickhouse://…, got %q", metaURL)
	}
	cfg := &shared{storeURL: storeURL, metaURL: metaURL, maxColumns: maxColumns, retention: retention}
	st, err := cfg.open(ctx, "")
	return cfg, st, err
}

// open opens environment env's stores: a ClickHouse database and a
// PostgreSQL schema of its own ("" is the default environment, in the
// database and schema the addresses name).
func (c *shared) open(ctx context.Context, env string) (stores, error) {
	addr, opts, err := clickhouse.ParseURL(c.storeURL)
	if err != nil {
		return stores{}, fmt.Errorf("--store: %w", err)
	}
	opts.MaxColumns, opts.Retention = c.maxColumns, c.retention
	if env != "" {
		// Environment names are lower-case letters, digits and '-',
		// without '_': the database name is a plain identifier and
		// no two environments share one.
		opts.Database += "_env_" + strings.ReplaceAll(env, "-", "_")
	}
	octx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	ev, err := clickhouse.Open(octx, addr, opts)
	if err != nil {
		return stores{}, fmt.Errorf("--store: %w", err)
	}
	m, err := meta.OpenPostgres(octx, c.metaURL, env)
	if err != nil {
		ev.Close()
		return stores{}, fmt.Errorf("--meta: %w", err)
	}
	return stores{events: ev, meta: m}, nil
}

// sharedEnvs lists the environments in the shared metadata store.
func sharedEnvs(ctx context.Context, root metaStore) ([]string, error) {
	l, ok := root.(interface {
		Environments(ctx context.Context) ([]string, error)
	})
	if !ok {
		return nil, nil
	}
	return l.Environments(ctx)
}

// nodeID names this node as the holder of the alert lease.
func nodeID(listen string) string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s/%s/%d", host, listen, os.Getpid())
}

// createKey makes a key straight in the embedded store of data directory
// dir, before any server has started there (to bootstrap); a new
// environment env gets its directory, which the server opens at start.
func createKey(dir, env string, sc auth.Scope, name string) (string, auth.Key, error) {
	if err := auth.CheckEnv(env); err != nil {
		return "", auth.Key{}, err
	}
	st, err := openEmbedded(dir, duckdb.Options{})
	if err != nil {
		return "", auth.Key{}, err
	}
	defer st.close()
	ring, err := auth.NewKeyring(context.Background(), st.meta)
	if err != nil {
		return "", auth.Key{}, err
	}
	if env != "" {
		if err := os.MkdirAll(envDir(dir, env), 0o755); err != nil {
			return "", auth.Key{}, err
		}
	}
	return ring.CreateIn(context.Background(), env, sc, name)
}
