package marker

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func valid() Marker {
	return Marker{ID: "0123456789abcdef", Dataset: "checkout", StartTime: 1764000000, Message: "v1.2.3", Type: "deploy"}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(m *Marker)
		field string // "" when valid
	}{
		{"minimal", func(m *Marker) {}, ""},
		{"environment-wide", func(m *Marker) { m.Dataset = AllDatasets }, ""},
		{"no message or type", func(m *Marker) { m.Message, m.Type = "", "" }, ""},
		{"range", func(m *Marker) { m.EndTime = m.StartTime + 600 }, ""},
		{"zero-length range", func(m *Marker) { m.EndTime = m.StartTime }, ""},
		{"full", func(m *Marker) { m.URL, m.Color = "https://ci.example/builds/42?x=1", "#7b1fa2" }, ""},
		{"http url", func(m *Marker) { m.URL = "http://ci.example" }, ""},
		{"short color", func(m *Marker) { m.Color = "#F0a" }, ""},
		{"message at limit", func(m *Marker) { m.Message = strings.Repeat("é", MaxMessage) }, ""},
		{"multi-line message", func(m *Marker) { m.Message = "rollout\n\tstep 2" }, ""},
		{"type at limit", func(m *Marker) { m.Type = strings.Repeat("t", MaxType) }, ""},

		{"empty dataset", func(m *Marker) { m.Dataset = "" }, "dataset"},
		{"bad dataset", func(m *Marker) { m.Dataset = "a/b" }, "dataset"},
		{"upper-case dataset", func(m *Marker) { m.Dataset = "Checkout" }, "dataset"},
		{"no start", func(m *Marker) { m.StartTime = 0 }, "start_time"},
		{"negative start", func(m *Marker) { m.StartTime = -5 }, "start_time"},
		{"start in milliseconds", func(m *Marker) { m.StartTime = 1764000000000 }, "start_time"},
		{"end before start", func(m *Marker) { m.EndTime = m.StartTime - 1 }, "end_time"},
		{"negative end", func(m *Marker) { m.EndTime = -1 }, "end_time"},
		{"end in milliseconds", func(m *Marker) { m.EndTime = 1764000000000 }, "end_time"},
		{"message too long", func(m *Marker) { m.Message = strings.Repeat("x", MaxMessage+1) }, "message"},
		{"message not UTF-8", func(m *Marker) { m.Message = "\xff" }, "message"},
		{"message control char", func(m *Marker) { m.Message = "a\x1b[31m" }, "message"},
		{"type too long", func(m *Marker) { m.Type = strings.Repeat("t", MaxType+1) }, "type"},
		{"type newline", func(m *Marker) { m.Type = "deploy\n" }, "type"},
		{"javascript url", func(m *Marker) { m.URL = "javascript:alert(1)" }, "url"},
		{"ftp url", func(m *Marker) { m.URL = "ftp://files.example/x" }, "url"},
		{"relative url", func(m *Marker) { m.URL = "/builds/42" }, "url"},
		{"url without host", func(m *Marker) { m.URL = "https://" }, "url"},
		{"unparsable url", func(m *Marker) { m.URL = "http://[::1" }, "url"},
		{"url too long", func(m *Marker) { m.URL = "https://x.example/" + strings.Repeat("a", MaxURL) }, "url"},
		{"color name", func(m *Marker) { m.Color = "purple" }, "color"},
		{"color without #", func(m *Marker) { m.Color = "7b1fa2" }, "color"},
		{"color 4 digits", func(m *Marker) { m.Color = "#7b1f" }, "color"},
		{"color not hex", func(m *Marker) { m.Color = "#7b1fag" }, "color"},
		{"color with alpha", func(m *Marker) { m.Color = "#7b1fa2ff" }, "color"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := valid()
			tt.edit(&m)
			err := m.Validate()
			switch {
			case tt.field == "" && err != nil:
				t.Fatalf("want valid, got %v", err)
			case tt.field != "" && err == nil:
				t.Fatalf("want an error naming %s, got none", tt.field)
			case tt.field != "" && !strings.HasPrefix(err.Error(), tt.field+": "):
				t.Fatalf("error %q does not name %s", err, tt.field)
			}
		})
	}
}

