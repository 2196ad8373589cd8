// Package explain answers "can you explain the variance?": for a selection
// of events (a filter, a heatmap region, an SLO's bad events) it compares
// every column's distribution inside the selection with the baseline (the
// rest of the base events) and ranks the columns by how different they are.
//
// The score of a column is the total variation distance between its two
// distributions: half the sum, over its values, of the difference between
// the value's share of the selection and its share of the baseline. It is
// between 0 (same distribution) and 1 (no value in common), and a value
// moves it only as much as the share of events it covers, so a value seen
// in 0.1 % of events cannot outrank one seen in 60 %. Strings and booleans
// compare value by value (absent is a value: "(absent)"); numbers compare
// over twenty equal-width bins spanning the base events' range (integers
// with at most 100 distinct values compare value by value). Every share is
// weighted by sample rate. Values under 1 % of all the events that hold
// less than a tenth of the selection are pooled into one "(other values)"
// entry, so that a column of many rare values (user ids) does not score
// high on sampling noise alone.
package explain

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prodex/prodex/internal/problem"
	"github.com/prodex/prodex/internal/query"
	"github.com/prodex/prodex/internal/schema"
	"github.com/prodex/prodex/internal/slo"
)

// Request is an explain question.
type Request struct {
	TimeRange         int64          `json:"time_range,omitempty"`
	StartTime         int64          `json:"start_time,omitempty"`
	EndTime           int64          `json:"end_time,omitempty"`
	Filters           []query.Filter `json:"filters,omitempty"`
	FilterCombination string         `json:"filter_combination,omitempty"`
	Selection         Selection      `json:"selection"`
	Values            int            `json:"values,omitempty"` // values listed per column; default 5
	// Columns, when given, are the columns to compare (at most
	// MaxColumns); otherwise explain chooses them (see chooseColumns).
	Columns []string `json:"columns,omitempty"`
	// MaxColumns is the most columns compared, set by the server
	// (DefaultMaxColumns when 0).
	MaxColumns int `json:"-"`
}

// Selection says which of the base events are selected: exactly one of
// filters, a heatmap region or an SLO's bad events.
type Selection struct {
	Filters           []query.Filter `json:"filters,omitempty"`
	FilterCombination string         `json:"filter_combination,omitempty"`
	Heatmap           *Heatmap       `json:"heatmap,omitempty"`
	SLO               string         `json:"slo,omitempty"`
}

// Heatmap is a region of a heatmap: a value interval of a numeric column
// over a time interval (Unix seconds; zero means the base range's).
type Heatmap struct {
	Column    string  `json:"column"`
	Min       float64 `json:"min"`
	Max       float64 `json:"max"`
	StartTime int64   `json:"start_time,omitempty"`
	EndTime   int64   `json:"end_time,omitempty"`
}

// Answer is the ranked comparison.
type Answer struct {
	StartTime      int64 `json:"start_time"`
	EndTime        int64 `json:"end_time"`
	SelectionCount int64 `json:"selection_count"`
	BaselineCount  int64 `json:"baseline_count"`
	// Sampled tells that a population had more than sampleSize events and
	// its shares were estimated from a uniform sample.
	Sampled bool `json:"sampled"`
	// ColumnsCompared is how many columns were compared (the length of
	// Columns); ColumnsLeftOut how many of the dataset's were not, at the
	// limit of columns compared.
	ColumnsCompared int      `json:"columns_compared"`
	ColumnsLeftOut  int      `json:"columns_left_out"`
	Columns         []Column `json:"columns"`
}

// Column is one column's comparison.
type Column struct {
	Column  string       `json:"column"`
	Type    schema.Type  `json:"type"`
	Score   float64      `json:"score"`
	Values  []ValueShare `json:"values"`
	GroupBy *FollowUp    `json:"group_by"` // the base query broken down by this column
}

