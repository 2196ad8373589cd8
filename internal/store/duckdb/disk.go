package duckdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// DuckDB 1.4 loses a session's committed rows when a checkpoint fails for
// lack of disk space: the tables read empty from then on, and a checkpoint
// at shutdown would write that emptiness over the file and delete the WAL
// that still holds the rows. So the store never checkpoints at shutdown on
// its own (Close does it explicitly, when nothing has gone wrong), holds
// automatic checkpoints while the disk is low, and treats a write that
// failed for lack of space as the end of this process's use of the
// database: the WAL then replays the rows at the next open.

// holdThreshold is the checkpoint threshold while checkpoints are held:
// larger than any WAL will grow.
const holdThreshold = "1000TB"

// HoldCheckpoints stops (hold) or resumes DuckDB's automatic checkpoints.
// The server holds them while the data disk is below its free-space
// minimum, so that small writes (query history, SLO counts) append to the
// WAL instead of starting a checkpoint the disk cannot take.
func (s *Store) HoldCheckpoints(hold bool) error {
	v := s.opts.CheckpointThreshold
	if hold {
		v = holdThreshold
	}
	s.threshold.Store(&v)
	_, err := s.db.ExecContext(context.Background(), "SET GLOBAL checkpoint_threshold = '"+sqlString(v)+"'")
	return err
}

// SetMemoryLimit changes DuckDB's memory limit (e.g. "400MB") while the
// store is open: the server splits one share of its memory ceiling between
// its environments, and a new environment shrinks the others' part.
func (s *Store) SetMemoryLimit(limit string) error {
	if _, err := s.db.ExecContext(context.Background(), "SET GLOBAL memory_limit = '"+sqlString(limit)+"'"); err != nil {
		return fmt.Errorf("memory limit %q: %w", limit, err)
	}
	s.memLimit.Store(&limit)
	return nil
}

// diskFailure reports whether err is DuckDB failing to write for lack of
// space, or refusing to go on after such a failure.
func diskFailure(err error) bool {
	if err == nil {
		return false
	}
	m := err.Error()
	return strings.Contains(m, "No space left on device") || strings.Contains(m, "Failed to create checkpoint") ||
		strings.Contains(m, "database has been invalidated")
}

// failed records a write error: after a disk failure the database's
// in-memory state cannot be trusted, so the store refuses to checkpoint it
// and tells Options.OnDiskFailure once.
func (s *Store) failed(err error) {
	if !diskFailure(err) || s.poisoned.Swap(true) {
		return
	}
	// No checkpoint may write the in-memory state over the file now.
	s.HoldCheckpoints(true)
	if s.opts.OnDiskFailure != nil {
		s.opts.OnDiskFailure(err)
	}
}

// ErrDiskFailure refuses writes after one failed for lack of space.
var ErrDiskFailure = errors.New("an earlier write failed for lack of disk space; restart the server to recover from its WAL")

// exec runs a write outside a transaction, noting a failure for lack of
// disk space; after one it writes nothing.
func (s *Store) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if s.poisoned.Load() {
		return nil, ErrDiskFailure
	}
	res, err := s.db.ExecContext(ctx, q, args...)
	s.failed(err)
	return res, err
}

// GuardWrite runs a write that another store makes to this store's
// database (the metadata store, see package meta), as the store's own
// writes run: refused with ErrDiskFailure after one failed for lack of
// disk space, and its failure noted.
func (s *Store) GuardWrite(write func() error) error {
	if s.poisoned.Load() {
		return ErrDiskFailure
	}
	err := write()
	s.failed(err)
	return err
}

// uncancelled is the context a write's transaction runs with: its
// caller's values without its cancellation. DuckDB interrupts a cancelled
// statement, and the interrupt can land on the ROLLBACK or COMMIT after
// it, leaving the connection inside a transaction no one ends: every
// later transaction on it fails. The writes are bounded, so finishing
// them costs little, and what a caller had accepted is not lost.
func uncancelled(ctx context.Context) context.Context { return context.WithoutCancel(ctx) }

// commitTx commits tx, noting a failure for lack of disk space.
func (s *Store) commitTx(tx *sql.Tx) error {
	err := tx.Commit()
	s.failed(err)
	return err
}

// Poisoned reports whether a write failed for lack of disk space.
func (s *Store) Poisoned() bool { return s.poisoned.Load() }

// MemoryUsage is DuckDB's own account of the memory it holds, by what
// holds it (duckdb_memory()): buffers of tables, of queries, of the WAL
// being replayed and so on. Allocations outside its buffer manager are
// not in it, so it reads below the process's resident memory.
func (s *Store) MemoryUsage(ctx context.Context) (map[string]int64, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT tag, memory_usage_bytes FROM duckdb_memory() WHERE memory_usage_bytes > 0`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var tag string
		var n int64
		if err := rows.Scan(&tag, &n); err != nil {
			return nil, err
		}
		out[strings.ToLower(tag)] = n
	}
	return out, rows.Err()
}
