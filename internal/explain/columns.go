package explain

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"

	"github.com/prodex/prodex/internal/schema"
)

// DefaultMaxColumns is the most columns one explain compares unless the
// server says otherwise. Comparing a column costs a grouping set over the
// sampled events: memory and time grow with the columns compared, and on
// a dataset of 10,000 columns comparing them all ran out of memory.
const DefaultMaxColumns = 100

// chooseChunk is how many columns one statement counts while choosing,
// and compareChunk how many it compares.
const (
	chooseChunk  = 200
	compareChunk = 16
)

// held is how many (sampled) events of the selection and of the baseline
// hold a value of a column.
type held struct{ sel, base int64 }

// requested resolves the columns a request names (nil when it names
// none), refusing unknown ones and more than the limit.
func requested(cat Catalog, r *Request) ([]schema.Column, error) {
	if len(r.Columns) == 0 {
		return nil, nil
	}
	if len(r.Columns) > r.MaxColumns {
		return nil, fmt.Errorf("columns: %d columns named; at most %d are compared", len(r.Columns), r.MaxColumns)
	}
	var out []schema.Column
	seen := map[string]bool{}
	for _, name := range r.Columns {
		c, ok := cat.Column(name)
		if !ok {
			return nil, fmt.Errorf("columns: unknown column %q", name)
		}
		if !seen[name] {
			seen[name] = true
			out = append(out, c)
		}
	}
	return out, nil
}

// compareColumns settles the columns an explain compares: those the
// request named (chosen), else those chooseColumns picks; ans records how
// many are compared and how many of the dataset's total are left out.
func compareColumns(ans *Answer, chosen bool, cols []schema.Column, total, max int, count func([]schema.Column) ([]held, error)) ([]schema.Column, error) {
	leftOut := total - len(cols)
	if !chosen {
		all := len(cols)
		var err error
		if cols, err = chooseColumns(cols, max, count); err != nil {
			return nil, err
		}
		leftOut = all - len(cols)
	}
	ans.ColumnsCompared, ans.ColumnsLeftOut = len(cols), leftOut
	return cols, nil
}

// chooseColumns picks the columns to compare when the request names none
// and the dataset has more than r.MaxColumns: those held by the most
// events of the selection, then of the baseline (both counted in the
// sample the comparison uses), then by name. count says, for a few
// columns at a time, how many events hold each; columns of no event are
// never chosen over one that has some.
func chooseColumns(cols []schema.Column, max int, count func([]schema.Column) ([]held, error)) ([]schema.Column, error) {
	if len(cols) <= max {
		return cols, nil
	}
	hs := make([]held, 0, len(cols))
	for i := 0; i < len(cols); i += chooseChunk {
		chunk := cols[i:min(len(cols), i+chooseChunk)]
		h, err := count(chunk)
		if err != nil {
			return nil, err
		}
		hs = append(hs, h...)
	}
	idx := make([]int, len(cols))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool {
		x, y := hs[idx[a]], hs[idx[b]]
		if x.sel != y.sel {
			return x.sel > y.sel
		}
		if x.base != y.base {
			return x.base > y.base
		}
		return cols[idx[a]].Name < cols[idx[b]].Name
	})
	out := make([]schema.Column, max)
	for i := range out {
		out[i] = cols[idx[i]]
	}
	return out, nil
}

// duckHeld counts, in the events of from (with their selection flag),
// those holding each of cols.
func duckHeld(ctx context.Context, db *sql.DB, from string, cols []schema.Column, args []any) ([]held, error) {
	// count(CASE …), not FILTER: DuckDB runs 400 FILTER aggregates 40
	// times slower.
	aggs := make([]string, 0, 2*len(cols))
	for _, c := range cols {
		x := ident(c.Phys)
		aggs = append(aggs, "count(CASE WHEN sel__ THEN "+x+" END)", "count(CASE WHEN NOT sel__ THEN "+x+" END)")
	}
	return scanHeld(db.QueryRowContext(ctx, "SELECT "+strings.Join(aggs, ", ")+" FROM "+from, args...), len(cols))
}

// scanHeld reads a row of selection and baseline counts, two a column.
func scanHeld(row *sql.Row, n int) ([]held, error) {
	out := make([]held, n)
	ptrs := make([]any, 0, 2*n)
	for i := range out {
		ptrs = append(ptrs, &out[i].sel, &out[i].base)
	}
	if err := row.Scan(ptrs...); err != nil {
		return nil, &DBError{Err: err}
	}
	return out, nil
}
