package query

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/prodex/prodex/internal/event"
	"github.com/prodex/prodex/internal/schema"
)

// Catalog is what the compiler needs to know of a dataset.
type Catalog interface {
	// Column returns the stored column of a field name.
	Column(name string) (schema.Column, bool)
	// From returns a parenthesised table expression yielding ts (µs), sr
	// and the given physical columns for the events in [start, end).
	From(phys []string, start, end time.Time) string
	// Weighted reports whether an event in [start, end) may have a sample
	// rate above 1; when none can, cheaper unweighted aggregates are exact.
	Weighted(start, end time.Time) bool
}

// Plan is a compiled query: one SQL statement and its bound values (on
// ClickHouse, the first of two statements).
type Plan struct {
	spec   *Spec
	SQL    string
	Args   []any
	groups []string // breakdown names, in order
	calcs  []planCalc
	ch     *chPlan // a ClickHouse plan: SQL is its first statement
}

type planCalc struct {
	label string
	kind  kind
	typ   schema.Type // of the column
	exact bool        // ClickHouse: an Int64 sum follows the calculations (chExactSum)
}

// compiler accumulates bound values and the physical columns used.
type compiler struct {
	d    *dialect
	cat  Catalog
	args []any
	phys []string
	seen map[string]bool
	// defs, when not nil, are named expressions the statement defines
	// once (WITH expr AS name), in the order of names.
	defs  map[string]string
	names []string
	// table, when set, reads the fields as expressions over one table
	// rather than as the columns of a subquery (see TableCatalog).
	table TableCatalog
}

// TableCatalog is a Catalog that can also name one table holding ts and
// sr and, for each physical column, an expression over that table. A
// statement reading the table itself, not a subquery of it, lets a
// ClickHouse Distributed table aggregate on every shard instead of
// shipping the events to the one node that was asked.
type TableCatalog interface {
	Catalog
	Table() string
	Expr(phys string) string
}

// x is the SQL of a physical column.
func (c *compiler) x(phys string) string {
	if c.table != nil {
		return c.table.Expr(phys)
	}
	return ident(phys)
}

// bind returns the SQL of a new bound value, as the dialect writes it.
func (c *compiler) bind(v any) string {
	c.args = append(c.args, v)
	return c.d.param(len(c.args), v)
}

// col resolves a field name and remembers its physical column.
func (c *compiler) col(name string) (schema.Column, bool) {
	col, ok := c.cat.Column(name)
	if ok && !c.seen[col.Phys] {
		c.seen[col.Phys] = true
		c.phys = append(c.phys, col.Phys)
	}
	return col, ok
}

// where is the predicate of the events a spec reads: its filters and,
// with the slo option, its SLO's events.
func (c *compiler) where(s *Spec) (string, error) {
	where, err := c.filters("filters", s.Filters, s.FilterCombination)
	if err != nil || s.SLO == nil {
		return where, err
	}
	pred, err := c.sloEvents(s.SLO)
	if err != nil {
		return "", err
	}
	return "(" + where + ") AND " + pred, nil
}

// sloEvents is the predicate keeping an SLO's eligible, bad or good
// events; the SLI's expressions compile to SQL as the SLO counts do, so
// the events are the ones its counts count.
func (c *compiler) sloEvents(e *SLOEvents) (string, error) {
	if e.Good == "" {
		return "", errorf("slo.name", "no SLO named %q", e.Name)
	}
	good, gp, err := c.d.sli(e.Good, c.cat)
	if err != nil {
		return "", errorf("slo", "SLO %s: %v", e.Name, err)
	}
	elig, ep := c.d.True, []string(nil)
	if e.Eligible != "" {
		if elig, ep, err = c.d.sli(e.Eligible, c.cat); err != nil {
			return "", errorf("slo", "SLO %s: %v", e.Name, err)
		}
	}
	for _, p := range append(gp, ep...) {
		if !c.seen[p] {
			c.seen[p] = true
			c.phys = append(c.phys, p)
		}
	}
	return c.d.sloEvents(elig, good, e.Events), nil
}

