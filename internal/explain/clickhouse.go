package explain

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/prodex/prodex/internal/query"
	"github.com/prodex/prodex/internal/schema"
	"github.com/prodex/prodex/internal/slo"
)

// TableCatalog is a Catalog whose events a statement can read from one
// table, a field being an expression over it (see query.TableCatalog).
type TableCatalog interface {
	Catalog
	Table() string
	Expr(phys string) string
}

// RunClickHouse answers a request as Run does, in SQL that ClickHouse
// 18.16 runs, with the same answer for the same events (the sample of a
// population above sampleSize events aside).
//
// Every statement reads the catalog's table itself, fields as their
// expressions, so that on a Distributed table the shards aggregate. 18.16
// has no aggregate FILTER, GROUPING SETS or window functions, so:
//   - the two populations are sumIf/countIf of the selection flag;
//   - every column's value counts come from one scan that ARRAY JOINs each
//     event with its (column, value) pairs and groups by them; rare values
//     are pooled into "(other values)" by an outer level, on the node
//     asked, so that at most about 110 rows a column come back (a value
//     not pooled has 1 % of all events or a tenth of the selection);
//   - scores and ranks are computed here from those rows, in the order
//     Run's SQL ranks them.
//
// An SLO selection's SLI names physical columns, so with one the events
// are read through the catalog's subquery (slower on a Distributed table:
// the shards send their events instead of aggregating them).
func RunClickHouse(ctx context.Context, db *sql.DB, cat TableCatalog, r *Request, now time.Time, slos func(string) (slo.SLO, bool)) (*Answer, error) {
	if r.Selection.SLO != "" {
		// A range that does not resolve is reported by prepare.
		if sp := (query.Spec{TimeRange: r.TimeRange, StartTime: r.StartTime, EndTime: r.EndTime}); sp.Resolve(now) == nil {
			cat = viaSubquery{cat, sp.Start, sp.End, nil}
		}
	}
	pr, err := prepare(chDialect(cat), cat, r, now, slos)
	if err != nil {
		return nil, err
	}
	spec, cols, args := pr.spec, pr.cols, pr.args
	// from and where: the base events; sel: 1 for a selected one, else 0.
	if v, ok := cat.(viaSubquery); ok {
		v.phys = pr.withColumns(nil) // the base and selection's alone
		cat = v
	}
	from := " FROM " + cat.Table()
	where := " WHERE ts >= " + strconv.FormatInt(spec.Start.UnixMicro(), 10) + " AND ts < " + strconv.FormatInt(spec.End.UnixMicro(), 10) +
		" AND (" + pr.where + ")"
	sel := "ifNull((" + pr.sel + "), 0)"

	ans := &Answer{StartTime: spec.Start.Unix(), EndTime: spec.End.Unix(), Columns: []Column{}}
	if len(cols) == 0 {
		return ans, nil
	}
	// Pass 1: the two populations' sizes.
	var rowsSel, rowsBase int64
	q := "SELECT toInt64(sumIf(" + query.ClickHouseWeight + ", " + sel + ")), toInt64(sumIf(" + query.ClickHouseWeight + ", NOT " + sel + ")), toInt64(countIf(" + sel + ")), toInt64(countIf(NOT " + sel + "))" + from + where
	if err := db.QueryRowContext(chContext(ctx, q), q, args...).Scan(&ans.SelectionCount, &ans.BaselineCount, &rowsSel, &rowsBase); err != nil {
		return nil, &DBError{Err: err}
	}
	if ans.SelectionCount == 0 || ans.BaselineCount == 0 {
		return ans, nil
	}
	sample := ""
	ps, pb := min(1, sampleSize/float64(max(rowsSel, 1))), min(1, sampleSize/float64(max(rowsBase, 1)))
	if ps < 1 || pb < 1 {
		sample = fmt.Sprintf(" AND rand() / 4294967296 < if(%s, %s, %s)", sel, chNum(ps), chNum(pb))
		ans.Sampled = true
	}
	// reading says where the events are read with the columns of cols.
	reading := func(cols []schema.Column) (TableCatalog, string) {
		if v, ok := cat.(viaSubquery); ok {
			v.phys = pr.withColumns(cols)
			return v, " FROM " + v.Table()
		}
		return cat, from
	}
	cols, err = compareColumns(ans, pr.chosen, cols, len(cat.Columns()), r.MaxColumns, func(chunk []schema.Column) ([]held, error) {
		c, from := reading(chunk)
		aggs := make([]string, 0, 2*len(chunk))
		for _, col := range chunk {
			x := "isNotNull(" + c.Expr(col.Phys) + ")"
			aggs = append(aggs, "toInt64(countIf("+x+" AND "+sel+"))", "toInt64(countIf("+x+" AND NOT "+sel+"))")
		}
		q := "SELECT " + strings.Join(aggs, ", ") + from + where + sample
		return scanHeld(db.QueryRowContext(chContext(ctx, q), q, args...), len(chunk))
	})
	if err != nil {
		return nil, err
	}
	cat, from = reading(cols)
	// Pass 2: for each number its range and, for integers, whether they
	// have at most maxCategories values (uniqUpTo is exact up to there).
	var stats []string
	for _, c := range cols {
		if c.Type.Numeric() {
			x := cat.Expr(c.Phys)
			stats = append(stats, "toFloat64(min("+x+"))", "toFloat64(max("+x+"))", "toInt64(uniqUpTo("+strconv.Itoa(maxCategories)+")("+x+"))")
		}
	}
	vals := make([]any, len(stats))
	if len(stats) > 0 {
		ptrs := make([]any, len(stats))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		q := "SELECT " + strings.Join(stats, ", ") + from + where + sample
		if err := db.QueryRowContext(chContext(ctx, q), q, args...).Scan(ptrs...); err != nil {
			return nil, &DBError{Err: err}
		}
	}
	// Pass 3: each column's value (or bin) as text, NULL for absent.
	bin := make([]*binning, len(cols))
	keys := make([]string, len(cols))
	idx := make([]string, len(cols))
	k := 0
	for i, c := range cols {
		idx[i] = strconv.Itoa(i)
		x := cat.Expr(c.Phys)
		keys[i] = chKey(x, c.Type)
		if !c.Type.Numeric() {
			continue
		}
		mn, mx, distinct := vals[k], vals[k+1], toInt(vals[k+2])
		k += 3
		if mn == nil {
			keys[i] = "CAST(NULL AS Nullable(String))" // no value in the base
			continue
		}
		if c.Type == schema.Integer && distinct <= maxCategories {
			continue
		}
		b := &binning{lo: mn.(float64), width: (mx.(float64) - mn.(float64)) / bins}
		bin[i] = b
		if b.width == 0 {
			keys[i] = "if(isNull(" + x + "), NULL, '0')"
		} else {
			// Clamped before the conversion, as values beyond a sampled
			// range go to the end bins.
			keys[i] = fmt.Sprintf("toString(toInt64(greatest(0, least(floor((%s - %s) / %s), %d))))", x, chNum(b.lo), chNum(b.width), bins-1)
		}
	}
	ns, nb := float64(ans.SelectionCount)*ps, float64(ans.BaselineCount)*pb
	scaleS, scaleB := 1/ps, 1/pb
	q = "SELECT toInt64(__c), toInt64(__o), __v, sum(__s), sum(__b) FROM (" +
		"SELECT __c, __s, __b, " +
		fmt.Sprintf("((__s + __b) / %s < %s AND __s / %s < 0.1) AS __o, ", chNum(ns+nb), chNum(minShare), chNum(ns)) +
		"if(__o, CAST(NULL AS Nullable(String)), __k) AS __v FROM (" +
		"SELECT __c, __k, toFloat64(sumIf(" + query.ClickHouseWeight + ", " + sel + ")) AS __s, toFloat64(sumIf(" + query.ClickHouseWeight + ", NOT " + sel + ")) AS __b" + from +
		" ARRAY JOIN [" + strings.Join(idx, ", ") + "] AS __c, [" + strings.Join(keys, ", ") + "] AS __k" +
		where + sample + " GROUP BY __c, __k)) GROUP BY __c, __o, __v"
	rows, err := db.QueryContext(chContext(ctx, q), q, args...)
	if err != nil {
		return nil, &DBError{Err: err}
	}
	defer rows.Close()
	type value struct {
		other bool
		val   sql.NullString
		s, b  float64
	}
	byCol := make([][]value, len(cols))
	for rows.Next() {
		var c, o, v any
		var v2 value
		if err := rows.Scan(&c, &o, &v, &v2.s, &v2.b); err != nil {
			return nil, &DBError{Err: err}
		}
		v2.other = toInt(o) != 0
		if s, ok := v.(string); ok {
			v2.val = sql.NullString{String: s, Valid: true}
		}
		i := int(toInt(c))
		if i < 0 || i >= len(cols) {
			return nil, &DBError{Err: fmt.Errorf("column index %v out of range", c)}
		}
		byCol[i] = append(byCol[i], v2)
	}
	if err := rows.Err(); err != nil {
		return nil, &DBError{Err: err}
	}
	out := make([]Column, len(cols))
	for i, c := range cols {
		out[i] = Column{Column: c.Name, Type: c.Type, Values: []ValueShare{}}
		vs := byCol[i]
		var ts, tb float64
		for _, v := range vs {
			ts += v.s
			tb += v.b
		}
		diff := func(v value) float64 { return math.Abs(v.s/ts - v.b/tb) }
		// Run's order: the largest difference first, then values before
		// "(other values)", then by value, absent (NULL) last.
		sort.Slice(vs, func(a, b int) bool {
			x, y := vs[a], vs[b]
			if dx, dy := diff(x), diff(y); dx != dy {
				return dx > dy
			}
			if x.other != y.other {
				return !x.other
			}
			if x.val.Valid != y.val.Valid {
				return x.val.Valid
			}
			return x.val.String < y.val.String
		})
		score := 0.0
		for _, v := range vs {
			score += diff(v)
		}
		out[i].Score = math.Round(score/2*1e9) / 1e9
		for j, v := range vs {
			if j == r.Values {
				break
			}
			out[i].Values = append(out[i].Values, share(&out[i], bin[i], v.other, v.val, v.s, v.b, ts, tb, scaleS, scaleB))
		}
	}
	ans.Columns = finish(out, r, spec)
	return ans, nil
}

