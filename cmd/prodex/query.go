package main

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/prodex/prodex/internal/event"
)

func queryCmd() *cobra.Command {
	var c client
	var calcs, wheres, by, orders []string
	var last, gran time.Duration
	var start, end string
	var limit int
	var or, asJSON, series bool
	var id string
	cmd := &cobra.Command{
		Use:   "query DATASET | --id QUERY_ID",
		Short: "Ask a question of a dataset and print the answer as a table",
		Example: `  prodex query checkout --calc 'P99(duration_ms)' --calc COUNT --where 'status_code >= 500' --by service --last 2h
  prodex query checkout --calc 'HEATMAP(duration_ms)' --where 'region in eu,us' --json
  prodex query --id 3fa2b1c4d5e6f708`,
		Args: cobra.RangeArgs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if id != "" {
				return rerunStored(cmd, &c, id, args, asJSON, series)
			}
			if len(args) == 0 {
				return fmt.Errorf("give a DATASET to ask, or --id QUERY_ID to re-run a stored query")
			}
			ds, err := event.NormalizeDataset(args[0])
			if err != nil {
				return err
			}
			spec := map[string]any{}
			var cs []map[string]any
			for _, s := range calcs {
				c, err := parseCalc(s)
				if err != nil {
					return err
				}
				cs = append(cs, c)
			}
			if len(cs) == 0 {
				cs = []map[string]any{{"op": "COUNT"}}
			}
			spec["calculations"] = cs
			if err := addFilters(spec, wheres); err != nil {
				return err
			}
			if or {
				spec["filter_combination"] = "OR"
			}
			if len(by) > 0 {
				spec["breakdowns"] = by
			}
			var os_ []map[string]any
			for _, o := range orders {
				x, err := parseOrder(o)
				if err != nil {
					return err
				}
				os_ = append(os_, x)
			}
			if len(os_) > 0 {
				spec["orders"] = os_
			}
			if limit > 0 {
				spec["limit"] = limit
			}
			if gran > 0 {
				spec["granularity"] = int64(gran / time.Second)
			}
			if start != "" || end != "" {
				for flag, v := range map[string]string{"start_time": start, "end_time": end} {
					if v == "" {
						continue
					}
					t, err := parseTime(v)
					if err != nil {
						return fmt.Errorf("--%s: %w", strings.TrimSuffix(flag, "_time"), err)
					}
					spec[flag] = t.Unix()
				}
				if start == "" || end == "" {
					spec["time_range"] = int64(last / time.Second)
				}
			} else {
				spec["time_range"] = int64(last / time.Second)
			}
			var raw json.RawMessage
			if err := c.do("POST", "/api/v1/query/"+ds, spec, &raw); err != nil {
				return err
			}
			if asJSON { // the answer as the server gave it, markers and all
				return printJSON(raw)
			}
			var res queryResult
			if err := json.Unmarshal(raw, &res); err != nil {
				return err
			}
			printResult(res, by, cs, series)
			printPermalink(&c, res)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&calcs, "calc", nil, "calculation, e.g. COUNT, 'P99(duration_ms)', 'COUNT_DISTINCT(user)' (repeatable)")
	f.StringArrayVar(&wheres, "where", nil, "filter 'COLUMN OP VALUE', e.g. 'status_code >= 500', 'host exists', 'region in eu,us' (repeatable)")
	f.BoolVar(&or, "or", false, "combine filters with OR instead of AND")
	f.StringArrayVar(&by, "by", nil, "group by this column (repeatable)")
	f.StringArrayVar(&orders, "order", nil, "order, e.g. 'COUNT desc', 'P99(duration_ms) asc', 'service asc' (repeatable)")
	f.DurationVar(&last, "last", 2*time.Hour, "time range ending now")
	f.StringVar(&start, "start", "", "start time (RFC3339 or Unix seconds)")
	f.StringVar(&end, "end", "", "end time (RFC3339 or Unix seconds)")
	f.DurationVar(&gran, "granularity", 0, "time bucket width (default chosen from the range)")
	f.IntVar(&limit, "limit", 0, "most groups to return (1-1000)")
	f.BoolVar(&asJSON, "json", false, "print the raw JSON answer")
	f.BoolVar(&series, "series", false, "print the time series too")
	f.StringVar(&id, "id", "", "re-run a stored query (from a permalink, history or saved list) over its own interval")
	addClientFlags(cmd, &c)
	return cmd
}

type queryResult struct {
	Series []struct {
		Time time.Time      `json:"time"`
		Data map[string]any `json:"data"`
	} `json:"series"`
	Results []struct {
		Data map[string]any `json:"data"`
	} `json:"results"`
	QueryID   string `json:"query_id,omitempty"`
	Permalink string `json:"permalink,omitempty"`
}

var calcRE = regexp.MustCompile(`^\s*([A-Za-z_0-9]+)\s*(?:\((.*)\))?\s*$`)

func parseCalc(s string) (map[string]any, error) {
	m := calcRE.FindStringSubmatch(s)
	if m == nil {
		return nil, fmt.Errorf("--calc %q: want OP or OP(column)", s)
	}
	c := map[string]any{"op": strings.ToUpper(m[1])}
	if m[2] != "" {
		c["column"] = m[2]
	}
	return c, nil
}

