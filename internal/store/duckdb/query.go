package duckdb

import (
	"context"

	"github.com/prodex/prodex/internal/query"
)

// Query answers a resolved query spec over a dataset.
func (s *Store) Query(ctx context.Context, dataset string, spec *query.Spec) (*query.Result, error) {
	cat, err := s.Catalog(dataset)
	if err != nil {
		return nil, err
	}
	p, err := query.Compile(spec, cat)
	if err != nil {
		return nil, err
	}
	return p.Run(ctx, s.db)
}
