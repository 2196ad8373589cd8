package note

import (
	"strings"
	"testing"
)

func TestRenderIsSafe(t *testing.T) {
	for _, c := range []struct{ in, want, never string }{
		{"**build 4512** on `db-3`", "<strong>build 4512</strong>", ""},
		{"<script>alert(1)</script>", "", "<script"},
		{"[click](javascript:alert(1))", "click", "javascript:"},
		{"<img src=x onerror=alert(1)>", "", "onerror"},
		{"| a | b |\n|---|---|\n| 1 | 2 |", "<table>", ""},
		{`<a href="http://x" onclick="steal()">x</a>`, "", "onclick"},
		{"[ok](https://example.com)", `href="https://example.com"`, ""},
	} {
		got, err := Render(c.in)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(got, c.want) || c.never != "" && strings.Contains(strings.ToLower(got), c.never) {
			t.Errorf("Render(%q) = %q", c.in, got)
		}
	}
}

func TestCheck(t *testing.T) {
	ok := Note{TargetType: "incident", TargetID: "i1", Text: "x"}
	if err := ok.Check(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		n    Note
		want string
	}{
		{Note{TargetType: "dashboard", TargetID: "x", Text: "x"}, "target_type"},
		{Note{TargetType: "slo", Text: "x"}, "target_id"},
		{Note{TargetType: "slo", TargetID: "x", Text: "  "}, "text: required"},
		{Note{TargetType: "slo", TargetID: "x", Text: strings.Repeat("x", MaxText+1)}, "at most"},
	} {
		if err := c.n.Check(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.n.TargetType, err, c.want)
		}
	}
}