// ValueShare is one value (or, for numbers, one bin) in both populations.
type ValueShare struct {
	Value          any      `json:"value"`         // the value as text, a bin's range, "(absent)" or "(other values)"
	Min            *float64 `json:"min,omitempty"` // numeric bins
	Max            *float64 `json:"max,omitempty"`
	SelectionShare float64  `json:"selection_share"`
	BaselineShare  float64  `json:"baseline_share"`
	SelectionCount int64    `json:"selection_count"`
	BaselineCount  int64    `json:"baseline_count"`
	// Filter selects this value: add it to the base filters to follow up.
	Filter *query.Filter `json:"filter,omitempty"`
}

// Catalog is what explain needs of a dataset.
type Catalog interface {
	query.Catalog
	Columns() []schema.Column
}

// Parse decodes a request, rejecting unknown fields.
func Parse(body []byte) (*Request, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	var r Request
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("invalid explain request: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	return &r, nil
}

const (
	bins          = 20  // for numbers
	maxCategories = 100 // integers with at most this many values are categories
	minShare      = 0.01
)

// sampleSize is about how many events of each population are compared.
var sampleSize = 250_000.0

// Run answers a request. slos looks up an SLO for an SLO selection.
func Run(ctx context.Context, db *sql.DB, cat Catalog, r *Request, now time.Time, slos func(string) (slo.SLO, bool)) (*Answer, error) {
	pr, err := prepare(duckDB(cat), cat, r, now, slos)
	if err != nil {
		return nil, err
	}
	spec, cols, where, sel, args := pr.spec, pr.cols, pr.where, pr.sel, pr.args
	// base: the events, with the selection flag and the columns of phys,
	// once per column query.
	base := func(phys []string) string {
		return "(SELECT *, (" + sel + ") IS TRUE AS sel__ FROM " + cat.From(phys, spec.Start, spec.End) + " AS e WHERE " + where + ")"
	}
	baseSQL := base(pr.phys)

	ans := &Answer{StartTime: spec.Start.Unix(), EndTime: spec.End.Unix(), Columns: []Column{}}
	if len(cols) == 0 {
		return ans, nil
	}
	// Pass 1: the two populations' sizes.
	var rowsSel, rowsBase int64
	if err := db.QueryRowContext(ctx, "SELECT coalesce(sum(sr) FILTER (WHERE sel__), 0)::BIGINT, coalesce(sum(sr) FILTER (WHERE NOT sel__), 0)::BIGINT, "+
		"count(*) FILTER (WHERE sel__), count(*) FILTER (WHERE NOT sel__) FROM "+baseSQL, args...).
		Scan(&ans.SelectionCount, &ans.BaselineCount, &rowsSel, &rowsBase); err != nil {
		return nil, &DBError{Err: err}
	}
	if ans.SelectionCount == 0 || ans.BaselineCount == 0 {
		return ans, nil
	}
	// A large population is sampled: the shares of a distribution are
	// estimated closely enough from a uniform sample of its events, and
	// comparing every column costs per event. Each population keeps about
	// sampleSize events.
	sample := ""
	ps, pb := min(1, sampleSize/float64(max(rowsSel, 1))), min(1, sampleSize/float64(max(rowsBase, 1)))
	if ps < 1 || pb < 1 {
		sample = fmt.Sprintf(" WHERE random() < CASE WHEN sel__ THEN %s ELSE %s END", num(ps), num(pb))
		ans.Sampled = true
	}
	cols, err = compareColumns(ans, pr.chosen, cols, len(cat.Columns()), r.MaxColumns, func(chunk []schema.Column) ([]held, error) {
		return duckHeld(ctx, db, base(pr.withColumns(chunk))+sample, chunk, args)
	})
	if err != nil {
		return nil, err
	}
	baseSQL = base(pr.withColumns(cols))
	// Pass 2: for each number its range, and for integers whether they are
	// few enough to be categories (from the sample).
	var stats []string
	for _, c := range cols {
		if c.Type.Numeric() {
			x := ident(c.Phys)
			stats = append(stats, "min("+x+")::DOUBLE", "max("+x+")::DOUBLE", "approx_count_distinct("+x+")::BIGINT")
		}
	}
	vals := make([]any, len(stats))
	if len(stats) > 0 {
		ptrs := make([]any, len(stats))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := db.QueryRowContext(ctx, "SELECT "+strings.Join(stats, ", ")+" FROM "+baseSQL+sample, args...).Scan(ptrs...); err != nil {
			return nil, &DBError{Err: err}
		}
	}
	// Pass 3: every column's value (or bin) counts, a grouping set per
	// column, compareChunk columns to a scan (see duckCompare).
	bin := make([]*binning, len(cols))
	keys := make([]string, len(cols))
	k := 0
	for i, c := range cols {
		x := ident(c.Phys)
		keys[i] = "CAST(" + x + " AS VARCHAR)"
		if !c.Type.Numeric() {
			continue
		}
		mn, mx, distinct := vals[k], vals[k+1], toInt(vals[k+2])
		k += 3
		if mn == nil || (c.Type == schema.Integer && distinct <= maxCategories) {
			continue
		}
		b := &binning{lo: mn.(float64), width: (mx.(float64) - mn.(float64)) / bins}
		bin[i] = b
		if b.width == 0 {
			keys[i] = "CASE WHEN " + x + " IS NULL THEN NULL ELSE '0' END"
		} else {
			// Ranges come from a sample: values beyond them go to the end bins.
			keys[i] = fmt.Sprintf("CAST(greatest(0, least(floor((%s - %s) / %s)::BIGINT, %d)) AS VARCHAR)", x, num(b.lo), num(b.width), bins-1)
		}
	}
	// Shares come from the sample; counts are scaled back up. ns and nb,
	// the expected sampled totals, only decide which values are rare.
	ns, nb := float64(ans.SelectionCount)*ps, float64(ans.BaselineCount)*pb
	scaleS, scaleB := 1/ps, 1/pb
	out := make([]Column, len(cols))
	for i, c := range cols {
		out[i] = Column{Column: c.Name, Type: c.Type, Values: []ValueShare{}}
	}
	// DuckDB's memory grows with the grouping sets of a statement (a
	// hash table each, per thread): a few columns to a statement.
	for lo := 0; lo < len(cols); lo += compareChunk {
		hi := min(len(cols), lo+compareChunk)
		q := duckCompare(lo, hi, keys, base(pr.withColumns(cols[lo:hi]))+sample, ns, nb, r.Values)
		if err := scanCompare(ctx, db, q, args, out, bin, scaleS, scaleB); err != nil {
			return nil, err
		}
	}
	ans.Columns = finish(out, r, spec)
	return ans, nil
}

// duckCompare is the statement counting the values (or bins) of columns
// lo…hi-1, keyed by keys, in the events of from: rare values pooled,
// scores and the values that differ most computed in SQL, so that an id
// column of millions of values never leaves the engine.
func duckCompare(lo, hi int, keys []string, from string, ns, nb float64, values int) string {
	var sets, which, pick, proj, ks []string
	for i := lo; i < hi; i++ {
		k := "k" + strconv.Itoa(i)
		proj = append(proj, keys[i]+" AS "+k)
		sets = append(sets, "("+k+")")
		ks = append(ks, k)
		which = append(which, fmt.Sprintf("WHEN GROUPING(%s) = 0 THEN %d", k, i))
		pick = append(pick, fmt.Sprintf("WHEN %d THEN %s", i, k))
	}
	diff := "abs(s / ts - b / tb)" // shares of the (sampled) populations
	return `WITH g AS (SELECT col, CASE col ` + strings.Join(pick, " ") + ` END AS val, s, b FROM (` +
		`SELECT CASE ` + strings.Join(which, " ") + ` END AS col, ` + strings.Join(ks, ", ") +
		`, coalesce(sum(sr) FILTER (WHERE sel__), 0)::DOUBLE AS s, coalesce(sum(sr) FILTER (WHERE NOT sel__), 0)::DOUBLE AS b ` +
		`FROM (SELECT sel__, sr, ` + strings.Join(proj, ", ") + ` FROM ` + from + `) GROUP BY GROUPING SETS (` + strings.Join(sets, ", ") + `))), ` +
		// Rare values: under 1 % of all events and under a tenth of the selection.
		fmt.Sprintf(`p AS (SELECT col, ((s + b) / %s < %s AND s / %s < 0.1) AS other, val, s, b FROM g), `, num(ns+nb), num(minShare), num(ns)) +
		`p2 AS (SELECT col, other, CASE WHEN other THEN NULL ELSE val END AS val, sum(s) AS s, sum(b) AS b FROM p GROUP BY ALL), ` +
		`t AS (SELECT *, sum(s) OVER (PARTITION BY col) AS ts, sum(b) OVER (PARTITION BY col) AS tb FROM p2), ` +
		`r AS (SELECT *, sum(` + diff + `) OVER (PARTITION BY col) / 2 AS score, row_number() OVER (PARTITION BY col ORDER BY ` + diff + ` DESC, other, val) AS rk FROM t) ` +
		`SELECT col, other, val, s, b, score, ts, tb FROM r WHERE rk <= ` + strconv.Itoa(values) + ` ORDER BY col, rk`
}

// scanCompare reads the rows of a duckCompare statement into out.
func scanCompare(ctx context.Context, db *sql.DB, q string, args []any, out []Column, bin []*binning, scaleS, scaleB float64) error {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return &DBError{Err: err}
	}
	defer rows.Close()
	for rows.Next() {
		var col int
		var other bool
		var val sql.NullString
		var sc, bc, score, ts, tb float64
		if err := rows.Scan(&col, &other, &val, &sc, &bc, &score, &ts, &tb); err != nil {
			return &DBError{Err: err}
		}
		if col < 0 || col >= len(out) {
			return &DBError{Err: fmt.Errorf("column index %d out of range", col)}
		}
		c := &out[col]
		c.Score = math.Round(score*1e9) / 1e9
		c.Values = append(c.Values, share(c, bin[col], other, val, sc, bc, ts, tb, scaleS, scaleB))
	}
	if err := rows.Err(); err != nil {
		return &DBError{Err: err}
	}
	return nil
}

