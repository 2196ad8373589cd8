package query_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"math/rand"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prodex/prodex/internal/event"
	"github.com/prodex/prodex/internal/query"
	"github.com/prodex/prodex/internal/schema"
	"github.com/prodex/prodex/internal/store"
	"github.com/prodex/prodex/internal/store/duckdb"
	"github.com/prodex/prodex/internal/testserver"
)

// chCatalog is a test catalog over one ClickHouse table holding the events
// of a DuckDB dataset: the same fields and types, stored in columns c0,
// c1… (in the order of the field names).
type chCatalog struct {
	table string
	duck  store.Catalog
	cols  map[string]schema.Column
}

func (c *chCatalog) Column(name string) (schema.Column, bool) {
	col, ok := c.cols[name]
	return col, ok
}

func (c *chCatalog) From(phys []string, start, end time.Time) string {
	return fmt.Sprintf("(SELECT %s FROM %s WHERE ts >= %d AND ts < %d)",
		strings.Join(append([]string{"ts", "sr"}, phys...), ", "), c.table, start.UnixMicro(), end.UnixMicro())
}

// Weighted answers as the DuckDB catalog does, so that both plans are
// weighted, or not, alike.
func (c *chCatalog) Weighted(start, end time.Time) bool { return c.duck.Weighted(start, end) }

// twin is one dataset stored in both engines.
type twin struct {
	name string
	duck *duckdb.Store
	ch   *sql.DB
	cat  *chCatalog
	// prep, when set, completes each spec after parsing (an SLO's SLI).
	prep func(*query.Spec)
}

var chTypes = map[schema.Type]string{schema.Integer: "Int64", schema.Float: "Float64", schema.String: "String", schema.Boolean: "UInt8"}

// load stores events in a new DuckDB store, as the other tests do, and in
// a new MergeTree table of the ClickHouse server.
func load(t *testing.T, db *sql.DB, name string, evs []event.Event) *twin {
	t.Helper()
	st := open(t, name, evs)
	dcat, err := st.Catalog(name)
	if err != nil {
		t.Fatal(err)
	}
	cat := &chCatalog{table: "ev_" + name, duck: dcat, cols: map[string]schema.Column{}}
	cols := dcat.Columns()
	ddl := []string{"ts Int64", "sr Int64"}
	names := []string{"ts", "sr"}
	for i, col := range cols {
		col.Phys = "c" + strconv.Itoa(i)
		cat.cols[col.Name] = col
		cols[i] = col
		ddl = append(ddl, col.Phys+" Nullable("+chTypes[col.Type]+")")
		names = append(names, col.Phys)
	}
	if _, err := db.Exec("CREATE TABLE " + cat.table + " (" + strings.Join(ddl, ", ") + ") ENGINE = MergeTree() PARTITION BY intDiv(ts, 86400000000) ORDER BY ts"); err != nil {
		t.Fatal(err)
	}
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	stmt, err := tx.Prepare("INSERT INTO " + cat.table + " (" + strings.Join(names, ", ") + ")")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		row := []any{e.Time.UnixMicro(), max(e.SampleRate, 1)}
		for _, col := range cols {
			v, ok := e.Fields[col.Name]
			if !ok || v == nil {
				row = append(row, nil)
				continue
			}
			if typ, _ := schema.TypeOf(v); typ != col.Type {
				var promote schema.Type
				if v, promote = schema.Coerce(col.Type, v); promote != "" {
					t.Fatalf("%s: %v does not fit a %s column", col.Name, v, col.Type)
				}
			}
			if b, ok := v.(bool); ok {
				v = uint8(0)
				if b {
					v = uint8(1)
				}
			}
			row = append(row, v)
		}
		if _, err := stmt.Exec(row...); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	return &twin{name: name, duck: st, ch: db, cat: cat}
}

// both answers a spec on DuckDB and on ClickHouse.
func (w *twin) both(t *testing.T, spec string) (duck, ch *query.Result, err error) {
	t.Helper()
	resolve := func() (*query.Spec, error) {
		s, err := query.Parse([]byte(spec))
		if err != nil {
			return nil, err
		}
		if w.prep != nil {
			w.prep(s)
		}
		return s, s.Resolve(t0.Add(time.Hour))
	}
	s, err := resolve()
	if err != nil {
		return nil, nil, err
	}
	dcat, err := w.duck.Catalog(w.name)
	if err != nil {
		t.Fatal(err)
	}
	dp, derr := query.Compile(s, dcat)
	s2, _ := resolve()
	cp, cerr := query.CompileClickHouse(s2, w.cat)
	if derr != nil || cerr != nil {
		if !reflect.DeepEqual(derr, cerr) {
			t.Errorf("%s:\ncompile errors differ: DuckDB %v, ClickHouse %v", spec, derr, cerr)
		}
		if derr != nil {
			return nil, nil, derr
		}
		return nil, nil, cerr
	}
	if duck, err = dp.Run(context.Background(), w.duck.DB()); err != nil {
		t.Fatalf("%s\nDuckDB: %v", spec, err)
	}
	if ch, err = cp.Run(context.Background(), w.ch); err != nil {
		t.Fatalf("%s\nClickHouse: %v\n%s", spec, err, cp.SQL)
	}
	return duck, ch, nil
}

