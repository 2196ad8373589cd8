package storetest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prodex/prodex/internal/event"
)

// schemaCounter is a store that counts the statements changing its
// tables' columns.
type schemaCounter interface{ SchemaChanges() int64 }

// wideCommit: one event bringing 2,000 new fields into a dataset that
// already holds events is stored whole, and its columns are made by a
// schema change per table (a few statements), never one per column: one
// per column made five such events take half a minute each.
func wideCommit(t *testing.T, open Opener) {
	st := open(t, Config{MaxColumns: 5000})
	put(t, st, "w", ev(0, 1, map[string]any{"a": int64(1)}))
	fields := map[string]any{"a": int64(2)}
	for i := range 2000 {
		fields[fmt.Sprintf("f%04d", i)] = int64(i)
	}
	sc, counts := st.(schemaCounter)
	var before int64
	if counts {
		before = sc.SchemaChanges()
	}
	put(t, st, "w", ev(time.Minute, 1, fields))
	if counts {
		// A table per shard replica at most, local and Distributed.
		if n := sc.SchemaChanges() - before; n < 1 || n > 16 {
			t.Errorf("2,000 new columns took %d schema changes; want one per table", n)
		}
	}
	cols, err := st.Columns("w")
	if err != nil {
		t.Fatal(err)
	}
	if len(cols) != 2001 {
		t.Errorf("%d columns, want 2001", len(cols))
	}
	want(t, "query", rows(ask(t, st, "w", `{"calculations":[{"op":"COUNT"},{"op":"SUM","column":"a"},{"op":"MAX","column":"f1999"}]}`)),
		"COUNT=2(int64) MAX(f1999)=1999(int64) SUM(a)=3(int64)")
	// More new columns into the same day's events: again a few changes.
	more := map[string]any{}
	for i := range 100 {
		more[fmt.Sprintf("g%03d", i)] = "v"
	}
	if counts {
		before = sc.SchemaChanges()
	}
	put(t, st, "w", ev(2*time.Minute, 1, more))
	if counts {
		if n := sc.SchemaChanges() - before; n < 1 || n > 16 {
			t.Errorf("100 new columns took %d schema changes; want one per table", n)
		}
	}
	want(t, "query after", rows(ask(t, st, "w", `{"calculations":[{"op":"COUNT"},{"op":"COUNT_DISTINCT","column":"g099"}]}`)),
		"COUNT=3(int64) COUNT_DISTINCT(g099)=1(int64)")
}

// columnLimit: an event that would take its dataset past the column limit
// is stored with its known fields and the new ones that still fit (by
// name), and its note names the limit and the fields left out.
func columnLimit(t *testing.T, open Opener) {
	st := open(t, Config{MaxColumns: 3})
	b := &event.Batch{Dataset: "c", Events: []event.Event{
		ev(0, 1, map[string]any{"a": int64(1), "b": int64(1)}),
		ev(0, 1, map[string]any{"a": int64(5), "c": int64(1), "d": int64(1)}),
		ev(0, 1, map[string]any{"a": int64(2), "c": int64(2)}),
		ev(0, 1, map[string]any{"e": "only a new field"}),
	}, Errs: make([]error, 4)}
	if err := st.Append(context.Background(), []*event.Batch{b}); err != nil {
		t.Fatal(err)
	}
	for i, err := range b.Errs {
		if err != nil {
			t.Errorf("event %d refused: %v; want it stored with the fields that fit", i, err)
		}
	}
	note := func(i int) string {
		if i < len(b.Notes) {
			return b.Notes[i]
		}
		return ""
	}
	for _, i := range []int{1, 3} {
		missing := map[int]string{1: "d", 3: "e"}[i]
		if n := note(i); !strings.Contains(n, "limit of 3 columns") || !strings.Contains(n, missing) {
			t.Errorf("event %d's note %q: want it to name the limit of 3 columns and the field %s", i, n, missing)
		}
	}
	if note(0) != "" || note(2) != "" {
		t.Errorf("notes %q: want none for the events stored whole", b.Notes)
	}
	want(t, "columns", columnTypes(t, st, "c"), "a:integer b:integer c:integer")
	want(t, "stored", rows(ask(t, st, "c", `{"calculations":[{"op":"COUNT"},{"op":"SUM","column":"a"},{"op":"SUM","column":"c"}]}`)),
		"COUNT=4(int64) SUM(a)=8(int64) SUM(c)=3(int64)")
}
