// Package query parses Honeycomb's query specification, compiles it to SQL
// over a dataset's stored events and assembles the answer: one overall row
// per group and a time series per group.
//
// Every aggregate weights an event by its sample rate, as Honeycomb does.
// Field names reach SQL only as the store's generated physical names, and
// filter values only as bound parameters.
package query

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/prodex/prodex/internal/store"
)

// Spec is a query as Honeycomb's API spells it.
type Spec struct {
	Breakdowns        []string      `json:"breakdowns,omitempty"`
	Calculations      []Calculation `json:"calculations,omitempty"`
	Filters           []Filter      `json:"filters,omitempty"`
	FilterCombination string        `json:"filter_combination,omitempty"`
	Orders            []Order       `json:"orders,omitempty"`
	Havings           []Having      `json:"havings,omitempty"`
	Limit             int           `json:"limit,omitempty"`
	TimeRange         int64         `json:"time_range,omitempty"`  // seconds
	StartTime         int64         `json:"start_time,omitempty"`  // Unix seconds
	EndTime           int64         `json:"end_time,omitempty"`    // Unix seconds
	Granularity       int64         `json:"granularity,omitempty"` // seconds per time bucket
	// SLO, a Prodex extension, keeps only the events an SLO counts: its
	// eligible ones, or only the bad or the good ones among them.
	SLO *SLOEvents `json:"slo,omitempty"`

	// Set by Resolve: the absolute interval [Start, End) and the bucket width.
	Start, End time.Time     `json:"-"`
	Step       time.Duration `json:"-"`
}

// Calculation is one aggregate. Filters, when present, restrict the events
// this calculation sees (on top of the query's filters); Name then tells
// two calculations of the same op and column apart in the answer.
type Calculation struct {
	Op                string   `json:"op"`
	Column            string   `json:"column,omitempty"`
	Name              string   `json:"name,omitempty"`
	Filters           []Filter `json:"filters,omitempty"`
	FilterCombination string   `json:"filter_combination,omitempty"`
}

// Filter compares a column with a value.
type Filter struct {
	Column string `json:"column"`
	Op     string `json:"op"`
	Value  any    `json:"value,omitempty"`
}

// Order sorts the groups by a breakdown column (Column alone) or by a
// calculation (Op, with Column when the op takes one).
type Order struct {
	Column string `json:"column,omitempty"`
	Op     string `json:"op,omitempty"`
	Order  string `json:"order,omitempty"` // ascending (default) or descending
}

// Having keeps only the groups whose calculation compares true with Value.
type Having struct {
	CalculateOp string `json:"calculate_op"`
	Column      string `json:"column,omitempty"`
	Op          string `json:"op"`
	Value       any    `json:"value"`
}

// Error is an invalid spec; Field names the part at fault, as a JSON path.
type Error struct {
	Field string
	Msg   string
}

func (e *Error) Error() string {
	if e.Field == "" {
		return e.Msg
	}
	return e.Field + ": " + e.Msg
}

