// Package duckdb is the embedded event store: one DuckDB database file in the
// data directory holds every dataset's events and SLI counts, and Prodex's
// own metadata, which package meta keeps in the same database (DB) with
// its writes guarded by this store's (GuardWrite).
//
// Layout. Events of a dataset are split into segment tables, one or more per
// UTC day of event time ("ev_<dataset id>_<day>_<seq>"), so retention drops
// whole tables and queries read only the days they cover. A segment has the
// columns ts (µs since the epoch), sr (sample rate) and one column per field,
// named c<N> by the store: user field names never reach SQL text, and names
// that differ only in case (DuckDB identifiers are case-insensitive) stay
// distinct. A new field is added to a small segment with ALTER TABLE; once a
// segment is large the store starts a new one instead, because ALTER on a
// large DuckDB table rewrites data. Queries read segments through
// UNION ALL, filling columns a segment lacks with NULL.
package duckdb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/prodex/prodex/internal/problem"
	"github.com/prodex/prodex/internal/schema"
	"github.com/prodex/prodex/internal/store"
)

// Options tune the store.
type Options struct {
	// MaxColumns caps the number of columns of one dataset (default
	// store.DefaultMaxColumns).
	MaxColumns int
	// Retention is the default retention of a new dataset (default 60 days).
	Retention time.Duration
	// AlterRows is the segment size up to which a new column is added in
	// place; larger segments are closed and a new one started (default 2M).
	AlterRows int64
	// SegmentRows is the size at which a day's segment is closed and the
	// next one started. DuckDB's checkpoint work grows with the table
	// being appended to, so bounded tables keep ingest fast as data grows.
	SegmentRows int64
	// Threads, when > 0, caps DuckDB's worker threads.
	Threads int
	// MemoryLimit, when set, caps DuckDB's memory (e.g. "4GB").
	MemoryLimit string
	// CheckpointThreshold is the WAL size at which DuckDB checkpoints
	// (default 256MB; DuckDB's own is 16MB). Each checkpoint rewrites the
	// tables' unfinished row groups, so with wide events frequent ones
	// recompress the same rows many times: 256MB ingests 7-15 % faster,
	// at the price of a longer WAL replay after a crash.
	CheckpointThreshold string
	// CountInterval is the least time between two runs of the SLI counter
	// (default 500ms). Each run costs a transaction and an upsert per SLO
	// and minute however few rows it counts, so under heavy ingest fewer,
	// larger runs keep counting cheap; the counts lag by at most this.
	CountInterval time.Duration
	// OnDiskFailure, when set, is told of a write that failed for lack of
	// disk space (see disk.go): writes are refused from then on until the
	// store has reopened the database and a checkpoint goes through.
	OnDiskFailure func(error)
	// OnRecovery, when set, is told how the recovery from such a failure
	// goes: the database reopened, writes resumed, or a step that failed
	// and will be tried again.
	OnRecovery func(Recovery)
	// MinFreeDisk is the free space (bytes) the data directory's disk must
	// have before the store tries writing again after such a failure
	// (and at least the WAL's size, which the first checkpoint needs).
	MinFreeDisk int64
}

func (o *Options) defaults() {
	if o.MaxColumns <= 0 {
		o.MaxColumns = store.DefaultMaxColumns
	}
	if o.Retention <= 0 {
		o.Retention = 60 * 24 * time.Hour
	}
	if o.SegmentRows <= 0 {
		o.SegmentRows = 4_000_000
	}
	if o.AlterRows <= 0 {
		o.AlterRows = 2_000_000
	}
	if o.CheckpointThreshold == "" {
		o.CheckpointThreshold = "256MB"
	}
	if o.CountInterval <= 0 {
		o.CountInterval = 500 * time.Millisecond
	}
}