func chDialect(cat TableCatalog) *dialect {
	return &dialect{
		filters: func(field string, fs []query.Filter, comb string, first int) (query.Predicate, error) {
			return query.CompileFiltersClickHouseTable(field, fs, comb, cat, first)
		},
		x:         cat.Expr,
		num:       chNum,
		sloEvents: query.CompileSLOEventsClickHouse,
	}
}

// chKey is a value of type t as DuckDB's CAST(x AS VARCHAR) writes it,
// NULL for NULL (integers and strings alike in both; numbers that are
// not categories are binned, never written).
func chKey(x string, t schema.Type) string {
	switch t {
	case schema.String:
		return x
	case schema.Boolean:
		return "if(isNull(" + x + "), NULL, if(" + x + " = 1, 'true', 'false'))"
	}
	return "toString(" + x + ")"
}

// chNum renders a float as a Float64 literal. 18.16 reads a number's text
// exactly but rejects one below the smallest normal double: such a number
// is written scaled by 2⁶⁰ and divided back, exactly.
func chNum(f float64) string {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "NULL"
	}
	if f != 0 && math.Abs(f) < 0x1p-1022 {
		return "(toFloat64(" + strconv.FormatFloat(f*0x1p60, 'g', -1, 64) + ") / 1152921504606846976)"
	}
	return "toFloat64(" + strconv.FormatFloat(f, 'g', -1, 64) + ")"
}

// chContext raises max_query_size for a statement over very many columns.
func chContext(ctx context.Context, q string) context.Context {
	const limit = 256 << 10 // ClickHouse's default
	if len(q) < limit/2 {
		return ctx
	}
	return clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"max_query_size": 4 * len(q)}))
}

// viaSubquery reads a catalog's events through its From subquery, with
// every field under its physical name: what an SLI's SQL refers to.
type viaSubquery struct {
	TableCatalog
	start, end time.Time
	phys       []string // the columns read; nil: every column
}

func (v viaSubquery) Table() string {
	phys := v.phys
	if phys == nil {
		for _, c := range v.Columns() {
			phys = append(phys, c.Phys)
		}
	}
	return v.From(phys, v.start, v.end)
}

func (v viaSubquery) Expr(phys string) string { return "`" + phys + "`" }
