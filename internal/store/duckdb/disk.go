package duckdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// What DuckDB 1.4 does when a write fails for lack of disk space, as
// measured on a full tmpfs (the tests in disk_test.go and
// cmd/prodex/disk_e2e_test.go hold the store to it):
//
//   - A commit whose WAL write fails is refused; the instance goes on
//     reading and writing correctly.
//   - A commit whose checkpoint fails leaves the instance reading its
//     tables empty, and a checkpoint after that (at shutdown, say) would
//     write that emptiness over the file and delete the WAL that still
//     holds the rows.
//   - Closing the instance without a checkpoint keeps the WAL, and opening
//     the file again, even while the disk is still full, replays it: every
//     committed row is back, and the failed commit's rows are not.
//
// So after such a failure the store refuses writes (ErrDiskFailure), never
// checkpoints the failed instance, closes it and opens the file again in
// the same process (see conns), checks that every row it had acknowledged
// is back, serves queries from the new instance, and once the disk has
// room proves it with a checkpoint before it takes writes again. It never
// checkpoints at shutdown on its own either (Close does it explicitly,
// when nothing has gone wrong), and holds automatic checkpoints while the
// disk is low.

// holdThreshold is the checkpoint threshold while checkpoints are held:
// larger than any WAL will grow.
const holdThreshold = "1000TB"

// The recovery's pace: how long a reopen waits for the queries still
// running on the failed instance, and how often it looks for room (the
// pause doubles, up to recheckMax, after each attempt that failed).
var (
	drainTimeout = 2 * time.Minute
	recheckFirst = time.Second
	recheckMax   = 30 * time.Second
)

// HoldCheckpoints stops (hold) or resumes DuckDB's automatic checkpoints.
// The server holds them while the data disk is below its free-space
// minimum, so that small writes (query history, SLO counts) append to the
// WAL instead of starting a checkpoint the disk cannot take. While writes
// are refused after a failure they stay held whatever this says.
func (s *Store) HoldCheckpoints(hold bool) error {
	s.held.Store(hold)
	return s.applyThreshold()
}

