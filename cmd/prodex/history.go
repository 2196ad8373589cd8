package main

import (
	"fmt"
	"os"
	"time"

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
					t, err := query.ParseWhen(b.v, time.Now())
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
			return history.WriteRuns(os.Stdout, runs, query.SpecLine)
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
			return history.WriteSaved(os.Stdout, list, query.SpecLine)
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