func errorf(field, format string, args ...any) *Error {
	return &Error{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Limits on a query.
const (
	DefaultTimeRange = 2 * 3600 // seconds, as Honeycomb
	DefaultLimit     = 1000     // groups
	MaxLimit         = 10000
	// MaxColumns is the most breakdowns or filters a query has, and
	// MaxCalculations the most calculations (each may carry filters).
	MaxColumns      = 100
	MaxCalculations = 1000
	maxBuckets      = 1000 // time buckets: granularity ≥ time_range/1000
	minBuckets      = 10   // granularity ≤ time_range/10

	// MaxTime is the latest start_time or end_time, in Unix seconds: the
	// end of year 9999. No event is older than the epoch (0), the
	// earliest. Bounded times stay exact in microseconds.
	MaxTime = 253402300799
	// MaxTimeRange is the longest time range, in seconds: the longest
	// retention (36,500 days), so that no bucket width overflows.
	MaxTimeRange = int64(store.MaxRetention / time.Second)
)

// Parse decodes a JSON spec. Unknown fields are rejected so that a typo
// does not silently change the question.
func Parse(body []byte) (*Spec, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	var s Spec
	if err := dec.Decode(&s); err != nil {
		var te *json.UnmarshalTypeError
		if ok := asTypeError(err, &te); ok {
			return nil, errorf(te.Field, "want %s, got JSON %s", te.Type, te.Value)
		}
		msg := err.Error()
		if strings.HasPrefix(msg, "json: unknown field ") {
			return nil, errorf(strings.Trim(strings.TrimPrefix(msg, "json: unknown field "), `"`), "unknown field")
		}
		return nil, &Error{Msg: "invalid query spec: " + strings.TrimPrefix(msg, "json: ")}
	}
	if dec.More() {
		return nil, &Error{Msg: "invalid query spec: data after the JSON object"}
	}
	if s.SLO != nil {
		switch {
		case s.SLO.Name == "":
			return nil, errorf("slo.name", "required")
		case s.SLO.Events != "" && s.SLO.Events != "eligible" && s.SLO.Events != "bad" && s.SLO.Events != "good":
			return nil, errorf("slo.events", "%q is not one of eligible, bad, good", s.SLO.Events)
		}
	}
	return &s, nil
}

// SLOEvents selects an SLO's events. Eligible and Good are the SLI's
// expressions, which whoever resolves the name fills in.
type SLOEvents struct {
	Name   string `json:"name"`
	Events string `json:"events,omitempty"` // eligible (default), bad or good
	// Eligible ("" for every event) and Good are the SLI's CEL expressions.
	Eligible, Good string `json:"-"`
}

func asTypeError(err error, te **json.UnmarshalTypeError) bool {
	e, ok := err.(*json.UnmarshalTypeError)
	if ok {
		*te = e
	}
	return ok
}

// Resolve fixes the absolute time range and granularity against now and
// checks everything that does not depend on the dataset's columns.
func (s *Spec) Resolve(now time.Time) error {
	switch {
	case s.TimeRange < 0:
		return errorf("time_range", "must be positive")
	case s.TimeRange > MaxTimeRange:
		return errorf("time_range", "%d s is longer than the longest, %d s (36500 days)", s.TimeRange, MaxTimeRange)
	}
	for _, t := range []struct {
		field string
		v     int64
	}{{"start_time", s.StartTime}, {"end_time", s.EndTime}} {
		if t.v < 0 || t.v > MaxTime {
			return errorf(t.field, "must be between 0 and %d (Unix seconds: 1970-01-01 to 9999-12-31), got %d", int64(MaxTime), t.v)
		}
	}
	start, end, rng := s.StartTime, s.EndTime, s.TimeRange
	switch {
	case start != 0 && end != 0:
		if rng != 0 && rng != end-start {
			return errorf("time_range", "disagrees with start_time and end_time; give two of the three")
		}
		rng = end - start
	case start != 0:
		if rng == 0 {
			rng = DefaultTimeRange
		}
		end = start + rng
	case end != 0:
		if rng == 0 {
			rng = DefaultTimeRange
		}
		start = end - rng
	default:
		if rng == 0 {
			rng = DefaultTimeRange
		}
		// The range ends after now, so that events of the current second
		// are included.
		end = now.Unix() + 1
		start = end - rng
	}
	switch {
	case rng <= 0:
		return errorf("end_time", "must be after start_time")
	case rng > MaxTimeRange:
		return errorf("end_time", "%d s after start_time; the longest time range is %d s (36500 days)", rng, MaxTimeRange)
	case end > MaxTime:
		return errorf("end_time", "must be between 0 and %d (Unix seconds: 1970-01-01 to 9999-12-31), got %d", int64(MaxTime), end)
	}
	s.TimeRange, s.StartTime, s.EndTime = rng, start, end
	s.Start, s.End = time.Unix(start, 0).UTC(), time.Unix(end, 0).UTC()

	lo, hi := minGranularity(rng), maxGranularity(rng)
	switch {
	case s.Granularity == 0:
		s.Granularity = defaultGranularity(rng)
	case s.Granularity < lo || s.Granularity > hi:
		return errorf("granularity", "%d s is outside %d … %d s for a time range of %d s (time_range/1000 … time_range/10)", s.Granularity, lo, hi, rng)
	}
	s.Step = time.Duration(s.Granularity) * time.Second

	switch {
	case s.Limit < 0 || s.Limit > MaxLimit:
		return errorf("limit", "must be between 1 and %d", MaxLimit)
	case s.Limit == 0:
		s.Limit = DefaultLimit
	}
	if len(s.Calculations) == 0 {
		s.Calculations = []Calculation{{Op: "COUNT"}}
	}
	// A query reads and aggregates each column it names: bounded so that
	// a dataset's width does not make one query's memory unbounded.
	for _, l := range []struct {
		field  string
		n, max int
	}{{"breakdowns", len(s.Breakdowns), MaxColumns}, {"calculations", len(s.Calculations), MaxCalculations}, {"filters", len(s.Filters), MaxColumns}} {
		if l.n > l.max {
			return errorf(l.field, "%d given; at most %d", l.n, l.max)
		}
	}
	if err := checkCombination("filter_combination", s.FilterCombination); err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, b := range s.Breakdowns {
		if b == "" {
			return errorf("breakdowns", "empty column name")
		}
		if seen[b] {
			return errorf("breakdowns", "column %q appears twice", b)
		}
		seen[b] = true
	}
	for i := range s.Calculations {
		c := &s.Calculations[i]
		field := fmt.Sprintf("calculations[%d]", i)
		c.Op = strings.ToUpper(strings.TrimSpace(c.Op))
		op, ok := ops[c.Op]
		if !ok {
			if c.Op == "CONCURRENCY" {
				return errorf(field+".op", "CONCURRENCY is not supported")
			}
			return errorf(field+".op", "unknown calculation %q", c.Op)
		}
		if op.column && c.Column == "" {
			return errorf(field+".column", "%s needs a column", c.Op)
		}
		if !op.column && c.Column != "" {
			return errorf(field+".column", "%s takes no column", c.Op)
		}
		if err := checkCombination(field+".filter_combination", c.FilterCombination); err != nil {
			return err
		}
		name := c.Label()
		if seen[name] {
			return errorf(field, "%q appears twice in the answer; give one of them a distinct \"name\"", name)
		}
		seen[name] = true
	}
	for i, h := range s.Havings {
		field := fmt.Sprintf("havings[%d]", i)
		k, err := s.calcIndex(strings.ToUpper(h.CalculateOp), h.Column)
		if err != nil {
			return errorf(field, "%v", err)
		}
		if s.Calculations[k].Op == "HEATMAP" {
			return errorf(field+".calculate_op", "HEATMAP cannot be used in havings")
		}
		if !comparisonOps[h.Op] {
			return errorf(field+".op", "unknown having op %q; use = != > >= < <=", h.Op)
		}
		if _, ok := number(h.Value); !ok {
			return errorf(field+".value", "must be a number")
		}
	}
	for i, o := range s.Orders {
		field := fmt.Sprintf("orders[%d]", i)
		switch strings.ToLower(o.Order) {
		case "", "ascending", "asc", "descending", "desc":
		default:
			return errorf(field+".order", "must be ascending or descending")
		}
		if o.Op == "" {
			if !contains(s.Breakdowns, o.Column) {
				return errorf(field+".column", "%q is not a breakdown; order by a breakdown or a calculation", o.Column)
			}
			continue
		}
		k, err := s.calcIndex(strings.ToUpper(o.Op), o.Column)
		if err != nil {
			return errorf(field, "%v", err)
		}
		if s.Calculations[k].Op == "HEATMAP" {
			return errorf(field+".op", "cannot order by HEATMAP")
		}
	}
	return nil
}

// calcIndex finds the calculation an order or having refers to.
func (s *Spec) calcIndex(op, column string) (int, error) {
	for i, c := range s.Calculations {
		if c.Op == op && c.Column == column {
			return i, nil
		}
	}
	if column != "" {
		return 0, fmt.Errorf("%s(%s) is not among the calculations", op, column)
	}
	return 0, fmt.Errorf("%s is not among the calculations", op)
}

func checkCombination(field, fc string) error {
	switch strings.ToUpper(fc) {
	case "", "AND", "OR":
		return nil
	}
	return errorf(field, "must be AND or OR, not %q", fc)
}

// Label is the key of a calculation's value in the answer: its name, or
// Honeycomb's OP(column).
func (c Calculation) Label() string {
	if c.Name != "" {
		return c.Name
	}
	if c.Column == "" {
		return c.Op
	}
	return c.Op + "(" + c.Column + ")"
}

// minGranularity and maxGranularity bound the bucket width: between 10 and
// 1000 buckets over the range, and never under a second.
func minGranularity(rng int64) int64 { return max(1, (rng+maxBuckets-1)/maxBuckets) }
func maxGranularity(rng int64) int64 { return max(1, rng/minBuckets) }

// niceSteps are the bucket widths a default granularity is chosen from.
var niceSteps = []int64{1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 7 * 86400}

// defaultGranularity picks the smallest nice width giving at most about
// 100 buckets, within the allowed bounds.
func defaultGranularity(rng int64) int64 {
	lo, hi := minGranularity(rng), maxGranularity(rng)
	want := max(lo, (rng+99)/100)
	for _, s := range niceSteps {
		if s >= want && s <= hi {
			return s
		}
	}
	return min(max(want, lo), hi)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// number converts a JSON number (or a Go number) to float64.
func number(v any) (float64, bool) {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	case float64:
		return x, true
	case int64:
		return float64(x), true
	case int:
		return float64(x), true
	}
	return 0, false
}
