package server

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prodex/prodex/internal/api"
	"github.com/prodex/prodex/internal/auth"
	"github.com/prodex/prodex/internal/ingest"
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

// ruleStore gives the alert rules the counts of one store and the
// definitions and episodes of the other.
type ruleStore struct {
	events eventStore
	*meta.Store
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
	meta   *meta.Store
	duck   *duckdb.Store
}

// OpenStore opens the embedded event store in dir with a clear message
// when another process (a running server) holds it.
func OpenStore(dir string, opts duckdb.Options) (*duckdb.Store, error) {
	st, err := duckdb.Open(dir, opts)
	if err != nil {
		return nil, fmt.Errorf("%w\n(is a prodex server running on %s? then use --server and an admin --key instead)", err, dir)
	}
	return st, nil
}

// openEmbedded opens the embedded store in dir: its events, and the
// metadata in the same database, written under the event store's guard.
func openEmbedded(dir string, opts duckdb.Options) (stores, error) {
	st, err := OpenStore(dir, opts)
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

// sharedStores is how a node reaches the stores several nodes share:
// ClickHouse for events, PostgreSQL for metadata. Both are needed: a
// node's embedded metadata would not be seen by the others, and embedded
// events cannot be shared.
type sharedStores struct {
	storeURL, metaURL string
	maxColumns        int
	retention         time.Duration
}

// open opens environment env's stores: a ClickHouse database and a
// PostgreSQL schema of its own ("" is the default environment, in the
// database and schema the addresses name).
func (c *sharedStores) open(ctx context.Context, env string) (stores, error) {
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

// envDir is where environment name's store lives under the data directory;
// the default environment ("") uses the data directory itself.
func envDir(dataDir, name string) string {
	if name == "" {
		return dataDir
	}
	return filepath.Join(dataDir, "envs", name)
}

// nodeID names this node as the holder of the alert lease.
func nodeID(listen string) string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s/%s/%d", host, listen, os.Getpid())
}

// CreateKey makes a key straight in the embedded store of data directory
// dir, before any server has started there (to bootstrap); a new
// environment env gets its directory, which the server opens at start.
func CreateKey(dir, env string, sc auth.Scope, name string) (string, auth.Key, error) {
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
