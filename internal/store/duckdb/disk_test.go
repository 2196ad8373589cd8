package duckdb

import (
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
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

// TestDiskFailureRefusesWritesUntilRecovered: after a write fails for
// lack of space, the store is told once and refuses writes; while it
// waits for room, Close does not checkpoint, and the WAL gives every
// acknowledged row back at the next open.
func TestDiskFailureRefusesWritesUntilRecovered(t *testing.T) {
	defer slowRecovery(time.Hour)()
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
	if !s.Poisoned() || len(told) != 1 || s.WriteFailure() == "" {
		t.Fatalf("poisoned %v, told %d times, failure %q", s.Poisoned(), len(told), s.WriteFailure())
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

// slowRecovery sets the recovery's first pause, and returns the undo.
func slowRecovery(d time.Duration) func() {
	old := recheckFirst
	recheckFirst = d
	return func() { recheckFirst = old }
}

// TestDiskFailureRecoversInProcess: a write fails for lack of space;
// the store reopens the database in the process: queries answered
// meanwhile (on a connection of the pool, as the API's) see every
// acknowledged row, writes are refused, SLI counting stops, and once
// there is room the store resumes writing by itself. The reopen waits
// for a query still running on the failed instance.
func TestDiskFailureRecoversInProcess(t *testing.T) {
	defer slowRecovery(50 * time.Millisecond)()
	dir := t.TempDir()
	steps := make(chan Recovery, 16)
	s, err := Open(dir, Options{OnRecovery: func(r Recovery) { steps <- r }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	appendWide(t, s, 500)
	// A query in progress on the instance that is about to fail.
	tx, err := s.DB().BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := tx.QueryRow(`SELECT count(*) FROM px_datasets`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	s.failed(errors.New(`IO Error: Could not write file "x": No space left on device`))
	time.Sleep(100 * time.Millisecond)
	if !s.Reopening() {
		t.Error("the reopen did not wait for the query on the failed instance")
	}
	tx.Rollback()
	want := map[string]bool{"reopened": false, "resumed": false}
	for !want["resumed"] {
		select {
		case r := <-steps:
			if r.Step == "failed" {
				t.Fatalf("recovery failed: %+v", r)
			}
			want[r.Step] = true
			if r.Step == "reopened" {
				if r.Events != 500 {
					t.Errorf("reopened with %d events, want 500", r.Events)
				}
				if !s.Poisoned() {
					t.Error("writes taken before the disk was checked")
				}
				if got := len(dump(t, s, "d")); got != 500 {
					t.Errorf("after the reopen a query reads %d events, want 500", got)
				}
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("no recovery: steps %v, failure %q", want, s.WriteFailure())
		}
	}
	if !want["reopened"] || s.Poisoned() || s.WriteFailure() != "" {
		t.Fatalf("steps %v, poisoned %v, failure %q", want, s.Poisoned(), s.WriteFailure())
	}
	appendWide(t, s, 100)
	if got := len(dump(t, s, "d")); got != 600 {
		t.Errorf("after resuming %d events, want 600", got)
	}
}

// TestFullDiskRecoversEveryAcknowledgedRow fills a real (tmpfs) disk until
// a commit's checkpoint fails, the failure that leaves DuckDB 1.4 reading
// its tables empty. The store must answer queries with every acknowledged
// row while the disk is full, refuse writes, and once space is freed take
// writes again by itself; nothing acknowledged is lost across a restart.
// Mounting needs CAP_SYS_ADMIN: without it the test is skipped.
func TestFullDiskRecoversEveryAcknowledgedRow(t *testing.T) {
	defer slowRecovery(50 * time.Millisecond)()
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=40m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a small disk: %v: %s", err, out)
	}
	defer exec.Command("umount", "-l", mnt).Run()
	ballast := filepath.Join(mnt, "ballast")
	if err := os.WriteFile(ballast, make([]byte, 8<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(mnt, "data")
	steps := make(chan Recovery, 64)
	s, err := Open(dir, Options{CheckpointThreshold: "2MB", OnRecovery: func(r Recovery) { steps <- r }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	acked := 0
	for i := 0; ; i++ {
		if i > 1000 {
			t.Fatal("the disk never filled")
		}
		evs := make([]event.Event, 2000)
		for j := range evs {
			evs[j] = ev(time.Now(), 1, "msg", fmt.Sprintf("%d-%d %s", i, j, strings.Repeat("y", 200)), "i", j)
		}
		if err := s.Append(t.Context(), []*event.Batch{{Dataset: "d", Events: evs}}); err != nil {
			t.Logf("after %d acknowledged events: %v", acked, err)
			break
		}
		acked += len(evs)
	}
	if !s.Poisoned() {
		t.Fatal("the failed write did not stop writes")
	}
	await := func(step string) {
		t.Helper()
		for {
			select {
			case r := <-steps:
				if r.Lost > 0 {
					t.Fatalf("recovery lost events: %+v", r)
				}
				if r.Step == step {
					return
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("no %q step; failure %q", step, s.WriteFailure())
			}
		}
	}
	await("waiting")
	if got := len(dump(t, s, "d")); got != acked {
		t.Fatalf("while the disk is full a query reads %d events; %d were acknowledged", got, acked)
	}
	if err := s.Append(t.Context(), []*event.Batch{{Dataset: "d", Events: []event.Event{ev(time.Now(), 1, "i", 1)}}}); !errors.Is(err, ErrDiskFailure) {
		t.Fatalf("a write while the disk is full: %v, want ErrDiskFailure", err)
	}
	os.Remove(ballast)
	await("resumed")
	appendWide(t, s, 10)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := len(dump(t, s, "d")); got != acked+10 {
		t.Errorf("after a restart %d events, want %d", got, acked+10)
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
