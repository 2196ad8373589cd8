package store

import (
	"fmt"
	"strings"

	"github.com/dustin/go-humanize"
)

// ColumnLimitNote is what an event is told when its dataset's column
// limit left some of its new fields out: the limit, how many fields, and
// the first few names. Both event stores say it the same way.
func ColumnLimitNote(dataset string, limit int, left []string) string {
	names := left
	more := ""
	if len(names) > 5 {
		names = names[:5]
		more = fmt.Sprintf(" and %s more", humanize.Comma(int64(len(left)-5)))
	}
	what := "1 new field of this event was"
	if len(left) != 1 {
		what = humanize.Comma(int64(len(left))) + " new fields of this event were"
	}
	return fmt.Sprintf("dataset %q has reached its limit of %s columns (--max-columns); %s not stored: %s%s",
		dataset, humanize.Comma(int64(limit)), what, strings.Join(names, ", "), more)
}
