package trace

import (
	"strings"
	"testing"
	"time"

	"github.com/prodex/prodex/internal/event"
)

// span makes a span event starting at ms milliseconds for dur ms.
func span(id, parent string, ms, dur float64) Event {
	f := map[string]any{"trace.span_id": id, "name": id, "duration_ms": dur}
	if parent != "" {
		f["trace.parent_id"] = parent
	}
	t0 := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	return Event{Dataset: "d", Event: event.Event{Time: t0.Add(time.Duration(ms * float64(time.Millisecond))), Fields: f}}
}

func TestCriticalPath(t *testing.T) {
	for _, c := range []struct {
		name  string
		spans []Event
		want  string
	}{
		{"single span", []Event{span("a", "", 0, 10)}, "a"},
		// The root waits for b, which waited for c before it.
		{"sequential children", []Event{span("r", "", 0, 100), span("c", "r", 5, 30), span("b", "r", 40, 50)}, "r,b,c"},
		// Parallel children: only the one that ended last counts.
		{"parallel children", []Event{span("r", "", 0, 100), span("x", "r", 5, 90), span("y", "r", 10, 20)}, "r,x"},
		// Grandchildren are followed down.
		{"nested", []Event{span("r", "", 0, 100), span("a", "r", 0, 90), span("a1", "a", 10, 70), span("a2", "a", 5, 3)}, "r,a,a1,a2"},
		// A child outliving its parent (async) is clipped at the parent's end.
		{"async child", []Event{span("r", "", 0, 50), span("late", "r", 10, 500), span("early", "r", 1, 5)}, "r,late,early"},
		{"no spans", nil, ""},
	} {
		tr := Build("t", c.spans)
		if got := strings.Join(tr.CriticalPath, ","); got != c.want {
			t.Errorf("%s: critical path %q, want %q", c.name, got, c.want)
		}
	}
}

func TestTreeShape(t *testing.T) {
	evs := []Event{
		span("r", "", 0, 100), span("a", "r", 10, 20), span("orphan", "gone", 30, 5),
		// Parent ids forming a loop must not make a cycle.
		span("x", "y", 40, 1), span("y", "x", 41, 1),
		{Dataset: "d", Event: event.Event{Time: time.Date(2026, 11, 28, 10, 0, 0, int(15*time.Millisecond), time.UTC),
			Fields: map[string]any{"meta.annotation_type": "span_event", "trace.parent_id": "a", "name": "retry"}}},
		{Dataset: "logs", Event: event.Event{Time: time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC),
			Fields: map[string]any{"meta.signal_type": "log", "trace.parent_id": "nope", "body": "hi"}}},
	}
	tr := Build("t", evs)
	if tr.SpanCount != 5 || len(tr.Roots) != 4 || tr.DurationMS != 100 {
		t.Fatalf("tree: %d spans, %d roots, %v ms", tr.SpanCount, len(tr.Roots), tr.DurationMS)
	}
	r := tr.Roots[0]
	if r.SpanID != "r" || len(r.Children) != 1 || r.Children[0].Depth != 1 || r.Children[0].OffsetMS != 10 {
		t.Fatalf("root: %+v", r)
	}
	if a := r.Children[0]; len(a.Annotations) != 1 || a.Annotations[0].Name != "retry" || a.Annotations[0].OffsetMS != 15 {
		t.Errorf("annotations: %+v", a.Annotations)
	}
	if !tr.Roots[1].MissingParent || len(tr.Unattached) != 1 {
		t.Errorf("orphans: %+v, unattached %+v", tr.Roots[1], tr.Unattached)
	}
}
