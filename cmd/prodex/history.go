package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/prodex/prodex/internal/history"
	"github.com/prodex/prodex/internal/query"
)

func historyCmd() *cobra.Command {
	var c client
	var ds, author, search, since, until string
	var limit int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "history",
		Short: "Who ran which query when: the team's query history, newest first",
		Example: `  prodex history --author alice --since 24h
  prodex history --dataset checkout --search duration_ms --limit 20`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			v := url.Values{}
			for k, x := range map[string]string{"dataset": ds, "author": author, "q": search} {
				if x != "" {
					v.Set(k, x)
				}
			}
			for flag, x := range map[string]string{"since": since, "until": until} {
				if x == "" {
					continue
				}
				t, err := parseWhen(x, time.Now())
				if err != nil {
					return fmt.Errorf("--%s: %w", flag, err)
				}
				v.Set(flag, strconv.FormatInt(t.Unix(), 10))
			}
			if limit != 0 {
				v.Set("limit", strconv.Itoa(limit))
			}
			var raw json.RawMessage
			if err := c.do("GET", "/api/v1/history?"+v.Encode(), nil, &raw); err != nil {
				return err
			}
			if asJSON {
				return printJSON(raw)
			}
			var runs []history.Run
			if err := json.Unmarshal(raw, &runs); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "TIME\tAUTHOR\tDATASET\tQUERY\tDURATION\tROWS\tQUESTION")
			for _, r := range runs {
				rows, question := strconv.Itoa(r.Rows), specSummary(r.Spec)
				if r.Error != "" {
					rows, question = "failed", question+" — "+r.Error
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.RanAt.Local().Format(time.DateTime), oneLine(r.Author, 30), r.Dataset, r.QueryID,
					msString(r.DurationMS), rows, oneLine(question, 120))
			}
			return tw.Flush()
		},
	}
	f := cmd.Flags()
	f.StringVar(&ds, "dataset", "", "only runs on this dataset")
	f.StringVar(&author, "author", "", "only runs by this author (a user, or a key's name)")
	f.StringVar(&search, "search", "", "only runs whose dataset, author or query contains this text (any case)")
	f.StringVar(&since, "since", "", "only runs since: RFC3339, Unix seconds, or a duration ago such as 24h")
	f.StringVar(&until, "until", "", "only runs before: RFC3339, Unix seconds, or a duration ago")
	f.IntVar(&limit, "limit", 0, "most runs to list (default 100, at most 1000)")
	f.BoolVar(&asJSON, "json", false, "print the raw JSON answer")
	addClientFlags(cmd, &c)
	return cmd
}

func savedCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "saved", Short: "The team's saved queries: list, add, delete"}
	var c client
	var search string
	var asJSON bool
	list := &cobra.Command{
		Use: "list", Short: "List saved queries by name", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			path := "/api/v1/saved-queries"
			if search != "" {
				path += "?q=" + url.QueryEscape(search)
			}
			var raw json.RawMessage
			if err := c.do("GET", path, nil, &raw); err != nil {
				return err
			}
			if asJSON {
				return printJSON(raw)
			}
			var list []history.Saved
			if err := json.Unmarshal(raw, &list); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tDATASET\tQUERY\tAUTHOR\tUPDATED\tQUESTION\tDESCRIPTION")
			for _, s := range list {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, oneLine(s.Name, 60), s.Dataset, s.QueryID, oneLine(s.Author, 30),
					s.UpdatedAt.Local().Format(time.DateTime), oneLine(specSummary(s.Spec), 100), oneLine(s.Description, 60))
			}
			return tw.Flush()
		},
	}
	list.Flags().StringVar(&search, "search", "", "only saved queries whose name or description contains this text (any case)")
	list.Flags().BoolVar(&asJSON, "json", false, "print the raw JSON answer")

	var name, desc string
	add := &cobra.Command{
		Use: "add QUERY_ID --name NAME [--description TEXT]", Short: "Save a query that has run (its id is printed under prodex query's answer) under a name",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var s history.Saved
			if err := c.do("POST", "/api/v1/saved-queries", map[string]string{"query_id": args[0], "name": name, "description": desc}, &s); err != nil {
				return err
			}
			fmt.Printf("saved query %s %q (query %s on %s)\n", s.ID, s.Name, s.QueryID, s.Dataset)
			return nil
		},
	}
	add.Flags().StringVar(&name, "name", "", "name in the team's collection (1-200 characters)")
	add.Flags().StringVar(&desc, "description", "", "what the query shows (up to 2000 characters)")

	del := &cobra.Command{
		Use: "delete ID", Short: "Delete a saved query (the query and its history stay)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := c.do("DELETE", "/api/v1/saved-queries/"+url.PathEscape(args[0]), nil, nil); err != nil {
				return err
			}
			fmt.Printf("saved query %s deleted\n", args[0])
			return nil
		},
	}
	for _, sub := range []*cobra.Command{list, add, del} {
		addClientFlags(sub, &c)
		cmd.AddCommand(sub)
	}
	return cmd
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
	var q struct {
		Dataset string          `json:"dataset"`
		Spec    json.RawMessage `json:"spec"`
	}
	if err := c.do("GET", "/api/v1/queries/"+url.PathEscape(id), nil, &q); err != nil {
		return err
	}
	var res queryResult
	if err := c.do("POST", "/api/v1/queries/"+url.PathEscape(id)+"/run", nil, &res); err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	var spec query.Spec
	if err := json.Unmarshal(q.Spec, &spec); err != nil {
		return fmt.Errorf("stored query %s: %w", id, err)
	}
	var cs []map[string]any
	for _, calc := range spec.Calculations {
		cs = append(cs, map[string]any{"op": calcLabel(calc)}) // printResult labels a calculation by its op
	}
	printResult(res, spec.Breakdowns, cs, series)
	printPermalink(c, res)
	return nil
}