// Store is the DuckDB event store.
type Store struct {
	opts  Options
	dir   string
	conns *conns
	db    *sql.DB

	threshold atomic.Pointer[string] // checkpoint threshold in force
	memLimit  atomic.Pointer[string] // memory limit in force ("" DuckDB's default)
	poisoned  atomic.Bool            // a write failed for lack of space; writes are refused
	held      atomic.Bool            // checkpoints held for a low disk (HoldCheckpoints)
	tmu       sync.Mutex             // serialises changes of the threshold
	recovery  recovery               // after a failed write: see disk.go
	closeOnce sync.Once
	closeErr  error

	// wmu serialises writers: one group commit at a time on wconn.
	wmu   sync.Mutex
	wconn driver.Conn
	// smu serialises Prepare: one schema change at a time, outside wmu.
	smu sync.Mutex
	// lmu serialises saveLastSeen; saved is what it last wrote of each
	// column, so that it writes only what moved.
	lmu   sync.Mutex
	saved map[upd]int64 // by dataset id and name, us unset

	// mu guards the in-memory catalog below; readers take snapshots.
	mu       sync.RWMutex
	datasets map[string]*dataset
	nextID   int64
	counters map[string]*counter // SLIs counted at commit, by SLO name

	// The SLI counter follows the commits on its own connection, so that
	// counting never delays ingest. cmu serialises it with counter
	// changes; take cmu before wmu.
	cmu         sync.Mutex
	cconn       driver.Conn
	marks       map[string]int64       // segment table → rows counted
	onCounts    func([]MinuteCount)    // receives new count totals
	countStmts  map[string]driver.Stmt // prepared SLI count statements
	countSignal chan struct{}
	countStop   chan struct{}
	countDone   chan struct{}
	countErr    atomic.Value // string: the counter's last error

	// schemaChanges counts the statements that changed a segment table's
	// columns (CREATE TABLE, ALTER TABLE); beforeSchemaChange, set by
	// tests, runs before each.
	schemaChanges      atomic.Int64
	beforeSchemaChange func()
}

// SchemaChanges is the number of statements that created a segment table
// or changed its columns since the store opened.
func (s *Store) SchemaChanges() int64 { return s.schemaChanges.Load() }

func (s *Store) schemaChanged() {
	s.schemaChanges.Add(1)
	if s.beforeSchemaChange != nil {
		s.beforeSchemaChange()
	}
}

type dataset struct {
	id        int64
	name      string
	created   time.Time
	retention time.Duration
	cols      map[string]*schema.Column
	order     []*schema.Column // by creation
	nextPhys  int
	gen       int64               // bumped when columns are added or retyped
	segments  map[string]*segment // by table name
	current   map[int32]*segment  // day → segment being written
	seqs      map[int32]int       // day → highest segment number given (under wmu)
}

// nextSeq numbers the next segment of a day; the caller holds wmu.
func (ds *dataset) nextSeq(day int32) int {
	n, ok := ds.seqs[day]
	if !ok {
		n = -1
	}
	ds.seqs[day] = n + 1
	return n + 1
}

type segment struct {
	table        string
	day          int32
	seq          int
	rows         int64
	minTS, maxTS int64
	maxSR        int64
	cols         map[string]schema.Type // phys → type in this table
	order        []string               // phys columns in table order (after ts, sr)
	app          *duckdb.Appender
}

const dbFile = "prodex.duckdb"

