// Package clickhouse is the event store for deployments that outgrow one
// machine: events live in ClickHouse, sharded by ClickHouse itself, and any
// number of stateless Prodex nodes write and query them.
//
// Layout. A dataset is one MergeTree table on every shard ("e_<hash>",
// partitioned by UTC day of event time so that retention drops whole
// partitions) and, on a cluster, a Distributed table ("d_<hash>") over
// them on every shard, which queries read. Writes skip the Distributed
// table: each batch goes to one shard's local table, chosen in turn, so
// that an acknowledged event is stored, not queued for forwarding.
//
// Columns. A table has ts (µs since the epoch), sr (sample rate) and, per
// field and type, one Nullable column named from a hash of the field name
// and a type letter ("c<hash>_i", _f, _s, _b); px_columns records the
// field names. Names are therefore the same on every node without
// coordination, user text never becomes an identifier, and promoting a
// field's type (integer → float → string, boolean → string) adds a column
// rather than rewriting one: the catalog reads the field as the coalesce
// of its typed columns, converted to its widest type. Two nodes adding the
// same column at once is harmless (the second is told it exists).
//
// Replicas. When the cluster's shards have several replicas, tables are
// Replicated* (ZooKeeper path of database, table and shard), made on every
// replica; writes go to each shard's first replica and replicate.
//
// The SQL runs on the ClickHouse Debian packages (18.16) as on current
// releases: no Map, JSON, DateTime64, toStartOfInterval, IF NOT EXISTS on
// columns or column TTL.
package clickhouse

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/prodex/prodex/internal/schema"
	"github.com/prodex/prodex/internal/store"
)

// Options tune the store.
type Options struct {
	// Database holds Prodex's tables (default "default").
	Database string
	// Cluster names the remote_servers cluster whose shards hold the
	// events; empty means one server, no Distributed tables.
	Cluster string
	// MaxColumns caps the fields of one dataset (default
	// store.DefaultMaxColumns).
	MaxColumns int
	// Retention is the default retention of a new dataset (default 60 days).
	Retention time.Duration
	// Refresh is how often the catalog is reloaded, to see datasets and
	// columns other nodes created (default 1 s): until then, this node
	// reads a field another node promoted as its older type.
	Refresh time.Duration
}

func (o *Options) defaults() {
	if o.Database == "" {
		o.Database = "default"
	}
	if o.MaxColumns <= 0 {
		o.MaxColumns = store.DefaultMaxColumns
	}
	if o.Retention <= 0 {
		o.Retention = 60 * 24 * time.Hour
	}
	if o.Refresh <= 0 {
		o.Refresh = time.Second
	}
}

// ParseURL reads a store address, clickhouse://HOST:PORT/DATABASE?cluster=NAME,
// into the server's address and options.
func ParseURL(raw string) (addr string, opts Options, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", opts, fmt.Errorf("store address: %w", err)
	}
	if u.Scheme != "clickhouse" {
		return "", opts, fmt.Errorf("store address %q: want clickhouse://HOST:PORT/DATABASE", raw)
	}
	if u.Host == "" {
		return "", opts, fmt.Errorf("store address %q has no host", raw)
	}
	addr = u.Host
	if u.Port() == "" {
		addr += ":9000"
	}
	opts.Database = strings.Trim(u.Path, "/")
	if opts.Database != "" && !safeName(opts.Database) {
		return "", opts, fmt.Errorf("store address: database name %q may only hold letters, digits and '_'", opts.Database)
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return "", opts, fmt.Errorf("store address %q: %w", raw, err)
	}
	opts.Cluster = q.Get("cluster")
	if opts.Cluster != "" && !safeName(opts.Cluster) {
		return "", opts, fmt.Errorf("store address: cluster name %q may only hold letters, digits and '_'", opts.Cluster)
	}
	for k := range q {
		if k != "cluster" {
			return "", opts, fmt.Errorf("store address: unknown parameter %q", k)
		}
	}
	return addr, opts, nil
}

func safeName(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return s != ""
}

