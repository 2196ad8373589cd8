package main

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
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
			f := history.RunFilter{Dataset: ds, Author: author, Text: search, Limit: limit}
			for _, b := range []struct {
				flag, v string
				to      *time.Time
			}{{"since", since, &f.Since}, {"until", until, &f.Until}} {
				if b.v != "" {
					t, err := parseWhen(b.v, time.Now())
					if err != nil {
						return fmt.Errorf("--%s: %w", b.flag, err)
					}
					*b.to = t
				}
			}
			if asJSON {
				return printJSON(c.HistoryJSON(cmd.Context(), f))
			}
			runs, err := c.History(cmd.Context(), f)
			if err != nil {
				return err
			}
			tw := table("TIME\tAUTHOR\tDATASET\tQUERY\tDURATION\tROWS\tQUESTION")
			for _, r := range runs {
				rows, question := strconv.Itoa(r.Rows), specLine(r.Spec)
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
			if asJSON {
				return printJSON(c.SavedQueriesJSON(cmd.Context(), search))
			}
			list, err := c.SavedQueries(cmd.Context(), search)
			if err != nil {
				return err
			}
			tw := table("ID\tNAME\tDATASET\tQUERY\tAUTHOR\tUPDATED\tQUESTION\tDESCRIPTION")
			for _, s := range list {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, oneLine(s.Name, 60), s.Dataset, s.QueryID, oneLine(s.Author, 30),
					s.UpdatedAt.Local().Format(time.DateTime), oneLine(specLine(s.Spec), 100), oneLine(s.Description, 60))
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
			s, err := c.SaveQuery(cmd.Context(), args[0], name, desc)
			if err != nil {
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
			return done(c.DeleteSavedQuery(cmd.Context(), args[0]), "saved query %s deleted", args[0])
		},
	}
	addClientCommands(cmd, &c, list, add, del)
	return cmd
}

// specLine is a stored spec in one short line (see query.Spec.Summary),
// in local time; the JSON itself when it is not a spec.
func specLine(raw json.RawMessage) string {
	var s query.Spec
	if err := json.Unmarshal(raw, &s); err != nil {
		return string(raw)
	}
	return s.Summary(time.Local)
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
