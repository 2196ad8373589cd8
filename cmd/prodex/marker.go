package main

import (
	"fmt"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/prodex/prodex/internal/marker"
)

func markerCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "marker", Short: "Mark deploys, incidents and config changes on every graph of a dataset (or all of them)"}
	var c client
	var ds, typ, msg, link, color, start, end string
	add := &cobra.Command{
		Use:   "add --type deploy --message v1.2.3 [--dataset NAME] [--url U] [--color C] [--start T] [--end T]",
		Short: "Add a marker (default: environment-wide, at now); prints its id",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if typ == "" || msg == "" {
				return fmt.Errorf("--type and --message are required")
			}
			body := map[string]any{"type": typ, "message": msg}
			for _, f := range []struct{ name, v string }{{"url", link}, {"color", color}} {
				if f.v != "" {
					body[f.name] = f.v
				}
			}
			for _, f := range []struct{ flag, field, v string }{{"--start", "start_time", start}, {"--end", "end_time", end}} {
				if f.v == "" {
					continue
				}
				t, err := parseTime(f.v)
				if err != nil {
					return fmt.Errorf("%s: want RFC 3339 or Unix seconds, got %q", f.flag, f.v)
				}
				body[f.field] = t.Unix()
			}
			var m marker.Marker
			if err := c.do("POST", "/1/markers/"+url.PathEscape(ds), body, &m); err != nil {
				return err
			}
			fmt.Println(m.ID)
			return nil
		},
	}
	f := add.Flags()
	f.StringVar(&ds, "dataset", marker.AllDatasets, "dataset the marker belongs to ("+marker.AllDatasets+": every dataset)")
	f.StringVar(&typ, "type", "", "kind of marker, e.g. deploy, incident, config (required)")
	f.StringVar(&msg, "message", "", "what happened, e.g. the version deployed (required)")
	f.StringVar(&link, "url", "", "link to more, e.g. the build (http or https)")
	f.StringVar(&color, "color", "", "color, #rgb or #rrggbb")
	f.StringVar(&start, "start", "", "when it started (RFC 3339 or Unix seconds; default now)")
	f.StringVar(&end, "end", "", "when it ended, for a marker spanning time (RFC 3339 or Unix seconds)")

	var listDS string
	list := &cobra.Command{
		Use: "list [--dataset NAME]", Short: "List a dataset's markers (default: the environment-wide ones)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var ms []marker.Marker
			if err := c.do("GET", "/1/markers/"+url.PathEscape(listDS), nil, &ms); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSTART\tEND\tTYPE\tMESSAGE\tURL\tAUTHOR")
			for _, m := range ms {
				endS := "-"
				if m.EndTime != 0 {
					endS = time.Unix(m.EndTime, 0).Local().Format(time.DateTime)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.ID, time.Unix(m.StartTime, 0).Local().Format(time.DateTime), endS,
					m.Type, markerLine(m.Message), m.URL, m.Author)
			}
			return tw.Flush()
		},
	}
	list.Flags().StringVar(&listDS, "dataset", marker.AllDatasets, "dataset whose markers to list ("+marker.AllDatasets+": the environment-wide ones)")

	del := &cobra.Command{
		Use: "delete DATASET ID", Short: "Delete a marker", Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := c.do("DELETE", "/1/markers/"+url.PathEscape(args[0])+"/"+url.PathEscape(args[1]), nil, nil); err != nil {
				return err
			}
			fmt.Printf("marker %s deleted\n", args[1])
			return nil
		},
	}
	for _, sub := range []*cobra.Command{add, list, del} {
		addClientFlags(sub, &c)
		cmd.AddCommand(sub)
	}
	return cmd
}

// markerLine shows a multi-line message on one table line.
func markerLine(s string) string {
	return strings.NewReplacer("\n", " ⏎ ", "\t", " ").Replace(s)
}