// applyThreshold sets the checkpoint threshold in force: held while the
// disk is low or writes are refused.
func (s *Store) applyThreshold() error {
	s.tmu.Lock()
	defer s.tmu.Unlock()
	v := s.opts.CheckpointThreshold
	if s.held.Load() || s.poisoned.Load() {
		v = holdThreshold
	}
	s.threshold.Store(&v)
	if s.poisoned.Load() {
		return nil // the reopened instance opens with it
	}
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

// ShrinkCache has DuckDB drop what it can of its buffers (blocks of
// tables it keeps cached up to its memory limit, which a query may read
// again from disk) by lowering its limit to half of what it holds
// and raising it back. At the memory ceiling with nothing left to cancel,
// this is memory that comes back: on 11.7 M events, after a P99 query,
// the process went from 215 to 93 MB.
func (s *Store) ShrinkCache(ctx context.Context) error {
	var held int64
	if err := s.db.QueryRowContext(ctx, `SELECT coalesce(sum(memory_usage_bytes), 0) FROM duckdb_memory()`).Scan(&held); err != nil {
		return err
	}
	limit := *s.memLimit.Load()
	restore := "RESET GLOBAL memory_limit"
	if limit != "" {
		restore = "SET GLOBAL memory_limit = '" + sqlString(limit) + "'"
	}
	// Evicting may fall short (pinned blocks): what it freed is freed.
	_, shrunk := s.db.ExecContext(ctx, fmt.Sprintf("SET GLOBAL memory_limit = '%dMB'", max(held/2/1e6, 16)))
	if _, err := s.db.ExecContext(context.WithoutCancel(ctx), restore); err != nil {
		return fmt.Errorf("restoring the memory limit %q: %w", limit, err)
	}
	return shrunk
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

// ErrDiskFailure refuses writes after one failed for lack of space, until
// the store has room again.
var ErrDiskFailure = errors.New("a write failed for lack of disk space; writes are refused until the disk has room again")

// Recovery is a step of the recovery from a failed write, for the log.
type Recovery struct {
	// Step is "reopened" (Events are back, as many as were acknowledged),
	// "resumed" (writes go through again), "waiting" (for Free bytes,
	// Need being the least) or "failed" (Err; the step is tried again,
	// unless Lost says acknowledged events are missing).
	Step       string
	Events     int64
	Lost       int64
	Free, Need int64
	Err        error
}

// recovery runs the recovery from a failed write, once at a time.
type recovery struct {
	mu      sync.Mutex
	running bool
	stopped bool
	quit    chan struct{}
	done    chan struct{}
	state   string // what it is doing, for readiness ("" when writes go through)
}

func (r *recovery) init() { r.quit = make(chan struct{}) }

// stop ends the recovery and waits for it (at Close).
func (r *recovery) stop() {
	r.mu.Lock()
	r.stopped = true
	running, done := r.running, r.done
	r.mu.Unlock()
	close(r.quit)
	if running {
		<-done
	}
}

// finish ends a recovery that has not already ended by resuming.
func (r *recovery) finish() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.running {
		r.running = false
		close(r.done)
	}
}

func (r *recovery) set(state string) {
	r.mu.Lock()
	r.state = state
	r.mu.Unlock()
}

// failed records a write error: after a disk failure the database's
// in-memory state cannot be trusted, so the store refuses writes, never
// checkpoints it, and starts the recovery.
func (s *Store) failed(err error) {
	if !diskFailure(err) || s.poisoned.Swap(true) {
		return
	}
	// No checkpoint may write the in-memory state over the file now.
	s.threshold.Store(ptr(holdThreshold))
	s.db.ExecContext(context.Background(), "SET GLOBAL checkpoint_threshold = '"+holdThreshold+"'")
	if s.opts.OnDiskFailure != nil {
		s.opts.OnDiskFailure(err)
	}
	r := &s.recovery
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.running || r.stopped {
		return
	}
	r.running, r.done, r.state = true, make(chan struct{}), "reopening the database after a write failed for lack of disk space"
	go s.recover()
}

func ptr[T any](v T) *T { return &v }

// recover reopens the database, waits for room and resumes writes; it
// ends when they go through again, at Close, or when acknowledged events
// are missing after a reopen (then writes stay refused and the file and
// WAL untouched, for a person to look at).
func (s *Store) recover() {
	r := &s.recovery
	defer r.finish()
	tell := func(rc Recovery) {
		if s.opts.OnRecovery != nil {
			s.opts.OnRecovery(rc)
		}
	}
	pause := recheckFirst
	wait := func() bool {
		select {
		case <-r.quit:
			return false
		case <-time.After(pause):
			pause = min(2*pause, recheckMax)
			return true
		}
	}
	for reopened := false; ; {
		if !reopened {
			r.set("reopening the database after a write failed for lack of disk space")
			n, lost, err := s.reopen()
			switch {
			case lost > 0:
				r.set(fmt.Sprintf("%d acknowledged events are missing after reopening the database; writes stay refused: restart the server, which replays the WAL", lost))
				tell(Recovery{Step: "failed", Lost: lost, Err: err})
				return
			case err != nil:
				tell(Recovery{Step: "failed", Err: fmt.Errorf("reopening the database: %w", err)})
				if !wait() {
					return
				}
				continue
			}
			reopened = true
			r.set("a write failed for lack of disk space: the database was reopened, and writes resume once the disk has room")
			tell(Recovery{Step: "reopened", Events: n})
		}
		if !wait() {
			return
		}
		free, need := s.room()
		if free < need {
			r.set(fmt.Sprintf("a write failed for lack of disk space: waiting for %d MB free (%d MB now) before writing again", need/1e6, free/1e6))
			tell(Recovery{Step: "waiting", Free: free, Need: need})
			continue
		}
		err := s.resume()
		if err == nil {
			tell(Recovery{Step: "resumed"})
			return
		}
		tell(Recovery{Step: "failed", Err: fmt.Errorf("writing again: %w", err)})
		if diskFailure(err) {
			reopened = false // the failed checkpoint spoilt this instance too
		}
	}
}

// reopen closes the database and opens it again, and checks that every
// segment holds at least the rows acknowledged: it returns the events
// now stored, and those missing.
func (s *Store) reopen() (events, lost int64, err error) {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	s.wmu.Lock()
	defer s.wmu.Unlock()
	acked := map[string]int64{}
	s.mu.RLock()
	for _, ds := range s.datasets {
		for _, seg := range ds.segments {
			acked[seg.table] = seg.rows
		}
	}
	s.mu.RUnlock()
	s.closeOwn()
	if err := s.conns.reopen(s.db, drainTimeout, s.recovery.quit); err != nil {
		return 0, 0, err
	}
	fresh := &Store{opts: s.opts, db: s.db, datasets: map[string]*dataset{}}
	if err := fresh.load(); err != nil {
		return 0, 0, err
	}
	if err := fresh.loadMarks(); err != nil {
		return 0, 0, err
	}
	now := map[string]int64{}
	for _, ds := range fresh.datasets {
		for _, seg := range ds.segments {
			now[seg.table] = seg.rows
			events += seg.rows
		}
	}
	for t, n := range acked {
		if now[t] < n {
			lost += n - now[t]
		}
	}
	if lost > 0 {
		return events, lost, fmt.Errorf("%d acknowledged events missing", lost)
	}
	s.mu.Lock()
	s.datasets, s.nextID, s.marks = fresh.datasets, fresh.nextID, fresh.marks
	for _, c := range s.counters {
		c.gen = -1 // compile again against the catalog read back
	}
	s.mu.Unlock()
	return events, 0, s.connectOwn()
}

// room is the free space of the data directory's disk, and what it
// should have before writes resume: MinFreeDisk, and at least the WAL's
// size, which the first checkpoint writes into the file.
func (s *Store) room() (free, need int64) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(s.dir, &st); err != nil {
		return 0, 1
	}
	need = s.opts.MinFreeDisk
	if fi, err := os.Stat(filepath.Join(s.dir, dbFile+".wal")); err == nil {
		need = max(need, fi.Size())
	}
	return int64(st.Bavail) * int64(st.Bsize), need
}

// resume proves that writes go through with a checkpoint (which folds the
// WAL into the file) and takes writes again.
func (s *Store) resume() error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if _, err := s.db.ExecContext(context.Background(), "CHECKPOINT"); err != nil {
		return err
	}
	// Writes go through from here; a failure after this starts a new
	// recovery, so this one ends in the same step.
	r := &s.recovery
	r.mu.Lock()
	s.poisoned.Store(false)
	r.state = ""
	if r.running {
		r.running = false
		close(r.done)
	}
	r.mu.Unlock()
	return s.applyThreshold()
}

// WriteFailure says, while writes are refused after one failed for lack
// of disk space, what the store is doing about it; "" when writes go
// through.
func (s *Store) WriteFailure() string {
	if !s.poisoned.Load() {
		return ""
	}
	s.recovery.mu.Lock()
	defer s.recovery.mu.Unlock()
	if s.recovery.state == "" {
		return "a write failed for lack of disk space"
	}
	return s.recovery.state
}

// Reopening says whether the database is being closed and opened again,
// when queries wait for it.
func (s *Store) Reopening() bool {
	s.conns.mu.Lock()
	defer s.conns.mu.Unlock()
	return s.conns.cur == nil
}

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

// Poisoned reports whether writes are refused after one failed for lack
// of disk space.
func (s *Store) Poisoned() bool { return s.poisoned.Load() }

// WritesRefused is Poisoned, as the ingest writer asks it: while it holds
// ingest is refused before anything is queued.
func (s *Store) WritesRefused() bool { return s.poisoned.Load() }

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
