package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/prodex/prodex/internal/event"
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
			req := map[string]any{"time_range": int64(last / time.Second), "values": values}
			sel := map[string]any{}
			if err := addFilters(req, wheres); err != nil {
				return err
			}
			if err := addFilters(sel, selects); err != nil {
				return err
			}
			if heatmap != "" {
				parts := strings.Split(heatmap, ":")
				if len(parts) != 3 {
					return fmt.Errorf("--heatmap %q: want COLUMN:MIN:MAX", heatmap)
				}
				lo, err1 := strconv.ParseFloat(parts[1], 64)
				hi, err2 := strconv.ParseFloat(parts[2], 64)
				if err1 != nil || err2 != nil {
					return fmt.Errorf("--heatmap %q: MIN and MAX must be numbers", heatmap)
				}
				sel["heatmap"] = map[string]any{"column": parts[0], "min": lo, "max": hi}
			}
			if sloName != "" {
				sel["slo"] = sloName
			}
			req["selection"] = sel
			var raw json.RawMessage
			if err := c.do("POST", "/api/v1/explain/"+ds, req, &raw); err != nil {
				return err
			}
			if asJSON {
				return printJSON(raw)
			}
			var a struct {
				SelectionCount int64 `json:"selection_count"`
				BaselineCount  int64 `json:"baseline_count"`
				Columns        []struct {
					Column string
					Score  float64
					Values []struct {
						Value          any
						SelectionShare float64 `json:"selection_share"`
						BaselineShare  float64 `json:"baseline_share"`
					}
				}
			}
			if err := json.Unmarshal(raw, &a); err != nil {
				return err
			}
			fmt.Printf("selection: %d events, baseline: %d events\n", a.SelectionCount, a.BaselineCount)
			tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "COLUMN\tSCORE\tVALUE\tSELECTION\tBASELINE")
			for _, col := range a.Columns {
				for i, v := range col.Values {
					name, score := "", ""
					if i == 0 {
						name, score = col.Column, fmt.Sprintf("%.3f", col.Score)
					}
					fmt.Fprintf(tw, "%s\t%s\t%v\t%.1f%%\t%.1f%%\n", name, score, v.Value, 100*v.SelectionShare, 100*v.BaselineShare)
				}
			}
			return tw.Flush()
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
