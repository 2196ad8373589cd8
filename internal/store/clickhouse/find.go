package clickhouse

import (
	"context"
	"time"

	"github.com/prodex/prodex/internal/event"
	"github.com/prodex/prodex/internal/schema"
	"github.com/prodex/prodex/internal/store"
)

// Find returns up to limit events of a dataset in [start, end) whose field
// equals value, oldest first, with every field of each (a trace's spans).
// A field the dataset lacks matches nothing.
func (s *Store) Find(ctx context.Context, dataset, column string, value any, start, end time.Time, limit int) ([]event.Event, error) {
	cat, err := s.catalog(dataset)
	if err != nil {
		return nil, err
	}
	key, ok := cat.Column(column)
	if !ok {
		return nil, nil
	}
	if b, ok := value.(bool); ok {
		value = boolByte(b)
	}
	cols := cat.Columns()
	// The Distributed table itself, not a subquery of it, so that each
	// shard filters its own events and sends only the matches.
	q := "SELECT ts, sr"
	for _, c := range cols {
		q += ", " + cat.Expr(c.Phys)
	}
	q += " FROM " + cat.Table() + " WHERE ts >= ? AND ts < ? AND " + cat.Expr(key.Phys) + " = ? ORDER BY ts LIMIT ?"
	rows, err := s.db.QueryContext(ctx, q, start.UnixMicro(), end.UnixMicro(), value, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return store.ScanEvents(rows, cols, func(v any, t schema.Type) any {
		if b, ok := v.(uint8); ok && t == schema.Boolean {
			return b == 1
		}
		return v
	})
}
