package query

import (
	"context"
	"fmt"

	"github.com/prodex/prodex/internal/store"
)

// Ask answers a resolved spec over a dataset of an event store: the one
// place that picks the store's dialect, so that the stores need not know
// queries. A *Error is the spec's fault; a missing dataset is
// problem.ErrNotFound.
func Ask(ctx context.Context, src store.Source, dataset string, spec *Spec) (*Result, error) {
	cat, err := src.Catalog(dataset)
	if err != nil {
		return nil, err
	}
	var p *Plan
	switch d := src.Dialect(); d {
	case store.DuckDB:
		p, err = Compile(spec, cat)
	case store.ClickHouse:
		p, err = CompileClickHouse(spec, cat)
	default:
		return nil, fmt.Errorf("query: no compiler for the %q dialect", d)
	}
	if err != nil {
		return nil, err
	}
	return p.Run(ctx, src.DB())
}
