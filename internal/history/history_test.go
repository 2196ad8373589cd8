package history

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/prodex/prodex/internal/query"
)

var now = time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)

func newQuery(t *testing.T, ds, spec string, at time.Time) Query {
	t.Helper()
	s, err := query.Parse([]byte(spec))
	if err != nil {
		t.Fatalf("%s: %v", spec, err)
	}
	q, err := NewQuery(ds, s, at)
	if err != nil {
		t.Fatalf("%s: %v", spec, err)
	}
	return q
}

// The interval [now-2h+1s, now+1s) that "time_range": 7200 resolves to at now.
var (
	start = now.Unix() + 1 - 7200
	end   = now.Unix() + 1
)

func TestSameQuestionSameID(t *testing.T) {
	base := `{"time_range": 7200, "calculations": [{"op": "COUNT"}, {"op": "P99", "column": "duration_ms"}],
		"filters": [{"column": "status_code", "op": ">=", "value": 500}], "breakdowns": ["service"]}`
	abs := func(s string) string {
		return strings.ReplaceAll(strings.ReplaceAll(s, "START", itoa(start)), "END", itoa(end))
	}
	tests := []struct {
		name string
		spec string
		at   time.Time
	}{
		{"explicit start and end of the same interval",
			abs(`{"start_time": START, "end_time": END, "calculations": [{"op": "COUNT"}, {"op": "P99", "column": "duration_ms"}],
			"filters": [{"column": "status_code", "op": ">=", "value": 500}], "breakdowns": ["service"]}`), now.Add(72 * time.Hour)},
		{"start and time_range", abs(`{"start_time": START, "time_range": 7200, "calculations": [{"op": "COUNT"}, {"op": "P99", "column": "duration_ms"}],
			"filters": [{"column": "status_code", "op": ">=", "value": 500}], "breakdowns": ["service"]}`), now},
		{"end alone (default range)", abs(`{"end_time": END, "calculations": [{"op": "COUNT"}, {"op": "P99", "column": "duration_ms"}],
			"filters": [{"column": "status_code", "op": ">=", "value": 500}], "breakdowns": ["service"]}`), now},
		{"keys in another order, other spacing", `{"breakdowns":["service"],"filters":[{"value":500,"op":">=","column":"status_code"}],
			"calculations":[{"op":"COUNT"},{"column":"duration_ms","op":"P99"}],"time_range":7200}`, now},
		{"lower-case ops", `{"time_range": 7200, "calculations": [{"op": "count"}, {"op": "p99", "column": "duration_ms"}],
			"filters": [{"column": "status_code", "op": ">=", "value": 500}], "breakdowns": ["service"]}`, now},
		{"defaults written out", `{"time_range": 7200, "granularity": 120, "limit": 1000, "filter_combination": "and",
			"calculations": [{"op": "COUNT"}, {"op": "P99", "column": "duration_ms"}],
			"filters": [{"column": "status_code", "op": ">=", "value": 500}], "breakdowns": ["service"]}`, now},
		{"same time_range later in the same second", base, now.Add(999 * time.Millisecond)},
	}
	want := newQuery(t, "checkout", base, now)
	if !ValidID(want.ID) {
		t.Fatalf("id %q is not 16 hex characters", want.ID)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := newQuery(t, "checkout", tc.spec, tc.at)
			if got.ID != want.ID {
				t.Errorf("id %s, want %s\n got spec %s\nwant spec %s", got.ID, want.ID, got.Spec, want.Spec)
			}
		})
	}
}

func TestOtherQuestionOtherID(t *testing.T) {
	base := `{"time_range": 7200, "calculations": [{"op": "COUNT"}], "breakdowns": ["service"]}`
	tests := []struct {
		name string
		ds   string
		spec string
		at   time.Time
	}{
		{"same time_range an hour later: another interval", "checkout", base, now.Add(time.Hour)},
		{"same time_range a second later", "checkout", base, now.Add(time.Second)},
		{"another dataset", "payments", base, now},
		{"a shorter range ending at the same time", "checkout", `{"time_range": 3600, "calculations": [{"op": "COUNT"}], "breakdowns": ["service"]}`, now},
		{"another granularity", "checkout", `{"time_range": 7200, "granularity": 60, "calculations": [{"op": "COUNT"}], "breakdowns": ["service"]}`, now},
		{"another breakdown", "checkout", `{"time_range": 7200, "calculations": [{"op": "COUNT"}], "breakdowns": ["endpoint"]}`, now},
		{"a filter", "checkout", `{"time_range": 7200, "calculations": [{"op": "COUNT"}], "breakdowns": ["service"],
			"filters": [{"column": "status_code", "op": ">=", "value": 500}]}`, now},
		{"OR instead of AND", "checkout", `{"time_range": 7200, "calculations": [{"op": "COUNT"}], "breakdowns": ["service"],
			"filters": [{"column": "a", "op": "exists"}, {"column": "b", "op": "exists"}], "filter_combination": "or"}`, now},
		{"descending instead of ascending", "checkout", `{"time_range": 7200, "calculations": [{"op": "COUNT"}], "breakdowns": ["service"],
			"orders": [{"column": "service", "order": "descending"}]}`, now},
	}
	seen := map[string]string{newQuery(t, "checkout", base, now).ID: "base"}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := newQuery(t, tc.ds, tc.spec, tc.at).ID
			if other, ok := seen[id]; ok {
				t.Errorf("id %s is also %s's", id, other)
			}
			seen[id] = tc.name
		})
	}
}

