package duckdb

import (
	"context"
	"database/sql/driver"
	"errors"
	"testing"
	"time"
)

// leaveAborted puts x in the state a failed ROLLBACK leaves (seen under
// memory pressure in the soak): DuckDB holds an aborted transaction that
// the driver takes for ended.
func leaveAborted(t *testing.T, x *conn) {
	t.Helper()
	ctx := context.Background()
	if _, err := x.Conn.ExecContext(ctx, "BEGIN TRANSACTION", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := x.Conn.ExecContext(ctx, "SELECT error('a statement failed')", nil); err == nil {
		t.Fatal("the failing statement went through")
	}
	if _, err := x.Conn.ExecContext(ctx, "SELECT 1", nil); err == nil {
		t.Fatal("the transaction is not aborted; the test needs it to be")
	}
	x.ended(errors.New("ROLLBACK failed: Out of Memory Error"))
}

// Before, the connection stayed aborted for good: every query and
// metadata write served by it failed with "Current transaction is
// aborted" until the server restarted.
func TestPooledConnectionLeftInAbortedTransactionIsNotReused(t *testing.T) {
	s, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	s.db.SetMaxOpenConns(1) // the next statements get this connection or a new one
	c, err := s.db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Raw(func(dc any) error { leaveAborted(t, dc.(*conn)); return nil }); err != nil {
		t.Fatal(err)
	}
	c.Close()
	for i := range 3 {
		var n int
		if err := s.db.QueryRowContext(ctx, `SELECT 42`).Scan(&n); err != nil || n != 42 {
			t.Fatalf("query %d after the failed rollback: %d, %v; want 42", i, n, err)
		}
	}
}

// The writer's and the counter's connections are the store's own, never
// pooled: their next transaction settles the one left open.
func TestOwnConnectionRollsBackTheTransactionLeftOpenBeforeTheNext(t *testing.T) {
	s, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	x := s.wconn.(*conn)
	leaveAborted(t, x)
	tx, err := x.BeginTx(context.Background(), driver.TxOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := x.ExecContext(context.Background(), "CREATE TABLE t (k INTEGER)", nil); err != nil {
		t.Fatalf("a statement in the next transaction: %v", err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// At the memory ceiling with no query to cancel, DuckDB's cache is what
// can still come back: ShrinkCache drops cached blocks and leaves the
// memory limit as it was.
func TestShrinkCacheDropsCachedBlocksAndKeepsTheLimit(t *testing.T) {
	s, err := Open(t.TempDir(), Options{MemoryLimit: "300MB"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	// Written out by a checkpoint, then read back into the cache.
	for _, q := range []string{`CREATE TABLE big AS SELECT md5(i::VARCHAR) || md5((i * 7)::VARCHAR) AS s, random() AS f FROM range(2000000) t(i)`,
		"CHECKPOINT", "SELECT max(s), sum(f) FROM big"} {
		if _, err := s.db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	held := func() int64 {
		var n int64
		if err := s.db.QueryRowContext(ctx, `SELECT coalesce(sum(memory_usage_bytes), 0) FROM duckdb_memory()`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := held()
	if err := s.ShrinkCache(ctx); err != nil {
		t.Fatal(err)
	}
	after := held()
	if before < 20<<20 || after > before*6/10 {
		t.Errorf("DuckDB held %d MB before and %d MB after shrinking; want at least 20 MB cached, then at most 60 %% of it", before>>20, after>>20)
	}
	var limit string
	if err := s.db.QueryRowContext(ctx, `SELECT current_setting('memory_limit')`).Scan(&limit); err != nil || limit != "286.1 MiB" {
		t.Errorf("memory limit after shrinking: %q %v, want 300MB as set (286.1 MiB)", limit, err)
	}
}

// SaveLastSeen writes the columns written since its last save, and after
// a reopen every column reads back when it was last written.
func TestSaveLastSeenWritesWhatMovedAndKeepsTheRest(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	seen := func(s *Store, name string) time.Time {
		cat, err := s.Catalog("d")
		if err != nil {
			t.Fatal(err)
		}
		c, ok := cat.Column(name)
		if !ok {
			t.Fatalf("no column %s", name)
		}
		return c.LastSeen
	}
	appendOK(t, s, "d", ev(time.Now(), 1, "a", int64(1), "b", int64(2)))
	if err := s.SaveLastSeen(ctx); err != nil {
		t.Fatal(err)
	}
	b1 := seen(s, "b")
	time.Sleep(2 * time.Millisecond)
	appendOK(t, s, "d", ev(time.Now(), 1, "a", int64(3)))
	if err := s.SaveLastSeen(ctx); err != nil {
		t.Fatal(err)
	}
	a2 := seen(s, "a")
	if !a2.After(b1) {
		t.Fatalf("a last seen %v, not after b's %v", a2, b1)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if a3, b3 := seen(s, "a"), seen(s, "b"); !a3.Equal(a2.Truncate(time.Microsecond)) || !b3.Equal(b1.Truncate(time.Microsecond)) {
		t.Errorf("after reopening: a %v, b %v; want %v, %v", a3, b3, a2, b1)
	}
}