// printPermalink prints the line under a query's answer that names the
// question: its id and permalink. It goes to standard error, as the CLI's
// other remarks do, so that standard output stays the table.
func printPermalink(c *client, res queryResult) {
	if res.QueryID != "" {
		fmt.Fprintf(os.Stderr, "query %s — permalink %s%s\n", res.QueryID, strings.TrimRight(c.server, "/"), res.Permalink)
	}
}

// calcLabel is a calculation's key in the answer: its name, or OP(column).
func calcLabel(c query.Calculation) string {
	switch {
	case c.Name != "":
		return c.Name
	case c.Column != "":
		return c.Op + "(" + c.Column + ")"
	}
	return c.Op
}

// specSummary is a query spec in one short line: calculations, filters,
// breakdowns and the interval, e.g.
// "COUNT, P99(duration_ms) WHERE status_code >= 500 BY service · 2026-11-24 08:00 +2h".
func specSummary(raw json.RawMessage) string {
	var s query.Spec
	if err := json.Unmarshal(raw, &s); err != nil {
		return string(raw)
	}
	var calcs []string
	for _, c := range s.Calculations {
		calcs = append(calcs, calcLabel(c))
	}
	out := strings.Join(calcs, ", ")
	if out == "" {
		out = "COUNT"
	}
	if len(s.Filters) > 0 {
		var fs []string
		for _, f := range s.Filters {
			x := f.Column + " " + f.Op
			if f.Value != nil {
				v, _ := json.Marshal(f.Value)
				x += " " + strings.Trim(string(v), `"`)
			}
			fs = append(fs, x)
		}
		sep := " AND "
		if strings.EqualFold(s.FilterCombination, "OR") {
			sep = " OR "
		}
		out += " WHERE " + strings.Join(fs, sep)
	}
	if len(s.Breakdowns) > 0 {
		out += " BY " + strings.Join(s.Breakdowns, ", ")
	}
	if s.StartTime != 0 && s.EndTime > s.StartTime {
		out += " · " + time.Unix(s.StartTime, 0).Local().Format("2006-01-02 15:04") + " +" + shortDuration(time.Duration(s.EndTime-s.StartTime)*time.Second)
	}
	return out
}

// shortDuration drops a duration's zero minutes and seconds: 2h, 1h30m, 90s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// msString prints milliseconds readably: 12ms, 1.53s.
func msString(ms float64) string {
	if ms < 1000 {
		return strconv.FormatFloat(ms, 'f', 1, 64) + "ms"
	}
	return strconv.FormatFloat(ms/1000, 'f', 2, 64) + "s"
}

// oneLine keeps a table cell on one line and at most n characters.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) > n {
		r := []rune(s)
		s = string(r[:n-1]) + "…"
	}
	return s
}

// parseWhen reads RFC 3339, Unix seconds, or a duration before now (24h).
func parseWhen(x string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(x); err == nil {
		return now.Add(-d), nil
	}
	t, err := parseTime(x)
	if err != nil {
		return t, fmt.Errorf("want RFC3339, Unix seconds or a duration such as 24h, not %q", x)
	}
	return t, nil
}