// Store is the ClickHouse event store.
type Store struct {
	opts       Options
	db         *sql.DB       // the server named in the address: queries, catalog
	servers    []server      // every replica of every shard, for DDL
	shards     []*sql.DB     // every shard's first replica, in cluster order (db alone without a cluster)
	writers    []driver.Conn // native connections to the shards, for inserts
	replicated bool          // the shards have replicas: Replicated* tables

	wmu  sync.Mutex // one write at a time from this node
	next int        // shard the next write goes to

	mu       sync.RWMutex
	datasets map[string]*dataset
	loaded   time.Time

	counts   counting
	countErr atomic.Value // string: the last poll's error
	bg       sync.WaitGroup

	stop chan struct{}
	done chan struct{}

	// schemaChanges counts the ALTER statements that added columns to a
	// table, on any server.
	schemaChanges atomic.Int64
}

// SchemaChanges is the number of ALTER statements this node made to add
// columns since it opened.
func (s *Store) SchemaChanges() int64 { return s.schemaChanges.Load() }

type dataset struct {
	name      string
	table     string // local table
	created   time.Time
	retention time.Duration
	fields    map[string]*field
}

// field is one event field: the typed columns that hold it.
type field struct {
	name     string
	base     string               // "c<hash>": the name the catalog yields it under
	typed    map[schema.Type]bool // types with a column
	created  time.Time
	lastSeen time.Time
	seenNew  bool // lastSeen moved since it was saved
}

// typ is the field's type: the widest of its columns.
func (f *field) typ() schema.Type {
	switch {
	case f.typed[schema.String], f.typed[schema.Boolean] && (f.typed[schema.Integer] || f.typed[schema.Float]):
		return schema.String
	case f.typed[schema.Float]:
		return schema.Float
	case f.typed[schema.Integer]:
		return schema.Integer
	}
	return schema.Boolean
}

// options are the client options for addr. With replicas, a query must
// not prefer the server it runs on when that is not the replica writes go
// to: the others lag behind it by the replication delay. (Which replica
// of a remote shard a query reads is the server profile's load_balancing,
// a setting this client cannot send to 18.16: see docs/scaling.md.)
func options(addr string, replicated bool) *ch.Options {
	o := &ch.Options{
		Addr:     []string{addr},
		Protocol: ch.Native,
		Auth:     ch.Auth{Database: "default", Username: "default"},
		// Compression saves network on inserts of wide events.
		Compression:  &ch.Compression{Method: ch.CompressionLZ4},
		DialTimeout:  10 * time.Second,
		MaxOpenConns: 16,
	}
	if replicated {
		o.Settings = ch.Settings{"prefer_localhost_replica": 0}
	}
	return o
}

func open(addr string, replicated bool) *sql.DB {
	db := ch.OpenDB(options(addr, replicated))
	db.SetMaxOpenConns(16)
	db.SetMaxIdleConns(4)
	return db
}

// Open connects to the server at addr (host:port of its native protocol)
// and, on a cluster, to every shard the server's system.clusters lists,
// creating Prodex's catalog tables where missing.
func Open(ctx context.Context, addr string, opts Options) (*Store, error) {
	opts.defaults()
	// The two names are written into DDL, where ClickHouse binds nothing.
	if !safeName(opts.Database) {
		return nil, fmt.Errorf("clickhouse database name %q may only hold letters, digits and '_'", opts.Database)
	}
	if opts.Cluster != "" && !safeName(opts.Cluster) {
		return nil, fmt.Errorf("clickhouse cluster name %q may only hold letters, digits and '_'", opts.Cluster)
	}
	s := &Store{opts: opts, datasets: map[string]*dataset{}, stop: make(chan struct{}), done: make(chan struct{})}
	boot := open(addr, false)
	if err := boot.PingContext(ctx); err != nil {
		boot.Close()
		return nil, fmt.Errorf("clickhouse %s: %w", addr, err)
	}
	servers := []serverAddr{{addr: addr, shard: 1, replica: 1}}
	if opts.Cluster != "" {
		var err error
		if servers, err = clusterServers(ctx, boot, opts.Cluster); err != nil {
			boot.Close()
			return nil, err
		}
	}
	boot.Close()
	for _, a := range servers {
		s.replicated = s.replicated || a.replica > 1
	}
	s.db = open(addr, s.replicated)
	for _, a := range servers {
		srv := server{db: open(a.addr, s.replicated), shard: a.shard, first: a.replica == 1}
		s.servers = append(s.servers, srv)
		if a.replica > 1 {
			continue
		}
		// The shard's first replica takes its writes and reads.
		s.shards = append(s.shards, srv.db)
		w, err := ch.Open(options(a.addr, s.replicated))
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("clickhouse %s: %w", a.addr, err)
		}
		s.writers = append(s.writers, w)
	}
	if s.replicated {
		for i, a := range servers {
			// Replica names are written into DDL: a server's address,
			// from the server's own cluster config, kept to safe
			// characters.
			s.servers[i].name = strings.NewReplacer(":", "_", "[", "", "]", "").Replace(a.addr)
			if !safeReplica(s.servers[i].name) {
				s.Close()
				return nil, fmt.Errorf("clickhouse cluster %q: replica address %q has characters other than letters, digits, '.', '-' and ':'", opts.Cluster, a.addr)
			}
		}
	}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.reload(ctx); err != nil {
		s.Close()
		return nil, err
	}
	go s.refreshLoop()
	return s, nil
}

