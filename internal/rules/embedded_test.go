package rules

import (
	"context"
	"errors"

	"github.com/prodex/prodex/internal/store/duckdb"
	"github.com/prodex/prodex/internal/store/meta"
)

type (
	duckStore = duckdb.Store
	metaStore = meta.Store
)

// embedded is the store of an embedded node: events and counts in DuckDB,
// the metadata in the same database.
type embedded struct {
	*duckStore
	*metaStore
}

func openEmbedded(dir string) (*embedded, error) {
	d, err := duckdb.Open(dir, duckdb.Options{})
	if err != nil {
		return nil, err
	}
	m, err := meta.OpenDuckDB(context.Background(), d.DB(), d.GuardWrite)
	if err != nil {
		d.Close()
		return nil, err
	}
	return &embedded{d, m}, nil
}

func (e *embedded) Close() error { return errors.Join(e.metaStore.Close(), e.duckStore.Close()) }
