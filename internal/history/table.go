package history

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/prodex/prodex/internal/query"
)

// WriteRuns writes query runs as prodex history prints them: a text table
// in local time, a failed run's error after its question.
func WriteRuns(w io.Writer, runs []Run) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tAUTHOR\tDATASET\tQUERY\tDURATION\tROWS\tQUESTION")
	for _, r := range runs {
		rows, question := strconv.Itoa(r.Rows), specLine(r.Spec)
		if r.Error != "" {
			rows, question = "failed", question+" — "+r.Error
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.RanAt.Local().Format(time.DateTime), oneLine(r.Author, 30), r.Dataset, r.QueryID,
			msString(r.DurationMS), rows, oneLine(question, 120))
	}
	return tw.Flush()
}

// WriteSaved writes saved queries as prodex saved list prints them: a
// text table in local time.
func WriteSaved(w io.Writer, list []Saved) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tDATASET\tQUERY\tAUTHOR\tUPDATED\tQUESTION\tDESCRIPTION")
	for _, s := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, oneLine(s.Name, 60), s.Dataset, s.QueryID, oneLine(s.Author, 30),
			s.UpdatedAt.Local().Format(time.DateTime), oneLine(specLine(s.Spec), 100), oneLine(s.Description, 60))
	}
	return tw.Flush()
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
