package store

import (
	"fmt"
	"sort"
	"strings"

	"github.com/dustin/go-humanize"
	"github.com/prodex/prodex/internal/event"
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

// FitColumns leaves out of event i of b the new fields that would take
// the dataset past its column limit, given the columns it has or this
// write adds (have) and which fields those are (known): the event keeps
// its known fields and, of its new ones, those that fit, by name; its
// note says what was left out. Both event stores apply the limit so.
func FitColumns(b *event.Batch, i int, dataset string, limit, have int, known func(string) bool) {
	ev := &b.Events[i]
	var fresh []string
	for name, v := range ev.Fields {
		if v != nil && !known(name) {
			fresh = append(fresh, name)
		}
	}
	room := max(0, limit-have)
	if len(fresh) <= room {
		return
	}
	sort.Strings(fresh)
	left := fresh[room:]
	for _, name := range left {
		delete(ev.Fields, name)
	}
	b.Note(i, ColumnLimitNote(dataset, limit, left))
}