// Open opens (creating if needed) the store in dir.
func Open(dir string, opts Options) (*Store, error) {
	opts.defaults()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	path := filepath.Join(dir, dbFile)
	s := &Store{opts: opts, dir: dir, datasets: map[string]*dataset{}}
	s.threshold.Store(&opts.CheckpointThreshold)
	s.memLimit.Store(&opts.MemoryLimit)
	s.recovery.init()
	init := func(ex driver.ExecerContext) error {
		// See disk.go for why the store checkpoints at shutdown itself.
		stmts := []string{"PRAGMA disable_checkpoint_on_shutdown"}
		if opts.Threads > 0 {
			stmts = append(stmts, fmt.Sprintf("SET threads = %d", opts.Threads))
		}
		if limit := *s.memLimit.Load(); limit != "" {
			// Under a limit, freed memory should leave the process soon:
			// jemalloc's background threads return it to the system.
			stmts = append(stmts, fmt.Sprintf("SET memory_limit = '%s'", sqlString(limit)), "SET allocator_background_threads = true")
		}
		stmts = append(stmts, fmt.Sprintf("SET checkpoint_threshold = '%s'", sqlString(*s.threshold.Load())))
		for _, s := range stmts {
			if _, err := ex.ExecContext(context.Background(), s, nil); err != nil {
				return err
			}
		}
		return nil
	}
	cs, err := newConns(func() (*duckdb.Connector, error) {
		// The threshold is also set for the opening itself, in case
		// replaying the WAL would checkpoint on a disk that is full.
		return duckdb.NewConnector(path+"?checkpoint_threshold="+url.QueryEscape(*s.threshold.Load()), init)
	})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	s.conns, s.db = cs, sql.OpenDB(cs)
	fail := func(err error) (*Store, error) {
		s.db.Close()
		cs.close()
		return nil, err
	}
	if err := s.migrate(); err != nil {
		return fail(err)
	}
	if err := s.load(); err == nil {
		err = s.loadMarks()
	}
	if err != nil {
		return fail(err)
	}
	if err := s.connectOwn(); err != nil {
		return fail(err)
	}
	s.countSignal, s.countStop, s.countDone = make(chan struct{}, 1), make(chan struct{}), make(chan struct{})
	go s.countLoop()
	return s, nil
}

// connectOwn opens the writer's and the SLI counter's connections.
func (s *Store) connectOwn() error {
	wconn, err := s.conns.Connect(context.Background())
	if err != nil {
		return err
	}
	cconn, err := s.conns.Connect(context.Background())
	if err != nil {
		wconn.Close()
		return err
	}
	s.wconn, s.cconn = wconn, cconn
	return nil
}

// closeOwn closes the connections of the writer, the SLI counter and the
// appenders. The caller holds cmu and wmu.
func (s *Store) closeOwn() {
	s.mu.Lock()
	for _, ds := range s.datasets {
		for _, seg := range ds.segments {
			if seg.app != nil {
				seg.app.Close()
				seg.app = nil
			}
		}
	}
	s.mu.Unlock()
	s.closeCountStmts()
	for _, c := range []*driver.Conn{&s.cconn, &s.wconn} {
		if *c != nil {
			(*c).Close()
			*c = nil
		}
	}
}

// DB is the database handle, for queries.
func (s *Store) DB() *sql.DB { return s.db }

// Close counts what is left, flushes metadata and closes the database.
// Closing again does nothing and returns the first close's error.
func (s *Store) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.close() })
	return s.closeErr
}