func TestInputApply(t *testing.T) {
	now := time.Unix(1764000123, 500)
	decode := func(body string) Input {
		t.Helper()
		var in Input
		if err := json.Unmarshal([]byte(body), &in); err != nil {
			t.Fatal(err)
		}
		return in
	}

	// Create: an absent start_time is now.
	var m Marker
	decode(`{"message":"v1","type":"deploy","url":"https://ci.example"}`).Apply(&m, now)
	if m.StartTime != 1764000123 || m.EndTime != 0 || m.Message != "v1" || m.Type != "deploy" || m.URL != "https://ci.example" {
		t.Fatalf("create: %+v", m)
	}

	// Update: absent fields keep their values, present ones replace them,
	// including with empty values.
	decode(`{"end_time":1764000999,"url":"","color":"#abc"}`).Apply(&m, now.Add(time.Hour))
	if m.StartTime != 1764000123 || m.EndTime != 1764000999 || m.Message != "v1" || m.Type != "deploy" || m.URL != "" || m.Color != "#abc" {
		t.Fatalf("update: %+v", m)
	}

	// An explicit start_time wins, and an explicit 0 is kept (to be refused).
	decode(`{"start_time":1700000000}`).Apply(&m, now)
	if m.StartTime != 1700000000 {
		t.Fatalf("start: %+v", m)
	}
	decode(`{"start_time":0}`).Apply(&m, now)
	if err := m.Validate(); m.StartTime != 0 || err == nil {
		t.Fatalf("start 0: %+v, %v", m, err)
	}
}

func TestOverlaps(t *testing.T) {
	at := func(s int64) time.Time { return time.Unix(s, 0) }
	var zero time.Time
	point := Marker{StartTime: 100}
	span := Marker{StartTime: 100, EndTime: 200}
	tests := []struct {
		name       string
		m          Marker
		start, end time.Time
		want       bool
	}{
		{"point at start", point, at(100), at(200), true},
		{"point at end", point, at(0), at(100), false},
		{"point inside", point, at(50), at(150), true},
		{"point before", point, at(101), at(150), false},
		{"point, start a fraction before", point, time.Unix(99, 999_999_999), at(101), true},
		{"point, start a fraction after", point, time.Unix(100, 1), at(101), false},
		{"point, end a fraction after", point, at(0), time.Unix(100, 1), true},
		{"point, unbounded start", point, zero, at(101), true},
		{"point, unbounded end", point, at(100), zero, true},
		{"point, unbounded both", point, zero, zero, true},
		{"range covers query", span, at(120), at(130), true},
		{"range ends at query start", span, at(200), at(300), true},
		{"range ends before query", span, at(201), at(300), false},
		{"range starts at query end", span, at(0), at(100), false},
		{"range starts in query", span, at(0), at(101), true},
	}
	for _, tt := range tests {
		if got := tt.m.Overlaps(tt.start, tt.end); got != tt.want {
			t.Errorf("%s: Overlaps = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestNewID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := NewID()
		if len(id) != 16 || strings.Trim(id, "0123456789abcdef") != "" || seen[id] {
			t.Fatalf("bad or repeated id %q", id)
		}
		seen[id] = true
	}
}

func TestJSONShape(t *testing.T) {
	m := valid()
	m.CreatedAt = time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	m.UpdatedAt = m.CreatedAt
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"0123456789abcdef","dataset":"checkout","start_time":1764000000,"message":"v1.2.3","type":"deploy","author":"","created_at":"2026-11-24T10:00:00Z","updated_at":"2026-11-24T10:00:00Z"}`
	if string(b) != want {
		t.Fatalf("JSON\n got %s\nwant %s", b, want)
	}
}
