package query

import (
	"strings"
	"testing"
	"time"
)

func TestWriteTable(t *testing.T) {
	spec := &Spec{Breakdowns: []string{"service"}, Calculations: []Calculation{{Op: "COUNT"}, {Op: "P99", Column: "duration_ms"}}}
	t1 := time.Date(2026, 11, 24, 10, 1, 0, 0, time.UTC)
	res := &Result{
		Series: []Point{
			{Time: t1, Data: map[string]any{"service": "api", "COUNT": 2.0, "P99(duration_ms)": 12.5}},
			{Time: t1.Add(-time.Minute), Data: map[string]any{"service": "api", "COUNT": 1.0}},
		},
		Results: []Row{
			{Data: map[string]any{"service": "checkout", "COUNT": 1234567.0, "P99(duration_ms)": 0.25}},
			{Data: map[string]any{"service": nil, "COUNT": 3.0, "P99(duration_ms)": map[string]any{"buckets": []any{1.0}}}},
		},
	}
	var b strings.Builder
	if err := res.WriteTable(&b, spec, false); err != nil {
		t.Fatal(err)
	}
	want := "" +
		"service   COUNT    P99(duration_ms)\n" +
		"checkout  1234567  0.25\n" +
		"(null)    3        {\"buckets\":[1]}\n"
	if b.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", b.String(), want)
	}

	b.Reset()
	if err := res.WriteTable(&b, spec, true); err != nil {
		t.Fatal(err)
	}
	want = "" +
		"TIME                  service  COUNT  P99(duration_ms)\n" +
		"2026-11-24T10:00:00Z  api      1      (null)\n" +
		"2026-11-24T10:01:00Z  api      2      12.5\n" +
		"\n" + // a blank line ends a block of columns
		"service   COUNT    P99(duration_ms)\n" +
		"checkout  1234567  0.25\n" +
		"(null)    3        {\"buckets\":[1]}\n"
	if b.String() != want {
		t.Errorf("with series:\n%s\nwant:\n%s", b.String(), want)
	}

	b.Reset()
	var none *Result
	if err := none.WriteTable(&b, &Spec{Calculations: []Calculation{{Op: "COUNT"}}}, false); err != nil || b.String() != "COUNT\n" {
		t.Errorf("nil result: %q, %v", b.String(), err)
	}
}

func TestParseTime(t *testing.T) {
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Time
	}{
		{"1795514400", time.Unix(1795514400, 0)},
		{"2026-11-24T09:00:00Z", now.Add(-time.Hour)},
	} {
		got, err := ParseTime(tc.in)
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("ParseTime(%q) = %v, %v", tc.in, got, err)
		}
		if got, err := ParseWhen(tc.in, now); err != nil || !got.Equal(tc.want) {
			t.Errorf("ParseWhen(%q) = %v, %v", tc.in, got, err)
		}
	}
	if _, err := ParseTime("yesterday"); err == nil {
		t.Error("ParseTime read yesterday")
	}
	if got, err := ParseWhen("24h", now); err != nil || !got.Equal(now.Add(-24*time.Hour)) {
		t.Errorf("ParseWhen(24h) = %v, %v", got, err)
	}
	if _, err := ParseWhen("yesterday", now); err == nil || err.Error() != `want RFC3339, Unix seconds or a duration such as 24h, not "yesterday"` {
		t.Errorf("ParseWhen(yesterday): %v", err)
	}
}
