package query

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/prodex/prodex/internal/schema"
	"github.com/prodex/prodex/internal/sli"
)

// The ClickHouse compiler answers a spec exactly as Compile does on DuckDB,
// in SQL that ClickHouse 18.16 (Debian's package) runs: it lacks GROUPING
// SETS, window functions, IS NOT DISTINCT FROM, aggregate FILTER clauses
// and the true/false literals, so the query is two statements.
//
//  1. The overall rows: one aggregation grouped by the breakdowns, with the
//     spec's havings, ranked by its orders and cut at its limit. Its row
//     order is the rank.
//  2. The series: the same aggregates grouped by time bucket and the
//     breakdowns, restricted to the groups of statement 1 by a NULL-safe
//     key, (isNull(g), ifNull(g, zero)) for each breakdown, IN the bound
//     list of those groups. The restriction is left out when statement 1
//     kept every group, and the statement is not run when it kept none.
//
// Each calculation is one aggregate of one scan: a calculation's own
// filters become if(filter, x, NULL) inside it (the -If combinators of
// 18.16 answer 0, not NULL, on Nullable columns when nothing matches).
// Percentiles and HEATMAP use sumMap, which gives the sorted distinct
// values of a group with their summed weights: a percentile is the nearest
// rank, the smallest value whose cumulative weight reaches ceil(p × total),
// compared in integers, which is what DuckDB's quantile_disc gives without
// sample rates and what the DuckDB plan computes with them.
//
// Values reach the SQL only as $n placeholders, which clickhouse-go binds
// on the client with escaping (18.16 predates server-side parameters).

// clickHouse is the dialect of the ClickHouse store.
var clickHouse = &dialect{
	sli: sli.CompileClickHouse,
	// The SLI is 1, 0 or NULL (UInt8); 18.16's AND and OR are not
	// three-valued, so NULLs are settled first.
	sloEvents: func(elig, good, which string) string {
		pred := "ifNull(" + elig + ", 0) = 1 AND isNotNull(" + good + ")"
		switch which {
		case "bad":
			pred += " AND ifNull(" + good + ", 1) = 0"
		case "good":
			pred += " AND ifNull(" + good + ", 0) = 1"
		}
		return "(" + pred + ")"
	},
	param: func(n int, _ any) string { return "$" + strconv.Itoa(n) },
	True:  "1", False: "0",
	text: chText,
	textMatch: func(op, text, v string) string {
		switch op {
		case "starts-with":
			return "startsWith(" + text + ", " + v + ")"
		case "ends-with":
			return "endsWith(" + text + ", " + v + ")"
		}
		return "position(" + text + ", " + v + ") > 0"
	},
	// An OR of equalities rather than IN: a value list may mix integers
	// and floats, which an IN set converts to the column's type.
	in: func(x string, vs []string) string {
		eq := make([]string, len(vs))
		for i, v := range vs {
			eq[i] = x + " = " + v
		}
		return "(" + strings.Join(eq, " OR ") + ")"
	},
}

// chText is a column's value as DuckDB's CAST(x AS VARCHAR) writes it, NULL
// for NULL. The text of a float, a long expression, is defined once per
// statement and named, when the compiler keeps definitions.
func chText(c *compiler, x string, t schema.Type) string {
	switch t {
	case schema.String:
		return x
	case schema.Boolean:
		return "if(" + x + ", 'true', 'false')"
	case schema.Float:
		if c.defs == nil {
			return sli.DuckDBDoubleText(x)
		}
		for _, name := range c.names {
			if c.defs[name] == x {
				return name
			}
		}
		name := "__text" + strconv.Itoa(len(c.names))
		c.defs[name] = x
		c.names = append(c.names, name)
		return name
	}
	return "toString(" + x + ")"
}

// chPlan is what the ClickHouse plan needs besides statement 1 (Plan.SQL).
type chPlan struct {
	series string   // statement 2 up to its WHERE clause, inclusive
	tail   string   // statement 2 after its WHERE clause
	keys   []string // the NULL-safe key of each breakdown, two expressions each
	gtypes []schema.Type
	all    bool // statement 1 has no havings: with fewer rows than the limit, it has every group
}

