package explain

import (
	"context"
	"fmt"
	"time"

	"github.com/prodex/prodex/internal/slo"
	"github.com/prodex/prodex/internal/store"
)

// Ask answers a request over a dataset of an event store, in the store's
// dialect (Run on DuckDB, RunClickHouse on ClickHouse): the one place that
// picks it, so that the stores need not know explanations. A missing
// dataset is problem.ErrNotFound; slos looks up an SLO for an SLO selection.
func Ask(ctx context.Context, src store.Source, dataset string, r *Request, now time.Time, slos func(string) (slo.SLO, bool)) (*Answer, error) {
	cat, err := src.Catalog(dataset)
	if err != nil {
		return nil, err
	}
	switch d := src.Dialect(); d {
	case store.DuckDB:
		return Run(ctx, src.DB(), cat, r, now, slos)
	case store.ClickHouse:
		tc, ok := cat.(TableCatalog)
		if !ok {
			return nil, fmt.Errorf("explain: the catalog of %s does not name its table", dataset)
		}
		return RunClickHouse(ctx, src.DB(), tc, r, now, slos)
	default:
		return nil, fmt.Errorf("explain: no compiler for the %q dialect", d)
	}
}
