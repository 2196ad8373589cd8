// Package trace assembles a trace's stored events (spans, span events,
// links and logs, as OTLP ingest or a Honeycomb beeline writes them) into
// the span tree a waterfall draws, with the trace's critical path: the
// chain of spans that determined when the trace finished.
package trace

import (
	"sort"
	"time"

	"github.com/prodex/prodex/internal/event"
)

// Span is one span of the tree.
type Span struct {
	SpanID     string    `json:"span_id"`
	ParentID   string    `json:"parent_id,omitempty"`
	Name       string    `json:"name"`
	Service    string    `json:"service,omitempty"`
	Dataset    string    `json:"dataset"`
	Start      time.Time `json:"start_time"`
	DurationMS float64   `json:"duration_ms"`
	// OffsetMS is the start relative to the trace's start.
	OffsetMS float64 `json:"offset_ms"`
	Depth    int     `json:"depth"`
	Error    bool    `json:"error"`
	// Critical marks the spans on the critical path.
	Critical bool `json:"critical"`
	// MissingParent: the span names a parent that was not found.
	MissingParent bool           `json:"missing_parent,omitempty"`
	Fields        map[string]any `json:"fields"`
	// Annotations are the span's events, links and logs.
	Annotations []Annotation `json:"annotations,omitempty"`
	Children    []*Span      `json:"children,omitempty"`
}

// Annotation is a span event, a link or a log record of a span.
type Annotation struct {
	Type     string         `json:"type"` // span_event, link or log
	Time     time.Time      `json:"time"`
	OffsetMS float64        `json:"offset_ms"`
	Name     string         `json:"name,omitempty"`
	Fields   map[string]any `json:"fields"`
}

// Tree is a whole trace.
type Tree struct {
	TraceID    string    `json:"trace_id"`
	Start      time.Time `json:"start_time"`
	DurationMS float64   `json:"duration_ms"`
	SpanCount  int       `json:"span_count"`
	Services   []string  `json:"services"`
	Roots      []*Span   `json:"roots"`
	// CriticalPath lists span ids from the root down.
	CriticalPath []string `json:"critical_path"`
	// Unattached are annotations whose span was not found.
	Unattached []Annotation `json:"unattached,omitempty"`
}

// Event is a stored event with the dataset it came from.
type Event struct {
	Dataset string
	event.Event
}

func str(f map[string]any, k string) string {
	s, _ := f[k].(string)
	return s
}

func num(f map[string]any, k string) float64 {
	switch v := f[k].(type) {
	case float64:
		return v
	case int64:
		return float64(v)
	}
	return 0
}

func end(s *Span) time.Time {
	return s.Start.Add(time.Duration(s.DurationMS * float64(time.Millisecond)))
}

// Build assembles the events of one trace.
func Build(traceID string, evs []Event) *Tree {
	t := &Tree{TraceID: traceID, Roots: []*Span{}, CriticalPath: []string{}, Services: []string{}}
	byID := map[string]*Span{}
	var spans []*Span
	var notes []struct {
		parent string
		a      Annotation
	}
	for _, e := range evs {
		f := e.Fields
		kind := str(f, "meta.annotation_type")
		if kind == "" && str(f, "meta.signal_type") == "log" {
			kind = "log"
		}
		if kind != "" && kind != "span" {
			notes = append(notes, struct {
				parent string
				a      Annotation
			}{str(f, "trace.parent_id"), Annotation{Type: kind, Time: e.Time, Name: str(f, "name"), Fields: f}})
			continue
		}
		s := &Span{SpanID: str(f, "trace.span_id"), ParentID: str(f, "trace.parent_id"), Name: str(f, "name"),
			Service: str(f, "service.name"), Dataset: e.Dataset, Start: e.Time, DurationMS: num(f, "duration_ms"), Fields: f}
		if s.Service == "" {
			s.Service = str(f, "service_name")
		}
		if b, ok := f["error"].(bool); ok && b {
			s.Error = true
		}
		if s.SpanID != "" {
			if _, dup := byID[s.SpanID]; !dup {
				byID[s.SpanID] = s
			}
		}
		spans = append(spans, s)
	}
	sort.SliceStable(spans, func(i, j int) bool { return spans[i].Start.Before(spans[j].Start) })
	services := map[string]bool{}
	var last time.Time
	for i, s := range spans {
		if i == 0 || s.Start.Before(t.Start) {
			t.Start = s.Start
		}
		if e := end(s); e.After(last) {
			last = e
		}
		if s.Service != "" && !services[s.Service] {
			services[s.Service] = true
			t.Services = append(t.Services, s.Service)
		}
		if p := byID[s.ParentID]; s.ParentID != "" && p != nil && !descends(p, s, byID) {
			p.Children = append(p.Children, s)
		} else {
			s.MissingParent = s.ParentID != ""
			t.Roots = append(t.Roots, s)
		}
	}
	sort.Strings(t.Services)
	t.SpanCount = len(spans)
	if len(spans) > 0 {
		t.DurationMS = float64(last.Sub(t.Start)) / float64(time.Millisecond)
	}
	for _, n := range notes {
		n.a.OffsetMS = float64(n.a.Time.Sub(t.Start)) / float64(time.Millisecond)
		if s := byID[n.parent]; s != nil {
			s.Annotations = append(s.Annotations, n.a)
		} else {
			t.Unattached = append(t.Unattached, n.a)
		}
	}
	var walk func(s *Span, depth int)
	walk = func(s *Span, depth int) {
		s.Depth = depth
		s.OffsetMS = float64(s.Start.Sub(t.Start)) / float64(time.Millisecond)
		for _, c := range s.Children {
			walk(c, depth+1)
		}
	}
	for _, r := range t.Roots {
		walk(r, 0)
	}
	// The critical path starts at the root that ends last.
	var root *Span
	for _, r := range t.Roots {
		if root == nil || end(r).After(end(root)) {
			root = r
		}
	}
	if root != nil {
		t.CriticalPath = critical(root, end(root), nil)
	}
	return t
}

// descends reports whether p is s or one of its descendants by parent ids,
// so that ids forming a loop cannot make the tree a cycle.
func descends(p, s *Span, byID map[string]*Span) bool {
	for n := 0; p != nil && n <= len(byID); n++ {
		if p == s {
			return true
		}
		p = byID[p.ParentID]
	}
	return false
}

// critical marks s and, walking back from until, the child that finished
// last before it, then the one that finished last before that child
// started, and so on: the spans whose latency the trace waited for.
// It returns the path, s first, in order of descent.
func critical(s *Span, until time.Time, path []string) []string {
	s.Critical = true
	path = append(path, s.SpanID)
	cursor := end(s)
	if until.Before(cursor) {
		cursor = until
	}
	kids := append([]*Span(nil), s.Children...)
	sort.SliceStable(kids, func(i, j int) bool { return end(kids[i]).After(end(kids[j])) })
	var next *Span
	for _, c := range kids {
		if c.Start.Before(cursor) {
			next = c
			break
		}
	}
	if next == nil {
		return path
	}
	// Descend into the last child; the spans before it on the path
	// (siblings that ended before it started) are marked too.
	path = critical(next, cursor, path)
	cursor = next.Start
	for _, c := range kids {
		if !c.Critical && c.Start.Before(cursor) && !end(c).After(cursor) {
			path = critical(c, cursor, path)
			cursor = c.Start
		}
	}
	return path
}
