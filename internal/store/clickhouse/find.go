package clickhouse

import (
	"context"
	"time"

	"github.com/prodex/prodex/internal/event"
	"github.com/prodex/prodex/internal/schema"
)

// Find returns up to limit events of a dataset in [start, end) whose field
// equals value, oldest first, with every field of each (a trace's spans).
// A field the dataset lacks matches nothing.
func (s *Store) Find(ctx context.Context, dataset, column string, value any, start, end time.Time, limit int) ([]event.Event, error) {
	cat, err := s.Catalog(dataset)
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
	phys := make([]string, len(cols))
	for i, c := range cols {
		phys[i] = c.Phys
	}
	q := "SELECT * FROM " + cat.From(phys, start, end) + " WHERE " + ident(key.Phys) + " = ? ORDER BY ts LIMIT ?"
	rows, err := s.db.QueryContext(ctx, q, value, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []event.Event
	vals := make([]any, len(cols)+2)
	ptrs := make([]any, len(vals))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		clear(vals)
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		ts, _ := vals[0].(int64)
		sr, _ := vals[1].(int64)
		ev := event.Event{Time: time.UnixMicro(ts).UTC(), SampleRate: sr, Fields: map[string]any{}}
		for i, c := range cols {
			if x := vals[i+2]; x != nil {
				if b, ok := x.(uint8); ok && c.Type == schema.Boolean {
					x = b == 1
				}
				ev.Fields[c.Name] = x
			}
		}
		out = append(out, ev)
	}
	return out, rows.Err()
}
