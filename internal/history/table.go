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
)

// WriteRuns writes query runs as prodex history prints them: a text table
// in local time, a failed run's error after its question, which question
// says in one line (query.SpecLine).
func WriteRuns(w io.Writer, runs []Run, question func(spec json.RawMessage) string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tAUTHOR\tDATASET\tQUERY\tDURATION\tROWS\tQUESTION")
	for _, r := range runs {
		rows, q := strconv.Itoa(r.Rows), question(r.Spec)
		if r.Error != "" {
			rows, q = "failed", q+" — "+r.Error
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.RanAt.Local().Format(time.DateTime), oneLine(r.Author, 30), r.Dataset, r.QueryID,
			msString(r.DurationMS), rows, oneLine(q, 120))
	}
	return tw.Flush()
}

// WriteSaved writes saved queries as prodex saved list prints them: a
// text table in local time, each question in one line (query.SpecLine).
func WriteSaved(w io.Writer, list []Saved, question func(spec json.RawMessage) string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tDATASET\tQUERY\tAUTHOR\tUPDATED\tQUESTION\tDESCRIPTION")
	for _, s := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, oneLine(s.Name, 60), s.Dataset, s.QueryID, oneLine(s.Author, 30),
			s.UpdatedAt.Local().Format(time.DateTime), oneLine(question(s.Spec), 100), oneLine(s.Description, 60))
	}
	return tw.Flush()
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
