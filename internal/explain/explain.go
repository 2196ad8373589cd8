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
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prodex/prodex/internal/query"
	"github.com/prodex/prodex/internal/schema"
	"github.com/prodex/prodex/internal/sli"
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
	StartTime      int64    `json:"start_time"`
	EndTime        int64    `json:"end_time"`
	SelectionCount int64    `json:"selection_count"`
	BaselineCount  int64    `json:"baseline_count"`
	Columns        []Column `json:"columns"`
}

// Column is one column's comparison.
type Column struct {
	Column string       `json:"column"`
	Type   schema.Type  `json:"type"`
	Score  float64      `json:"score"`
	Values []ValueShare `json:"values"`
}

// ValueShare is one value (or, for numbers, one bin) in both populations.
type ValueShare struct {
	Value          any      `json:"value"`
	Min            *float64 `json:"min,omitempty"` // numeric bins
	Max            *float64 `json:"max,omitempty"`
	SelectionShare float64  `json:"selection_share"`
	BaselineShare  float64  `json:"baseline_share"`
	SelectionCount int64    `json:"selection_count"`
	BaselineCount  int64    `json:"baseline_count"`
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

// Run answers a request. slos looks up an SLO for an SLO selection.
func Run(ctx context.Context, db *sql.DB, cat Catalog, r *Request, now time.Time, slos func(string) (slo.SLO, bool)) (*Answer, error) {
	spec := query.Spec{TimeRange: r.TimeRange, StartTime: r.StartTime, EndTime: r.EndTime}
	if err := spec.Resolve(now); err != nil {
		return nil, err
	}
	if r.Values <= 0 {
		r.Values = 5
	}
	base, err := query.CompileFilters("filters", r.Filters, r.FilterCombination, cat, 1)
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
		p, err := query.CompileFilters("selection.filters", sl.Filters, sl.FilterCombination, cat, len(args)+1)
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
		x := ident(col.Phys)
		sel = fmt.Sprintf("(%s BETWEEN %s AND %s AND ts >= %d AND ts < %d)", x, num(h.Min), num(h.Max), from.UnixMicro(), to.UnixMicro())
		phys = append(phys, col.Phys)
	}
	if sl.SLO != "" {
		n++
		d, ok := slos(sl.SLO)
		if !ok {
			return nil, fmt.Errorf("selection.slo: no SLO named %q", sl.SLO)
		}
		good, gp, err := sli.Compile(d.SLI.Good, cat)
		if err != nil {
			return nil, fmt.Errorf("selection.slo: %w", err)
		}
		elig, ep := "TRUE", []string(nil)
		if d.SLI.Eligible != "" {
			if elig, ep, err = sli.Compile(d.SLI.Eligible, cat); err != nil {
				return nil, fmt.Errorf("selection.slo: %w", err)
			}
		}
		// The base is the SLO's eligible events; the selection its bad ones.
		where = "(" + where + ") AND (" + elig + ") IS TRUE AND (" + good + ") IS NOT NULL"
		sel = "NOT (" + good + ")"
		phys = append(append(phys, gp...), ep...)
	}
	if n != 1 {
		return nil, fmt.Errorf("selection: give exactly one of filters, heatmap or slo")
	}
	cols := cat.Columns()
	for _, c := range cols {
		phys = append(phys, c.Phys)
	}
	phys = uniq(phys)
	from := cat.From(phys, spec.Start, spec.End)
	// base: the events, with the selection flag, once per column query.
	baseSQL := "(SELECT *, (" + sel + ") IS TRUE AS sel__ FROM " + from + " AS e WHERE " + where + ")"

	ans := &Answer{StartTime: spec.Start.Unix(), EndTime: spec.End.Unix(), Columns: []Column{}}
	if err := db.QueryRowContext(ctx, "SELECT coalesce(sum(sr) FILTER (WHERE sel__), 0)::BIGINT, coalesce(sum(sr) FILTER (WHERE NOT sel__), 0)::BIGINT FROM "+baseSQL, args...).
		Scan(&ans.SelectionCount, &ans.BaselineCount); err != nil {
		return nil, err
	}
	if ans.SelectionCount == 0 || ans.BaselineCount == 0 {
		return ans, nil
	}
	for _, c := range cols {
		col, err := compare(ctx, db, baseSQL, args, c, ans.SelectionCount, ans.BaselineCount, r.Values)
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", c.Name, err)
		}
		ans.Columns = append(ans.Columns, col)
	}
	sort.SliceStable(ans.Columns, func(i, j int) bool {
		if ans.Columns[i].Score != ans.Columns[j].Score {
			return ans.Columns[i].Score > ans.Columns[j].Score
		}
		return ans.Columns[i].Column < ans.Columns[j].Column
	})
	return ans, nil
}

