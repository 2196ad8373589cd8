package sli_test

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"sort"
	"strings"
	"testing"
	"time"

	"cel.dev/cel-go/cel"
	celtypes "cel.dev/cel-go/common/types"

	"github.com/prodex/prodex/internal/event"
	"github.com/prodex/prodex/internal/schema"
	"github.com/prodex/prodex/internal/sli"
	"github.com/prodex/prodex/internal/store"
	"github.com/prodex/prodex/internal/store/duckdb"
)

var t0 = time.Now().UTC().Truncate(time.Hour).Add(-2 * time.Hour)

// events covers missing fields, both numeric types, type conflicts (code
// and flag end up string columns, duration_ms a float one), strings with
// quotes, dotted names, timestamps as text and as seconds.
func events() []event.Event {
	var evs []event.Event
	rfc := func(d time.Duration) string { return t0.Add(d).Format(time.RFC3339) }
	updated := []any{
		rfc(-time.Hour), rfc(-30 * time.Hour), "yesterday", rfc(-23 * time.Hour),
		t0.Add(-25 * time.Hour).In(time.FixedZone("", 2*3600)).Format(time.RFC3339Nano),
		t0.Add(-90 * time.Minute).Format("2006-01-02T15:04:05.123456789Z07:00"),
		"2024-01-01", "2024-01-01 10:00:00", strings.ToLower(rfc(-time.Hour)), "2024-02-30T10:00:00Z", "",
	}
	endpoints := []any{"/api/cart", "/api/pay", "/home", "it's", `say "hi"`, "'); DROP TABLE x; --", "héllo", "", "/api/x", "👩‍👩‍👧"}
	texts := []any{"12", " 12", "1e3", "+7", "-3", "1.5", "abc", "0x10", "1_000", ".5", "1e400", "9223372036854775808"}
	for i := range 40 {
		f := map[string]any{
			"status_code":    []int64{200, 503, 404, 500, 201, 200, 302}[i%7],
			"duration_ms":    []any{120.5, 900.0, 299.999, 300.0, 0.0, -5.25, int64(42)}[i%7],
			"latency":        []int64{10, 0, -7, math.MaxInt64, 1 << 40, math.MinInt64}[i%6],
			"endpoint":       endpoints[i%len(endpoints)],
			"method":         []string{"GET", "POST", "OPTIONS", "PUT", `O'Neil`}[i%5],
			"http.host":      []string{"db-3", "db-1", "web"}[i%3],
			"http.route":     []string{"/users/:id", "/health"}[i%2],
			"cached":         i%4 == 0,
			"row_updated_at": updated[i%len(updated)],
			"updated_s":      t0.Add(-time.Duration(i) * 17 * time.Minute).Unix(),
			"num_text":       texts[i%len(texts)],
			"code":           []any{int64(200), int64(503), "abc"}[i%3],
			"flag":           []any{true, false, true, "yes"}[i%4],
			"gone":           nil,
		}
		for k, drop := range map[string]bool{
			"status_code": i%5 == 3, "duration_ms": i%6 == 4, "endpoint": i%9 == 8, "method": i%7 == 6,
			"http.host": i%4 == 3, "http.route": i%3 == 2 || i%4 == 3, "cached": i%5 == 1,
			"row_updated_at": i%8 == 7, "updated_s": i%10 == 9, "latency": i%11 == 10,
		} {
			if drop {
				delete(f, k)
			}
		}
		evs = append(evs, event.Event{Time: t0.Add(time.Duration(i) * time.Minute), SampleRate: 1, Fields: f})
	}
	return evs
}

