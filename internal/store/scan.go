package store

import (
	"database/sql"
	"time"

	"github.com/prodex/prodex/internal/event"
	"github.com/prodex/prodex/internal/schema"
)

// ScanEvents reads rows of ts (µs), sr and one value per column into
// whole events, leaving out the NULLs; conv, when set, turns a value as
// the engine returns it into the column type's Go value.
func ScanEvents(rows *sql.Rows, cols []schema.Column, conv func(v any, t schema.Type) any) ([]event.Event, error) {
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
				if conv != nil {
					x = conv(x, c.Type)
				}
				ev.Fields[c.Name] = x
			}
		}
		out = append(out, ev)
	}
	return out, rows.Err()
}
