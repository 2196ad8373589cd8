package sli_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"cel.dev/cel-go/cel"

	"github.com/prodex/prodex/internal/event"
	"github.com/prodex/prodex/internal/sli"
	"github.com/prodex/prodex/internal/store"
	"github.com/prodex/prodex/internal/store/duckdb"
)

var t0 = time.Now().UTC().Truncate(time.Hour).Add(-2 * time.Hour)

// events covers missing fields, both numeric types, strings with quotes,
// dotted names, booleans and timestamps as text.
func events() []event.Event {
	rows := []map[string]any{
		{"status_code": int64(200), "duration_ms": 120.5, "endpoint": "/api/cart", "method": "GET", "http.host": "db-3", "cached": true, "row_updated_at": t0.Add(-time.Hour).Format(time.RFC3339)},
		{"status_code": int64(503), "duration_ms": 900.0, "endpoint": "/api/pay", "method": "POST", "http.host": "db-1", "cached": false, "row_updated_at": t0.Add(-30 * time.Hour).Format(time.RFC3339)},
		{"status_code": int64(404), "endpoint": "/home", "method": "OPTIONS", "row_updated_at": "yesterday"},
		{"duration_ms": 299.999, "endpoint": "it's", "method": "GET", "http.host": "db-3"},
		{"status_code": int64(500), "duration_ms": 300.0, "endpoint": "/api/x", "cached": true},
		{"status_code": int64(201), "duration_ms": 0.0, "endpoint": "", "method": "PUT", "row_updated_at": t0.Add(-23 * time.Hour).Format(time.RFC3339)},
	}
	out := make([]event.Event, len(rows))
	for i, r := range rows {
		out[i] = event.Event{Time: t0.Add(time.Duration(i) * time.Minute), SampleRate: 1, Fields: r}
	}
	return out
}

// nested turns flat dotted fields into the nested maps CEL selects on.
func nested(f map[string]any, ts time.Time) map[string]any {
	out := map[string]any{sli.EventTime: ts}
	for k, v := range f {
		parts := strings.Split(k, ".")
		m := out
		for _, p := range parts[:len(parts)-1] {
			sub, ok := m[p].(map[string]any)
			if !ok {
				sub = map[string]any{}
				m[p] = sub
			}
			m = sub
		}
		m[parts[len(parts)-1]] = v
	}
	return out
}

// celEval evaluates expr with cel-go: "true", "false" or "NULL" (error).
func celEval(t *testing.T, expr string, ev event.Event) string {
	t.Helper()
	act := nested(ev.Fields, ev.Time)
	opts := []cel.EnvOption{cel.Variable(sli.EventTime, cel.TimestampType)}
	for _, v := range []string{"status_code", "duration_ms", "endpoint", "method", "http", "cached", "row_updated_at", "never_seen"} {
		opts = append(opts, cel.Variable(v, cel.DynType))
	}
	env, err := cel.NewEnv(opts...)
	if err != nil {
		t.Fatal(err)
	}
	ast, iss := env.Compile(expr)
	if iss.Err() != nil {
		t.Fatalf("cel-go: %v", iss.Err())
	}
	prg, err := env.Program(ast)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"status_code", "duration_ms", "endpoint", "method", "http", "cached", "row_updated_at", "never_seen"} {
		if _, ok := act[v]; !ok {
			act[v] = missing{}
		}
	}
	out, _, err := prg.Eval(withMissing(act))
	if err != nil {
		return "NULL"
	}
	return fmt.Sprint(out.Value())
}

type missing struct{}

// withMissing leaves absent fields unbound, so that CEL reports an error
// for them as it does for a missing key.
func withMissing(act map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range act {
		if _, ok := v.(missing); !ok {
			out[k] = v
		}
	}
	return out
}

