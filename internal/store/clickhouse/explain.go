package clickhouse

import (
	"context"
	"time"

	"github.com/prodex/prodex/internal/explain"
	"github.com/prodex/prodex/internal/slo"
)

// Explain ranks the fields of a dataset by how differently they are
// distributed in a selection and in its baseline, as the DuckDB store
// does, reading the Distributed table on a cluster.
func (s *Store) Explain(ctx context.Context, dataset string, r *explain.Request, now time.Time, slos func(string) (slo.SLO, bool)) (*explain.Answer, error) {
	cat, err := s.Catalog(dataset)
	if err != nil {
		return nil, err
	}
	return explain.RunClickHouse(ctx, s.db, cat, r, now, slos)
}
