package query_test

import (
	"testing"
	"time"

	"github.com/prodex/prodex/internal/event"
	"github.com/prodex/prodex/internal/query"
)

// FuzzQuerySpec: any body is parsed, resolved, compiled and run against a
// small dataset without a panic, and whatever is refused is refused with a
// spec error, never by the engine (a failure there would be SQL built from
// input, or a query the engine cannot run).
func FuzzQuerySpec(f *testing.F) {
	for _, s := range []string{
		`{"time_range":3600,"calculations":[{"op":"COUNT"},{"op":"P99","column":"duration_ms"},{"op":"HEATMAP","column":"duration_ms"}],"breakdowns":["service"]}`,
		`{"time_range":3600,"filters":[{"column":"service","op":"in","value":["a","b"]},{"column":"duration_ms","op":">","value":"5"}],"filter_combination":"OR"}`,
		`{"calculations":[{"op":"COUNT_DISTINCT","column":"user\"; DROP TABLE x; --"}],"orders":[{"op":"COUNT","order":"descending"}],"havings":[{"calculate_op":"COUNT","op":">","value":1}],"limit":5}`,
		`{"time_range":60,"granularity":1,"calculations":[{"op":"RATE_SUM","column":"duration_ms"}],"filters":[{"column":"service","op":"starts-with","value":"%_"}]}`,
		`{"start_time":1,"end_time":2}`, `{}`, `[]`, `{"slo":{"name":"x","events":"bad"}}`,
	} {
		f.Add(s)
	}
	var evs []event.Event
	for i := 0; i < 50; i++ {
		evs = append(evs, event.Event{Time: t0.Add(time.Duration(i) * time.Minute), SampleRate: int64(1 + i%2),
			Fields: map[string]any{"service": []string{"api", "web"}[i%2], "duration_ms": float64(i), "user": "u" + string(rune('a'+i%5))}})
	}
	st := open(f, "d", evs)
	f.Fuzz(func(t *testing.T, body string) {
		s, err := query.Parse([]byte(body))
		if err != nil {
			return
		}
		if s.SLO != nil {
			s.SLO.Good = "duration_ms < 10"
		}
		if err := s.Resolve(t0.Add(time.Hour)); err != nil {
			return
		}
		cat, err := st.Catalog("d")
		if err != nil {
			t.Fatal(err)
		}
		p, err := query.Compile(s, cat)
		if err != nil {
			return
		}
		if _, err := p.Run(t.Context(), st.DB()); err != nil {
			t.Fatalf("%s: the engine refused a compiled query: %v", body, err)
		}
	})
}
