package incident

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// WriteTable writes incidents as prodex incident list prints them: a text
// table in local time, "-" for a time to repair not yet known.
func WriteTable(w io.Writer, incs []Incident) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSEVERITY\tSTATUS\tDETECTED\tTTD\tTTR\tCOMMANDER\tTITLE")
	for _, i := range incs {
		ttr := "-"
		if i.TTR != nil {
			ttr = i.TTR.String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", i.ID, i.Severity, i.Status, i.DetectedAt.Local().Format(time.DateTime), i.TTD, ttr, i.Commander, i.Title)
	}
	return tw.Flush()
}
