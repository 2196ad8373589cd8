package query

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestQueryColumnsAreBounded: a query names at most 100 breakdowns or
// filters and 1,000 calculations; past it the spec is refused naming
// the field and the limit, so that a dataset's width never makes one
// query read and aggregate thousands of columns.
func TestQueryColumnsAreBounded(t *testing.T) {
	if MaxColumns != 100 || MaxCalculations != 1000 {
		t.Fatalf("MaxColumns %d, MaxCalculations %d; want 100 and 1,000", MaxColumns, MaxCalculations)
	}
	list := func(n int, f string) string {
		var out []string
		for i := range n {
			out = append(out, fmt.Sprintf(f, i))
		}
		return strings.Join(out, ",")
	}
	for _, c := range []struct {
		field, item string
		max         int
	}{
		{"breakdowns", `"c%d"`, 100},
		{"calculations", `{"op":"MAX","column":"c%d"}`, 1000},
		{"filters", `{"column":"c%d","op":"exists"}`, 100},
	} {
		for _, n := range []int{c.max, c.max + 1} {
			s, err := Parse([]byte(`{"` + c.field + `":[` + list(n, c.item) + `]}`))
			if err != nil {
				t.Fatal(err)
			}
			err = s.Resolve(time.Now())
			switch {
			case n == c.max && err != nil:
				t.Errorf("%s: %d: %v", c.field, n, err)
			case n > c.max && (err == nil || !strings.Contains(err.Error(), c.field) || !strings.Contains(err.Error(), fmt.Sprintf("at most %d", c.max))):
				t.Errorf("%s: %d: %v; want a refusal naming the field and the limit of %d", c.field, n, err, c.max)
			}
		}
	}
}
