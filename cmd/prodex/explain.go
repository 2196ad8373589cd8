package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/prodex/prodex/internal/event"
	"github.com/prodex/prodex/internal/explain"
)

// explainCmd asks which columns set a selection of events apart.
func explainCmd() *cobra.Command {
	var c client
	var wheres, selects []string
	var heatmap, sloName string
	var last time.Duration
	var values int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "explain DATASET",
		Short: "Rank every column by how differently it is distributed in a selection of events than in the rest",
		Example: `  prodex explain checkout --select 'status_code >= 500' --last 1h
  prodex explain checkout --heatmap 'duration_ms:800:5000' --last 30m
  prodex explain checkout --slo checkout-availability`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ds, err := event.NormalizeDataset(args[0])
			if err != nil {
				return err
			}
			req := &explain.Request{TimeRange: int64(last / time.Second), Values: values}
			if req.Filters, err = parseFilters(wheres); err != nil {
				return err
			}
			if req.Selection.Filters, err = parseFilters(selects); err != nil {
				return err
			}
			if heatmap != "" {
				if req.Selection.Heatmap, err = explain.ParseHeatmap(heatmap); err != nil {
					return fmt.Errorf("--heatmap %q: %w", heatmap, err)
				}
			}
			req.Selection.SLO = sloName
			if asJSON {
				return printJSON(c.ExplainJSON(cmd.Context(), ds, req))
			}
			a, err := c.Explain(cmd.Context(), ds, req)
			if err != nil {
				return err
			}
			return a.WriteTable(os.Stdout)
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&wheres, "where", nil, "base filter 'COLUMN OP VALUE' (repeatable)")
	f.StringArrayVar(&selects, "select", nil, "selection filter 'COLUMN OP VALUE' (repeatable)")
	f.StringVar(&heatmap, "heatmap", "", "selection as a heatmap region COLUMN:MIN:MAX")
	f.StringVar(&sloName, "slo", "", "selection: the SLO's bad events, against its good ones")
	f.DurationVar(&last, "last", time.Hour, "time range ending now")
	f.IntVar(&values, "values", 3, "values shown per column")
	f.BoolVar(&asJSON, "json", false, "print the raw JSON answer")
	addClientFlags(cmd, &c)
	return cmd
}
