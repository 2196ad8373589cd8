package sli_test

import (
	"database/sql"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"cel.dev/cel-go/cel"
	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/prodex/prodex/internal/schema"
	"github.com/prodex/prodex/internal/sli"
	"github.com/prodex/prodex/internal/testserver"
)

// The ClickHouse compilation is tested against the DuckDB one, which
// TestCompileAgreesWithCEL ties to CEL: both run over the same rows, one
// table in an in-memory DuckDB and one in a ClickHouse 18.16 server, and
// must give the same TRUE, FALSE or NULL on every row for every
// expression, under a catalog of mixed types and under catalogs giving
// every field one type.

// physCol is a column of the test table and the values its rows take.
type physCol struct {
	name string
	typ  schema.Type
	vals []any
}

// special ints: around overflow for + - * / %, the timestamp range in
// seconds and the duration → nanoseconds limit.
var specialInts = []any{
	int64(0), int64(1), int64(-1), int64(2), int64(7), int64(-7), int64(200), int64(404), int64(503), int64(86400),
	int64(1704067200), int64(3037000499), int64(3037000500), int64(-3037000500), int64(1 << 53), int64(1<<53 + 1),
	int64(math.MaxInt64), int64(math.MaxInt64 - 1), int64(math.MinInt64), int64(math.MinInt64 + 1),
	int64(-62135596800), int64(-62135596801), int64(253402300799), int64(253402300800),
	int64(9223372036854775), int64(9223372036854776), int64(-9223372036854775), int64(-9223372036854776),
	int64(4611686018427387904), int64(-4611686018427387904),
}

var testCols = []physCol{
	{"i0", schema.Integer, specialInts},
	{"i1", schema.Integer, specialInts},
	{"i2", schema.Integer, []any{int64(1704067200), int64(1704060000), int64(0), int64(-1), int64(-62135596800), int64(253402300799), int64(253402300800), int64(1700000000), int64(math.MaxInt64)}},
	{"i3", schema.Integer, []any{int64(200), int64(503), int64(-5), int64(0), int64(1 << 40)}},
	{"i4", schema.Integer, []any{int64(1704067200), int64(1704067200123), int64(0), int64(-10)}},
	{"f0", schema.Float, []any{0.0, math.Copysign(0, -1), 1.0, -1.0, 0.5, 120.5, 299.999, 300.0, -5.25, 0.1, 0.30000000000000004, 1e16, 1e21, 1e-7,
		1e308, -1e308, 5e-324, -2.5e-310, 0x1p63, -0x1p63, 0x1p63 - 1024, 0x1p53, 0x1p53 + 2, 1704067200.5, 123.456, 4.5, -4.5, 2.5, 7.0, 3.0}},
	{"f1", schema.Float, []any{2.0, 0.0, -0.5, 1e300, 1e-300, 3.0, -7.0, 0.1, 0x1p62, 100.0, 5e-324}},
	{"s0", schema.String, []any{"/api/cart", "/api/pay", "", "it's", `say "hi"`, `back\slash`, "héllo", "👩‍👩‍👧", "a\nb", "a\n", "\nb", "GET", "/home",
		"12", "-7", "1e3", "api", "x", "aaab", "abc", "ab", "ABC", "tab\there", "%_", "é", "b", "0", "true", "2024-01-01T00:00:00Z", "\\Q.*\\E", ".*", "hi there", "a.b"}},
	{"s1", schema.String, []any{"12", " 12", "12 ", "1e3", "1E+3", "+7", "-3", "-0", "0", "1.5", ".5", "5.", "-.5", "+.5", "abc", "0x10", "1_000", "1__0", "_1", "1_",
		"1e400", "-1e400", "1e-400", "5e-324", "2.5e-310", "9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809",
		"99999999999999999999", "00000000000000000000000000000000000000000012", "0.30000000000000004", "0.1", "4.813953331479476", "3.796152233237278e-107",
		"123456789012345678901234567890", "1.000000000000000000000000000001", "7e22", "7e23", "1e30", "1.7976931348623157e308", "1.7976931348623159e308",
		"inf", "nan", "Infinity", "0x1p3", "1e", "e3", ".", "+", "-", "", "1.5e-3", "-2.5E-2", "000.000", "1e+0", "0e999999999999", "1e-99999999999",
		"9007199254740993", "9007199254740992", "18014398509481985", "١٢"}},
	{"s2", schema.String, []any{"2024-01-01T00:00:00Z", "2024-01-01T00:00:00.123456789Z", "2024-01-01T00:00:00.5+01:00", "2023-12-31T23:59:59-23:59",
		"2024-02-29T12:00:00Z", "2023-02-29T12:00:00Z", "2024-02-30T10:00:00Z", "2024-13-01T00:00:00Z", "2024-00-10T00:00:00Z", "2024-04-31T00:00:00Z",
		"1900-02-29T00:00:00Z", "2000-02-29T00:00:00Z", "0001-01-01T00:00:00Z", "0001-01-01T00:00:00+00:01", "0000-12-31T23:59:59Z",
		"9999-12-31T23:59:59.999999999Z", "9999-12-31T23:59:59-00:01", "1969-12-31T23:59:59.999999Z", "1960-06-15T08:30:00+05:30",
		"2024-01-01t00:00:00z", "2024-01-01 10:00:00", "2024-01-01", "yesterday", "", "2024-01-01T24:00:00Z", "2024-01-01T23:60:00Z",
		"2024-01-01T23:59:60Z", "2024-01-01T00:00:00.Z", "2024-01-01T00:00:00+24:00", "2024-01-01T00:00:00+0100", "2024-01-01T00:00:00.000001Z",
		"2024-01-01T00:00:00Z\n", " 2024-01-01T00:00:00Z", "12", "1704067200"}},
	{"s3", schema.String, []any{"GET", "POST", "OPTIONS", "O'Neil", "", "a", "GETGET", "api", "/api"}},
	{"s4", schema.String, []any{"db-3", "db-1", "web"}},
	{"s5", schema.String, []any{"/users/:id", "/health", "/api/v1"}},
	{"s6", schema.String, []any{"checkout", "cart", "", "a'; DROP TABLE x; --"}},
	{"b0", schema.Boolean, []any{true, false}},
	{"b1", schema.Boolean, []any{false, true, true}},
	{"b2", schema.Boolean, []any{true, false, false}},
}