func (s *Store) close() error {
	s.recovery.stop()
	close(s.countStop)
	<-s.countDone
	s.cmu.Lock()
	defer s.cmu.Unlock()
	// Rows that cannot be counted now keep their marks and are counted at
	// the next open: that is no reason for closing to fail.
	if !s.poisoned.Load() {
		s.noteCountFailures(s.countPending(context.Background()))
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.closeOwn()
	var err error
	if !s.poisoned.Load() {
		err = s.saveLastSeen(context.Background())
	}
	// Checkpoint at shutdown, so the next open has no WAL to replay, unless
	// the disk is low (checkpoints held) or a write has already failed for
	// lack of space: then the WAL is what holds the truth.
	if !s.poisoned.Load() && *s.threshold.Load() != holdThreshold {
		if _, cerr := s.db.ExecContext(context.Background(), "CHECKPOINT"); cerr != nil {
			s.failed(cerr)
			if err == nil {
				err = fmt.Errorf("checkpoint at close: %w", cerr)
			}
		}
	}
	if cerr := s.db.Close(); err == nil {
		err = cerr
	}
	if cerr := s.conns.close(); err == nil {
		err = cerr
	}
	return err
}

// Datasets lists the datasets, sorted by name.
func (s *Store) Datasets() []store.Dataset {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]store.Dataset, 0, len(s.datasets))
	for _, ds := range s.datasets {
		out = append(out, store.Dataset{Name: ds.name, Created: ds.created, Retention: ds.retention, Columns: len(ds.order)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Columns lists a dataset's columns in creation order.
func (s *Store) Columns(name string) ([]schema.Column, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	ds := s.datasets[name]
	if ds == nil {
		return nil, problem.ErrNotFound
	}
	out := make([]schema.Column, len(ds.order))
	for i, c := range ds.order {
		out[i] = *c
	}
	return out, nil
}

// SetRetention changes a dataset's retention.
func (s *Store) SetRetention(ctx context.Context, name string, d time.Duration) error {
	if err := store.CheckRetention(d); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ds := s.datasets[name]
	if ds == nil {
		return problem.ErrNotFound
	}
	if _, err := s.exec(ctx, `UPDATE px_datasets SET retention_s = ? WHERE id = ?`, int64(d/time.Second), ds.id); err != nil {
		return err
	}
	ds.retention = d
	return nil
}

func (s *Store) saveLastSeen(ctx context.Context) error {
	ctx = uncancelled(ctx)
	if s.poisoned.Load() {
		return ErrDiskFailure
	}
	s.lmu.Lock()
	defer s.lmu.Unlock()
	if s.saved == nil {
		s.saved = map[upd]int64{}
	}
	s.mu.RLock()
	var ups []upd
	for _, ds := range s.datasets {
		for _, c := range ds.order {
			// Only the columns written since the last save: a dataset of
			// 2,000 columns written once made this 2,000 UPDATEs every
			// time, 5 % of the CPU in the wide-sender soak.
			if us := c.LastSeen.UnixMicro(); us > s.saved[upd{id: ds.id, name: c.Name}] {
				ups = append(ups, upd{ds.id, c.Name, us})
			}
		}
	}
	s.mu.RUnlock()
	if len(ups) == 0 {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	st, err := tx.PrepareContext(ctx, `UPDATE px_columns SET last_seen_us = ? WHERE dataset_id = ? AND name = ? AND last_seen_us < ?`)
	if err != nil {
		return err
	}
	defer st.Close()
	for _, u := range ups {
		if _, err := st.ExecContext(ctx, u.us, u.id, u.name, u.us); err != nil {
			return err
		}
	}
	if err := s.commitTx(tx); err != nil {
		return err
	}
	for _, u := range ups {
		s.saved[upd{id: u.id, name: u.name}] = u.us
	}
	return nil
}

// upd is a column's last-seen time to save (saveLastSeen).
type upd struct {
	id   int64
	name string
	us   int64
}

// SaveLastSeen persists the columns' last-written times, which are kept in
// memory on the write path; the server calls it periodically.
func (s *Store) SaveLastSeen(ctx context.Context) error { return s.saveLastSeen(ctx) }

func sqlType(t schema.Type) string {
	switch t {
	case schema.Integer:
		return "BIGINT"
	case schema.Float:
		return "DOUBLE"
	case schema.Boolean:
		return "BOOLEAN"
	default:
		return "VARCHAR"
	}
}

func typeOfSQL(s string) (schema.Type, bool) {
	switch s {
	case "BIGINT":
		return schema.Integer, true
	case "DOUBLE":
		return schema.Float, true
	case "BOOLEAN":
		return schema.Boolean, true
	case "VARCHAR":
		return schema.String, true
	}
	return "", false
}

// ident quotes an identifier the store generated.
func ident(s string) string { return `"` + s + `"` }

// sqlString escapes a string literal's quotes (used only for settings).
func sqlString(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' {
			out = append(out, '\'')
		}
		out = append(out, s[i])
	}
	return string(out)
}