func TestCompileAgreesWithCEL(t *testing.T) {
	st, err := duckdb.Open(t.TempDir(), duckdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	evs := events()
	b := &store.Batch{Dataset: "svc", Events: evs}
	if err := st.Append(context.Background(), []*store.Batch{b}); err != nil {
		t.Fatal(err)
	}
	cat, _ := st.Catalog("svc")
	exprs := []string{
		`status_code < 500`,
		`duration_ms < 300`,
		`status_code < 500 && duration_ms < 300`,
		`status_code >= 500 || duration_ms > 500`,
		`!(status_code == 200)`,
		`status_code == 200.0`,
		`status_code == "200"`,
		`status_code != "200"`,
		`status_code < "300"`,
		`endpoint.startsWith("/api") && method != "OPTIONS"`,
		`endpoint.endsWith("'s")`,
		`endpoint.contains("ca")`,
		`endpoint.matches("^/api/(cart|pay)$")`,
		`size(endpoint) > 4`,
		`http.host == "db-3"`,
		`has(http.host)`,
		`cached`,
		`cached ? status_code < 300 : duration_ms < 300`,
		`status_code in [500, 503]`,
		`method in ["GET", "PUT"]`,
		`status_code % 100 == 0`,
		`status_code / 100 == 5`,
		`duration_ms * 2.0 < 600.0`,
		`-duration_ms < -100.0`,
		`int(duration_ms) == 299`,
		`string(status_code) == "404"`,
		`double(status_code) > 300.5`,
		`event_time - timestamp(row_updated_at) < duration("24h")`,
		`timestamp(row_updated_at) + duration("2h") < event_time`,
		`never_seen > 3`,
		`never_seen > 3 || status_code == 200`,
		`never_seen > 3 && false`,
		`endpoint == "it's"`,
	}
	for _, expr := range exprs {
		q, phys, err := sli.Compile(expr, cat)
		if err != nil {
			t.Errorf("%s: %v", expr, err)
			continue
		}
		rows, err := st.DB().Query(`SELECT ` + q + ` FROM ` + cat.From(phys, t0, t0.Add(time.Hour)) + ` ORDER BY ts`)
		if err != nil {
			t.Errorf("%s: %v\n%s", expr, err, q)
			continue
		}
		i := 0
		for rows.Next() {
			var v sql.NullBool
			if err := rows.Scan(&v); err != nil {
				t.Fatal(err)
			}
			got := "NULL"
			if v.Valid {
				got = fmt.Sprint(v.Bool)
			}
			want := celEval(t, expr, evs[i])
			if strings.HasPrefix(expr, "has(") && want == "NULL" {
				// CEL fails has(a.b) when a itself is absent; for flat
				// events the field is simply absent.
				want = "false"
			}
			if got != want {
				t.Errorf("%s, event %d: SQL %s, CEL %s", expr, i, got, want)
			}
			i++
		}
		rows.Close()
		if i != len(evs) {
			t.Errorf("%s: %d rows", expr, i)
		}
	}
}

func TestRejects(t *testing.T) {
	for expr, want := range map[string]string{
		`status_code <`:                        "Syntax error",
		`[1, 2].all(x, x > 0)`:                 "macros",
		`status_code`:                          "",
		`"text"`:                               "not a condition",
		`foo(status_code)`:                     "foo is not supported",
		`duration(row)`:                        "literal",
		`"a" < 1 + true`:                       "not defined",
		`status_code in other`:                 "list of literals",
		`duration("forever") > duration("1h")`: "duration",
	} {
		err := sli.Check(expr)
		switch {
		case want == "" && err != nil:
			t.Errorf("%s: %v", expr, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("%s: error %v, want one containing %q", expr, err, want)
		}
	}
}

// TestHostileLiterals: string literals that try to close the SQL string.
func TestHostileLiterals(t *testing.T) {
	q, _, err := sli.Compile(`method == "'); DROP TABLE px_keys; --"`, nil)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(q, "'); DROP") {
		t.Fatalf("literal not escaped: %s", q)
	}
}
