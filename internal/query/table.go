package query

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteTable writes an answer to spec as a text table, as prodex query
// prints it: a column per breakdown and per calculation, a row per group;
// with series, the time series (sorted by time) above it. A nil result is
// an empty table.
func (r *Result) WriteTable(w io.Writer, spec *Spec, series bool) error {
	if r == nil {
		r = &Result{}
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	cols := append([]string(nil), spec.Breakdowns...)
	for _, c := range spec.Calculations {
		cols = append(cols, c.Label())
	}
	if series {
		fmt.Fprintln(tw, "TIME\t"+strings.Join(cols, "\t"))
		sort.SliceStable(r.Series, func(i, j int) bool { return r.Series[i].Time.Before(r.Series[j].Time) })
		for _, p := range r.Series {
			fmt.Fprint(tw, p.Time.Format(time.RFC3339))
			for _, c := range cols {
				fmt.Fprint(tw, "\t"+tableCell(p.Data[c]))
			}
			fmt.Fprintln(tw)
		}
		fmt.Fprintln(tw)
	}
	fmt.Fprintln(tw, strings.Join(cols, "\t"))
	for _, row := range r.Results {
		for i, c := range cols {
			if i > 0 {
				fmt.Fprint(tw, "\t")
			}
			fmt.Fprint(tw, tableCell(row.Data[c]))
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

// tableCell is one value as a table shows it: numbers in full, JSON for
// a heatmap's buckets, (null) for no value.
func tableCell(v any) string {
	switch x := v.(type) {
	case nil:
		return "(null)"
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case map[string]any, []any:
		b, _ := json.Marshal(x)
		return string(b)
	}
	return fmt.Sprint(v)
}

// ParseTime reads a point in time as a person types it for a question's
// start or end: RFC 3339 or Unix seconds.
func ParseTime(v string) (time.Time, error) {
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.Unix(n, 0), nil
	}
	return time.Parse(time.RFC3339, v)
}

// ParseWhen is ParseTime, or a duration before now ("24h"), as a history
// is searched by.
func ParseWhen(x string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(x); err == nil {
		return now.Add(-d), nil
	}
	t, err := ParseTime(x)
	if err != nil {
		return t, fmt.Errorf("want RFC3339, Unix seconds or a duration such as 24h, not %q", x)
	}
	return t, nil
}
