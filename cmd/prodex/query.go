package main

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/prodex/prodex/internal/api"
	"github.com/prodex/prodex/internal/event"
	"github.com/prodex/prodex/internal/query"
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
			spec := &query.Spec{Breakdowns: by, TimeRange: int64(last / time.Second)}
			for _, s := range calcs {
				calc, err := query.ParseCalculation(s)
				if err != nil {
					return fmt.Errorf("--calc %q: %w", s, err)
				}
				spec.Calculations = append(spec.Calculations, calc)
			}
			if len(spec.Calculations) == 0 {
				spec.Calculations = []query.Calculation{{Op: "COUNT"}}
			}
			if spec.Filters, err = parseFilters(wheres); err != nil {
				return err
			}
			if or {
				spec.FilterCombination = "OR"
			}
			for _, s := range orders {
				o, err := query.ParseOrder(s)
				if err != nil {
					return fmt.Errorf("--order %q: %w", s, err)
				}
				spec.Orders = append(spec.Orders, o)
			}
			spec.Limit, spec.Granularity = max(limit, 0), max(int64(gran/time.Second), 0)
			for _, f := range []struct {
				flag, v string
				to      *int64
			}{{"start", start, &spec.StartTime}, {"end", end, &spec.EndTime}} {
				if f.v != "" {
					t, err := query.ParseTime(f.v)
					if err != nil {
						return fmt.Errorf("--%s: %w", f.flag, err)
					}
					*f.to = t.Unix()
				}
			}
			if start != "" && end != "" {
				spec.TimeRange = 0 // the two ends say it
			}
			if asJSON { // the answer as the server gave it, markers and all
				return printJSON(c.QueryJSON(cmd.Context(), ds, spec))
			}
			res, err := c.Query(cmd.Context(), ds, spec)
			if err != nil {
				return err
			}
			return printResult(&c, res, spec, series)
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

// parseFilters reads --where style filters.
func parseFilters(wheres []string) ([]query.Filter, error) {
	var fs []query.Filter
	for _, w := range wheres {
		f, err := query.ParseFilter(w)
		if err != nil {
			return nil, fmt.Errorf("--where %q: %w", w, err)
		}
		fs = append(fs, f)
	}
	return fs, nil
}

// questionFlags are prodex query's flags that make a new question, which
// --id (re-run a stored one) does not take.
var questionFlags = []string{"calc", "where", "or", "by", "order", "last", "start", "end", "granularity", "limit"}

// rerunStored runs a stored query again by id (over its own interval) and
// prints the answer as prodex query does.
func rerunStored(cmd *cobra.Command, c *client, id string, args []string, asJSON, series bool) error {
	if len(args) > 0 {
		return fmt.Errorf("--id re-runs a stored query on its own dataset; give no DATASET")
	}
	for _, f := range questionFlags {
		if cmd.Flags().Changed(f) {
			return fmt.Errorf("--id re-runs a stored query exactly; --%s does not apply", f)
		}
	}
	q, err := c.StoredQuery(cmd.Context(), id)
	if err != nil {
		return err
	}
	if asJSON {
		return printJSON(c.RunStoredQueryJSON(cmd.Context(), id))
	}
	res, err := c.RunStoredQuery(cmd.Context(), id)
	if err != nil {
		return err
	}
	var spec query.Spec
	if err := json.Unmarshal(q.Spec, &spec); err != nil {
		return fmt.Errorf("stored query %s: %w", id, err)
	}
	return printResult(c, res, &spec, series)
}

// printResult prints an answer to spec as a table, and under it the line
// that names the question: its id and permalink. That line goes to
// standard error, as the CLI's other remarks do, so that standard output
// stays the table.
func printResult(c *client, res api.QueryAnswer, spec *query.Spec, series bool) error {
	if err := res.Result.WriteTable(os.Stdout, spec, series); err != nil {
		return err
	}
	if res.QueryID != "" {
		fmt.Fprintf(os.Stderr, "query %s — permalink %s%s\n", res.QueryID, c.URL(), res.Permalink)
	}
	return nil
}
