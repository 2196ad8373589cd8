package duckdb

import (
	"context"
	"database/sql/driver"
	"errors"
	"testing"
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
