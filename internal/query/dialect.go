package query

import (
	"strconv"
	"strings"

	"github.com/prodex/prodex/internal/schema"
	"github.com/prodex/prodex/internal/sli"
)

// dialect is what differs between SQL engines in the parts of a query that
// both compilers share: bound values, boolean literals and the functions
// of the filters.
type dialect struct {
	// param is the SQL of the n-th bound value (from 1), v.
	param func(n int, v any) string
	// True and False are the boolean literals.
	True, False string
	// text is a column's value as text, for the text filters.
	text func(c *compiler, x string, t schema.Type) string
	// textMatch is a text filter: op is starts-with, ends-with or contains.
	textMatch func(op, text, value string) string
	// in is x IN the values.
	in func(x string, values []string) string
	// sli compiles an SLI expression to a boolean (or 1/0) over the
	// catalog's physical columns, NULL where it cannot be evaluated.
	sli func(expr string, cols sli.Columns) (string, []string, error)
	// sloEvents is the predicate keeping the eligible events whose good
	// expression has a value (which "" for all of them, "bad" or "good").
	sloEvents func(elig, good, which string) string
}

// textOps maps each text filter op to its positive form.
var textOps = map[string]string{
	"starts-with": "starts-with", "does-not-start-with": "starts-with",
	"ends-with": "ends-with", "does-not-end-with": "ends-with",
	"contains": "contains", "does-not-contain": "contains",
}

// duckDB is the dialect of the DuckDB store.
var duckDB = &dialect{
	sli: sli.Compile,
	sloEvents: func(elig, good, which string) string {
		pred := "(" + elig + ") IS TRUE AND (" + good + ") IS NOT NULL"
		switch which {
		case "bad":
			pred += " AND NOT (" + good + ")"
		case "good":
			pred += " AND (" + good + ")"
		}
		return "(" + pred + ")"
	},
	// DuckDB infers an untyped parameter from where it is used, and a
	// parameter of the base filter, which every pass inlines, could be
	// inferred differently in two passes: that fails inside the engine (and
	// invalidates the database). A typed placeholder cannot.
	param: func(n int, v any) string {
		p := "$" + strconv.Itoa(n)
		switch v.(type) {
		case string:
			return "CAST(" + p + " AS VARCHAR)"
		case int64, int:
			return "CAST(" + p + " AS BIGINT)"
		case float64:
			return "CAST(" + p + " AS DOUBLE)"
		case bool:
			return "CAST(" + p + " AS BOOLEAN)"
		}
		return p
	},
	True: "true", False: "false",
	text: func(_ *compiler, x string, _ schema.Type) string { return "CAST(" + x + " AS VARCHAR)" },
	textMatch: func(op, text, v string) string {
		fn := map[string]string{"starts-with": "starts_with", "ends-with": "suffix", "contains": "contains"}[op]
		return fn + "(" + text + ", " + v + ")"
	},
	in: func(x string, vs []string) string { return x + " IN (" + strings.Join(vs, ", ") + ")" },
}