// compare computes one column's distributions and score.
func compare(ctx context.Context, db *sql.DB, baseSQL string, args []any, c schema.Column, nSel, nBase int64, keep int) (Column, error) {
	x := ident(c.Phys)
	out := Column{Column: c.Name, Type: c.Type, Values: []ValueShare{}}
	var q string
	var lo, width float64
	numeric := c.Type.Numeric()
	if c.Type == schema.Integer {
		// Integers with few distinct values (build ids, status codes) are
		// categories: "4512" says more than "4510 – 4515".
		var distinct int64
		if err := db.QueryRowContext(ctx, "SELECT count(DISTINCT "+x+") FROM "+baseSQL, args...).Scan(&distinct); err != nil {
			return out, err
		}
		numeric = distinct > maxCategories
	}
	if numeric {
		var mn, mx sql.NullFloat64
		if err := db.QueryRowContext(ctx, "SELECT min("+x+")::DOUBLE, max("+x+")::DOUBLE FROM "+baseSQL, args...).Scan(&mn, &mx); err != nil {
			return out, err
		}
		lo, width = mn.Float64, (mx.Float64-mn.Float64)/bins
		bin := "NULL"
		if mn.Valid {
			if width == 0 {
				bin = "CASE WHEN " + x + " IS NULL THEN NULL ELSE 0 END"
			} else {
				bin = fmt.Sprintf("least(floor((%s - %s) / %s)::BIGINT, %d)", x, num(lo), num(width), bins-1)
			}
		}
		q = "SELECT " + bin + " AS v, coalesce(sum(sr) FILTER (WHERE sel__), 0)::BIGINT, coalesce(sum(sr) FILTER (WHERE NOT sel__), 0)::BIGINT FROM " + baseSQL + " GROUP BY 1"
	} else {
		q = "SELECT CAST(" + x + " AS VARCHAR) AS v, coalesce(sum(sr) FILTER (WHERE sel__), 0)::BIGINT, coalesce(sum(sr) FILTER (WHERE NOT sel__), 0)::BIGINT FROM " + baseSQL + " GROUP BY 1"
	}
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return out, err
	}
	defer rows.Close()
	var all []ValueShare
	for rows.Next() {
		var v any
		var s, b int64
		if err := rows.Scan(&v, &s, &b); err != nil {
			return out, err
		}
		vs := ValueShare{Value: v, SelectionCount: s, BaselineCount: b,
			SelectionShare: float64(s) / float64(nSel), BaselineShare: float64(b) / float64(nBase)}
		switch {
		case v == nil:
			vs.Value = "(absent)"
		case numeric:
			k := float64(v.(int64))
			a, z := lo+k*width, lo+(k+1)*width
			vs.Min, vs.Max = &a, &z
			vs.Value = fmt.Sprintf("%s – %s", strconv.FormatFloat(a, 'g', 4, 64), strconv.FormatFloat(z, 'g', 4, 64))
		}
		all = append(all, vs)
	}
	if err := rows.Err(); err != nil {
		return out, err
	}
	// Rare values are pooled: a column with many of them (user ids) would
	// otherwise add up sampling noise, above all for a small selection. A
	// value is rare under 1 % of all the events, unless it holds a tenth
	// of the selection.
	other := ValueShare{Value: "(other values)"}
	var kept []ValueShare
	for _, vs := range all {
		pooled := float64(vs.SelectionCount+vs.BaselineCount) / float64(nSel+nBase)
		if pooled < minShare && vs.SelectionShare < 0.1 {
			other.SelectionCount += vs.SelectionCount
			other.BaselineCount += vs.BaselineCount
			continue
		}
		kept = append(kept, vs)
	}
	if other.SelectionCount+other.BaselineCount > 0 {
		other.SelectionShare, other.BaselineShare = float64(other.SelectionCount)/float64(nSel), float64(other.BaselineCount)/float64(nBase)
		kept = append(kept, other)
	}
	all = kept
	for _, vs := range all {
		out.Score += math.Abs(vs.SelectionShare - vs.BaselineShare)
	}
	out.Score = math.Round(out.Score/2*1e9) / 1e9
	// The values that differ most come first.
	sort.Slice(all, func(i, j int) bool {
		di, dj := math.Abs(all[i].SelectionShare-all[i].BaselineShare), math.Abs(all[j].SelectionShare-all[j].BaselineShare)
		if di != dj {
			return di > dj
		}
		return fmt.Sprint(all[i].Value) < fmt.Sprint(all[j].Value)
	})
	if len(all) > keep {
		all = all[:keep]
	}
	out.Values = append(out.Values, all...)
	return out, nil
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