// tsVals are the rows' event times (µs).
var tsVals = []int64{1704067200000000, 1704067200123456, 1704067260000000, 1704070800999999, 0, -1, -1000001, -62135596800000000,
	253402300799999999, 1700000000000000, 86400000000, -86400000001, 1704067199999999}

const testRows = 1200

// testRow returns row r's value of column k (nil for NULL). The first
// rows take every pair of values of i0 and i1; the other columns, and
// the later rows, cycle with different strides or draw at random.
func testValue(r, k int, rng *rand.Rand) any {
	c := testCols[k]
	n := len(specialInts)
	if r < n*n && k < 2 {
		return c.vals[[]int{r / n, r % n}[k]]
	}
	if (r*3+k*5)%13 == 0 {
		return nil
	}
	if r >= n*n {
		return c.vals[rng.Intn(len(c.vals))]
	}
	strides := []int{1, 1, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61}
	return c.vals[(r*strides[k]+k)%len(c.vals)]
}

// fieldCols is the catalog of mixed types: the names the expressions use
// and their columns; never_seen is not in it.
var fieldCols = map[string]string{
	"status_code": "i0", "latency": "i1", "updated_s": "i2", "code": "i3", "ts": "i4",
	"duration_ms": "f0", "ratio": "f1",
	"endpoint": "s0", "num_text": "s1", "row_updated_at": "s2", "method": "s3", "http.host": "s4", "http.route": "s5", "service": "s6",
	"cached": "b0", "flag": "b1", "cache_hit": "b2",
}

type mixedCatalog struct{}

func (mixedCatalog) Column(name string) (schema.Column, bool) {
	p, ok := fieldCols[name]
	if !ok {
		return schema.Column{}, false
	}
	for _, c := range testCols {
		if c.name == p {
			return schema.Column{Name: name, Type: c.typ, Phys: p}, true
		}
	}
	panic(p)
}

// typedCatalog gives every field of fieldCols the type, reading one of the
// columns of that type chosen by the field's name.
type typedCatalog schema.Type

func (tc typedCatalog) Column(name string) (schema.Column, bool) {
	if _, ok := fieldCols[name]; !ok {
		return schema.Column{}, false
	}
	var of []string
	for _, c := range testCols {
		if c.typ == schema.Type(tc) {
			of = append(of, c.name)
		}
	}
	h := fnv.New32a()
	h.Write([]byte(name))
	return schema.Column{Name: name, Type: schema.Type(tc), Phys: of[int(h.Sum32())%len(of)]}, true
}

// engines holds the test table in both databases.
type engines struct {
	duck, ch *sql.DB
	rows     [][]any // ts, then the columns' values (nil for NULL)
}

func loadEngines(t *testing.T, ch *sql.DB) *engines {
	t.Helper()
	e := &engines{ch: ch}
	duck, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	duck.SetMaxOpenConns(1)
	t.Cleanup(func() { duck.Close() })
	e.duck = duck

	duckType := map[schema.Type]string{schema.Integer: "BIGINT", schema.Float: "DOUBLE", schema.String: "VARCHAR", schema.Boolean: "BOOLEAN"}
	chType := map[schema.Type]string{schema.Integer: "Int64", schema.Float: "Float64", schema.String: "String", schema.Boolean: "UInt8"}
	dd, cd, names := []string{"id BIGINT", "ts BIGINT"}, []string{"id Int64", "ts Int64"}, []string{"id", "ts"}
	for _, c := range testCols {
		dd = append(dd, `"`+c.name+`" `+duckType[c.typ])
		cd = append(cd, "`"+c.name+"` Nullable("+chType[c.typ]+")")
		names = append(names, c.name)
	}
	if _, err := duck.Exec("CREATE TABLE ev (" + strings.Join(dd, ", ") + ")"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ch.Exec("CREATE TABLE ev (" + strings.Join(cd, ", ") + ") ENGINE = MergeTree() ORDER BY id"); err != nil {
		t.Fatal(err)
	}
	dstmt, err := duck.Prepare("INSERT INTO ev VALUES (" + strings.TrimSuffix(strings.Repeat("?, ", len(names)), ", ") + ")")
	if err != nil {
		t.Fatal(err)
	}
	defer dstmt.Close()
	tx, err := e.ch.Begin()
	if err != nil {
		t.Fatal(err)
	}
	cstmt, err := tx.Prepare("INSERT INTO ev (" + strings.Join(names, ", ") + ")")
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(7))
	for r := range testRows {
		drow := []any{int64(r), tsVals[r%len(tsVals)]}
		crow := append([]any(nil), drow...)
		for k := range testCols {
			v := testValue(r, k, rng)
			drow = append(drow, v)
			if b, ok := v.(bool); ok {
				v = uint8(0)
				if b {
					v = uint8(1)
				}
			}
			crow = append(crow, v)
		}
		e.rows = append(e.rows, drow[1:])
		if _, err := dstmt.Exec(drow...); err != nil {
			t.Fatal(err)
		}
		if _, err := cstmt.Exec(crow...); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	return e
}

// result reads a boolean column: "true", "false" or "NULL".
func result(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "NULL", nil
	case bool:
		return fmt.Sprint(x), nil
	case uint8:
		switch x {
		case 0:
			return "false", nil
		case 1:
			return "true", nil
		}
	}
	return "", fmt.Errorf("%T %v is not a boolean", v, v)
}

// run evaluates the SQL expressions over the table, rows in id order.
func run(db *sql.DB, exprs []string) ([][]string, error) {
	rows, err := db.Query("SELECT " + strings.Join(exprs, ", ") + " FROM ev ORDER BY id")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make([][]string, len(exprs))
	vals := make([]any, len(exprs))
	ptrs := make([]any, len(exprs))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		for i, v := range vals {
			s, err := result(v)
			if err != nil {
				return nil, fmt.Errorf("%s: %v", exprs[i], err)
			}
			out[i] = append(out[i], s)
		}
	}
	return out, rows.Err()
}

// compiled is one expression compiled for both engines.
type compiled struct {
	expr       string
	duck, ch   string
	dres, cres []string
	derr, cerr error
}

