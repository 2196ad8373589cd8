package duckdb

import (
	"context"
	"time"

	"github.com/prodex/prodex/internal/event"
	"github.com/prodex/prodex/internal/store"
)

// Find returns up to limit events of a dataset in [start, end) whose column
// equals value, oldest first: every field of each, for views that show
// whole events (a trace's spans). A column the dataset lacks matches
// nothing.
func (s *Store) Find(ctx context.Context, dataset, column string, value any, start, end time.Time, limit int) ([]event.Event, error) {
	cat, err := s.catalog(dataset)
	if err != nil {
		return nil, err
	}
	key, ok := cat.Column(column)
	if !ok {
		return nil, nil
	}
	cols := cat.Columns()
	q := "SELECT ts, sr"
	phys := make([]string, len(cols))
	for i, c := range cols {
		phys[i] = c.Phys
		q += ", " + ident(c.Phys)
	}
	q += " FROM " + cat.From(phys, start, end) + " WHERE " + ident(key.Phys) + " = ? ORDER BY ts LIMIT ?"
	rows, err := s.db.QueryContext(ctx, q, value, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return store.ScanEvents(rows, cols, nil)
}
