package sli

import (
	"regexp"
	"strings"
	"testing"

	"github.com/prodex/prodex/internal/schema"
)

// unquoted returns ClickHouse SQL without its quoted strings and names,
// and whether its parentheses and brackets balance and its quotes close.
func unquoted(sql string) (string, bool) {
	var b strings.Builder
	depth := 0
	var quote byte
	for i := 0; i < len(sql); i++ {
		c := sql[i]
		switch {
		case quote != 0 && c == '\\':
			i++
			continue
		case quote != 0:
			if c == quote {
				quote = 0
			}
			continue
		case c == '\'' || c == '`':
			quote = c
			continue
		case c == '(' || c == '[':
			depth++
		case c == ')' || c == ']':
			depth--
			if depth < 0 {
				return "", false
			}
		}
		b.WriteByte(c)
	}
	return b.String(), depth == 0 && quote == 0
}

// unsupported are what ClickHouse 18.16 lacks, or crashes on (coalesce()
// over converted Nullable columns).
var unsupported = regexp.MustCompile(`(?i)coalesce|::|try_cast|\btry\(|distinct|\btrue\b|\bfalse\b|\bcase\b`)

// FuzzCompileClickHouse: the ClickHouse dialect refuses exactly what
// Compile refuses, with the same message, reads the same columns, and
// writes SQL whose quotes all close.
func FuzzCompileClickHouse(f *testing.F) {
	for _, s := range []string{`status_code < 500`, `duration_ms < 300 && service == "checkout"`, `has(http.route) && http.route.startsWith("/api")`,
		`'a\'; DROP TABLE x; --' == service`, `size(service) > 2 || !(cache_hit)`, `timestamp(ts) - timestamp(row_updated_at) < duration("24h")`, `1 +`, `x.y.z`,
		`double(service) > 1.5 || int(row_updated_at) % 7 == (cache_hit ? 1 : 2)`, `service.matches("(?<n>\\\\)")`, `int(timestamp(service)) / 60 in [1, 2.5]`} {
		f.Add(s)
	}
	cols := fuzzCols{"status_code": {Name: "status_code", Phys: "c1", Type: schema.Integer}, "duration_ms": {Name: "duration_ms", Phys: "c2", Type: schema.Float},
		"service": {Name: "service", Phys: "c3", Type: schema.String}, "http.route": {Name: "http.route", Phys: "c4", Type: schema.String},
		"cache_hit": {Name: "cache_hit", Phys: "c5", Type: schema.Boolean}, "row_updated_at": {Name: "row_updated_at", Phys: "c6", Type: schema.String}}
	f.Fuzz(func(t *testing.T, expr string) {
		if len(expr) > 4096 {
			return
		}
		_, dp, derr := Compile(expr, cols)
		sql, cp, cerr := CompileClickHouse(expr, cols)
		if (derr == nil) != (cerr == nil) || derr != nil && derr.Error() != cerr.Error() {
			t.Fatalf("%q: DuckDB %v, ClickHouse %v", expr, derr, cerr)
		}
		if cerr != nil {
			return
		}
		if len(dp) != len(cp) {
			t.Fatalf("%q: columns %q and %q", expr, dp, cp)
		}
		for i := range dp {
			if dp[i] != cp[i] {
				t.Fatalf("%q: columns %q and %q", expr, dp, cp)
			}
		}
		rest, ok := unquoted(sql)
		if sql == "" || !ok || unsupported.MatchString(rest) {
			t.Fatalf("%q: SQL %s", expr, sql)
		}
	})
}