// CompileClickHouse turns a resolved spec into ClickHouse SQL over the
// catalog's events. The plan's Run gives the Result Compile's plan gives on
// DuckDB for the same events.
func CompileClickHouse(s *Spec, cat Catalog) (*Plan, error) {
	if s.Start.IsZero() {
		return nil, &Error{Msg: "query spec not resolved"}
	}
	c := &compiler{d: clickHouse, cat: cat, seen: map[string]bool{}, defs: map[string]string{}}
	if s.SLO == nil {
		// An SLI names the physical columns, so with one the events are
		// read through the catalog's subquery instead.
		c.table, _ = cat.(TableCatalog)
	}
	weighted := cat.Weighted(s.Start, s.End)
	p := &Plan{spec: s, groups: s.Breakdowns, ch: &chPlan{}}

	where, err := c.where(s)
	if err != nil {
		return nil, err
	}
	bcols, err := c.breakdowns(s)
	if err != nil {
		return nil, err
	}
	var sel, gAlias, exact []string
	for i, col := range bcols {
		x, a := c.x(col.Phys), "__g"+strconv.Itoa(i)
		if col.Type == schema.Float {
			x = "(" + x + " + 0)" // -0 + 0 is 0: one group for both zeros, as in DuckDB
		}
		sel = append(sel, x+" AS "+a)
		gAlias = append(gAlias, a)
		zero := "0"
		if col.Type == schema.String {
			zero = "''"
		}
		p.ch.keys = append(p.ch.keys, "isNull("+x+")", "ifNull("+x+", "+zero+")")
		p.ch.gtypes = append(p.ch.gtypes, col.Type)
	}
	for i, calc := range s.Calculations {
		op := ops[calc.Op]
		filt, col, err := c.calculation(i, calc)
		if err != nil {
			return nil, err
		}
		p.calcs = append(p.calcs, planCalc{label: calc.Label(), kind: op.kind, typ: col.Type})
		sel = append(sel, chAggregate(op, c.x(col.Phys), filt, weighted, col.Type)+" AS __a"+strconv.Itoa(i))
		if e := chExactSum(op, c.x(col.Phys), filt, weighted, col.Type); e != "" && (op.kind == kSum || op.kind == kRateSum) {
			exact = append(exact, e+" AS __e"+strconv.Itoa(i))
			p.calcs[i].exact = true
		}
	}
	sel = append(sel, exact...)
	calcAlias := func(k int) string { return "__a" + strconv.Itoa(k) }
	having := c.havings(s, calcAlias)
	order := orders(s, gAlias, calcAlias, " NULLS LAST")
	from := " FROM " + cat.From(c.phys, s.Start, s.End) + " AS e WHERE "
	if c.table != nil {
		from = " FROM " + c.table.Table() + " WHERE ts >= " + strconv.FormatInt(s.Start.UnixMicro(), 10) +
			" AND ts < " + strconv.FormatInt(s.End.UnixMicro(), 10) + " AND "
		where = "(" + where + ")"
	}

	with := ""
	for i, name := range c.names {
		if i == 0 {
			with = "WITH "
		} else {
			with += ", "
		}
		with += sli.DuckDBDoubleText(c.defs[name]) + " AS " + name
	}
	if with != "" {
		with += " "
	}
	var b strings.Builder
	b.WriteString(with + "SELECT " + strings.Join(sel, ", ") + from + where)
	if len(gAlias) > 0 {
		b.WriteString(" GROUP BY " + strings.Join(gAlias, ", "))
	}
	if len(having) > 0 {
		b.WriteString(" HAVING " + strings.Join(having, " AND "))
	}
	if order != "" {
		b.WriteString(" ORDER BY " + order)
	}
	b.WriteString(" LIMIT " + strconv.Itoa(s.Limit))
	p.SQL = b.String()
	p.Args = c.args
	p.ch.all = len(having) == 0

	step := strconv.FormatInt(s.Step.Microseconds(), 10)
	p.ch.series = with + "SELECT intDiv(ts, " + step + ") * " + step + " AS __b, " + strings.Join(sel, ", ") + from + "(" + where + ")"
	p.ch.tail = " GROUP BY " + strings.Join(append([]string{"__b"}, gAlias...), ", ")
	return p, nil
}