// check asserts that a spec has the same answer on both engines.
func (w *twin) check(t *testing.T, spec string) *query.Result {
	t.Helper()
	duck, ch, err := w.both(t, spec)
	if err != nil {
		t.Fatalf("%s: %v", spec, err)
	}
	if diffs := diffResults(duck, ch); len(diffs) > 0 {
		if len(diffs) > 10 {
			diffs = append(diffs[:10], fmt.Sprintf("… %d more", len(diffs)-10))
		}
		t.Errorf("%s: %s:\n%s", w.name, spec, strings.Join(diffs, "\n"))
	}
	return duck
}

// looseRel is the relative difference allowed between two float sums or
// averages: DuckDB and ClickHouse add floats up in different orders, so
// the last bits differ. A RATE_SUM or RATE_AVG is a difference of two such
// sums, and may also differ by looseAbs, far below the data's resolution
// (milliseconds to three decimals).
const (
	looseRel = 1e-12
	looseAbs = 1e-9
)

// loose reports whether a calculation is a float sum or average (of
// duration_ms, the float column of gen; named ones are SUM0, AVG2…): these
// compare within looseRel; every other value, integer averages included,
// must be equal.
func loose(label string) (ok bool, slack float64) {
	for _, op := range []string{"SUM", "AVG", "RATE_SUM", "RATE_AVG"} {
		if label == op+"(duration_ms)" || strings.HasPrefix(label, op) && len(label) == len(op)+1 {
			if strings.HasPrefix(op, "RATE_") {
				return true, looseAbs
			}
			return true, 0
		}
	}
	return false, 0
}

// diffResults lists the differences between two answers; values must be
// deep-equal, of the same Go types, except float sums and averages, which
// may differ by looseRel.
func diffResults(a, b *query.Result) []string {
	var out []string
	if a.StartTime != b.StartTime || a.EndTime != b.EndTime || a.Granularity != b.Granularity {
		out = append(out, fmt.Sprintf("range %d %d %d vs %d %d %d", a.StartTime, a.EndTime, a.Granularity, b.StartTime, b.EndTime, b.Granularity))
	}
	if len(a.Results) != len(b.Results) {
		out = append(out, fmt.Sprintf("%d results vs %d", len(a.Results), len(b.Results)))
	}
	for i := range min(len(a.Results), len(b.Results)) {
		out = append(out, diffData(fmt.Sprintf("results[%d]", i), a.Results[i].Data, b.Results[i].Data)...)
	}
	if len(a.Series) != len(b.Series) {
		out = append(out, fmt.Sprintf("%d points vs %d", len(a.Series), len(b.Series)))
	}
	for i := range min(len(a.Series), len(b.Series)) {
		if !a.Series[i].Time.Equal(b.Series[i].Time) {
			out = append(out, fmt.Sprintf("series[%d] at %v vs %v", i, a.Series[i].Time, b.Series[i].Time))
		}
		out = append(out, diffData(fmt.Sprintf("series[%d]", i), a.Series[i].Data, b.Series[i].Data)...)
	}
	return out
}

func diffData(where string, a, b map[string]any) []string {
	var out []string
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	for _, k := range sorted {
		x, okx := a[k]
		y, oky := b[k]
		if okx != oky {
			out = append(out, fmt.Sprintf("%s %s: present %v vs %v", where, k, okx, oky))
			continue
		}
		if reflect.DeepEqual(x, y) {
			continue
		}
		fx, isfx := x.(float64)
		fy, isfy := y.(float64)
		if ok, slack := loose(k); ok && isfx && isfy && math.Abs(fx-fy) <= looseRel*math.Max(math.Abs(fx), math.Abs(fy))+slack {
			continue
		}
		out = append(out, fmt.Sprintf("%s %s: %T %#v vs %T %#v", where, k, x, x, y, y))
	}
	return out
}