// serverAddr is one server of a cluster: a replica of a shard.
type serverAddr struct {
	addr           string
	shard, replica int // from 1
}

// server is a connection to one server of the cluster, for DDL, which
// every server runs for itself; name is its replica name in replicated
// tables ("" when the shards have one replica each).
type server struct {
	db    *sql.DB
	shard int
	first bool // the shard's first replica
	name  string
}

// clusterServers lists the servers of a cluster, by shard and replica.
// The first replica of each shard takes its writes; with several
// replicas, the tables replicate them to the others through ZooKeeper.
func clusterServers(ctx context.Context, db *sql.DB, cluster string) ([]serverAddr, error) {
	rows, err := db.QueryContext(ctx, `SELECT shard_num, replica_num, host_address, port FROM system.clusters WHERE cluster = ? ORDER BY shard_num, replica_num`, cluster)
	if err != nil {
		return nil, fmt.Errorf("read cluster %q: %w", cluster, err)
	}
	defer rows.Close()
	var out []serverAddr
	for rows.Next() {
		var shard, replica uint32
		var host string
		var port uint16
		if err := rows.Scan(&shard, &replica, &host, &port); err != nil {
			return nil, err
		}
		out = append(out, serverAddr{addr: hostPort(host, port), shard: int(shard), replica: int(replica)})
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("clickhouse has no cluster %q in remote_servers", cluster)
	}
	return out, nil
}

func hostPort(host string, port uint16) string {
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return host + ":" + strconv.Itoa(int(port))
}

// Close stops the refresh and closes the connections.
func (s *Store) Close() error {
	select {
	case <-s.stop:
	default:
		close(s.stop)
		if s.loadedOnce() {
			<-s.done
		}
		s.bg.Wait()
	}
	var errs []error
	if err := s.SaveLastSeen(context.Background()); err != nil {
		errs = append(errs, err)
	}
	for _, srv := range s.servers {
		errs = append(errs, srv.db.Close())
	}
	for _, w := range s.writers {
		errs = append(errs, w.Close())
	}
	if s.db != nil {
		errs = append(errs, s.db.Close())
	}
	return errors.Join(errs...)
}

func (s *Store) loadedOnce() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return !s.loaded.IsZero()
}

// DB is the handle queries run on.
func (s *Store) DB() *sql.DB { return s.db }

// Shards is the number of shards written to.
func (s *Store) Shards() int { return len(s.shards) }

// tableName is the local table of a dataset; the name is a hash, so any
// dataset name maps to a short identifier that needs no quoting rules.
func tableName(dataset string) string { return "e_" + hash(dataset) }

// distName is the Distributed table over a dataset's local tables.
func distName(dataset string) string { return "d_" + hash(dataset) }

func hash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:10])
}

var typeLetter = map[schema.Type]string{schema.Integer: "i", schema.Float: "f", schema.String: "s", schema.Boolean: "b"}

var chType = map[schema.Type]string{schema.Integer: "Nullable(Int64)", schema.Float: "Nullable(Float64)", schema.String: "Nullable(String)", schema.Boolean: "Nullable(UInt8)"}

// fieldBase is the name a field is read under; its typed columns add a
// type letter.
func fieldBase(name string) string { return "c" + hash(name) }

func column(base string, t schema.Type) string { return base + "_" + typeLetter[t] }

func (s *Store) qualified(table string) string { return ident(s.opts.Database) + "." + ident(table) }

// readTable is the table queries read: the Distributed one on a cluster.
func (s *Store) readTable(ds string) string {
	if s.opts.Cluster != "" {
		return s.qualified(distName(ds))
	}
	return s.qualified(tableName(ds))
}