// binning is a number column's bins.
type binning struct{ lo, width float64 }

// share is one value of column c: sc and bc its (sampled) weights in the
// selection and the baseline, ts and tb the column's totals.
func share(c *Column, b *binning, other bool, val sql.NullString, sc, bc, ts, tb, scaleS, scaleB float64) ValueShare {
	vs := ValueShare{SelectionCount: int64(math.Round(sc * scaleS)), BaselineCount: int64(math.Round(bc * scaleB)), SelectionShare: sc / ts, BaselineShare: bc / tb}
	switch {
	case other:
		vs.Value = "(other values)"
	case !val.Valid:
		vs.Value = "(absent)"
		vs.Filter = &query.Filter{Column: c.Column, Op: "does-not-exist"}
	case b != nil:
		n, _ := strconv.ParseFloat(val.String, 64)
		lo, hi := b.lo+n*b.width, b.lo+(n+1)*b.width
		vs.Min, vs.Max = &lo, &hi
		vs.Value = fmt.Sprintf("%s – %s", strconv.FormatFloat(lo, 'g', 4, 64), strconv.FormatFloat(hi, 'g', 4, 64))
	default:
		vs.Value = val.String
		vs.Filter = &query.Filter{Column: c.Column, Op: "=", Value: typed(val.String, c.Type)}
	}
	return vs
}

