package meta

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/prodex/prodex/internal/marker"
)

// Markers are kept in px_markers as JSON, with the columns a time-range
// lookup needs beside it: dataset, start_s and end_s (Unix seconds, 0 for
// a point in time).

// PutMarker stores (creates or replaces) a marker by its id.
func (s *Store) PutMarker(ctx context.Context, m marker.Marker) error {
	body, err := json.Marshal(m)
	if err != nil {
		return err
	}
	_, err = s.exec(ctx, `INSERT INTO px_markers (id, dataset, start_s, end_s, body) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (id) DO UPDATE SET dataset = excluded.dataset, start_s = excluded.start_s, end_s = excluded.end_s, body = excluded.body`,
		m.ID, m.Dataset, m.StartTime, m.EndTime, s.d.doc(body))
	return err
}

// DeleteMarker removes a marker; removing one that does not exist is not
// an error.
func (s *Store) DeleteMarker(ctx context.Context, id string) error {
	_, err := s.exec(ctx, `DELETE FROM px_markers WHERE id = $1`, id)
	return err
}

// GetMarker returns the marker with that id, and whether there is one.
func (s *Store) GetMarker(ctx context.Context, id string) (marker.Marker, bool, error) {
	var body []byte
	err := s.db.QueryRowContext(ctx, `SELECT body FROM px_markers WHERE id = $1`, id).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return marker.Marker{}, false, nil
	}
	if err != nil {
		return marker.Marker{}, false, err
	}
	var m marker.Marker
	if err := json.Unmarshal(body, &m); err != nil {
		return marker.Marker{}, false, fmt.Errorf("stored marker %s: %w", id, err)
	}
	return m, true, nil
}

// Markers returns the markers of any of datasets (none when datasets is
// empty) that overlap [start, end), sorted by start time: a point marker
// when start ≤ its time < end, a marker with an end time when it starts
// before end and ends at or after start (see marker.Marker.Overlaps). A
// zero start or end leaves that side unbounded.
func (s *Store) Markers(ctx context.Context, datasets []string, start, end time.Time) ([]marker.Marker, error) {
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
	var p params
	q := `SELECT id, body FROM px_markers WHERE start_s < ` + p.bind(hi) + ` AND greatest(start_s, end_s) >= ` + p.bind(lo)
	in := make([]string, len(datasets))
	for i, ds := range datasets {
		in[i] = p.bind(ds)
	}
	rows, err := s.db.QueryContext(ctx, q+` AND dataset IN (`+strings.Join(in, ", ")+`) ORDER BY start_s, end_s, id`, p.args...)
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
		var m marker.Marker
		if err := json.Unmarshal(body, &m); err != nil {
			return nil, fmt.Errorf("stored marker %s: %w", id, err)
		}
		out = append(out, m)
	}
	return out, rows.Err()
}
