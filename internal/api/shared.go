package api

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prodex/prodex/internal/history"
	"github.com/prodex/prodex/internal/incident"
	"github.com/prodex/prodex/internal/store"
)

// sharedExists reports whether a marker or a query (an id from a query
// answer) exists, for notes about them.
func (s *Server) sharedExists(ctx context.Context, kind, id string) (bool, error) {
	switch kind {
	case "marker":
		_, ok, err := s.Meta.GetMarker(ctx, id)
		return ok, err
	case "query":
		_, err := s.Meta.StoredQuery(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return false, nil
		}
		return err == nil, err
	}
	return false, fmt.Errorf("notes on %q are not supported", kind)
}

// sharedTimeline lists, for an incident's timeline, the markers of its
// SLO's dataset and environment-wide ones in [from, to), and the queries
// people ran in that interval.
func (s *Server) sharedTimeline(ctx context.Context, inc *incident.Incident, from, to time.Time) ([]TimelineEntry, error) {
	var out []TimelineEntry
	datasets := []string{"__all__"}
	if d, ok := s.SLOs.Get(inc.SLO); ok && inc.SLO != "" {
		datasets = append(datasets, d.Dataset)
	}
	markers, err := s.Meta.Markers(ctx, datasets, from, to)
	if err != nil {
		return nil, err
	}
	for _, m := range markers {
		text := m.Type + ": " + m.Message
		if m.Dataset != "__all__" {
			text += " (" + m.Dataset + ")"
		}
		out = append(out, TimelineEntry{Time: time.Unix(m.StartTime, 0).UTC(), Kind: "marker", Author: m.Author, Text: text, Ref: m.ID})
	}
	runs, err := s.Meta.Runs(ctx, history.RunFilter{Since: inc.CreatedAt.Add(-time.Minute), Until: to.Add(time.Second), Limit: history.MaxLimit})
	if err != nil {
		return nil, err
	}
	for _, r := range runs {
		text := fmt.Sprintf("queried %s: %s", r.Dataset, r.Spec)
		if r.Error != "" {
			text += " (failed: " + r.Error + ")"
		}
		out = append(out, TimelineEntry{Time: r.RanAt, Kind: "query", Author: r.Author, Text: text, Ref: r.QueryID})
	}
	return out, nil
}
