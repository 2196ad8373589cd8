package clickhouse

import (
	"context"

	"github.com/prodex/prodex/internal/query"
)

// Query answers a resolved query spec over a dataset, through the
// Distributed table on a cluster.
func (s *Store) Query(ctx context.Context, dataset string, spec *query.Spec) (*query.Result, error) {
	cat, err := s.Catalog(dataset)
	if err != nil {
		return nil, err
	}
	p, err := query.CompileClickHouse(spec, cat)
	if err != nil {
		return nil, err
	}
	return p.Run(ctx, s.db)
}