// finish adds each column's follow-up and ranks the columns.
func finish(out []Column, r *Request, spec query.Spec) []Column {
	// Follow-ups: each column as a breakdown of the base query.
	for i := range out {
		out[i].GroupBy = &FollowUp{TimeRange: spec.TimeRange, StartTime: spec.StartTime, EndTime: spec.EndTime, Filters: r.Filters,
			FilterCombination: r.FilterCombination, Breakdowns: []string{out[i].Column}, Calculations: []query.Calculation{{Op: "COUNT"}}}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Score != out[j].Score {
			return out[i].Score > out[j].Score
		}
		return out[i].Column < out[j].Column
	})
	return out
}

// dialect is how the engine spells what the selection needs.
type dialect struct {
	// filters compiles filters, placeholders numbered from first.
	filters func(field string, fs []query.Filter, combination string, first int) (query.Predicate, error)
	// x is the SQL of a physical column; num of a number.
	x   func(phys string) string
	num func(float64) string
	// sloEvents compiles an SLO's eligible or bad events (query's).
	sloEvents func(e *query.SLOEvents, cat query.Catalog) (query.Predicate, error)
}

func duckDB(cat Catalog) *dialect {
	return &dialect{
		filters: func(field string, fs []query.Filter, comb string, first int) (query.Predicate, error) {
			return query.CompileFilters(field, fs, comb, cat, first)
		},
		x:         ident,
		num:       num,
		sloEvents: query.CompileSLOEvents,
	}
}

