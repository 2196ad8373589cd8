package duckdb_test

import (
	"testing"

	"github.com/prodex/prodex/internal/store/duckdb"
	"github.com/prodex/prodex/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, cfg storetest.Config) storetest.Events {
		st, err := duckdb.Open(t.TempDir(), duckdb.Options{MaxColumns: cfg.MaxColumns, Retention: cfg.Retention})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	})
}
