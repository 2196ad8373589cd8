package marker

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteTable writes markers as prodex marker list prints them: a text
// table in local time, each message on one line.
func WriteTable(w io.Writer, ms []Marker) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTART\tEND\tTYPE\tMESSAGE\tURL\tAUTHOR")
	oneLine := strings.NewReplacer("\n", " ⏎ ", "\t", " ")
	for _, m := range ms {
		end := "-"
		if m.EndTime != 0 {
			end = time.Unix(m.EndTime, 0).Local().Format(time.DateTime)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.ID, time.Unix(m.StartTime, 0).Local().Format(time.DateTime), end,
			m.Type, oneLine.Replace(m.Message), m.URL, m.Author)
	}
	return tw.Flush()
}
