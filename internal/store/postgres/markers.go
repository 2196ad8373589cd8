package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/prodex/prodex/internal/marker"
)

// Markers are kept in px_markers as JSON, with the columns a time-range
// lookup needs beside it: dataset, start_s and end_s (Unix seconds, 0 for
// a point in time).

// PutMarker stores (creates or replaces) a marker by its id.
func (m *Meta) PutMarker(ctx context.Context, mk marker.Marker) error {
	body, err := json.Marshal(mk)
	if err != nil {
		return err
	}
	_, err = m.pool.Exec(ctx, `INSERT INTO px_markers (id, dataset, start_s, end_s, body) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (id) DO UPDATE SET dataset = EXCLUDED.dataset, start_s = EXCLUDED.start_s, end_s = EXCLUDED.end_s, body = EXCLUDED.body`,
		mk.ID, mk.Dataset, mk.StartTime, mk.EndTime, body)
	return err
}

// DeleteMarker removes a marker; removing one that does not exist is not
// an error.
func (m *Meta) DeleteMarker(ctx context.Context, id string) error {
	_, err := m.pool.Exec(ctx, `DELETE FROM px_markers WHERE id = $1`, id)
	return err
}

// GetMarker returns the marker with that id, and whether there is one.
func (m *Meta) GetMarker(ctx context.Context, id string) (marker.Marker, bool, error) {
	var body []byte
	err := m.pool.QueryRow(ctx, `SELECT body FROM px_markers WHERE id = $1`, id).Scan(&body)
	if noRows(err) {
		return marker.Marker{}, false, nil
	}
	if err != nil {
		return marker.Marker{}, false, err
	}
	var mk marker.Marker
	if err := json.Unmarshal(body, &mk); err != nil {
		return marker.Marker{}, false, fmt.Errorf("stored marker %s: %w", id, err)
	}
	return mk, true, nil
}

// Markers returns the markers of any of datasets (none when datasets is
// empty) that overlap [start, end), sorted by start time: a point marker
// when start ≤ its time < end, a marker with an end time when it starts
// before end and ends at or after start (see marker.Marker.Overlaps). A
// zero start or end leaves that side unbounded.
func (m *Meta) Markers(ctx context.Context, datasets []string, start, end time.Time) ([]marker.Marker, error) {
	out := []marker.Marker{}
	if len(datasets) == 0 {
		return out, nil
	}
	lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
	if !start.IsZero() {
		lo = marker.CeilUnix(start)
	}
	if !end.IsZero() {
		hi = marker.CeilUnix(end)
	}
	rows, err := m.pool.Query(ctx, `SELECT id, body FROM px_markers WHERE start_s < $1 AND greatest(start_s, end_s) >= $2
		AND dataset = ANY($3) ORDER BY start_s, end_s, id`, hi, lo, datasets)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var body []byte
		if err := rows.Scan(&id, &body); err != nil {
			return nil, err
		}
		var mk marker.Marker
		if err := json.Unmarshal(body, &mk); err != nil {
			return nil, fmt.Errorf("stored marker %s: %w", id, err)
		}
		out = append(out, mk)
	}
	return out, rows.Err()
}
