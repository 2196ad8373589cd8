package explain

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// WriteTable writes an answer as prodex explain prints it: the two
// populations' sizes, then each column's top values with their shares in
// the selection and the baseline, the column's name and score on its
// first line.
func (a Answer) WriteTable(w io.Writer) error {
	fmt.Fprintf(w, "selection: %d events, baseline: %d events\n", a.SelectionCount, a.BaselineCount)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
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
}