// prepared is a checked request: its base events (where), the selection
// among them (sel), their bound values and the physical columns these
// read; cols are the columns to compare, chosen when the request named
// them, else every column of the dataset.
type prepared struct {
	spec       query.Spec
	cols       []schema.Column
	chosen     bool
	where, sel string
	args       []any
	phys       []string
}

// prepare resolves and checks a request and compiles its base and
// selection in dialect d. Its errors are the request's: problem.Invalid.
func prepare(d *dialect, cat Catalog, r *Request, now time.Time, slos func(string) (slo.SLO, bool)) (*prepared, error) {
	pr, err := check(d, cat, r, now, slos)
	return pr, problem.Wrap(problem.Invalid, err)
}

func check(d *dialect, cat Catalog, r *Request, now time.Time, slos func(string) (slo.SLO, bool)) (*prepared, error) {
	spec := query.Spec{TimeRange: r.TimeRange, StartTime: r.StartTime, EndTime: r.EndTime}
	if err := spec.Resolve(now); err != nil {
		return nil, err
	}
	if r.Values <= 0 {
		r.Values = 5
	}
	base, err := d.filters("filters", r.Filters, r.FilterCombination, 1)
	if err != nil {
		return nil, err
	}
	args := base.Args
	phys := append([]string{}, base.Phys...)
	where := base.SQL
	var sel string
	n := 0
	sl := r.Selection
	if len(sl.Filters) > 0 {
		n++
		p, err := d.filters("selection.filters", sl.Filters, sl.FilterCombination, len(args)+1)
		if err != nil {
			return nil, err
		}
		sel, args, phys = p.SQL, append(args, p.Args...), append(phys, p.Phys...)
	}
	if h := sl.Heatmap; h != nil {
		n++
		col, ok := cat.Column(h.Column)
		switch {
		case !ok:
			return nil, fmt.Errorf("selection.heatmap.column: unknown column %q", h.Column)
		case !col.Type.Numeric():
			return nil, fmt.Errorf("selection.heatmap.column: %q holds %s values, not numbers", h.Column, col.Type)
		case h.Max < h.Min:
			return nil, fmt.Errorf("selection.heatmap: max %v is below min %v", h.Max, h.Min)
		}
		for _, t := range []struct {
			field string
			v     int64
		}{{"start_time", h.StartTime}, {"end_time", h.EndTime}} {
			if t.v < 0 || t.v > query.MaxTime {
				return nil, fmt.Errorf("selection.heatmap.%s: must be between 0 and %d (Unix seconds: 1970-01-01 to 9999-12-31), got %d", t.field, int64(query.MaxTime), t.v)
			}
		}
		from, to := spec.Start, spec.End
		if h.StartTime != 0 {
			from = time.Unix(h.StartTime, 0)
		}
		if h.EndTime != 0 {
			to = time.Unix(h.EndTime, 0)
		}
		if !to.After(from) {
			return nil, fmt.Errorf("selection.heatmap: end_time must be after start_time")
		}
		x := d.x(col.Phys)
		sel = fmt.Sprintf("(%s BETWEEN %s AND %s AND ts >= %d AND ts < %d)", x, d.num(h.Min), d.num(h.Max), from.UnixMicro(), to.UnixMicro())
		phys = append(phys, col.Phys)
	}
	if sl.SLO != "" {
		n++
		def, ok := slos(sl.SLO)
		if !ok {
			return nil, fmt.Errorf("selection.slo: no SLO named %q", sl.SLO)
		}
		// The base is the SLO's eligible events; the selection its bad
		// ones, as a query's slo option keeps them.
		events := func(which string) (query.Predicate, error) {
			p, err := d.sloEvents(&query.SLOEvents{Name: def.Name, Events: which, Eligible: def.SLI.Eligible, Good: def.SLI.Good}, cat)
			var qe *query.Error
			if errors.As(err, &qe) {
				err = fmt.Errorf("selection.slo: %s", qe.Msg)
			}
			return p, err
		}
		elig, err := events("eligible")
		if err != nil {
			return nil, err
		}
		bad, err := events("bad")
		if err != nil {
			return nil, err
		}
		where, sel = "("+where+") AND "+elig.SQL, bad.SQL
		phys = append(phys, elig.Phys...)
	}
	if n != 1 {
		return nil, fmt.Errorf("selection: give exactly one of filters, heatmap or slo")
	}
	if r.MaxColumns <= 0 {
		r.MaxColumns = DefaultMaxColumns
	}
	cols, err := requested(cat, r)
	if err != nil {
		return nil, err
	}
	chosen := cols != nil
	if !chosen {
		cols = cat.Columns()
	}
	return &prepared{spec: spec, cols: cols, chosen: chosen, where: where, sel: sel, args: args, phys: uniq(phys)}, nil
}