var filterOps = []string{"does-not-start-with", "does-not-end-with", "does-not-contain", "does-not-exist",
	"starts-with", "ends-with", "contains", "exists", "not-in", "in", "!=", ">=", "<=", "=", ">", "<"}

// parseWhere reads 'COLUMN OP VALUE'. The column may be double-quoted; the
// value is a number when it parses as one, unless quoted.
// addFilters parses --where style filters into m["filters"], if any.
func addFilters(m map[string]any, wheres []string) error {
	var fs []map[string]any
	for _, w := range wheres {
		f, err := parseWhere(w)
		if err != nil {
			return err
		}
		fs = append(fs, f)
	}
	if len(fs) > 0 {
		m["filters"] = fs
	}
	return nil
}

func parseWhere(s string) (map[string]any, error) {
	s = strings.TrimSpace(s)
	var col, rest string
	if strings.HasPrefix(s, `"`) {
		q, err := strconv.QuotedPrefix(s)
		if err != nil {
			return nil, fmt.Errorf("--where %q: bad quoted column", s)
		}
		col, _ = strconv.Unquote(q)
		rest = strings.TrimSpace(s[len(q):])
	} else {
		i := strings.IndexAny(s, " \t!=<>")
		if i <= 0 {
			return nil, fmt.Errorf("--where %q: want 'COLUMN OP VALUE'", s)
		}
		col, rest = s[:i], strings.TrimSpace(s[i:])
	}
	for _, op := range filterOps {
		if !strings.HasPrefix(rest, op) {
			continue
		}
		val := strings.TrimSpace(rest[len(op):])
		if isWord(op) && val != "" && !strings.HasPrefix(rest[len(op):], " ") {
			continue // e.g. "in" is a prefix of "inside"
		}
		f := map[string]any{"column": col, "op": op}
		switch op {
		case "exists", "does-not-exist":
			if val != "" {
				return nil, fmt.Errorf("--where %q: %s takes no value", s, op)
			}
		case "in", "not-in":
			var vs []any
			for _, v := range strings.Split(val, ",") {
				vs = append(vs, parseValue(strings.TrimSpace(v)))
			}
			f["value"] = vs
		default:
			if val == "" {
				return nil, fmt.Errorf("--where %q: %s needs a value", s, op)
			}
			f["value"] = parseValue(val)
		}
		return f, nil
	}
	return nil, fmt.Errorf("--where %q: unknown operator; use one of %s", s, strings.Join(filterOps, " "))
}

func isWord(op string) bool { return op[0] >= 'a' && op[0] <= 'z' }

func parseValue(v string) any {
	if uq, err := strconv.Unquote(v); err == nil && strings.HasPrefix(v, `"`) {
		return uq
	}
	if i, err := strconv.ParseInt(v, 10, 64); err == nil {
		return i
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		return f
	}
	switch v {
	case "true":
		return true
	case "false":
		return false
	}
	return v
}

func parseOrder(s string) (map[string]any, error) {
	f := strings.Fields(s)
	if len(f) == 0 || len(f) > 2 {
		return nil, fmt.Errorf("--order %q: want 'COLUMN|CALC [asc|desc]'", s)
	}
	o := map[string]any{"order": "descending"}
	if len(f) == 2 {
		switch strings.ToLower(f[1]) {
		case "asc", "ascending":
			o["order"] = "ascending"
		case "desc", "descending":
		default:
			return nil, fmt.Errorf("--order %q: direction must be asc or desc", s)
		}
	}
	if m := calcRE.FindStringSubmatch(f[0]); m != nil && (m[2] != "" || strings.ToUpper(m[1]) == "COUNT") && strings.ToUpper(m[1]) == m[1] {
		o["op"] = m[1]
		if m[2] != "" {
			o["column"] = m[2]
		}
	} else {
		o["column"] = f[0]
	}
	return o, nil
}

func parseTime(v string) (time.Time, error) {
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.Unix(n, 0), nil
	}
	return time.Parse(time.RFC3339, v)
}

func calcName(c map[string]any) string {
	if col, ok := c["column"]; ok {
		return fmt.Sprintf("%s(%s)", c["op"], col)
	}
	return fmt.Sprint(c["op"])
}

func printResult(res queryResult, by []string, cs []map[string]any, series bool) {
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	cols := append([]string(nil), by...)
	for _, c := range cs {
		cols = append(cols, calcName(c))
	}
	if series {
		fmt.Fprintln(tw, "TIME\t"+strings.Join(cols, "\t"))
		sort.SliceStable(res.Series, func(i, j int) bool { return res.Series[i].Time.Before(res.Series[j].Time) })
		for _, p := range res.Series {
			fmt.Fprint(tw, p.Time.Format(time.RFC3339))
			for _, c := range cols {
				fmt.Fprint(tw, "\t"+cell(p.Data[c]))
			}
			fmt.Fprintln(tw)
		}
		fmt.Fprintln(tw)
	}
	fmt.Fprintln(tw, strings.Join(cols, "\t"))
	for _, r := range res.Results {
		for i, c := range cols {
			if i > 0 {
				fmt.Fprint(tw, "\t")
			}
			fmt.Fprint(tw, cell(r.Data[c]))
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
}

func cell(v any) string {
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
