package store

import (
	"fmt"
	"strings"

	"github.com/dustin/go-humanize"
)

// DefaultMaxColumns is the most columns a dataset has unless
// --max-columns says otherwise. Until DuckDB checkpoints it, each column
// of the segment a day's events go to holds a 256 KB block: 0.5 GB at
// 2,000 columns, 2.6 GB at 10,000 (measured with 3,000 events of 20 fields
// each), and a commit of 1,000 such events took 2-4 s at 2,000 columns
// against 15-20 s at 10,000. Queries and explain read a few columns of a
// wide dataset at a time, so the limit is what bounds the memory of
// writing one.
const DefaultMaxColumns = 2000

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