// withColumns is the physical columns the base and selection read and
// those of cols.
func (pr *prepared) withColumns(cols []schema.Column) []string {
	phys := append([]string{}, pr.phys...)
	for _, c := range cols {
		phys = append(phys, c.Phys)
	}
	return uniq(phys)
}

// DBError is a failure of the database, not of the request.
type DBError struct{ Err error }

func (e *DBError) Error() string { return "explain query failed: " + e.Err.Error() }
func (e *DBError) Unwrap() error { return e.Err }

// FollowUp is a query spec to run next (POST /api/v1/query/{dataset}).
type FollowUp struct {
	TimeRange         int64               `json:"time_range,omitempty"`
	StartTime         int64               `json:"start_time,omitempty"`
	EndTime           int64               `json:"end_time,omitempty"`
	Filters           []query.Filter      `json:"filters,omitempty"`
	FilterCombination string              `json:"filter_combination,omitempty"`
	Breakdowns        []string            `json:"breakdowns,omitempty"`
	Calculations      []query.Calculation `json:"calculations,omitempty"`
}

// typed turns a value back into its column's type.
func typed(s string, t schema.Type) any {
	switch t {
	case schema.Integer:
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n
		}
	case schema.Float:
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return f
		}
	case schema.Boolean:
		if b, err := strconv.ParseBool(s); err == nil {
			return b
		}
	}
	return s
}

func toInt(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case float64:
		return int64(x)
	}
	return 0
}

func ident(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// num renders a float for SQL; only numbers this package computed or
// decoded as float64 reach it.
func num(f float64) string {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "NULL"
	}
	return "(" + strconv.FormatFloat(f, 'g', -1, 64) + ")::DOUBLE"
}

func uniq(xs []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}