// evaluate runs the expressions on both engines: on ClickHouse many to a
// statement, and one by one where a statement fails, to tell which; on
// DuckDB one by one, and then many to a statement, as the store's SLI
// counter runs them, which must not change an answer. (It did with try():
// DuckDB 1.4's try() failing on a row made the column it read NULL there
// for the statement's other expressions.)
func (e *engines) evaluate(t *testing.T, cs []*compiled) {
	t.Helper()
	for _, c := range cs {
		var res [][]string
		if res, c.derr = run(e.duck, []string{c.duck}); c.derr == nil {
			c.dres = res[0]
		}
	}
	{
		var ok []*compiled
		for _, c := range cs {
			if c.derr == nil {
				ok = append(ok, c)
			}
		}
		for i := 0; i < len(ok); i += 40 {
			b := ok[i:min(i+40, len(ok))]
			sqls := make([]string, len(b))
			for j, c := range b {
				sqls[j] = c.duck
			}
			res, err := run(e.duck, sqls)
			if err != nil {
				t.Errorf("DuckDB, %d expressions that run alone in one statement: %v", len(sqls), err)
				continue
			}
			for j, c := range b {
				for r := range res[j] {
					if res[j][r] != c.dres[r] {
						t.Errorf("DuckDB: %s, row %d: %s alone, %s beside other expressions", c.expr, r, c.dres[r], res[j][r])
						break
					}
				}
			}
		}
	}
	for len(cs) > 0 {
		n, size := 0, 0
		for n < len(cs) && n < 40 && size+len(cs[n].ch) < 200<<10 {
			size += len(cs[n].ch)
			n++
		}
		n = max(n, 1)
		batch := cs[:n]
		cs = cs[n:]
		sqls := make([]string, len(batch))
		for i, c := range batch {
			sqls[i] = c.ch
		}
		res, err := run(e.ch, sqls)
		for i, c := range batch {
			switch {
			case err == nil:
				c.cres = res[i]
			case len(batch) > 1:
				var res1 [][]string
				if res1, c.cerr = run(e.ch, sqls[i:i+1]); c.cerr == nil {
					c.cres = res1[0]
				}
			default:
				c.cerr = err
			}
		}
	}
}

// chTypes checks that every expression is a UInt8 or a Nullable(UInt8).
func (e *engines) chTypes(t *testing.T, cs []*compiled) {
	t.Helper()
	for _, c := range cs {
		if c.cerr != nil {
			continue
		}
		var typ string
		if err := e.ch.QueryRow("SELECT toTypeName(" + c.ch + ") FROM ev LIMIT 1").Scan(&typ); err != nil {
			t.Errorf("%s: %v", c.expr, err)
		} else if typ != "UInt8" && typ != "Nullable(UInt8)" {
			t.Errorf("%s: ClickHouse type %s\n%s", c.expr, typ, c.ch)
		}
	}
}

// chCounts checks that the expressions count in aggregates over a
// subquery, as SLO counts use them, what they give row by row. The
// conditions are made non-Nullable: 18.16's countIf of a Nullable
// condition is NULL, not 0, where it is NULL on every row.
func (e *engines) chCounts(t *testing.T, cs []*compiled) {
	t.Helper()
	for i := 0; i < len(cs); i += 20 {
		batch := cs[i:min(i+20, len(cs))]
		var sel []string
		for _, c := range batch {
			sel = append(sel, "countIf(ifNull("+c.ch+", 0))", "sumIf(1, ifNull("+c.ch+", 1) = 0)", "countIf(isNull("+c.ch+"))")
		}
		vals := make([]uint64, len(sel))
		ptrs := make([]any, len(sel))
		for k := range vals {
			ptrs[k] = &vals[k]
		}
		err := e.ch.QueryRow("SELECT " + strings.Join(sel, ", ") + " FROM (SELECT * FROM ev WHERE ts >= -9223372036854775807) AS e").Scan(ptrs...)
		if err != nil {
			t.Errorf("counts: %v", err)
			continue
		}
		for k, c := range batch {
			if c.cerr != nil {
				continue
			}
			want := map[string]uint64{}
			for _, r := range c.cres {
				want[r]++
			}
			if vals[3*k] != want["true"] || vals[3*k+1] != want["false"] || vals[3*k+2] != want["NULL"] {
				t.Errorf("%s: counts %v, rows %v", c.expr, vals[3*k:3*k+3], want)
			}
			// As a filter (SLO event filters), those with lambdas.
			if !strings.Contains(c.ch, "arrayMap") {
				continue
			}
			var n uint64
			if err := e.ch.QueryRow("SELECT count() FROM (SELECT * FROM ev) AS e WHERE " + c.ch).Scan(&n); err != nil {
				t.Errorf("%s: WHERE: %v", c.expr, err)
			} else if n != want["true"] {
				t.Errorf("%s: WHERE keeps %d rows, %d are true", c.expr, n, want["true"])
			}
		}
	}
}

// knownDiffs are the expressions of the tests whose answers differ on
// some rows, and why.
var knownDiffs = map[string]string{
	`double(num_text) == 5e-324`:                 "ClickHouse reads subnormal text (5e-324) as 0",
	`double(num_text) == 1e-400`:                 "ClickHouse reads subnormal text (5e-324) as 0",
	`double(num_text) == 1.7976931348623157e308`: "text of 17 significant digits goes to ClickHouse's parser, which can be 1 ulp off",
}

// agreeingCH are expressions beyond those of TestCompileAgreesWithCEL, for
// every construct the compiler has.
var agreeingCH = []string{
	// comparisons
	`status_code <= 500`, `status_code > latency`, `status_code == latency`, `status_code != latency`, `status_code >= duration_ms`,
	`duration_ms == 0`, `duration_ms == 0.0`, `duration_ms < ratio`, `duration_ms == ratio`, `latency == 9007199254740993`,
	`latency == 9007199254740992.0`, `latency < 9.2233720368547758e18`, `latency >= -9.2233720368547758e18`, `status_code == duration_ms`,
	`endpoint < method`, `endpoint == method`, `endpoint >= "a"`, `endpoint == ""`, `cached == flag`, `cached < flag`, `cached != true`,
	`event_time < timestamp(updated_s)`, `event_time == event_time`, `duration("1h") < duration("90m")`, `status_code != cached`,
	`endpoint < 5`, `null == null`, `null != null`, `cached == null`, `never_seen != null`, `null == duration_ms`, `duration_ms > 5e-324`,
	`duration_ms < -2.5e-310`, `duration_ms == -2.5e-310`, `duration_ms == 5e-324`, `duration_ms == 0.1`, `ratio > 1e308`, `1 == 1.0`,
	`1 < 2`, `"a" == 1`, `ratio == 4611686018427387904.0`,
	// three-valued logic
	`cached && flag`, `cached || flag`, `!cached`, `cached && !flag || cache_hit`, `(status_code < 300) && cached`, `never_seen || cached`,
	`never_seen && cached`, `!(never_seen && false)`, `cached || status_code > 1000`, `true && cached`, `false || flag`,
	`(cached && flag) == (flag && cached)`, `cached && flag && cache_hit && status_code > 0 && latency > 0 && duration_ms > 0`,
	`cached || flag || cache_hit || never_seen`, `!(cached || never_seen) && !(flag && never_seen)`, `true`, `false`, `never_seen`,
	`(cached || flag) && (cache_hit || never_seen)`,
	// int arithmetic
	`status_code + latency > 0`, `status_code + latency < 0`, `status_code + latency == 0`, `status_code - latency < 0`, `status_code - latency > 0`,
	`status_code - latency == 0`, `status_code * latency != 0`, `status_code * latency > 0`, `status_code * latency < 0`, `latency * latency > 0`,
	`latency * -1 < 0`, `latency + 9223372036854775807 > 0`, `latency - 9223372036854775807 < 0`, `-9223372036854775808 - latency < 0`,
	`latency / status_code == 0`, `latency / status_code > 0`, `latency / status_code < 0`, `latency / -1 > 0`, `latency % status_code == 0`,
	`latency % status_code > 0`, `latency % status_code < 0`, `latency % -1 == 0`, `latency / 0 == 0`, `latency % 0 == 0`,
	`status_code / 7 == 28`, `status_code % 7 < 3`, `-status_code < 0`, `-latency > 0`, `-latency == latency`, `latency * 3037000500 > 0`,
	`(latency + 1) * (latency - 1) > 0`, `((status_code + latency) * 2 - latency) / 3 > 10`, `status_code * status_code * status_code * status_code > 0`,
	`code + 1 == 201`, `ts + 1 > 0`, `size(endpoint) * latency > 10`, `(status_code * latency) / (latency - status_code) > 1`,
	`(status_code + latency) % (status_code - latency) != 0`, `-(status_code * latency) < 0`, `1u + status_code > 0`,
	// double arithmetic
	`duration_ms + ratio > 100.0`, `duration_ms - ratio < 0.0`, `duration_ms * ratio >= 1.0`, `duration_ms / ratio > 1.0`,
	`duration_ms / 0.0 < 0.0`, `duration_ms / 0.0 != duration_ms / 0.0`, `(duration_ms - duration_ms) / (ratio - ratio) == 0.0`,
	`ratio / duration_ms == ratio / duration_ms`, `ratio / duration_ms <= 1.0`, `-duration_ms == 0.0`, `1.0 / -0.0 < 0.0`, `1.0 / duration_ms < 0.0`,
	`duration_ms * 1e308 > 1.0`, `duration_ms + 0.1 == 0.30000000000000004`, `duration_ms * 2.0 == ratio`, `duration_ms % 2.0 == 0.0`,
	`duration_ms + 1 > 0`, `-(duration_ms / 0.0) > 0.0`, `duration_ms * ratio * 1e300 > 1e300`, `(duration_ms / ratio) * ratio == duration_ms`,
	// ?:
	`(cached ? status_code : latency) > 100`, `(cached ? endpoint : method) == "GET"`, `cached ? flag : cache_hit`, `(never_seen ? 1 : 2) == 1`,
	`(cached ? never_seen : 5) == 5`, `(cached ? 1 : "a") == 1`, `(status_code > 300 ? duration_ms : ratio) < 1.0`,
	`(cached ? duration_ms / 0.0 : 0.0) == 0.0`, `(cached ? event_time : timestamp(updated_s)) < event_time`,
	`(cached ? latency : status_code) + 1 > 0`, `((cached ? latency : duration_ms) > 100) ? flag : cache_hit`,
	`(cached ? (flag ? 1 : 2) : (cache_hit ? 3 : 4)) == 3`, `(cached && flag ? latency * 2 : latency / 2) > 0`,
	`(cached ? latency : duration_ms) == (flag ? duration_ms : latency)`, `(cached ? duration_ms / 0.0 : latency) > 0`,
	`(status_code + latency > 0 ? status_code : latency) > 0`, `(cached ? duration("1h") : event_time - timestamp(updated_s)) > duration("1m")`,
	// in
	`status_code in [200, 404]`, `status_code in [200.0, 404.5]`, `duration_ms in [0, 120.5]`, `duration_ms in [0.0]`, `-duration_ms in [0.0]`,
	`endpoint in ["", "/api/cart"]`, `cached in [true]`, `flag in [false, 1]`, `method in [1, 2]`, `never_seen in [1]`,
	`latency in [9223372036854775807, -9223372036854775808]`, `latency in [9007199254740992.0]`, `event_time in [1]`,
	`int(event_time) in [1704067200]`, `(cached ? latency : duration_ms) in [0, 1]`, `size(endpoint) in [0, 5]`, `status_code in []`,
	`status_code + latency in [0, 1]`, `latency in [9007199254740993]`, `duration_ms in [5e-324, 1]`, `endpoint in ["it's", "back\\slash"]`,
	// has
	`has(http.host)`, `has(http.route) && http.route.startsWith("/users")`, `has(http.nope)`, `has(a.b)`, `!has(http.host) || http.host == "web"`,
	// strings
	`endpoint.startsWith("/api")`, `endpoint.endsWith("")`, `endpoint.contains("")`, `endpoint.startsWith(method)`, `endpoint.endsWith(method)`,
	`endpoint.contains(method)`, `method.contains("'")`, `endpoint.contains("\\")`, `endpoint.contains("é")`, `size(endpoint) == 0`,
	`size(endpoint) > 3`, `endpoint.size() == 1`, `size(endpoint + method) > 5`, `endpoint + method == "GETGET"`, `endpoint + "" == endpoint`,
	`string(status_code) + "x" == "200x"`, `size("👩‍👩‍👧") == 5`, `endpoint.startsWith("\"")`, `method.endsWith("T")`,
	// matches
	`endpoint.matches("a.b")`, `endpoint.matches("^.$")`, `endpoint.matches("(?s)a.b")`, `endpoint.matches("(?i)GET")`, `endpoint.matches("^$")`,
	`endpoint.matches("")`, `endpoint.matches("\\d+")`, `endpoint.matches("^[0-9]+$")`, `endpoint.matches("\\pL")`, `endpoint.matches("[[:alpha:]]")`,
	`endpoint.matches("\\Q.*\\E")`, `endpoint.matches("^a$")`, `endpoint.matches("(?m)^b")`, `endpoint.matches("b$")`, `endpoint.matches("é|👩")`,
	`endpoint.matches("(a|b)*c")`, `endpoint.matches("x*")`, `endpoint.matches("\\\\")`, `endpoint.matches("'")`, `endpoint.matches("(?U)a+b")`,
	`endpoint.matches("[^a]")`, `endpoint.matches("\\bhi\\b")`, `endpoint.matches("^/api.*")`, `endpoint.matches("(?<n>api)")`, `endpoint.matches("a\\nb")`,
	`endpoint.matches("^(?:/api|/home)$")`, `endpoint.matches("\\A/api")`, `endpoint.matches("ab\\z")`, `endpoint.matches("[\\t ]")`, `endpoint.matches("^\\S+$")`,
	`endpoint.matches("(?i)^é")`, `endpoint.matches("^...$")`, `endpoint.matches("a{2,}b")`, `method.matches("^O'")`, `status_code.matches("2")`,
	`endpoint.matches("%")`, `endpoint.matches("_")`, `endpoint.matches("\\.")`, `endpoint.matches("(?-s:.)b")`,
	// int()
	`int(duration_ms) == 120`, `int(duration_ms) > 0`, `int(duration_ms) < 0`, `int(ratio) < 0`, `int(ratio) == 0`, `int(num_text) > 5`,
	`int(num_text) == 0`, `int(num_text) < 0`, `int(endpoint) > 0`, `int(latency) == latency`, `int(event_time) > 0`, `int(event_time) / 60 > 28000000`,
	`int(event_time) / 3600 % 24 < 8`, `int(event_time) % 86400 < 3600`, `int(event_time) * 1000000 > 0`, `int(event_time) % 0 > 1`,
	`int(event_time) % 0 == int(event_time) % 0`, `int(event_time) / 0 > 1`, `string(int(event_time)) == "1704067200.0"`,
	`string(int(event_time)).endsWith(".0")`, `string(int(event_time) * 100000000) == "1.7040672e+17"`, `string(int(event_time) / 7).size() > 12`,
	`-int(event_time) < 0`, `int(event_time) + latency > 0`, `int(event_time) - latency > 0`, `(cached ? int(event_time) : latency) > 0`,
	`timestamp(int(event_time)) <= event_time`, `timestamp(int(event_time)) == event_time`, `int(timestamp(int(event_time))) % 60 == 0`,
	`int(event_time - timestamp(0)) > 0`, `int(duration("1h")) == 3600000000000`, `int(event_time - timestamp(updated_s)) > 0`,
	`int(timestamp(row_updated_at)) > 0`, `int(event_time) == status_code`, `int(event_time) in [0, -1, 1704067200]`,
	`int(event_time) % latency == 0`, `latency % int(event_time) == 0`, `int(event_time) * latency > 0`, `int(event_time) / latency > 0`,
	`(timestamp(int(event_time)) - event_time) < duration("0s")`, `int(int(event_time)) == int(event_time)`, `double(int(event_time)) > 1.0`,
	`int(event_time - timestamp(int(event_time))) > 0`, `int(-duration("1h")) < 0`, `int(num_text) == 9223372036854775807`,
	`int(num_text) == -9223372036854775808`, `int(num_text) == 12`, `int(timestamp(updated_s) - timestamp(row_updated_at)) > 0`,
	// double()
	`double(num_text) == 0.1`, `double(num_text) < 0.0`, `double(num_text) == double(num_text)`, `double(endpoint) > 0.0`,
	`double(latency) == 9.223372036854775807e18`, `double(duration_ms) == duration_ms`, `double(num_text) * 2.0 > 1.0`, `1.0 / double(num_text) < 0.0`,
	`double(num_text) == 1000.0`, `double(num_text) >= 1e300`, `double(num_text) == 12.0`, `double(num_text) == 1.5e-3`, `double(num_text) == -0.025`,
	`double(num_text) == 7e22`, `double(num_text) == 1e30`, `double(num_text) == 9007199254740992.0`, `double(num_text) == 18014398509481984.0`,
	`double(num_text) == 1e-400`, `double(num_text) == 0.5`, `double(num_text) == 5.0`, `double(num_text) == 1.0`, `double(num_text) == 100.0`,
	`double(num_text) == 1.23456789012345678901234567890e29`, `double(num_text) == 1.0000000000000000000000000001`,
	`double((cached ? latency : duration_ms)) > 1.0`, `double(status_code) / double(latency) > 1.0`,
	`double(num_text) == 0.30000000000000004`, `double(num_text) == 4.813953331479476`, `double(num_text) == 3.796152233237278e-107`,
	`double(num_text) == 1.7976931348623157e308`, `double(num_text) == 7e23`, `double(num_text) == 1.2345678901234568e29`,
	`double(num_text) == 9007199254740992.0`, `double(num_text) == 18014398509481984.0`, `double(num_text) == 5e-324`,
	`latency * 1000 > 0 || latency + 1 > latency`, `latency + 1 > latency && latency * 1000 > 0`, `(latency * 1000 > 0) == (latency + 1 > latency)`,
	// string()
	`string(latency).size() > 10`, `string(cached) == "true"`, `string(flag) == "false"`, `string(endpoint) == endpoint`, `string(duration_ms) == "1"`,
	`string(event_time) == "x"`, `string(latency) == "-9223372036854775808"`, `string(size(endpoint)) == "0"`, `string(status_code + latency) == "0"`,
	// timestamps and durations
	`timestamp(row_updated_at) < event_time`, `timestamp(row_updated_at) == timestamp("2024-01-01T00:00:00Z")`,
	`timestamp(row_updated_at) > timestamp("1970-01-01T00:00:00Z")`, `int(timestamp(row_updated_at)) % 60 == 0`, `timestamp(num_text) < event_time`,
	`timestamp(endpoint) < event_time`, `timestamp(updated_s) < event_time`, `timestamp(latency) < event_time`, `timestamp(status_code) > event_time`,
	`event_time - duration("87600h") < timestamp(0)`, `event_time + duration("2562047h") > event_time`,
	`timestamp(row_updated_at) - timestamp(updated_s) > duration("1s")`, `duration("1h") + duration("30m") == duration("90m")`,
	`duration("-1.5h") < duration("0s")`, `timestamp(updated_s) - event_time < duration("-1000h")`, `int(timestamp(updated_s)) == updated_s`,
	`timestamp(row_updated_at) >= timestamp("0001-01-01T00:00:00Z")`, `timestamp(row_updated_at) == timestamp("9999-12-31T23:59:59.999999Z")`,
	`timestamp(row_updated_at) == timestamp("2024-01-01T00:00:00.123456Z")`, `timestamp(row_updated_at) - event_time > duration("1ns")`,
	`duration("1ns") == duration("0s")`, `duration("1us") > duration("0s")`, `timestamp(row_updated_at) == timestamp(1704067200)`,
	`int(timestamp(row_updated_at)) == -62135596800`, `int(timestamp(row_updated_at)) == 253402300799`, `int(timestamp(row_updated_at)) < 0`,
	`timestamp(row_updated_at) + duration("2562047h") > event_time`, `timestamp(updated_s) - timestamp(row_updated_at) < duration("-2562047h")`,
	`event_time - timestamp(updated_s) + duration("2562047h") > duration("0s")`, `timestamp(timestamp(row_updated_at)) == timestamp(row_updated_at)`,
	`-(event_time - timestamp(updated_s)) < duration("0s")`, `(event_time - timestamp(updated_s)) / (event_time - timestamp(updated_s)) == 1`,
	// the seeds of FuzzCompile
	`duration_ms < 300 && service == "checkout"`, `has(http.route) && http.route.startsWith("/api")`, `'a\'; DROP TABLE x; --' == service`,
	`size(service) > 2 || !(cache_hit)`, `timestamp(ts) - timestamp(row_updated_at) < duration("24h")`, `x.y.z`,
}

// randomExprs generates n expressions that compile, over the test's
// fields and literals of every kind.
func randomExprs(n int, seed int64) []string {
	atoms := []string{"status_code", "latency", "duration_ms", "ratio", "endpoint", "num_text", "row_updated_at", "method", "cached", "flag",
		"event_time", "never_seen", "updated_s", "http.host", "1", "-3", "0", "2.5", "0.0", "-0.5", `"a"`, `"12"`, `""`, `"2024-01-01T00:00:00Z"`,
		"true", "false", `duration("1h")`, `timestamp(0)`, "9223372036854775807", "-9223372036854775808", "1e308", "3037000500"}
	unary := []string{"-%s", "!%s", "int(%s)", "double(%s)", "string(%s)", "timestamp(%s)", "size(%s)", `%s.startsWith("a")`, `%s.contains("1")`,
		`%s.matches("^[0-9a/]")`, `%s in [1, 2.5, "a", true, 0]`, "has(http.host)", `%s.endsWith(%s)`}
	binary := []string{"+", "-", "*", "/", "%", "==", "!=", "<", "<=", ">", ">=", "&&", "||"}
	rng := rand.New(rand.NewSource(seed))
	var gen func(depth int) string
	gen = func(depth int) string {
		if depth == 0 || rng.Intn(5) == 0 {
			return atoms[rng.Intn(len(atoms))]
		}
		switch rng.Intn(5) {
		case 0, 1:
			u := unary[rng.Intn(len(unary))]
			for strings.Contains(u, "%s") {
				u = strings.Replace(u, "%s", gen(depth-1), 1)
			}
			return u
		case 2, 3:
			return "(" + gen(depth-1) + " " + binary[rng.Intn(len(binary))] + " " + gen(depth-1) + ")"
		}
		return "(" + gen(depth-1) + " ? " + gen(depth-1) + " : " + gen(depth-1) + ")"
	}
	var out []string
	for len(out) < n {
		e := gen(4)
		if sli.Check(e) == nil {
			out = append(out, e)
		}
	}
	return out
}

// cel tells what cel-go answers on the row of diff ("row N: …").
func (e *engines) cel(t *testing.T, expr string, cols sli.Columns, diff string) string {
	var r int
	fmt.Sscanf(diff, "row %d", &r)
	row := e.rows[r]
	act := map[string]any{sli.EventTime: time.UnixMicro(row[0].(int64)).UTC()}
	opts := []cel.EnvOption{cel.CrossTypeNumericComparisons(true), cel.Variable(sli.EventTime, cel.TimestampType), cel.Variable("never_seen", cel.DynType)}
	roots := map[string]bool{}
	for name := range fieldCols {
		col, _ := cols.Column(name)
		for k, c := range testCols {
			if c.name == col.Phys && row[k+1] != nil {
				nest(act, name, row[k+1])
			}
		}
		if r, _, _ := strings.Cut(name, "."); !roots[r] {
			roots[r] = true
			opts = append(opts, cel.Variable(r, cel.DynType))
		}
	}
	env, err := cel.NewEnv(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return "CEL " + celEval(t, env, expr, act)
}

// TestClickHouse runs the tests of CompileClickHouse on one server.
func TestClickHouse(t *testing.T) {
	ch := testserver.ClickHouseDB(t)
	t.Run("AgreesWithDuckDB", func(t *testing.T) { testAgreesWithDuckDB(t, ch) })
	t.Run("TextConversions", func(t *testing.T) { testTextConversions(t, ch) })
	t.Run("HostileLiterals", func(t *testing.T) { testHostileLiterals(t, ch) })
}

// testAgreesWithDuckDB: every expression gives the same answer on every
// row on both engines, under every catalog, and fails to compile alike.
func testAgreesWithDuckDB(t *testing.T, ch *sql.DB) {
	began := time.Now()
	e := loadEngines(t, ch)
	// Those of TestRejects too, which must fail alike.
	rejected := []string{``, `status_code <`, `status_code < 500 && [1].all(x, x > 0)`, `items.exists(i, i.ok)`, `"text"`, `size(endpoint)`,
		`foo(status_code)`, `"a" < 1`, `duration(row) > duration("1h")`, `duration("forever") > duration("1h")`, `timestamp("yesterday") < event_time`,
		`status_code in other`, `status_code in [1, other]`, `size([1, 2]) > 1`, `{"a": 1}["a"] == 1`, `tags[0] == "x"`, `event_time.getHours() > 3`,
		`endpoint.matches(method)`, `endpoint.matches("(")`, `(cached ? null : never_seen) == 1`, `has(status_code)`, `18446744073709551615u > status_code`,
		"status_code < 500 &&\n  bad(x)"}
	exprs := append(append(append(append([]string(nil), agreeing...), agreeingCH...), randomExprs(400, 1)...), rejected...)
	catalogs := []struct {
		name string
		cols sli.Columns
	}{{"mixed", mixedCatalog{}}, {"integer", typedCatalog(schema.Integer)}, {"float", typedCatalog(schema.Float)},
		{"string", typedCatalog(schema.String)}, {"boolean", typedCatalog(schema.Boolean)}}
	counts := map[string]int{}
	for _, cat := range catalogs {
		var cs []*compiled
		for _, expr := range exprs {
			d, dp, derr := sli.Compile(expr, cat.cols)
			c, cp, cerr := sli.CompileClickHouse(expr, cat.cols)
			if derr != nil || cerr != nil {
				if derr == nil || cerr == nil || derr.Error() != cerr.Error() {
					t.Errorf("%s (%s): DuckDB %v, ClickHouse %v", expr, cat.name, derr, cerr)
				}
				continue
			}
			if fmt.Sprint(dp) != fmt.Sprint(cp) {
				t.Errorf("%s (%s): columns %v and %v", expr, cat.name, dp, cp)
			}
			cs = append(cs, &compiled{expr: expr, duck: d, ch: c})
		}
		e.evaluate(t, cs)
		if cat.name == "mixed" {
			e.chTypes(t, cs)
			e.chCounts(t, cs)
		}
		for _, c := range cs {
			why, known := knownDiffs[c.expr]
			if c.cerr != nil {
				t.Errorf("%s (%s): ClickHouse: %v\n%s", c.expr, cat.name, c.cerr, c.ch)
				continue
			}
			if c.derr != nil {
				if known {
					t.Logf("%s (%s): DuckDB: %v (known: %s)", c.expr, cat.name, c.derr, why)
				} else {
					t.Errorf("%s (%s): DuckDB: %v\n%s", c.expr, cat.name, c.derr, c.duck)
				}
				continue
			}
			var diff []string
			for r := range c.dres {
				counts[c.cres[r]]++
				if c.dres[r] != c.cres[r] {
					diff = append(diff, fmt.Sprintf("row %d: DuckDB %s, ClickHouse %s", r, c.dres[r], c.cres[r]))
				}
			}
			switch {
			case len(diff) > 0 && known:
				t.Logf("%s (%s): %d rows differ (known: %s), first %s; %s", c.expr, cat.name, len(diff), why, diff[0], e.cel(t, c.expr, cat.cols, diff[0]))
			case len(diff) > 0:
				t.Errorf("%s (%s): %d rows differ, first %s\nDuckDB:     %s\nClickHouse: %s", c.expr, cat.name, len(diff), strings.Join(diff[:min(3, len(diff))], "; "), c.duck, c.ch)
			}
		}
	}
	t.Logf("%d expressions × %d catalogs × %d rows: %v, in %v", len(exprs), len(catalogs), testRows, counts, time.Since(began).Round(time.Second))
	if counts["true"] < testRows*100 || counts["false"] < testRows*100 || counts["NULL"] < testRows*100 {
		t.Errorf("outcomes too one-sided: %v", counts)
	}
}

// randomTexts are texts of numbers and times of many shapes, valid or
// not, for int(), double() and timestamp().
func randomTexts(n int, seed int64) []string {
	rng := rand.New(rand.NewSource(seed))
	digits := func(k int) string {
		b := make([]byte, k)
		for i := range b {
			b[i] = byte('0' + rng.Intn(10))
		}
		return string(b)
	}
	pick := func(xs ...string) string { return xs[rng.Intn(len(xs))] }
	var out []string
	for len(out) < n {
		var s string
		switch rng.Intn(10) {
		case 0: // a double's shortest text
			f := math.Float64frombits(rng.Uint64())
			if math.IsNaN(f) || math.IsInf(f, 0) {
				continue
			}
			s = strconv.FormatFloat(f, pick("g", "e", "f", "g")[0], -1, 64)
		case 1:
			s = strconv.FormatFloat((rng.Float64()-0.5)*math.Pow(10, float64(rng.Intn(40)-20)), 'g', -1, 64)
		case 2: // decimals of up to 25 digits each side
			s = pick("", "+", "-") + digits(rng.Intn(26)) + pick(".", "") + digits(rng.Intn(26))
		case 3: // mantissa and exponent
			s = pick("", "-", "+") + digits(1+rng.Intn(20)) + pick("e", "E") + pick("", "+", "-") + strconv.Itoa(rng.Intn(340))
		case 4: // leading zeros, underscores
			s = strings.Repeat("0", rng.Intn(30)) + digits(1+rng.Intn(5)) + pick("", "_"+digits(3), "."+digits(2)+"_"+digits(2), "__1", "_")
		case 5: // integers near the int64 limits
			s = pick("", "-", "+") + pick("922337203685477580", "92233720368547758", "1844674407370955161", "9") + digits(rng.Intn(3))
		case 6: // short numbers
			s = pick("", "-") + digits(1+rng.Intn(4)) + pick("", "."+digits(1+rng.Intn(3))) + pick("", "e"+strconv.Itoa(rng.Intn(30)-15))
		default: // RFC 3339, valid or not
			s = fmt.Sprintf("%04d-%02d-%02dT%02d:%02d:%02d", rng.Intn(10000), rng.Intn(14), rng.Intn(33), rng.Intn(25), rng.Intn(61), rng.Intn(61))
			if rng.Intn(2) == 0 {
				s += "." + digits(1+rng.Intn(12))
			}
			s += pick("Z", "z", "", fmt.Sprintf("%+03d:%02d", rng.Intn(49)-24, rng.Intn(61)), "+0530")
		}
		out = append(out, s)
	}
	return out
}

// exactText reports whether ClickHouse must read text s as DuckDB does:
// decimal text of at most 2^53 as digits (leading and trailing zeros
// aside) times 10^e, e within ±22 or the digits and e−22 within 15 digits.
func exactText(s string) bool {
	if !regexp.MustCompile(`^[+-]?([0-9](_?[0-9])*(\.([0-9](_?[0-9])*)?)?|\.[0-9](_?[0-9])*)([eE][+-]?[0-9](_?[0-9])*)?$`).MatchString(s) {
		return true // NULL in both
	}
	s = strings.TrimLeft(strings.ReplaceAll(s, "_", ""), "+-")
	mant, ex, _ := strings.Cut(strings.ToLower(s), "e")
	ip, fp, _ := strings.Cut(mant, ".")
	z := strings.TrimLeft(ip+fp, "0")
	trimmed := strings.TrimRight(z, "0")
	if trimmed == "" {
		return true
	}
	e, err := strconv.Atoi(ex)
	if ex == "" {
		e, err = 0, nil
	}
	if err != nil || len(ex) > 6 {
		return false
	}
	e += len(z) - len(trimmed) - len(fp)
	m, err := strconv.ParseUint(trimmed, 10, 64)
	if err != nil || m > 1<<53 {
		return false
	}
	return e >= -22 && e <= 22 || e > 22 && e-22+len(trimmed) <= 15
}

// nearby reports whether doubles (as bits) are at most 2 ulp apart, or a
// is subnormal and b zero.
func nearby(a, b any) bool {
	x, ok1 := a.(uint64)
	y, ok2 := b.(uint64)
	const sign = 1 << 63
	return ok1 && ok2 && (x-y <= 2 || y-x <= 2 || x&^sign < 1<<52 && y&^sign == 0)
}

// testTextConversions compares the values of int(), double()
// and timestamp() of many texts. double() agrees to the bit on the texts
// exactText admits; on the others ClickHouse's own parser can be 1 ulp
// off, rarely 2 (and reads subnormal numbers as 0), which is reported.
func testTextConversions(t *testing.T, ch *sql.DB) {
	duck, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	duck.SetMaxOpenConns(1)
	defer duck.Close()
	texts := randomTexts(20000, 3)
	for _, c := range testCols {
		if c.typ == schema.String {
			for _, v := range c.vals {
				texts = append(texts, v.(string))
			}
		}
	}
	if _, err := duck.Exec("CREATE TABLE txt (id BIGINT, s VARCHAR)"); err != nil {
		t.Fatal(err)
	}
	if _, err := ch.Exec("CREATE TABLE txt (id Int64, s String) ENGINE = Memory"); err != nil {
		t.Fatal(err)
	}
	dstmt, err := duck.Prepare("INSERT INTO txt VALUES (?, ?)")
	if err != nil {
		t.Fatal(err)
	}
	defer dstmt.Close()
	tx, err := ch.Begin()
	if err != nil {
		t.Fatal(err)
	}
	cstmt, err := tx.Prepare("INSERT INTO txt (id, s)")
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range texts {
		if _, err := dstmt.Exec(int64(i), s); err != nil {
			t.Fatal(err)
		}
		if _, err := cstmt.Exec(int64(i), s); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	values := func(db *sql.DB, expr string) []any {
		rows, err := db.Query("SELECT " + expr + " FROM txt ORDER BY id")
		if err != nil {
			t.Fatalf("%v\n%s", err, expr)
		}
		defer rows.Close()
		var out []any
		for rows.Next() {
			var v any
			if err := rows.Scan(&v); err != nil {
				t.Fatal(err)
			}
			if f, ok := v.(float64); ok {
				v = math.Float64bits(f)
			}
			out = append(out, v)
		}
		return out
	}
	for name, sqls := range sli.TextConversions("s") {
		dv, cv := values(duck, sqls[0]), values(ch, sqls[1])
		if len(dv) != len(texts) || len(cv) != len(texts) {
			t.Fatalf("%s: %d and %d values", name, len(dv), len(cv))
		}
		off, nonNull := 0, 0
		for i, s := range texts {
			if dv[i] != nil {
				nonNull++
			}
			if dv[i] == cv[i] {
				continue
			}
			if name == "double" && !exactText(s) && nearby(dv[i], cv[i]) {
				off++
				if off <= 5 {
					t.Logf("double(%q): DuckDB %v, ClickHouse %v", s, dv[i], cv[i])
				}
				continue
			}
			t.Errorf("%s(%q): DuckDB %v, ClickHouse %v", name, s, dv[i], cv[i])
		}
		t.Logf("%s: %d texts, %d values, %d 1 or 2 ulp off or subnormal (outside exactText)", name, len(texts), nonNull, off)
	}
}

type oneColumn schema.Column

func (c oneColumn) Column(name string) (schema.Column, bool) {
	if name != c.Name {
		return schema.Column{}, false
	}
	return schema.Column(c), true
}

// testHostileLiterals: string literals and column names that
// try to leave their quotes stay inside them (ClickHouse's quotes are
// escaped with backslashes, which DuckDB's are not).
func testHostileLiterals(t *testing.T, ch *sql.DB) {
	lits := []string{`'); DROP TABLE x; --`, `' OR 1=1 --`, `\'; DROP TABLE x; --`, `\`, `\\'`, `"; DROP TABLE x; --`, `/* */ '' '`, "`; DROP TABLE x; --", `' || '`, "\\n\n"}
	phys := "we`ird\\ na'me"
	if _, err := ch.Exec("CREATE TABLE x (a Int64) ENGINE = Memory"); err != nil {
		t.Fatal(err)
	}
	if _, err := ch.Exec("CREATE TABLE h (s String) ENGINE = Memory"); err != nil {
		t.Fatal(err)
	}
	tx, err := ch.Begin()
	if err != nil {
		t.Fatal(err)
	}
	st, err := tx.Prepare("INSERT INTO h (s)")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range lits {
		if _, err := st.Exec(l); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	cols := oneColumn{Name: "endpoint", Type: schema.String, Phys: phys}
	for _, lit := range lits {
		expr := fmt.Sprintf("endpoint == %q || endpoint.startsWith(%q) && endpoint.matches(%q)", lit, lit+"x", regexp.QuoteMeta(lit))
		q, p, err := sli.CompileClickHouse(expr, cols)
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		if len(p) != 1 || p[0] != phys {
			t.Fatalf("%s: columns %q", expr, p)
		}
		var n uint64
		if err := ch.QueryRow("SELECT countIf(ifNull(" + q + ", 0)) FROM (SELECT s AS `we\\`ird\\\\ na'me` FROM h)").Scan(&n); err != nil {
			t.Fatalf("%s: %v\n%s", expr, err, q)
		}
		if n != 1 {
			t.Errorf("%s matched %d rows, want 1\n%s", expr, n, q)
		}
	}
	if _, err := ch.Exec("SELECT * FROM x"); err != nil {
		t.Fatal(err)
	}
}