// open stores the events and returns the store and its catalog.
func open(t *testing.T) (*duckdb.Store, store.Catalog) {
	t.Helper()
	st, err := duckdb.Open(t.TempDir(), duckdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	b := &event.Batch{Dataset: "svc", Events: events()}
	if err := st.Append(context.Background(), []*event.Batch{b}); err != nil {
		t.Fatal(err)
	}
	for i, err := range b.Errs {
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
	}
	cat, err := st.Catalog("svc")
	if err != nil {
		t.Fatal(err)
	}
	return st, cat
}

// storedEvents reads the events back as stored (types reconciled by the
// store) as CEL activations: dotted names nested into maps so that select
// chains resolve, absent fields left out.
func storedEvents(t *testing.T, st *duckdb.Store, cat store.Catalog) []map[string]any {
	t.Helper()
	cols := cat.Columns()
	phys := make([]string, len(cols))
	for i, c := range cols {
		phys[i] = c.Phys
	}
	rows, err := st.DB().Query(`SELECT * FROM ` + cat.From(phys, t0, t0.Add(time.Hour)) + ` ORDER BY ts`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []map[string]any
	for rows.Next() {
		vals := make([]any, len(cols)+2) // ts, sr, columns
		ptrs := make([]any, len(vals))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		act := map[string]any{sli.EventTime: time.UnixMicro(vals[0].(int64)).UTC()}
		for i, c := range cols {
			if v := vals[i+2]; v != nil {
				nest(act, c.Name, v)
			}
		}
		out = append(out, act)
	}
	return out
}

func nest(m map[string]any, name string, v any) {
	parts := strings.Split(name, ".")
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

// celEval evaluates expr with cel-go: "true", "false", or "NULL" for an
// error or a result that is not a bool.
func celEval(t *testing.T, env *cel.Env, expr string, act map[string]any) string {
	t.Helper()
	checked, iss := env.Compile(expr)
	if iss.Err() != nil {
		t.Fatalf("cel-go: %s: %v", expr, iss.Err())
	}
	prg, err := env.Program(checked)
	if err != nil {
		t.Fatal(err)
	}
	out, _, err := prg.Eval(act)
	if err != nil || out.Type() != celtypes.BoolType {
		return "NULL"
	}
	return fmt.Sprint(out.Value())
}

// agreeing are expressions whose SQL must match cel-go on every event.
var agreeing = []string{
	`status_code < 500`,
	`duration_ms < 300`,
	`event_time - timestamp(row_updated_at) < duration("24h")`,
	`endpoint.startsWith("/api") && method != "OPTIONS"`,
	`status_code >= 500 || duration_ms > 500.0`,
	`!(status_code == 200)`,
	`status_code == 200.0`,
	`status_code == "200"`,
	`status_code != "200"`,
	`status_code < "300"`,
	`code == "200"`,
	`code < 500`,
	`flag == true || flag == "yes"`,
	`cached ? status_code < 300 : duration_ms < 300`,
	`(cached ? latency : duration_ms) > 100`,
	`status_code ? true : false`,
	`cached && status_code`,
	`endpoint.endsWith("'s")`,
	`endpoint.contains("\"hi\"")`,
	`endpoint.matches("^/api/(cart|pay)$")`,
	`matches(endpoint, "l+o")`,
	`size(endpoint) > 4`,
	`endpoint.size() == 5`,
	`endpoint + "!" == "/api/cart!"`,
	`endpoint == "it's" || endpoint == "'); DROP TABLE x; --"`,
	`http.host == "db-3"`,
	`http.route.startsWith("/users") && http.host != "web"`,
	`status_code in [500, 503, 404.0]`,
	`method in ["GET", "O'Neil", 1]`,
	`status_code % 100 == 0`,
	`status_code / 100 == 5`,
	`status_code / latency >= 0`,
	`status_code % latency == 0`,
	`latency * 1000 > 0`,
	`latency + 1 > latency`,
	`-latency < 0`,
	`duration_ms * 2.0 < 600.0`,
	`duration_ms * 2 < 600`,
	`duration_ms / 0.0 > 1.0`,
	`-duration_ms < -100.0`,
	`int(duration_ms) == 299`,
	`int(num_text) > 5`,
	`double(num_text) > 5.0`,
	`string(status_code) == "404"`,
	`string(cached) == "true"`,
	`double(status_code) > 300.5`,
	`timestamp(row_updated_at) + duration("2h") < event_time`,
	`event_time > timestamp("2020-01-01T00:00:00+01:00")`,
	`int(event_time) % 120 == 0`,
	`timestamp(updated_s) < event_time - duration("1h30m")`,
	`duration("1h") - (event_time - timestamp(row_updated_at)) < duration("-24h")`,
	`never_seen > 3`,
	`never_seen > 3 || status_code == 200`,
	`never_seen > 3 && false`,
	`!never_seen`,
	`status_code == null`,
	`never_seen == null`,
	`has(http.host)`,
}

func TestCompileAgreesWithCEL(t *testing.T) {
	st, cat := open(t)
	stored := storedEvents(t, st, cat)
	if len(stored) != len(events()) {
		t.Fatalf("%d events stored", len(stored))
	}
	opts := []cel.EnvOption{cel.CrossTypeNumericComparisons(true), cel.Variable(sli.EventTime, cel.TimestampType), cel.Variable("never_seen", cel.DynType)}
	roots := map[string]bool{}
	for _, c := range cat.Columns() {
		if r, _, _ := strings.Cut(c.Name, "."); !roots[r] {
			roots[r] = true
			opts = append(opts, cel.Variable(r, cel.DynType))
		}
	}
	env, err := cel.NewEnv(opts...)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, expr := range agreeing {
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
		for ; rows.Next(); i++ {
			var v sql.NullBool
			if err := rows.Scan(&v); err != nil {
				t.Fatal(err)
			}
			got := "NULL"
			if v.Valid {
				got = fmt.Sprint(v.Bool)
			}
			want := celEval(t, env, expr, stored[i])
			if _, ok := stored[i]["http"]; strings.HasPrefix(expr, "has(") && !ok && want == "NULL" {
				want = "false" // CEL fails for lack of the parent map; flat events just lack the field
			}
			if got != want {
				t.Errorf("%s, event %d %v: SQL %s, CEL %s\n%s", expr, i, stored[i], got, want, q)
			}
			counts[got]++
		}
		rows.Close()
		if i != len(stored) {
			t.Errorf("%s: %d rows", expr, i)
		}
	}
	if counts["true"] < 100 || counts["false"] < 100 || counts["NULL"] < 100 {
		t.Errorf("outcomes too one-sided: %v", counts)
	}
}

// fakeColumns gives every field the same type.
type fakeColumns schema.Type

func (f fakeColumns) Column(name string) (schema.Column, bool) {
	return schema.Column{Name: name, Type: schema.Type(f), Phys: "c_" + strings.ReplaceAll(name, ".", "_")}, true
}

// TestAnyColumnTypes: whatever types a dataset gives the fields, an
// expression that passes Check compiles, and its SQL runs without error
// on extreme values (overflow, division by zero, NaN, odd text).
func TestAnyColumnTypes(t *testing.T) {
	st, _ := open(t)
	values := map[schema.Type][]string{
		schema.Integer: {"9223372036854775807", "-9223372036854775808", "0", "NULL"},
		schema.Float:   {"1e308", "'nan'::DOUBLE", "0.0", "NULL"},
		schema.String:  {"'2024-01-01T00:00:00Z'", "'9223372036854775808'", "''", "NULL"},
		schema.Boolean: {"TRUE", "FALSE", "NULL", "NULL"},
	}
	sqlType := map[schema.Type]string{schema.Integer: "BIGINT", schema.Float: "DOUBLE", schema.String: "VARCHAR", schema.Boolean: "BOOLEAN"}
	for _, expr := range agreeing {
		if err := sli.Check(expr); err != nil {
			t.Errorf("Check(%s): %v", expr, err)
		}
		for typ, vals := range values {
			q, phys, err := sli.Compile(expr, fakeColumns(typ))
			if err != nil {
				t.Errorf("%s with %s fields: %v", expr, typ, err)
				continue
			}
			var rows []string
			for k, v := range vals {
				sel := []string{fmt.Sprintf("CAST(%d AS BIGINT) AS ts", []int64{math.MaxInt64 / 2, math.MinInt64 / 2, 0, 1}[k])}
				for _, p := range phys {
					sel = append(sel, "CAST("+v+" AS "+sqlType[typ]+`) AS "`+p+`"`)
				}
				rows = append(rows, "SELECT "+strings.Join(sel, ", "))
			}
			var n int
			err = st.DB().QueryRow(`SELECT count(` + q + `) FROM (` + strings.Join(rows, " UNION ALL ") + `)`).Scan(&n)
			if err != nil {
				t.Errorf("%s with %s fields: %v\n%s", expr, typ, err, q)
			}
		}
	}
}

func TestRejects(t *testing.T) {
	for expr, want := range map[string]string{
		``:                                       "empty expression",
		`status_code <`:                          "column 14: Syntax error",
		`status_code < 500 && [1].all(x, x > 0)`: "column 29: macro all() is not supported",
		`items.exists(i, i.ok)`:                  "macro exists() is not supported",
		`"text"`:                                 "not a condition",
		`size(endpoint)`:                         "not a condition",
		`foo(status_code)`:                       "foo",
		`"a" < 1`:                                "no matching overload",
		`duration(row) > duration("1h")`:         `column 9: duration() needs a literal such as duration("24h")`,
		`duration("forever") > duration("1h")`:   "duration(\"forever\")",
		`timestamp("yesterday") < event_time`:    "RFC 3339",
		`status_code in other`:                   "list of literals",
		`status_code in [1, other]`:              "list of literals",
		`size([1, 2]) > 1`:                       "list is only supported after 'in'",
		`{"a": 1}["a"] == 1`:                     "maps and messages are not supported",
		`tags[0] == "x"`:                         "indexing ([]) is not supported",
		`event_time.getHours() > 3`:              "function getHours() is not supported",
		`endpoint.matches(method)`:               "literal pattern",
		`endpoint.matches("(")`:                  "missing closing )",
		`(cached ? null : never_seen) == 1`:      "null is only supported with == and !=",
		`has(status_code)`:                       "invalid argument to has() macro",
		`18446744073709551615u > status_code`:    "too large",
		"status_code < 500 &&\n  bad(x)":         "line 2, column",
	} {
		err := sli.Check(expr)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Check(%q) = %v, want an error containing %q", expr, err, want)
		}
	}
}

// TestHostileLiterals: string literals that try to close the SQL string
// stay literals, and the SQL holds no text of the expression but them.
func TestHostileLiterals(t *testing.T) {
	st, cat := open(t)
	if _, err := st.DB().Exec(`CREATE TABLE x (a INTEGER)`); err != nil {
		t.Fatal(err)
	}
	for _, lit := range []string{`'); DROP TABLE x; --`, `' OR 1=1 --`, `\'; DROP TABLE x; --`, `"; DROP TABLE x; --`, `/* */ '' '`} {
		expr := `endpoint == ` + fmt.Sprintf("%q", lit) + ` || method.startsWith(` + fmt.Sprintf("%q", lit) + `)`
		q, phys, err := sli.Compile(expr, cat)
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		quoted := "'" + strings.ReplaceAll(lit, "'", "''") + "'"
		if rest := strings.ReplaceAll(q, quoted, ""); strings.Contains(rest, "DROP") || strings.Count(rest, "'")%2 != 0 {
			t.Fatalf("literal not quoted: %s", q)
		}
		var n int
		if err := st.DB().QueryRow(`SELECT count(*) FILTER (WHERE ` + q + `) FROM ` + cat.From(phys, t0, t0.Add(time.Hour))).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		want := 0
		for _, ev := range events() {
			if ev.Fields["endpoint"] == lit {
				want++
			}
		}
		if n != want {
			t.Errorf("%s matched %d events, want %d", expr, n, want)
		}
	}
	if _, err := st.DB().Exec(`SELECT * FROM x`); err != nil {
		t.Fatal(err)
	}
}

// TestPhys: the physical columns read are those of the fields used, once
// each, and event_time reads ts.
func TestPhys(t *testing.T) {
	_, cat := open(t)
	_, phys, err := sli.Compile(`status_code < 500 && (status_code > 100 || http.host == "a") && event_time > timestamp(0) && never_seen`, cat)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, name := range []string{"status_code", "http.host"} {
		col, _ := cat.Column(name)
		want = append(want, col.Phys)
	}
	sort.Strings(phys)
	sort.Strings(want)
	if fmt.Sprint(phys) != fmt.Sprint(want) {
		t.Errorf("phys %v, want %v", phys, want)
	}
}
