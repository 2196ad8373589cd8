package meta

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"time"
)

// OpenDuckDB opens the metadata store in the embedded store's DuckDB
// database db, creating what is missing of its tables. guard, when set,
// runs every write: the event store's, which refuses writes after one
// failed for lack of disk space and notes such a failure (see
// duckdb.Store.GuardWrite). Close leaves db open: it is the event store's.
func OpenDuckDB(ctx context.Context, db *sql.DB, guard func(write func() error) error) (*Store, error) {
	return open(ctx, db, duckDB, guard, nil)
}

// duckDB is the dialect of the embedded store. Its tables are those that
// data directories have held since they were added (columns only ever
// added, by ALTER), so that every existing directory opens unchanged.
var duckDB = &dialect{
	name:        "duckdb",
	uncancelled: true,
	schema: []string{
		`CREATE TABLE IF NOT EXISTS px_keys (id VARCHAR, hash VARCHAR, scope VARCHAR, name VARCHAR, created_us BIGINT, revoked BOOLEAN)`,
		`CREATE TABLE IF NOT EXISTS px_slos (name VARCHAR PRIMARY KEY, body VARCHAR, updated_us BIGINT)`,
		`CREATE TABLE IF NOT EXISTS px_alerts (id VARCHAR PRIMARY KEY, slo VARCHAR, started_us BIGINT, open BOOLEAN, body VARCHAR)`,
		`CREATE TABLE IF NOT EXISTS px_risks (name VARCHAR PRIMARY KEY, body VARCHAR, updated_us BIGINT)`,
		`CREATE TABLE IF NOT EXISTS px_markers (id VARCHAR PRIMARY KEY, dataset VARCHAR, start_s BIGINT, end_s BIGINT, body VARCHAR)`,
		`CREATE TABLE IF NOT EXISTS px_queries (id VARCHAR PRIMARY KEY, dataset VARCHAR, spec VARCHAR, created_us BIGINT)`,
		`CREATE TABLE IF NOT EXISTS px_query_runs (id VARCHAR PRIMARY KEY, query_id VARCHAR, dataset VARCHAR, author VARCHAR, ran_us BIGINT, duration_ms DOUBLE, row_count BIGINT, error_text VARCHAR)`,
		`CREATE TABLE IF NOT EXISTS px_saved_queries (id VARCHAR PRIMARY KEY, name VARCHAR, description VARCHAR, query_id VARCHAR, author VARCHAR, created_us BIGINT, updated_us BIGINT)`,
		`ALTER TABLE px_keys ADD COLUMN IF NOT EXISTS user_name VARCHAR`,
		`ALTER TABLE px_keys ADD COLUMN IF NOT EXISTS env VARCHAR`,
		`CREATE TABLE IF NOT EXISTS px_users (name VARCHAR PRIMARY KEY, body VARCHAR, updated_us BIGINT)`,
		`CREATE TABLE IF NOT EXISTS px_notes (name VARCHAR PRIMARY KEY, body VARCHAR, updated_us BIGINT)`,
		`CREATE TABLE IF NOT EXISTS px_incidents (name VARCHAR PRIMARY KEY, body VARCHAR, updated_us BIGINT)`,
		`CREATE TABLE IF NOT EXISTS px_audit (time_us BIGINT, author VARCHAR, key_id VARCHAR, method VARCHAR, path VARCHAR, status INTEGER)`,
		`CREATE TABLE IF NOT EXISTS px_notifications_owed (id VARCHAR PRIMARY KEY, alert_id VARCHAR, target VARCHAR, message VARCHAR, created_us BIGINT, attempts INTEGER, last_error VARCHAR)`,
		`CREATE TABLE IF NOT EXISTS px_sessions (hash VARCHAR PRIMARY KEY, key_id VARCHAR, created_us BIGINT, seen_us BIGINT)`,
	},
	// Documents are VARCHAR: bound as text, read back byte for byte.
	doc:           func(b []byte) any { return string(b) },
	escape:        `'\'`,
	serialInserts: true,
	leases:        func(*sql.DB) leaser { return &memLeases{held: map[string]memLease{}} },
}

// memLeases keeps the leases in memory: a DuckDB file has one process,
// and a lease kept on disk would outlive the process holding it and lock
// out the next one until it expired. The process's clock decides.
type memLeases struct {
	mu   sync.Mutex
	held map[string]memLease
}

type memLease struct {
	holder  string
	expires time.Time
}

func (l *memLeases) lease(_ context.Context, name, holder string, ttl time.Duration) (bool, time.Time, error) {
	if ttl <= 0 {
		return false, time.Time{}, fmt.Errorf("lease %s: ttl %v is not positive", name, ttl)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if h, ok := l.held[name]; ok && h.holder != holder && !h.expires.Before(now) {
		return false, h.expires, nil
	}
	h := memLease{holder: holder, expires: now.Add(ttl)}
	l.held[name] = h
	return true, h.expires, nil
}

func (l *memLeases) release(_ context.Context, name, holder string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if h, ok := l.held[name]; ok && h.holder == holder {
		delete(l.held, name)
	}
	return nil
}