// maxQuerySize is ClickHouse's default limit on the text of a statement
// (max_query_size), values bound in.
const maxQuerySize = 256 << 10

// querySize is a generous estimate of the length of a statement once its
// values are bound in: strings may double when escaped, and a number takes
// at most about 40 characters (cast(…, 'Float64')).
func querySize(sql string, args []any) int {
	size := len(sql)
	for _, a := range args {
		size += 40
		if s, ok := a.(string); ok {
			size += 2 * len(s)
		}
	}
	return size
}

// chContext raises max_query_size for a statement that may exceed it, with
// hundreds of kilobytes of filters. clickhouse-go replaces the settings
// the caller put in ctx, if any, with this one, so it is done only when
// the statement would fail otherwise; the series of many top groups are
// asked in several statements instead.
func chContext(ctx context.Context, sql string, args []any) context.Context {
	size := querySize(sql, args)
	if size < maxQuerySize*3/4 {
		return ctx
	}
	return clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"max_query_size": 2 * size}))
}

// runClickHouse executes a ClickHouse plan.
func (p *Plan) runClickHouse(ctx context.Context, q Querier) (*Result, error) {
	res := &Result{
		Series: []Point{}, Results: []Row{},
		StartTime: p.spec.Start.Unix(), EndTime: p.spec.End.Unix(), Granularity: p.spec.Granularity,
	}
	ng := len(p.groups)
	rank := map[string]int64{}
	var tops [][]any // the group values of each overall row
	err := p.chRows(ctx, q, p.SQL, p.Args, 0, func(g []any, data map[string]any) {
		tops = append(tops, g)
		rank[groupKey(g)] = int64(len(tops))
		res.Results = append(res.Results, Row{Data: data})
	})
	if err != nil {
		return nil, err
	}
	if len(tops) == 0 {
		return res, nil
	}

	type point struct {
		rank, b int64
		Point
	}
	var pts []point
	collect := func(g []any, data map[string]any) {
		r, ok := rank[groupKey(g[1:])]
		if !ok {
			return
		}
		b := toInt64(g[0])
		pts = append(pts, point{r, b, Point{Time: time.UnixMicro(b).UTC(), Data: data}})
	}
	if ng == 0 || p.ch.all && len(tops) < p.spec.Limit { // every group is in the answer
		if err := p.chRows(ctx, q, p.ch.series+p.ch.tail, p.Args, 1, collect); err != nil {
			return nil, err
		}
		tops = nil
	}
	// Otherwise, the series of the top groups, as many at a time as keep
	// the statement within max_query_size.
	budget := max(maxQuerySize*3/4-querySize(p.ch.series+p.ch.tail, p.Args), 16<<10)
	for next := 0; next < len(tops); {
		args := append([]any(nil), p.Args...)
		var tuples []string
		for size := 0; next < len(tops) && size < budget; next++ {
			el := make([]string, 0, 2*ng)
			for j, v := range tops[next] {
				null, val := int64(0), v
				if v == nil {
					null, val = 1, chZero(p.ch.gtypes[j])
				}
				args = append(args, null, val)
				el = append(el, "$"+strconv.Itoa(len(args)-1), "$"+strconv.Itoa(len(args)))
				size += querySize("", []any{null, val}) + 10
			}
			tuples = append(tuples, "("+strings.Join(el, ", ")+")")
		}
		sql := p.ch.series + " AND (" + strings.Join(p.ch.keys, ", ") + ") IN (" + strings.Join(tuples, ", ") + ")" + p.ch.tail
		if err := p.chRows(ctx, q, sql, args, 1, collect); err != nil {
			return nil, err
		}
	}
	sort.Slice(pts, func(i, j int) bool {
		if pts[i].rank != pts[j].rank {
			return pts[i].rank < pts[j].rank
		}
		return pts[i].b < pts[j].b
	})
	seriesRank := make([]int64, len(pts))
	for i, pt := range pts {
		res.Series = append(res.Series, pt.Point)
		seriesRank[i] = pt.rank
	}
	p.rates(res, seriesRank)
	return res, nil
}