func ident(s string) string { return "`" + s + "`" }

// migrate creates the database and the catalog tables on every server.
func (s *Store) migrate(ctx context.Context) error {
	for _, srv := range s.servers {
		db := srv.db
		for _, q := range []string{
			`CREATE DATABASE IF NOT EXISTS ` + ident(s.opts.Database),
			`CREATE TABLE IF NOT EXISTS ` + s.qualified("px_datasets") + ` (name String, created_us Int64, retention_s Int64, version Int64) ENGINE = ` + s.engine(srv, "px_datasets", "ReplacingMergeTree", "version") + ` ORDER BY name`,
			`CREATE TABLE IF NOT EXISTS ` + s.qualified("px_columns") + ` (dataset String, name String, created_us Int64, seen_us Int64) ENGINE = ` + s.engine(srv, "px_columns", "ReplacingMergeTree", "seen_us") + ` ORDER BY (dataset, name)`,
			// See counts.go.
			`CREATE TABLE IF NOT EXISTS ` + s.qualified(countsTable) + ` (slo String, gen String, minute Int64, pb UInt64, ver UInt64, at UInt32, eligible Int64, good Int64, invalid Int64) ENGINE = ` + s.engine(srv, countsTable, "ReplacingMergeTree", "ver") + ` PARTITION BY intDiv(minute, 1440 * 7) ORDER BY (slo, gen, minute, pb)`,
		} {
			if _, err := db.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("clickhouse schema: %w", err)
			}
		}
		// Event tables made before inserts carried a batch id get one.
		var old []string
		err := queryRows(ctx, db, `SELECT name FROM system.tables WHERE database = ? AND (startsWith(name, 'e_') OR startsWith(name, 'd_'))
			AND name NOT IN (SELECT table FROM system.columns WHERE database = ? AND name = 'pb') ORDER BY name DESC`, []any{s.opts.Database, s.opts.Database}, func(r *sql.Rows) error {
			var n string
			err := r.Scan(&n)
			old = append(old, n)
			return err
		})
		if err != nil {
			return fmt.Errorf("clickhouse schema: %w", err)
		}
		for _, t := range old { // e_ before d_: a Distributed table reads its local tables' columns
			if _, err := db.ExecContext(ctx, "ALTER TABLE "+s.qualified(t)+" ADD COLUMN pb UInt64"); err != nil && !exists(err) {
				return fmt.Errorf("clickhouse schema: %w", err)
			}
		}
	}
	return nil
}

// engine is the table engine kind(args) on srv, replicated when the
// shards have replicas: the replicas of a shard share a ZooKeeper path
// made of the database, the table and the shard number.
func (s *Store) engine(srv server, table, kind, args string) string {
	if !s.replicated {
		return kind + "(" + args + ")"
	}
	zk := "'/clickhouse/prodex/" + s.opts.Database + "/" + table + "/" + strconv.Itoa(srv.shard) + "', '" + srv.name + "'"
	if args != "" {
		zk += ", " + args
	}
	return "Replicated" + kind + "(" + zk + ")"
}

func safeReplica(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-') {
			return false
		}
	}
	return s != ""
}

// everyServer runs f on every server, each replica of each shard: for
// DDL, which replicated tables do not carry to the other replicas
// (CREATE, Distributed tables, materialized views).
func (s *Store) everyServer(ctx context.Context, f func(srv server) error) error {
	for _, srv := range s.servers {
		if err := f(srv); err != nil {
			return err
		}
	}
	return nil
}

// each runs f on every shard (its first replica).
func (s *Store) each(ctx context.Context, f func(db *sql.DB) error) error {
	for _, db := range s.shards {
		if err := f(db); err != nil {
			return err
		}
	}
	return nil
}

// queryRows runs a query and hands each row to f.
func queryRows(ctx context.Context, db *sql.DB, q string, args []any, f func(*sql.Rows) error) error {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := f(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// exists reports whether err says the column or table is already there,
// which another node creating it at the same time causes.
func exists(err error) bool {
	var e *ch.Exception
	return errors.As(err, &e) && (e.Code == 44 || e.Code == 57)
}

// Table is the qualified table a dataset's events are read from, for
// hand-written comparisons (the query benchmark).
func (s *Store) Table(dataset string) string { return s.readTable(dataset) }