func ident(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// Compile turns a resolved spec into SQL over the catalog's events.
//
// The statement scans the events once for all plain aggregates, grouping by
// GROUPING SETS so that each group's overall row and its per-bucket rows
// come from the same pass; a weighted percentile or a heatmap adds one pass
// of its own. The top groups (orders, havings, limit) are chosen in SQL too,
// so only the rows of the answer leave the engine.
func Compile(s *Spec, cat Catalog) (*Plan, error) {
	if s.Start.IsZero() {
		return nil, &Error{Msg: "query spec not resolved"}
	}
	c := &compiler{d: duckDB, cat: cat, seen: map[string]bool{}}
	weighted := cat.Weighted(s.Start, s.End)
	p := &Plan{spec: s, groups: s.Breakdowns}

	where, err := c.where(s)
	if err != nil {
		return nil, err
	}
	bcols, err := c.breakdowns(s)
	if err != nil {
		return nil, err
	}
	var g []string // physical group columns
	for _, col := range bcols {
		g = append(g, ident(col.Phys))
	}
	gAlias := make([]string, len(g))
	for i := range g {
		gAlias[i] = "g" + strconv.Itoa(i)
	}

	type cte struct{ name, sql string }
	var ctes []cte
	aggCols := []string{"GROUPING(b) AS gid", "b"}
	for i, x := range g {
		aggCols = append(aggCols, x+" AS "+gAlias[i])
	}
	final := make([]string, len(s.Calculations)) // agg2 expression of each calculation
	shared := map[string]*pctPass{}              // weighted percentile passes by column and filter
	lists := map[string]*pctList{}               // unweighted percentiles by column and filter
	var passes []*pctPass
	sets := func(extra string) string {
		k := strings.Join(append(append([]string{}, g...), extra), ", ")
		k = strings.Trim(k, ", ")
		return "GROUPING SETS ((" + k + "), (" + strings.Trim("b, "+k, ", ") + "))"
	}
	joinOn := func(t string) string {
		on := []string{"agg.gid = " + t + ".gid", "agg.b IS NOT DISTINCT FROM " + t + ".b"}
		for _, a := range gAlias {
			on = append(on, "agg."+a+" IS NOT DISTINCT FROM "+t+"."+a)
		}
		return strings.Join(on, " AND ")
	}
	var joins []string

	for i, calc := range s.Calculations {
		op := ops[calc.Op]
		p.calcs = append(p.calcs, planCalc{label: calc.Label(), kind: op.kind})
		nargs := len(c.args)
		filt, col, err := c.calculation(i, calc)
		if err != nil {
			return nil, err
		}
		var x string
		if op.column {
			x = ident(col.Phys)
		}
		agg := func(expr string) string {
			if filt == "" {
				return expr
			}
			return expr + " FILTER (WHERE " + filt + ")"
		}
		alias := "a" + strconv.Itoa(i)
		plain := ""
		switch op.kind {
		case kCount:
			if weighted {
				plain = "coalesce(" + agg("sum(sr)") + ", 0)::BIGINT"
			} else {
				plain = agg("count(*)")
			}
		case kSum, kRateSum:
			plain = sumExpr(agg, x, weighted, c.typeOf(calc.Column))
		case kAvg, kRateAvg:
			if weighted {
				plain = "(" + sumExpr(agg, x, weighted, c.typeOf(calc.Column)) + ")::DOUBLE / " + agg("sum(CASE WHEN "+x+" IS NOT NULL THEN sr END)")
			} else {
				plain = agg("avg(" + x + ")")
			}
		case kMin:
			plain = agg("min(" + x + ")")
		case kMax, kRateMax:
			plain = agg("max(" + x + ")")
		case kCountDistinct:
			plain = agg("count(DISTINCT " + x + ")")
		case kPercentile:
			key := x + "|" + filterKey(calc)
			if !weighted {
				// One quantile_disc per column and filter, for all
				// their levels: each holds every value it ranks (in
				// memory outside DuckDB's limit), so a P99 and a P999
				// as two aggregates held them twice and took twice as
				// long.
				ql := lists[key]
				if ql == nil {
					ql = &pctList{col: len(aggCols), alias: alias, expr: func(levels string) string { return agg("quantile_disc(" + x + ", [" + levels + "])") }}
					lists[key] = ql
					aggCols = append(aggCols, "")
				} else {
					c.args = c.args[:nargs] // as for a shared pass below
				}
				ql.levels = append(ql.levels, strconv.FormatFloat(float64(op.perMil)/1000, 'f', -1, 64))
				final[i] = "agg." + ql.alias + "[" + strconv.Itoa(len(ql.levels)) + "]"
				continue
			}
			pp := shared[key]
			if pp == nil {
				cond := x + " IS NOT NULL"
				if filt != "" {
					cond += " AND (" + filt + ")"
				}
				pp = &pctPass{name: "p" + strconv.Itoa(i), x: x, cond: cond}
				shared[key] = pp
				passes = append(passes, pp)
			} else {
				// The pass has this filter already: the values just bound
				// for it would be parameters the statement never uses,
				// which DuckDB refuses.
				c.args = c.args[:nargs]
			}
			pp.calcs = append(pp.calcs, i)
			pp.perMil = append(pp.perMil, op.perMil)
			final[i] = pp.name + ".q" + strconv.Itoa(i)
			continue
		case kHeatmap:
			t := "h" + strconv.Itoa(i)
			cond := x + " IS NOT NULL"
			if filt != "" {
				cond += " AND (" + filt + ")"
			}
			w := "count(*)"
			if weighted {
				w = "sum(sr)::BIGINT"
			}
			ctes = append(ctes,
				cte{t + "w", "SELECT GROUPING(b) AS gid, b, " + selectAs(g, gAlias) + "hs, hk, " + w + " AS w FROM (SELECT *, sign(" + x + ")::BIGINT AS hs, CASE WHEN " + x + " = 0 THEN 0 ELSE floor(log2(abs(" + x + ")) * " + strconv.Itoa(heatmapSteps) + ")::BIGINT END AS hk FROM base WHERE " + cond + ") GROUP BY " + sets("hs, hk")},
				cte{t, "SELECT gid, b, " + strings.Join(append(gAlias, ""), ", ") + "list([hs, hk, w] ORDER BY hs, hk) AS h FROM " + t + "w GROUP BY ALL"})
			final[i] = t + ".h"
			joins = append(joins, t)
			continue
		}
		if plain != "" {
			aggCols = append(aggCols, plain+" AS "+alias)
			final[i] = "agg." + alias
		}
	}

	for _, ql := range lists {
		aggCols[ql.col] = ql.expr(strings.Join(ql.levels, ", ")) + " AS " + ql.alias
	}

	// Weighted percentiles: per group and bucket, the weight of each
	// distinct value and the running total; the answer is the nearest rank,
	// the smallest value whose cumulative weight reaches ceil(p × total),
	// compared in integers.
	for _, pp := range passes {
		win := strings.Join(append([]string{"gid", "b"}, gAlias...), ", ")
		qs := make([]string, len(pp.calcs))
		for j, k := range pp.calcs {
			qs[j] = "min(v) FILTER (WHERE cw * 1000 >= " + strconv.Itoa(pp.perMil[j]) + " * tw) AS q" + strconv.Itoa(k)
		}
		ctes = append(ctes,
			cte{pp.name + "w", "SELECT GROUPING(b) AS gid, b, " + selectAs(g, gAlias) + pp.x + " AS v, sum(sr)::BIGINT AS w FROM base WHERE " + pp.cond + " GROUP BY " + sets(pp.x)},
			cte{pp.name + "c", "SELECT *, sum(w) OVER (PARTITION BY " + win + " ORDER BY v ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS cw, sum(w) OVER (PARTITION BY " + win + ") AS tw FROM " + pp.name + "w"},
			cte{pp.name, "SELECT " + win + ", " + strings.Join(qs, ", ") + " FROM " + pp.name + "c GROUP BY " + win})
		joins = append(joins, pp.name)
	}

	var b strings.Builder
	// base, the matching events, is written out in each pass that reads
	// it: materialising it would copy every matching event, and a CTE that
	// DuckDB inlines in two passes has had its filters pushed down onto
	// the wrong columns of the second scan (an internal error that
	// invalidates the database), which a subquery written twice has not.
	base := "(SELECT (ts // " + strconv.FormatInt(s.Step.Microseconds(), 10) + ") * " + strconv.FormatInt(s.Step.Microseconds(), 10) + " AS b, * FROM " + cat.From(c.phys, s.Start, s.End) + " AS e WHERE " + where + ") AS base"
	fromBase := func(sql string) string { return strings.ReplaceAll(sql, "FROM base", "FROM "+base) }
	b.WriteString("WITH agg AS (SELECT " + strings.Join(aggCols, ", ") + " " + fromBase("FROM base") + " GROUP BY " + sets("") + ")")
	for _, t := range ctes {
		b.WriteString(",\n" + t.name + " AS (" + fromBase(t.sql) + ")")
	}
	// agg2: every calculation as a<k>, whatever pass computed it.
	sel := []string{"agg.gid", "agg.b"}
	for _, a := range gAlias {
		sel = append(sel, "agg."+a)
	}
	for i, f := range final {
		sel = append(sel, f+" AS a"+strconv.Itoa(i))
	}
	b.WriteString(",\nagg2 AS (SELECT " + strings.Join(sel, ", ") + " FROM agg")
	for _, t := range joins {
		b.WriteString(" LEFT JOIN " + t + " ON " + joinOn(t))
	}
	b.WriteString(")")

	// top: the groups of the answer, ranked.
	calcAlias := func(k int) string { return "a" + strconv.Itoa(k) }
	having := append([]string{"gid = 1"}, c.havings(s, calcAlias)...)
	order := orders(s, gAlias, calcAlias, "")
	if order == "" {
		order = "gid"
	}
	b.WriteString(",\ntop AS (SELECT " + strings.Join(append(append([]string{}, gAlias...), "row_number() OVER (ORDER BY "+order+") AS rk"), ", ") +
		" FROM agg2 WHERE " + strings.Join(having, " AND ") + " ORDER BY rk LIMIT " + strconv.Itoa(s.Limit) + ")")

	out := []string{"agg2.gid", "agg2.b"}
	on := []string{"true"}
	for _, a := range gAlias {
		out = append(out, "agg2."+a)
		on = append(on, "agg2."+a+" IS NOT DISTINCT FROM top."+a)
	}
	for i := range s.Calculations {
		out = append(out, "agg2.a"+strconv.Itoa(i))
	}
	out = append(out, "top.rk")
	b.WriteString("\nSELECT " + strings.Join(out, ", ") + " FROM agg2 JOIN top ON " + strings.Join(on, " AND ") + " ORDER BY top.rk, agg2.gid DESC, agg2.b")

	p.SQL = b.String()
	p.Args = c.args
	return p, nil
}

// heatmapSteps is the number of HEATMAP buckets per doubling of the value:
// bucket k holds values in [2^(k/4), 2^((k+1)/4)), about 19 % wide.
const heatmapSteps = 4

// pctPass is one extra pass computing weighted percentiles of a column
// under one filter.
type pctPass struct {
	name, x, cond string
	calcs         []int
	perMil        []int
}

// pctList is one quantile_disc computing the listed levels of a column
// under one filter, in aggCols[col].
type pctList struct {
	col    int
	alias  string
	expr   func(levels string) string
	levels []string
}

func selectAs(cols, aliases []string) string {
	var b strings.Builder
	for i := range cols {
		b.WriteString(cols[i] + " AS " + aliases[i] + ", ")
	}
	return b.String()
}

// sumExpr is the SUM of column x of type t, weighted by sr or not. An
// integer sum is a HUGEINT, so that no total overflows (Run gives it as an
// int64 when it fits, else a float64). Weighted, the product of a value
// and a rate (at most event.MaxSampleRate) is computed in BIGINT when the
// value is small enough for it to fit, and in HUGEINT, several times
// slower, only for the values that are not: the two sums are added.
func sumExpr(agg func(string) string, x string, weighted bool, t schema.Type) string {
	switch {
	case t != schema.Integer && weighted:
		return agg("sum("+x+" * sr)") + "::DOUBLE"
	case t != schema.Integer:
		return agg("sum("+x+")") + "::DOUBLE"
	case !weighted:
		return agg("sum(" + x + ")")
	}
	small := x + " BETWEEN -" + maxExactFactor + " AND " + maxExactFactor
	narrow := agg("sum(CASE WHEN " + small + " THEN " + x + " * sr END)")
	wide := agg("sum(CASE WHEN NOT (" + small + ") THEN " + x + "::HUGEINT * sr END)")
	return "CASE WHEN " + wide + " IS NULL THEN " + narrow + " ELSE coalesce(" + narrow + ", 0) + " + wide + " END"
}

// maxExactFactor is the largest |value| whose product with any sample
// rate up to event.MaxSampleRate fits a BIGINT: ⌊(2^63-1) / 10^9⌋.
var maxExactFactor = strconv.FormatInt(math.MaxInt64/event.MaxSampleRate, 10)

func (c *compiler) typeOf(name string) schema.Type {
	col, _ := c.cat.Column(name)
	return col.Type
}

func filterKey(calc Calculation) string {
	if len(calc.Filters) == 0 {
		return ""
	}
	b, _ := json.Marshal(struct {
		F []Filter
		C string
	}{calc.Filters, strings.ToUpper(calc.FilterCombination)})
	return string(b)
}

// breakdowns resolves the breakdown columns.
func (c *compiler) breakdowns(s *Spec) ([]schema.Column, error) {
	var cols []schema.Column
	for i, name := range s.Breakdowns {
		col, ok := c.col(name)
		if !ok {
			return nil, errorf(fmt.Sprintf("breakdowns[%d]", i), "unknown column %q", name)
		}
		cols = append(cols, col)
	}
	return cols, nil
}

// calculation compiles calculation i's own filters ("" when it has none)
// and resolves its column, checking that a numeric op gets numbers.
func (c *compiler) calculation(i int, calc Calculation) (filt string, col schema.Column, err error) {
	field := fmt.Sprintf("calculations[%d]", i)
	op := ops[calc.Op]
	if len(calc.Filters) > 0 {
		if filt, err = c.filters(field+".filters", calc.Filters, calc.FilterCombination); err != nil {
			return "", col, err
		}
	}
	if !op.column {
		return filt, col, nil
	}
	col, ok := c.col(calc.Column)
	if !ok {
		return "", col, errorf(field+".column", "unknown column %q", calc.Column)
	}
	if op.numeric && !col.Type.Numeric() {
		return "", col, errorf(field+".column", "%s needs a numeric column; %q holds %s values", calc.Op, calc.Column, col.Type)
	}
	return filt, col, nil
}

// havings compiles the spec's havings over the calculations, calc(k)
// naming the k-th.
func (c *compiler) havings(s *Spec, calc func(k int) string) []string {
	var out []string
	for _, h := range s.Havings {
		k, _ := s.calcIndex(strings.ToUpper(h.CalculateOp), h.Column)
		v, _ := number(h.Value)
		op := h.Op
		if op == "!=" {
			op = "<>"
		}
		out = append(out, calc(k)+" "+op+" "+c.bind(v))
	}
	return out
}

// orders is the ORDER BY of the groups: the spec's orders, else the first
// calculation descending; breakdowns ascending break ties. calc(k) names
// the k-th calculation; nulls follows the direction of an order by a
// breakdown (NULLs come last everywhere, by default in DuckDB).
func orders(s *Spec, gAlias []string, calc func(k int) string, nulls string) string {
	var parts []string
	dir := func(o string) string {
		switch strings.ToLower(o) {
		case "descending", "desc":
			return " DESC"
		}
		return " ASC"
	}
	for _, o := range s.Orders {
		if o.Op == "" {
			for i, bd := range s.Breakdowns {
				if bd == o.Column {
					parts = append(parts, gAlias[i]+dir(o.Order)+nulls)
				}
			}
			continue
		}
		k, _ := s.calcIndex(strings.ToUpper(o.Op), o.Column)
		parts = append(parts, calc(k)+dir(o.Order)+" NULLS LAST")
	}
	if len(s.Orders) == 0 {
		for k, cl := range s.Calculations {
			if cl.Op != "HEATMAP" {
				parts = append(parts, calc(k)+" DESC NULLS LAST")
				break
			}
		}
	}
	for _, a := range gAlias {
		parts = append(parts, a+" ASC NULLS LAST")
	}
	return strings.Join(parts, ", ") // "" when there is only one group
}
