package duckdb_test

import (
	"testing"

	"github.com/prodex/prodex/internal/store/duckdb"
	"github.com/prodex/prodex/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	dirs := map[storetest.Events]string{}
	storetest.Run(t, func(t *testing.T, cfg storetest.Config) storetest.Events {
		dir := t.TempDir()
		if cfg.Reopen != nil {
			dir = dirs[cfg.Reopen]
			if err := cfg.Reopen.(*duckdb.Store).Close(); err != nil {
				t.Fatal(err)
			}
		}
		st, err := duckdb.Open(dir, duckdb.Options{MaxColumns: cfg.MaxColumns, Retention: cfg.Retention})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		dirs[st] = dir
		return st
	}, breaker{})
}

// breaker damages a dataset's segment tables (see BreakDataset).
type breaker struct{}

func (breaker) Break(t *testing.T, st storetest.Events, dataset string) {
	if err := duckdb.BreakDataset(st.(*duckdb.Store), dataset); err != nil {
		t.Fatal(err)
	}
}
