package incident

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/prodex/prodex/internal/history"
	"github.com/prodex/prodex/internal/marker"
	"github.com/prodex/prodex/internal/note"
)

// Notes are the notes people write, some of them on incidents.
type Notes interface {
	List(ctx context.Context, targetType, targetID string) ([]note.Note, error)
}

// Records are what else happened while an incident went on: markers and
// query runs.
type Records interface {
	Markers(ctx context.Context, datasets []string, start, end time.Time) ([]marker.Marker, error)
	Runs(ctx context.Context, f history.RunFilter) ([]history.Run, error)
}

// TimelineEntry is one line of an incident's timeline.
type TimelineEntry struct {
	Time   time.Time `json:"time"`
	Kind   string    `json:"kind"` // opened, status, role, alert, marker, note, query, …
	Author string    `json:"author,omitempty"`
	Text   string    `json:"text"`
	Ref    string    `json:"ref,omitempty"` // the id of the marker, note or query
	HTML   string    `json:"html,omitempty"`
}

// Timeline gathers, in time order, the incident's own events, the alert
// that opened it, markers in its interval (its SLO's dataset and
// environment-wide), notes on it and queries run while it was open.
func (b *Book) Timeline(ctx context.Context, id string) (*Incident, []TimelineEntry, error) {
	inc, err := b.Get(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	out := []TimelineEntry{}
	for _, e := range inc.Events {
		out = append(out, TimelineEntry{Time: e.Time, Kind: e.Kind, Author: e.Author, Text: e.Text})
	}
	from := inc.StartedAt.Add(-30 * time.Minute)
	to := b.Now()
	if inc.ResolvedAt != nil {
		to = *inc.ResolvedAt
	}
	more, err := b.sources(ctx, inc, from, to)
	if err != nil {
		return nil, nil, err
	}
	out = append(out, more...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return inc, out, nil
}

// sources gathers what happened around an incident besides its own
// events: notes on it, markers in [from, to) of its SLO's dataset and
// environment-wide ones, and the queries people ran in that interval.
func (b *Book) sources(ctx context.Context, inc *Incident, from, to time.Time) ([]TimelineEntry, error) {
	var out []TimelineEntry
	notes, err := b.Notes.List(ctx, "incident", inc.ID)
	if err != nil {
		return nil, err
	}
	for _, n := range notes {
		out = append(out, TimelineEntry{Time: n.CreatedAt, Kind: "note", Author: n.Author, Text: n.Text, HTML: n.HTML, Ref: n.ID})
	}
	datasets := []string{"__all__"}
	if d, ok := b.SLOs.Get(inc.SLO); ok && inc.SLO != "" {
		datasets = append(datasets, d.Dataset)
	}
	markers, err := b.Records.Markers(ctx, datasets, from, to)
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
	runs, err := b.Records.Runs(ctx, history.RunFilter{Since: inc.CreatedAt.Add(-time.Minute), Until: to.Add(time.Second), Limit: history.MaxLimit})
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