// spec writes a spec over [t0+from, t0+to) with the given extra members.
func spec(from, to time.Duration, members ...string) string {
	return fmt.Sprintf(`{"start_time":%d,"end_time":%d`, t0.Add(from).Unix(), t0.Add(to).Unix()) + strings.Join(append([]string{""}, members...), ",") + "}"
}

// calcs writes a calculations member.
func calcs(cs ...string) string { return `"calculations":[` + strings.Join(cs, ",") + `]` }

func calc(op, col string) string {
	if col == "" {
		return `{"op":"` + op + `"}`
	}
	return `{"op":"` + op + `","column":"` + col + `"}`
}

func jsonOf(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

var pctOps = []string{"P001", "P01", "P05", "P10", "P20", "P25", "P50", "P75", "P80", "P90", "P95", "P99", "P999"}

// everyCalc is every calculation op, on columns of each type it takes.
func everyCalc() string {
	cs := []string{calc("COUNT", "")}
	for _, col := range []string{"duration_ms", "bytes"} {
		for _, op := range []string{"SUM", "AVG", "MIN", "MAX", "COUNT_DISTINCT", "HEATMAP", "RATE_SUM", "RATE_AVG", "RATE_MAX"} {
			cs = append(cs, calc(op, col))
		}
		for _, op := range pctOps {
			cs = append(cs, calc(op, col))
		}
	}
	for _, col := range []string{"user", "ok", "status_code"} {
		cs = append(cs, calc("MIN", col), calc("MAX", col), calc("COUNT_DISTINCT", col))
	}
	return calcs(cs...)
}

// TestClickHouse runs the ClickHouse compiler's tests against one
// ClickHouse 18.16 server.
func TestClickHouse(t *testing.T) {
	db := testserver.ClickHouseDB(t)
	t.Run("matches DuckDB", func(t *testing.T) { testMatchesDuckDB(t, db) })
	t.Run("groups", func(t *testing.T) { testGroups(t, db) })
	t.Run("hostile", func(t *testing.T) { testHostile(t, db) })
	t.Run("refuses", func(t *testing.T) { testRefuses(t, db) })
	t.Run("compile filters", func(t *testing.T) { testCompileFilters(t, db) })
}

// testMatchesDuckDB: every spec gives the same answer on ClickHouse as on
// DuckDB, over the same events.
func testMatchesDuckDB(t *testing.T, db *sql.DB) {
	hour := time.Hour
	for _, sampled := range []bool{false, true} {
		name := map[bool]string{false: "unweighted", true: "weighted"}[sampled]
		w := load(t, db, name, gen(3000, sampled))
		t.Run(name, func(t *testing.T) {
			t.Run("calculations", func(t *testing.T) {
				for _, bd := range []string{``, `"service"`, `"user"`, `"service","ok"`, `"user","status_code"`, `"ok"`} {
					w.check(t, spec(0, hour, everyCalc(), `"breakdowns":[`+bd+`]`))
				}
				// High-cardinality breakdowns cut by a limit: on a float,
				// on an integer absent from most events.
				w.check(t, spec(0, hour, calcs(calc("COUNT", ""), calc("AVG", "duration_ms"), calc("P90", "bytes")), `"breakdowns":["duration_ms"]`, `"limit":30`))
				w.check(t, spec(0, hour, calcs(calc("COUNT", ""), calc("HEATMAP", "duration_ms"), calc("RATE_MAX", "duration_ms")), `"breakdowns":["bytes"]`, `"limit":25`,
					`"orders":[{"column":"bytes","order":"descending"}]`))
				w.check(t, spec(0, hour, calcs(calc("COUNT", ""), calc("SUM", "bytes")), `"breakdowns":["user","service"]`, `"limit":7`))
			})
			t.Run("filters", func(t *testing.T) {
				cases := []struct {
					col, op string
					val     any
				}{
					{"status_code", "=", 200}, {"status_code", "!=", 200}, {"status_code", ">", 201}, {"status_code", ">=", 404},
					{"status_code", "<", 404}, {"status_code", "<=", 201}, {"status_code", ">", 250.5}, {"status_code", "=", "404"},
					{"duration_ms", ">", 150.5}, {"duration_ms", "<=", 20}, {"duration_ms", "=", 0}, {"duration_ms", "!=", 0},
					{"user", "=", "u007"}, {"user", "!=", "u007"}, {"user", ">", "u100"}, {"service", "<", "c"},
					{"user", "starts-with", "u01"}, {"user", "does-not-start-with", "u01"}, {"user", "ends-with", "7"}, {"user", "does-not-end-with", "7"},
					{"user", "contains", "12"}, {"user", "does-not-contain", "12"}, {"user", "contains", ""}, {"user", "starts-with", "%"},
					{"user", "exists", nil}, {"user", "does-not-exist", nil}, {"bytes", "exists", nil}, {"bytes", "does-not-exist", nil},
					{"never_seen", "does-not-exist", nil}, {"never_seen", "exists", nil},
					{"service", "in", []any{"api", "db"}}, {"service", "not-in", []any{"api", "db"}}, {"user", "in", []any{"u001", "u002", "nobody"}},
					{"user", "not-in", []any{"u001"}}, {"status_code", "in", []any{500, 503}}, {"status_code", "not-in", []any{200}},
					{"status_code", "in", []any{200, 404.5}}, {"duration_ms", "in", []any{0, 1}},
					{"ok", "=", true}, {"ok", "!=", true}, {"ok", "=", "false"}, {"ok", "in", []any{false}}, {"ok", "not-in", []any{true}},
					{"bytes", "<", 100}, {"bytes", "!=", 100}, {"bytes", "not-in", []any{1, 2, 3}},
					// Text ops on numbers and booleans read their text.
					{"status_code", "starts-with", "20"}, {"status_code", "ends-with", "3"}, {"status_code", "does-not-contain", "0"},
					{"bytes", "contains", "12"}, {"bytes", "does-not-start-with", "1"},
					{"duration_ms", "starts-with", "1"}, {"duration_ms", "ends-with", "5"}, {"duration_ms", "contains", ".0"},
					{"duration_ms", "does-not-contain", "."}, {"duration_ms", "does-not-end-with", "1"},
					{"ok", "starts-with", "t"}, {"ok", "does-not-start-with", "t"}, {"ok", "contains", "als"}, {"ok", "ends-with", "e"},
				}
				cs := calcs(calc("COUNT", ""), calc("SUM", "duration_ms"), calc("P90", "duration_ms"), calc("COUNT_DISTINCT", "user"), calc("MAX", "bytes"))
				for _, c := range cases {
					f := map[string]any{"column": c.col, "op": c.op}
					if c.val != nil {
						f["value"] = c.val
					}
					w.check(t, spec(0, hour, cs, `"breakdowns":["service"]`, `"filters":[`+jsonOf(f)+`]`))
					w.check(t, spec(0, hour, calcs(calc("COUNT", "")), `"filters":[`+jsonOf(f)+`]`))
				}
				w.check(t, spec(0, hour, cs, `"filter_combination":"OR"`,
					`"filters":[{"column":"status_code","op":">=","value":500},{"column":"duration_ms","op":">","value":300},{"column":"user","op":"does-not-exist"}]`))
				w.check(t, spec(0, hour, cs, `"breakdowns":["user"]`, `"filter_combination":"OR"`,
					`"filters":[{"column":"user","op":"starts-with","value":"u00"},{"column":"bytes","op":"<","value":50}]`))
				w.check(t, spec(0, hour, cs, `"breakdowns":["ok"]`,
					`"filters":[{"column":"user","op":"exists"},{"column":"service","op":"!=","value":"db"},{"column":"duration_ms","op":"<","value":"250"}]`))
			})
			t.Run("calculation filters", func(t *testing.T) {
				slow := `"filters":[{"column":"duration_ms","op":">","value":100}]`
				none := `"filters":[{"column":"status_code","op":"=","value":999}]`
				or := `"filters":[{"column":"user","op":"does-not-exist"},{"column":"bytes","op":"<","value":500}],"filter_combination":"OR"`
				var cs []string
				for i, f := range []string{slow, none, or} {
					for _, op := range []string{"COUNT", "SUM", "AVG", "MIN", "MAX", "COUNT_DISTINCT", "P50", "P99", "HEATMAP", "RATE_SUM", "RATE_AVG", "RATE_MAX"} {
						col := `,"column":"duration_ms"`
						if op == "COUNT" {
							col = ""
						}
						cs = append(cs, `{"op":"`+op+`"`+col+`,"name":"`+op+strconv.Itoa(i)+`",`+f+`}`)
					}
					cs = append(cs, `{"op":"MIN","column":"user","name":"minuser`+strconv.Itoa(i)+`",`+f+`}`,
						`{"op":"SUM","column":"bytes","name":"sumbytes`+strconv.Itoa(i)+`",`+f+`}`)
				}
				cs = append(cs, calc("COUNT", ""), calc("P50", "duration_ms"))
				for _, bd := range []string{``, `"service"`, `"user"`} {
					w.check(t, spec(0, hour, calcs(cs...), `"breakdowns":[`+bd+`]`))
				}
				w.check(t, spec(0, hour, calcs(cs...), `"breakdowns":["service"]`, `"filters":[{"column":"ok","op":"=","value":true}]`))
			})
			t.Run("havings orders limits", func(t *testing.T) {
				cs := calcs(calc("COUNT", ""), calc("AVG", "duration_ms"), calc("P99", "duration_ms"), calc("COUNT_DISTINCT", "user"),
					calc("MAX", "bytes"), calc("RATE_MAX", "bytes"), calc("HEATMAP", "bytes"), calc("MIN", "user"))
				for _, extra := range [][]string{
					{`"havings":[{"calculate_op":"COUNT","op":">","value":10}]`},
					{`"havings":[{"calculate_op":"COUNT","op":">=","value":10},{"calculate_op":"AVG","column":"duration_ms","op":"<","value":100}]`},
					{`"havings":[{"calculate_op":"P99","column":"duration_ms","op":">","value":300}]`, `"limit":5`},
					{`"havings":[{"calculate_op":"COUNT_DISTINCT","column":"user","op":"!=","value":1}]`},
					{`"havings":[{"calculate_op":"MAX","column":"bytes","op":"<=","value":4000}]`},
					{`"havings":[{"calculate_op":"RATE_MAX","column":"bytes","op":"=","value":4999}]`},
					{`"havings":[{"calculate_op":"COUNT","op":">","value":1000000}]`},
					{`"orders":[{"op":"COUNT"}]`},
					{`"orders":[{"op":"AVG","column":"duration_ms","order":"descending"}]`, `"limit":10`},
					{`"orders":[{"op":"MAX","column":"bytes","order":"ascending"},{"column":"user","order":"descending"}]`, `"limit":12`},
					{`"orders":[{"column":"user","order":"descending"}]`, `"limit":3`},
					{`"orders":[{"column":"user"}]`, `"limit":3`},
					{`"orders":[{"op":"MIN","column":"user","order":"desc"}]`, `"limit":4`},
					{`"orders":[{"op":"RATE_MAX","column":"bytes","order":"asc"}]`, `"limit":6`},
					{`"orders":[{"op":"P99","column":"duration_ms"}]`, `"limit":9`, `"havings":[{"calculate_op":"COUNT","op":">","value":3}]`},
					{`"limit":1`},
				} {
					w.check(t, spec(0, hour, append([]string{cs, `"breakdowns":["user"]`}, extra...)...))
				}
				w.check(t, spec(0, hour, cs, `"havings":[{"calculate_op":"COUNT","op":">","value":1}]`))
				w.check(t, spec(0, hour, cs, `"havings":[{"calculate_op":"COUNT","op":"<","value":1}]`))
				w.check(t, spec(0, hour, cs, `"breakdowns":["service","ok"]`, `"orders":[{"column":"ok","order":"descending"},{"column":"service"}]`, `"limit":5`))
			})
			t.Run("time", func(t *testing.T) {
				cs := calcs(calc("COUNT", ""), calc("RATE_SUM", "duration_ms"), calc("RATE_AVG", "bytes"), calc("RATE_MAX", "status_code"), calc("P50", "duration_ms"))
				for _, g := range []int{5, 15, 300, 360} {
					w.check(t, spec(0, hour, cs, `"breakdowns":["service"]`, fmt.Sprintf(`"granularity":%d`, g)))
				}
				w.check(t, spec(10*time.Minute, 40*time.Minute, cs, `"breakdowns":["user"]`, `"limit":10`))
				w.check(t, spec(-hour, 3*hour, cs, `"breakdowns":["service"]`))
				// Empty ranges: before the data and after it.
				w.check(t, spec(-3*hour, -hour, cs))
				w.check(t, spec(-3*hour, -hour, everyCalc()))
				w.check(t, spec(-3*hour, -hour, cs, `"breakdowns":["service"]`))
				w.check(t, spec(2*hour, 3*hour, everyCalc(), `"breakdowns":["user"]`))
			})
		})
	}

	t.Run("percentiles", func(t *testing.T) {
		// 0…999, as integers and floats, and groups of 1, 2 and 3 values;
		// unweighted, then with sample rates.
		for _, sampled := range []bool{false, true} {
			var evs []event.Event
			add := func(grp string, i int, v int64) {
				sr := int64(1)
				if sampled {
					sr = 1 + int64(i*7%5)
				}
				evs = append(evs, event.Event{Time: t0.Add(time.Duration(len(evs)) * time.Second), SampleRate: sr,
					Fields: map[string]any{"grp": grp, "n": v, "x": float64(v) / 4}})
			}
			for i := range 1000 {
				add("thousand", i, int64(999-i))
			}
			// Every size to 40 and some round ones: n·q is a whole
			// number for some of them at every level, where ranks part.
			sizes := []int{50, 100, 200, 400, 500, 2000}
			for n := 1; n <= 40; n++ {
				sizes = append(sizes, n)
			}
			for _, n := range sizes {
				for i := range n {
					add("n"+strconv.Itoa(n), i, int64(10*(n-i)))
				}
			}
			for i := range 5 {
				add("five", i, int64(i))
			}
			w := load(t, db, map[bool]string{false: "pct", true: "pctw"}[sampled], evs)
			var cs []string
			for _, op := range pctOps {
				cs = append(cs, calc(op, "n"), calc(op, "x"))
			}
			res := w.check(t, spec(0, 2*hour, calcs(cs...), `"breakdowns":["grp"]`))
			w.check(t, spec(0, 2*hour, calcs(cs...)))
			if !sampled {
				for _, r := range res.Results {
					if r.Data["grp"] == "thousand" && (r.Data["P50(n)"] != int64(499) || r.Data["P99(n)"] != int64(989) || r.Data["P999(n)"] != int64(998)) {
						t.Errorf("P50, P99, P999 of 0…999: %v %v %v, want 499 989 998", r.Data["P50(n)"], r.Data["P99(n)"], r.Data["P999(n)"])
					}
					if r.Data["grp"] == "five" && r.Data["P99(n)"] != int64(4) {
						t.Errorf("P99 of 0…4 = %v, want 4 (nearest rank)", r.Data["P99(n)"])
					}
				}
			}
		}
	})

	t.Run("values", func(t *testing.T) {
		// Heatmap buckets and the text of floats around every boundary
		// where DuckDB and ClickHouse write floats differently.
		vals := []float64{0, math.Copysign(0, -1), 1, -1, 2, 2.5, -2.5, 0.1, 0.3, 123.456, 1e15, 999999999999999.9, 9999999999999998,
			1e16, -1e16, 1.5e16, 12345678901234567890, 1e20, 1e21, 1.5e22, -1e300, 1.7976931348623157e308,
			0.0001, 0.00012, 9.9e-5, 1e-5, -1.5e-5, 1e-6, 1.5e-6, 9.99e-7, 1e-7, 1.23e-9, 1e-10, 2.2250738585072014e-308}
		for k := -40; k <= 40; k++ {
			b := math.Pow(2, float64(k)/4)
			vals = append(vals, b, math.Nextafter(b, 0), math.Nextafter(b, 10), -b)
		}
		r := rand.New(rand.NewSource(3))
		for len(vals) < 400 {
			var v float64
			if len(vals)%2 == 0 {
				v = math.Float64frombits(r.Uint64()) // any double
			} else {
				v = (r.Float64() - 0.5) * math.Pow(10, float64(r.Intn(36)-12))
			}
			if !math.IsNaN(v) && !math.IsInf(v, 0) && (v == 0 || math.Abs(v) >= 0x1p-1022) {
				vals = append(vals, v)
			}
		}
		var evs []event.Event
		for i, v := range vals {
			evs = append(evs, event.Event{Time: t0.Add(time.Duration(i) * time.Second), SampleRate: 1, Fields: map[string]any{"v": v, "i": int64(i)}})
		}
		w := load(t, db, "values", evs)
		w.check(t, spec(0, hour, calcs(calc("HEATMAP", "v"), calc("COUNT", "")), `"breakdowns":["i"]`, `"limit":1000`))
		w.check(t, spec(0, hour, calcs(calc("HEATMAP", "v"), calc("COUNT_DISTINCT", "v"), calc("MIN", "v"), calc("MAX", "v"))))
		// Floats as groups: 0 and -0 are one group; the top groups by
		// value, bound back exactly.
		w.check(t, spec(0, hour, calcs(calc("COUNT", ""), calc("SUM", "i")), `"breakdowns":["v"]`, `"limit":1000`))
		w.check(t, spec(0, hour, calcs(calc("COUNT", ""), calc("SUM", "i")), `"breakdowns":["v"]`, `"limit":50`, `"orders":[{"column":"v"}]`))
		w.check(t, spec(0, hour, calcs(calc("COUNT", "")), `"breakdowns":["v"]`, `"limit":20`, `"orders":[{"column":"v","order":"descending"}]`))
		w.check(t, spec(0, hour, calcs(calc("COUNT", "")), `"breakdowns":["v"]`, `"limit":20`, `"orders":[{"column":"v"}]`,
			`"filters":[{"column":"v","op":">=","value":0},{"column":"v","op":"<","value":0.001}]`))
		// The text of each value: the breakdown "i" picks it out; the
		// filters keep it when its text starts and ends as DuckDB writes
		// it; each query keeps exactly one event on both engines.
		dcat, _ := w.duck.Catalog("values")
		col, _ := dcat.Column("v")
		rows, err := w.duck.DB().Query("SELECT CAST(" + `"` + col.Phys + `"` + " AS VARCHAR) FROM " + dcat.From([]string{col.Phys}, t0, t0.Add(hour)) + " ORDER BY ts")
		if err != nil {
			t.Fatal(err)
		}
		var texts []string
		for rows.Next() {
			var s string
			rows.Scan(&s)
			texts = append(texts, s)
		}
		rows.Close()
		var cs []string
		for i, text := range texts {
			cs = append(cs, fmt.Sprintf(`{"op":"COUNT","name":"text%d","filters":[{"column":"v","op":"starts-with","value":%q},{"column":"v","op":"ends-with","value":%q},{"column":"i","op":"=","value":%d}]}`, i, text, text, i))
		}
		res := w.check(t, spec(0, hour, calcs(cs...)))
		for i, text := range texts {
			if got := res.Results[0].Data["text"+strconv.Itoa(i)]; got != int64(1) {
				t.Errorf("%v: DuckDB writes %q but does not find it (%v)", vals[i], text, got)
			}
		}
	})
}

// testGroups: the series of the top groups when the limit cuts
// them, NULL group included, and when the list of top groups is too long
// for one statement (max_query_size is 256 KiB on 18.16).
func testGroups(t *testing.T, db *sql.DB) {
	w := load(t, db, "groups", gen(3000, true))
	cs := calcs(calc("COUNT", ""), calc("RATE_SUM", "bytes"), calc("P50", "duration_ms"))
	res := w.check(t, spec(0, time.Hour, cs, `"breakdowns":["user"]`, `"limit":2`))
	if len(res.Results) != 2 || res.Results[0].Data["user"] != nil {
		t.Fatalf("want the events without a user first: %v", res.Results)
	}
	for _, p := range res.Series {
		if u := p.Data["user"]; u != nil && u != res.Results[1].Data["user"] {
			t.Fatalf("series of group %v, not in the top", u)
		}
	}
	// Two breakdowns, one of them NULL in the top group.
	w.check(t, spec(0, time.Hour, cs, `"breakdowns":["bytes","ok"]`, `"limit":3`, `"orders":[{"op":"COUNT","order":"descending"}]`))

	// 1,600 groups of 300-byte names, the top 1,500 in several statements.
	var evs []event.Event
	for i := range 3200 {
		f := map[string]any{"n": int64(i)}
		if i%100 != 0 {
			f["name"] = fmt.Sprintf("%04d'\\%s", i%1600, strings.Repeat("x", 295))
		}
		evs = append(evs, event.Event{Time: t0.Add(time.Duration(i) * time.Second), SampleRate: 1, Fields: f})
	}
	wide := load(t, db, "wide", evs)
	res = wide.check(t, spec(0, time.Hour, calcs(calc("COUNT", ""), calc("MAX", "n")), `"breakdowns":["name"]`, `"limit":1500`,
		`"orders":[{"op":"MAX","column":"n","order":"descending"}]`))
	if len(res.Results) != 1500 || len(res.Series) < 1500 {
		t.Errorf("%d results, %d points", len(res.Results), len(res.Series))
	}
}

// testHostile: field names and values built to break SQL are
// bound, never written into it: they come back as data.
func testHostile(t *testing.T, db *sql.DB) {
	name := `x"; DROP TABLE ev_hostile; --`
	vals := []string{`'); DROP TABLE ev_hostile; --`, `a\'b\\c\`, `$1 ? {p:String} @name`, `%_[]`, "nul\x00byte"}
	var evs []event.Event
	for i, v := range vals {
		evs = append(evs, event.Event{Time: t0.Add(time.Duration(i) * time.Minute), SampleRate: 1, Fields: map[string]any{name: v, "n": int64(i)}})
	}
	w := load(t, db, "hostile", evs)
	// The DuckDB store keeps a string up to its first NUL byte; ClickHouse
	// keeps it whole: the last value is checked on ClickHouse alone.
	for _, v := range vals[:len(vals)-1] {
		for _, f := range []map[string]any{
			{"column": name, "op": "=", "value": v}, {"column": name, "op": "in", "value": []any{v, "'"}},
			{"column": name, "op": "starts-with", "value": v}, {"column": name, "op": "contains", "value": v[1:]},
		} {
			res := w.check(t, spec(0, time.Hour, calcs(calc("COUNT", "")), `"breakdowns":[`+jsonOf(name)+`]`, `"filters":[`+jsonOf(f)+`]`))
			if len(res.Results) != 1 || res.Results[0].Data[name] != v || res.Results[0].Data["COUNT"] != int64(1) {
				t.Errorf("%v: %v", f, res.Results)
			}
		}
	}
	nul := vals[len(vals)-1]
	s, err := query.Parse([]byte(spec(0, time.Hour, `"breakdowns":[`+jsonOf(name)+`]`, `"filters":[{"column":`+jsonOf(name)+`,"op":"=","value":`+jsonOf(nul)+`}]`)))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Resolve(t0); err != nil {
		t.Fatal(err)
	}
	p, err := query.CompileClickHouse(s, w.cat)
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.Run(context.Background(), db)
	if err != nil || len(res.Results) != 1 || res.Results[0].Data[name] != nul {
		t.Errorf("NUL byte: %v, %v", res, err)
	}
	// The hostile values as top groups bound in the second statement.
	w.check(t, spec(0, time.Hour, calcs(calc("COUNT", "")), `"breakdowns":[`+jsonOf(name)+`]`, `"limit":3`))
	var n int
	if err := db.QueryRow("SELECT count() FROM ev_hostile").Scan(&n); err != nil || n != len(vals) {
		t.Fatalf("table after the queries: %d rows, %v", n, err)
	}
}

// testRefuses: invalid specs are refused by both compilers with
// the same error; SLO event filters are refused on ClickHouse.
func testRefuses(t *testing.T, db *sql.DB) {
	w := load(t, db, "refuse", gen(50, false))
	for _, c := range []struct{ spec, field string }{
		{`{"calculations":[{"op":"SUM","column":"user"}]}`, "calculations[0].column"},
		{`{"calculations":[{"op":"AVG","column":"nope"}]}`, "calculations[0].column"},
		{`{"calculations":[{"op":"COUNT","filters":[{"column":"nope","op":"=","value":1}]}]}`, "calculations[0].filters[0].column"},
		{`{"filters":[{"column":"user","op":"like","value":"x"}]}`, "filters[0].op"},
		{`{"filters":[{"column":"status_code","op":"=","value":"abc"}]}`, "filters[0].value"},
		{`{"filters":[{"column":"service","op":"in","value":"api"}]}`, "filters[0].value"},
		{`{"filters":[{"column":"ok","op":"=","value":3}]}`, "filters[0].value"},
		{`{"breakdowns":["nope"]}`, "breakdowns[0]"},
	} {
		_, _, err := w.both(t, c.spec)
		if qe, ok := err.(*query.Error); !ok || qe.Field != c.field {
			t.Errorf("%s: error %v, want one naming %s", c.spec, err, c.field)
		}
	}
	// An SLO's eligible, bad and good events: the SLI compiled for each
	// engine keeps the same events.
	for _, sl := range []struct{ elig, good string }{
		{"", "duration_ms < 100.0"},
		{`service == "api"`, "status_code < 500 && ok"},
		{"size(user) > 0", `user.startsWith("u00") || duration_ms > 250.0`},
	} {
		for _, events := range []string{"eligible", "bad", "good"} {
			w.prep = func(s *query.Spec) { s.SLO.Eligible, s.SLO.Good = sl.elig, sl.good }
			w.check(t, spec(0, time.Hour, `"slo":{"name":"x","events":"`+events+`"}`, `"breakdowns":["service"]`,
				calcs(calc("COUNT", ""), calc("P99", "duration_ms"), calc("COUNT_DISTINCT", "user"))))
		}
	}
	w.prep = nil
}

// testCompileFilters: the filters explain compiles for its own
// statements keep the events a query keeps.
func testCompileFilters(t *testing.T, db *sql.DB) {
	w := load(t, db, "explain", gen(1000, false))
	fs := []query.Filter{{Column: "duration_ms", Op: "contains", Value: ".5"}, {Column: "user", Op: "not-in", Value: []any{"u001", "u002"}},
		{Column: "ok", Op: "=", Value: true}}
	res := w.check(t, spec(0, time.Hour, calcs(calc("COUNT", "")), `"filters":`+jsonOf(fs)))
	pred, err := query.CompileFiltersClickHouse("filters", fs, "", w.cat, 2)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	args := append([]any{int64(0)}, pred.Args...)
	if err := db.QueryRow("SELECT count() FROM "+w.cat.From(pred.Phys, t0, t0.Add(time.Hour))+" WHERE ts > $1 AND "+pred.SQL, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", pred.SQL, err)
	}
	if n != res.Results[0].Data["COUNT"] || n == 0 {
		t.Errorf("%d events, want %v", n, res.Results[0].Data["COUNT"])
	}
}
