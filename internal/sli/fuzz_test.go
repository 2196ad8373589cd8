package sli

import (
	"testing"

	"github.com/prodex/prodex/internal/schema"
)

type fuzzCols map[string]schema.Column

func (c fuzzCols) Column(n string) (schema.Column, bool) { x, ok := c[n]; return x, ok }

// FuzzCompile: any expression either is refused or compiles to SQL that
// names only the store's physical columns — no input text reaches SQL
// except as a quoted literal.
func FuzzCompile(f *testing.F) {
	for _, s := range []string{`status_code < 500`, `duration_ms < 300 && service == "checkout"`, `has(http.route) && http.route.startsWith("/api")`,
		`'a\'; DROP TABLE x; --' == service`, `size(service) > 2 || !(cache_hit)`, `timestamp(ts) - timestamp(row_updated_at) < duration("24h")`, `1 +`, `x.y.z`} {
		f.Add(s)
	}
	cols := fuzzCols{"status_code": {Name: "status_code", Phys: "c1", Type: schema.Integer}, "duration_ms": {Name: "duration_ms", Phys: "c2", Type: schema.Float},
		"service": {Name: "service", Phys: "c3", Type: schema.String}, "http.route": {Name: "http.route", Phys: "c4", Type: schema.String},
		"cache_hit": {Name: "cache_hit", Phys: "c5", Type: schema.Boolean}, "row_updated_at": {Name: "row_updated_at", Phys: "c6", Type: schema.String}}
	f.Fuzz(func(t *testing.T, expr string) {
		if len(expr) > 4096 {
			return
		}
		sql, phys, err := Compile(expr, cols)
		if err != nil {
			return
		}
		for _, p := range phys {
			if len(p) < 2 || p[0] != 'c' {
				t.Fatalf("%q: physical column %q", expr, p)
			}
		}
		if sql == "" {
			t.Fatalf("%q: empty SQL", expr)
		}
	})
}
