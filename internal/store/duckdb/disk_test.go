package duckdb

import (
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prodex/prodex/internal/event"
)

func walSize(t *testing.T, dir string) int64 {
	t.Helper()
	fi, err := os.Stat(filepath.Join(dir, dbFile+".wal"))
	if errors.Is(err, os.ErrNotExist) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func appendWide(t *testing.T, s *Store, n int) {
	t.Helper()
	now := time.Now()
	evs := make([]event.Event, n)
	for i := range evs {
		evs[i] = ev(now, 1, "msg", fmt.Sprintf("%d %s", i, strings.Repeat("y", 300)), "i", i)
	}
	appendOK(t, s, "d", evs...)
}

// TestHoldCheckpoints: while held, the WAL grows past the threshold and
// Close leaves it for the next open to replay; released, commits
// checkpoint again and Close checkpoints, leaving no WAL.
func TestHoldCheckpoints(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{CheckpointThreshold: "256KB"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.HoldCheckpoints(true); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 4; i++ {
		appendWide(t, s, 2000)
	}
	if w := walSize(t, dir); w < 1<<20 {
		t.Fatalf("held: WAL %d bytes, want it past the 256KB threshold", w)
	}
	// A connection opened while held must not bring the threshold back.
	conn, err := s.DB().Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if w := walSize(t, dir); w < 1<<20 {
		t.Fatalf("closed while held: WAL %d bytes, want it kept", w)
	}

	s, err = Open(dir, Options{CheckpointThreshold: "256KB"})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(dump(t, s, "d")); n != 8000 {
		t.Fatalf("after replay %d events, want 8000", n)
	}
	appendWide(t, s, 2000)
	if w := walSize(t, dir); w > 1<<20 {
		t.Errorf("released: WAL %d bytes after a commit, want a checkpoint", w)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if w := walSize(t, dir); w != 0 {
		t.Errorf("clean close left a WAL of %d bytes", w)
	}
}

// TestDiskFailurePoisons: after a write fails for lack of space, the store
// is told once, writes nothing more, and does not checkpoint at Close.
func TestDiskFailurePoisons(t *testing.T) {
	dir := t.TempDir()
	var told []error
	s, err := Open(dir, Options{OnDiskFailure: func(err error) { told = append(told, err) }})
	if err != nil {
		t.Fatal(err)
	}
	appendWide(t, s, 100)
	s.failed(errors.New("some other error"))
	if s.Poisoned() {
		t.Fatal("poisoned by an error that is not about the disk")
	}
	full := errors.New(`TransactionContext Error: Failed to commit: Failed to create checkpoint because of error: Could not write file "x": No space left on device`)
	s.failed(full)
	s.failed(full)
	if !s.Poisoned() || len(told) != 1 {
		t.Fatalf("poisoned %v, told %d times", s.Poisoned(), len(told))
	}
	if _, err := s.exec(t.Context(), `DELETE FROM px_slo_counts`); !errors.Is(err, ErrDiskFailure) {
		t.Errorf("write after the failure: %v", err)
	}
	if err := s.Append(t.Context(), nil); !errors.Is(err, ErrDiskFailure) {
		t.Errorf("append after the failure: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if w := walSize(t, dir); w == 0 {
		t.Error("Close checkpointed a poisoned database")
	}
	s, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if n := len(dump(t, s, "d")); n != 100 {
		t.Errorf("after replay %d events, want 100", n)
	}
}

// A memory limit changed while the store is open holds for every
// connection, including those opened after the change.
func TestSetMemoryLimit(t *testing.T) {
	s, err := Open(t.TempDir(), Options{MemoryLimit: "500MB"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	limit := func() string {
		// Several connections at once, so that the pool opens new ones.
		var conns []*sql.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		var v string
		for i := 0; i < 3; i++ {
			c, err := s.DB().Conn(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			conns = append(conns, c)
			if err := c.QueryRowContext(t.Context(), "SELECT current_setting('memory_limit')").Scan(&v); err != nil {
				t.Fatal(err)
			}
		}
		return v
	}
	if v := limit(); !strings.HasPrefix(v, "476") { // 500 MB in MiB
		t.Fatalf("memory limit %q at open, want 476.8 MiB", v)
	}
	if err := s.SetMemoryLimit("200MB"); err != nil {
		t.Fatal(err)
	}
	if v := limit(); !strings.HasPrefix(v, "190") {
		t.Fatalf("memory limit %q after the change, want 190.7 MiB", v)
	}
	if err := s.SetMemoryLimit("lots"); err == nil {
		t.Error("a limit DuckDB cannot read was accepted")
	}
}

// TestGuardWrite: a write another store makes to the database (the
// metadata) runs as the store's own: a failure for lack of space poisons
// the store, and after it the guard refuses writes without running them.
func TestGuardWrite(t *testing.T) {
	var told []error
	s, err := Open(t.TempDir(), Options{OnDiskFailure: func(err error) { told = append(told, err) }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.GuardWrite(func() error { return nil }); err != nil {
		t.Fatal(err)
	}
	full := errors.New(`IO Error: Could not write file "x": No space left on device`)
	if err := s.GuardWrite(func() error { return full }); err != full {
		t.Fatalf("the write's own error: %v", err)
	}
	if !s.Poisoned() || len(told) != 1 {
		t.Fatalf("poisoned %v, told %d times", s.Poisoned(), len(told))
	}
	ran := false
	if err := s.GuardWrite(func() error { ran = true; return nil }); !errors.Is(err, ErrDiskFailure) || ran {
		t.Errorf("write after the failure: %v, ran %v", err, ran)
	}
}
