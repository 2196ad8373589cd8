package query

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseCalculation(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Calculation
		err  string
	}{
		{in: "COUNT", want: Calculation{Op: "COUNT"}},
		{in: "count", want: Calculation{Op: "COUNT"}},
		{in: " P99(duration_ms) ", want: Calculation{Op: "P99", Column: "duration_ms"}},
		{in: "count_distinct(user)", want: Calculation{Op: "COUNT_DISTINCT", Column: "user"}},
		{in: "P99(", err: "want OP or OP(column)"},
		{in: "", err: "want OP or OP(column)"},
	} {
		got, err := ParseCalculation(tc.in)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("ParseCalculation(%q): error %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseCalculation(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func TestParseFilter(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Filter
		err  string
	}{
		{in: "status_code >= 500", want: Filter{Column: "status_code", Op: ">=", Value: int64(500)}},
		{in: "status_code>=500", want: Filter{Column: "status_code", Op: ">=", Value: int64(500)}},
		{in: "duration_ms < 2.5", want: Filter{Column: "duration_ms", Op: "<", Value: 2.5}},
		{in: "service = checkout", want: Filter{Column: "service", Op: "=", Value: "checkout"}},
		{in: `build = "4512"`, want: Filter{Column: "build", Op: "=", Value: "4512"}},
		{in: "cache_hit != true", want: Filter{Column: "cache_hit", Op: "!=", Value: true}},
		{in: `"http.route name" contains /api`, want: Filter{Column: "http.route name", Op: "contains", Value: "/api"}},
		{in: "host exists", want: Filter{Column: "host", Op: "exists"}},
		{in: "host does-not-exist", want: Filter{Column: "host", Op: "does-not-exist"}},
		{in: "region in eu, us,3", want: Filter{Column: "region", Op: "in", Value: []any{"eu", "us", int64(3)}}},
		{in: "region not-in eu", want: Filter{Column: "region", Op: "not-in", Value: []any{"eu"}}},
		{in: "path does-not-start-with /health", want: Filter{Column: "path", Op: "does-not-start-with", Value: "/health"}},
		{in: "host exists now", err: "exists takes no value"},
		{in: "status_code >=", err: ">= needs a value"},
		{in: "region inside eu", err: "unknown operator; use one of does-not-start-with does-not-end-with"},
		{in: ">= 5", err: "want 'COLUMN OP VALUE'"},
		{in: "status_code", err: "want 'COLUMN OP VALUE'"},
		{in: `"unterminated = 1`, err: "bad quoted column"},
	} {
		got, err := ParseFilter(tc.in)
		if tc.err != "" {
			if err == nil || !strings.HasPrefix(err.Error(), tc.err) {
				t.Errorf("ParseFilter(%q): error %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseFilter(%q) = %#v, %v; want %#v", tc.in, got, err, tc.want)
		}
	}
}

// TestWrittenFilterOps keeps the ops ParseFilter knows to those the compiler
// takes, with no op tried after one that is its prefix.
func TestWrittenFilterOps(t *testing.T) {
	if len(writtenFilterOps) != len(filterOps) {
		t.Errorf("%d written ops, %d filter ops", len(writtenFilterOps), len(filterOps))
	}
	for i, op := range writtenFilterOps {
		if !filterOps[op] {
			t.Errorf("%q is not a filter op", op)
		}
		for _, later := range writtenFilterOps[i+1:] {
			if strings.HasPrefix(later, op) {
				t.Errorf("%q is tried before %q, which it is a prefix of", op, later)
			}
		}
	}
}

func TestParseOrder(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Order
		err  string
	}{
		{in: "COUNT", want: Order{Op: "COUNT", Order: "descending"}},
		{in: "COUNT asc", want: Order{Op: "COUNT", Order: "ascending"}},
		{in: "P99(duration_ms) ascending", want: Order{Op: "P99", Column: "duration_ms", Order: "ascending"}},
		{in: "service asc", want: Order{Column: "service", Order: "ascending"}},
		{in: "count desc", want: Order{Column: "count", Order: "descending"}},
		{in: "SERVICE", want: Order{Column: "SERVICE", Order: "descending"}},
		{in: "service sideways", err: "direction must be asc or desc"},
		{in: "", err: "want 'COLUMN|CALC [asc|desc]'"},
		{in: "a b c", err: "want 'COLUMN|CALC [asc|desc]'"},
	} {
		got, err := ParseOrder(tc.in)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("ParseOrder(%q): error %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseOrder(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func TestSummary(t *testing.T) {
	start := time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC).Unix()
	for _, tc := range []struct {
		spec Spec
		want string
	}{
		{Spec{}, "COUNT"},
		{Spec{Calculations: []Calculation{{Op: "COUNT"}, {Op: "P99", Column: "duration_ms"}, {Op: "COUNT", Name: "errors"}},
			Filters:    []Filter{{Column: "status_code", Op: ">=", Value: 500.0}, {Column: "region", Op: "in", Value: []any{"eu", "us"}}, {Column: "host", Op: "exists"}},
			Breakdowns: []string{"service", "host"}, StartTime: start, EndTime: start + 7200},
			`COUNT, P99(duration_ms), errors WHERE status_code >= 500 AND region in ["eu","us"] AND host exists BY service, host · 2026-11-24 08:00 +2h`},
		{Spec{Filters: []Filter{{Column: "a", Op: "=", Value: "x"}, {Column: "b", Op: "=", Value: true}}, FilterCombination: "or",
			StartTime: start, EndTime: start + 5400}, "COUNT WHERE a = x OR b = true · 2026-11-24 08:00 +1h30m"},
		{Spec{StartTime: start, EndTime: start + 90}, "COUNT · 2026-11-24 08:00 +1m30s"},
	} {
		if got := tc.spec.Summary(time.UTC); got != tc.want {
			t.Errorf("Summary:\n got %s\nwant %s", got, tc.want)
		}
	}
}