func TestCanonicalSpec(t *testing.T) {
	q := newQuery(t, "checkout", `{"time_range": 7200, "calculations": [{"op": "p99", "column": "duration_ms"}],
		"filters": [{"column": "status_code", "op": ">=", "value": 500}], "orders": [{"op": "p99", "column": "duration_ms", "order": "desc"}]}`, now)
	var m map[string]any
	if err := json.Unmarshal(q.Spec, &m); err != nil {
		t.Fatal(err)
	}
	if _, ok := m["time_range"]; ok {
		t.Errorf("time_range kept: %s", q.Spec)
	}
	if m["start_time"] != float64(start) || m["end_time"] != float64(end) {
		t.Errorf("interval %v…%v, want %d…%d", m["start_time"], m["end_time"], start, end)
	}
	if !strings.Contains(string(q.Spec), `">="`) {
		t.Errorf("spec text is HTML-escaped, so it cannot be searched as written: %s", q.Spec)
	}
	if !strings.Contains(string(q.Spec), `"order":"descending"`) || !strings.Contains(string(q.Spec), `"op":"P99"`) {
		t.Errorf("spellings not made one: %s", q.Spec)
	}
	// The stored spec asks the same question again, whenever it is run.
	again := newQuery(t, "checkout", string(q.Spec), now.Add(1000*time.Hour))
	if again.ID != q.ID || string(again.Spec) != string(q.Spec) {
		t.Errorf("stored spec does not reproduce itself:\n%s %s\n%s %s", q.ID, q.Spec, again.ID, again.Spec)
	}
	// NewQuery leaves the caller's spec alone.
	s, _ := query.Parse([]byte(`{"time_range": 60, "calculations": [{"op": "count"}]}`))
	if _, err := NewQuery("x", s, now); err != nil {
		t.Fatal(err)
	}
	if s.TimeRange != 60 || s.StartTime != 0 || s.Calculations[0].Op != "count" {
		t.Errorf("NewQuery changed its argument: %+v", s)
	}
}

func TestInvalidSpec(t *testing.T) {
	s, _ := query.Parse([]byte(`{"time_range": 7200, "granularity": 1}`))
	if _, err := NewQuery("checkout", s, now); err == nil || !strings.Contains(err.Error(), "granularity") {
		t.Errorf("err = %v, want one naming granularity", err)
	}
}

func TestValidateSaved(t *testing.T) {
	tests := []struct {
		name, desc string
		field      string // "" = valid
	}{
		{"slow checkouts", "", ""},
		{"  padded  ", "", ""},
		{strings.Repeat("é", 200), strings.Repeat("x", 2000), ""},
		{"", "", "name"},
		{"   ", "", "name"},
		{strings.Repeat("a", 201), "", "name"},
		{"two\nlines", "", "name"},
		{"ok", strings.Repeat("x", 2001), "description"},
		{"ok", "bad \xff utf-8", "description"},
	}
	for _, tc := range tests {
		s := Saved{Name: tc.name, Description: tc.desc}
		err := s.Validate()
		switch {
		case tc.field == "" && err != nil:
			t.Errorf("%.20q: %v", tc.name, err)
		case tc.field != "" && err == nil:
			t.Errorf("%.20q / %.20q: valid, want an error on %s", tc.name, tc.desc, tc.field)
		case tc.field != "" && !strings.HasPrefix(err.Error(), tc.field+": "):
			t.Errorf("%.20q: error %q does not name %s", tc.name, err, tc.field)
		}
	}
	s := Saved{Name: "  padded  "}
	s.Validate()
	if s.Name != "padded" {
		t.Errorf("name %q not trimmed", s.Name)
	}
}

func TestLikePattern(t *testing.T) {
	for in, want := range map[string]string{"p99": "%p99%", "50%": `%50\%%`, "a_b": `%a\_b%`, `c:\x`: `%c:\\x%`} {
		if got := LikePattern(in); got != want {
			t.Errorf("LikePattern(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestIDs(t *testing.T) {
	a, b := NewID(), NewID()
	if a == b || !ValidID(a) || !ValidID(b) {
		t.Errorf("NewID: %q %q", a, b)
	}
	for _, bad := range []string{"", "abc", "0123456789ABCDEF", "0123456789abcdeg", "0123456789abcdef0", "../../etc/passwd"} {
		if ValidID(bad) {
			t.Errorf("ValidID(%q) = true", bad)
		}
	}
	if Permalink("0123456789abcdef") != "/q/0123456789abcdef" {
		t.Error(Permalink("0123456789abcdef"))
	}
	if (RunFilter{}).EffectiveLimit() != DefaultLimit || (RunFilter{Limit: 5000}).EffectiveLimit() != MaxLimit || (RunFilter{Limit: 7}).EffectiveLimit() != 7 {
		t.Error("EffectiveLimit")
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }
