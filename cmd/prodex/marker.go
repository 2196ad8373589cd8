package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/prodex/prodex/internal/marker"
	"github.com/prodex/prodex/internal/query"
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
			in := marker.Input{Type: &typ, Message: &msg, URL: optional(link), Color: optional(color)}
			var err error
			if in.StartTime, err = unixFlag("--start", start); err != nil {
				return err
			}
			if in.EndTime, err = unixFlag("--end", end); err != nil {
				return err
			}
			m, err := c.CreateMarker(cmd.Context(), ds, in)
			if err != nil {
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
			ms, err := c.Markers(cmd.Context(), listDS)
			if err != nil {
				return err
			}
			return marker.WriteTable(os.Stdout, ms)
		},
	}
	list.Flags().StringVar(&listDS, "dataset", marker.AllDatasets, "dataset whose markers to list ("+marker.AllDatasets+": the environment-wide ones)")

	del := &cobra.Command{
		Use: "delete DATASET ID", Short: "Delete a marker", Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := c.DeleteMarker(cmd.Context(), args[0], args[1])
			return done(err, "marker %s deleted", args[1])
		},
	}
	addClientCommands(cmd, &c, add, list, del)
	return cmd
}

// optional is s, or nil for a field left out when it is empty.
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// unixFlag reads flag's time v as Unix seconds; nil when v is empty.
func unixFlag(flag, v string) (*int64, error) {
	if v == "" {
		return nil, nil
	}
	t, err := query.ParseTime(v)
	if err != nil {
		return nil, fmt.Errorf("%s: want RFC 3339 or Unix seconds, got %q", flag, v)
	}
	unix := t.Unix()
	return &unix, nil
}