// chRows runs one statement whose rows are lead leading columns (the time
// bucket), the breakdowns and the calculations, and hands each row's
// leading and breakdown values and its data, typed as DuckDB types them,
// to row.
func (p *Plan) chRows(ctx context.Context, q Querier, sql string, args []any, lead int, row func(g []any, data map[string]any)) error {
	rows, err := q.QueryContext(chContext(ctx, sql, args), sql, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	ng, nc := len(p.groups), len(p.calcs)
	ne := 0 // exact sums, after the calculations
	for _, c := range p.calcs {
		if c.exact {
			ne++
		}
	}
	vals := make([]any, lead+ng+nc+ne)
	ptrs := make([]any, len(vals))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		g := make([]any, lead+ng)
		copy(g, vals[:lead])
		data := make(map[string]any, ng+nc)
		for i, name := range p.groups {
			v := chValue(vals[lead+i], p.ch.gtypes[i])
			g[lead+i] = v
			data[name] = v
		}
		e := lead + ng + nc
		for i, c := range p.calcs {
			v := vals[lead+ng+i]
			if c.exact {
				v = exactSum(vals[e], v)
				e++
			}
			v, err := c.chValue(v)
			if err != nil {
				return err
			}
			data[c.label] = v
		}
		row(g, data)
	}
	return rows.Err()
}

// chValue converts a calculation's value to the Go type the DuckDB plan
// gives it.
func (c planCalc) chValue(v any) (any, error) {
	if v == nil && c.kind != kHeatmap {
		return nil, nil
	}
	switch c.kind {
	case kCount, kCountDistinct:
		return toInt64(v), nil
	case kAvg, kRateAvg:
		return finite(toFloat64(v)), nil
	case kSum, kRateSum:
		if c.typ == schema.Integer {
			return v, nil // exactSum's int64 or float64
		}
		return finite(toFloat64(v)), nil
	case kHeatmap:
		return chHeatmap(v)
	}
	return chValue(v, c.typ), nil // MIN, MAX, percentiles: the column's type
}

// chValue converts a value of a column of type t as ClickHouse returns it
// (booleans are UInt8) to the Go type DuckDB returns.
func chValue(v any, t schema.Type) any {
	if v == nil {
		return nil
	}
	switch t {
	case schema.Integer:
		return toInt64(v)
	case schema.Float:
		return toFloat64(v)
	case schema.Boolean:
		return toInt64(v) != 0
	}
	return v
}

// chZero is the stand-in of NULL in a group key: ifNull(g, zero).
func chZero(t schema.Type) any {
	switch t {
	case schema.String:
		return ""
	case schema.Float:
		return 0.0
	case schema.Boolean:
		return false
	}
	return int64(0)
}

// groupKey identifies a group by its (converted) breakdown values.
func groupKey(g []any) string {
	var b strings.Builder
	for _, v := range g {
		switch x := v.(type) {
		case nil:
			b.WriteString("n|")
		case string:
			b.WriteString("s" + strconv.Quote(x) + "|")
		case float64:
			b.WriteString("f" + strconv.FormatUint(math.Float64bits(x), 16) + "|")
		default:
			fmt.Fprintf(&b, "%T%v|", x, x)
		}
	}
	return b.String()
}

// chHeatmap decodes a HEATMAP's sumMap: the keys k×4 + sign+1 and their
// weights.
func chHeatmap(v any) (Heatmap, error) {
	h := Heatmap{Buckets: []HeatmapBucket{}}
	t, ok := v.([]any)
	if !ok || len(t) != 2 {
		return h, fmt.Errorf("heatmap: unexpected %T", v)
	}
	keys, ok1 := t[0].([]int64)
	ws, ok2 := t[1].([]int64)
	if !ok1 || !ok2 || len(keys) != len(ws) {
		return h, fmt.Errorf("heatmap: unexpected %T, %T", t[0], t[1])
	}
	for i, key := range keys {
		m := ((key % 4) + 4) % 4
		h.Buckets = append(h.Buckets, heatmapBucket(m-1, (key-m)/4, ws[i]))
	}
	sort.Slice(h.Buckets, func(i, j int) bool { return h.Buckets[i].Min < h.Buckets[j].Min })
	return h, nil
}

func toFloat64(v any) float64 {
	switch x := v.(type) {
	case float64:
		return x
	case float32:
		return float64(x)
	}
	return float64(toInt64(v))
}
