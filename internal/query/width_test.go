package query

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestQueryColumnsAreBounded: a query names at most MaxColumns (100)
// breakdowns, calculations or filters; past it the spec is refused naming
// the field and the limit, so that a dataset's width never makes one
// query read and aggregate thousands of columns.
func TestQueryColumnsAreBounded(t *testing.T) {
	if MaxColumns != 100 {
		t.Fatalf("MaxColumns %d, want 100", MaxColumns)
	}
	list := func(n int, f string) string {
		var out []string
		for i := range n {
			out = append(out, fmt.Sprintf(f, i))
		}
		return strings.Join(out, ",")
	}
	for _, c := range []struct{ field, item string }{
		{"breakdowns", `"c%d"`},
		{"calculations", `{"op":"MAX","column":"c%d"}`},
		{"filters", `{"column":"c%d","op":"exists"}`},
	} {
		for _, n := range []int{100, 101} {
			s, err := Parse([]byte(`{"` + c.field + `":[` + list(n, c.item) + `]}`))
			if err != nil {
				t.Fatal(err)
			}
			err = s.Resolve(time.Now())
			switch {
			case n == 100 && err != nil:
				t.Errorf("%s: 100: %v", c.field, err)
			case n == 101 && (err == nil || !strings.Contains(err.Error(), c.field) || !strings.Contains(err.Error(), "at most 100")):
				t.Errorf("%s: 101: %v; want a refusal naming the field and the limit of 100", c.field, err)
			}
		}
	}
}
