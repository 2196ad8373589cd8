package meta

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prodex/prodex/internal/store"
)

// TestCancelledWritesFinishAndLeaveNoTransactionOpen: on DuckDB a write
// whose caller gives up part-way (a shutdown ending the rules loop) runs
// to its end, and leaves no pooled connection inside a transaction: later
// transactions on every connection begin. An interrupted statement used
// to leave one stuck about one shutdown in ten.
func TestCancelledWritesFinishAndLeaveNoTransactionOpen(t *testing.T) {
	m, err := openEmbedded(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	owed := make([]store.Owed, 10)
	for i := range owed {
		owed[i] = store.Owed{ID: fmt.Sprint("o", i), Target: []byte(`{}`), Message: []byte(`{}`), Created: time.Now()}
	}
	const rounds = 40
	for i := 0; i < rounds; i++ {
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			time.Sleep(time.Duration(i%20) * 20 * time.Microsecond)
			cancel()
		}()
		for j := range owed {
			owed[j].ID = fmt.Sprint("o", i, "-", j)
		}
		if err := m.PutAlert(ctx, fmt.Sprint("a", i), "slo", time.Now(), true, []byte(`{}`), owed...); err != nil {
			t.Fatalf("round %d: a write cancelled part-way: %v", i, err)
		}
		cancel()
	}
	all, err := m.Owed(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != rounds*len(owed) {
		t.Errorf("%d notifications owed, want %d: writes were cut short", len(all), rounds*len(owed))
	}
	// Hold several connections at once, so that a stuck one is among them.
	db := m.DB()
	db.SetMaxIdleConns(8)
	ctx := context.Background()
	for i := 0; i < 8; i++ {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatalf("begin a transaction on a pooled connection: %v", err)
		}
		defer tx.Rollback()
	}
}
