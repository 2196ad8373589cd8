package duckdb

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prodex/prodex/internal/event"
	"github.com/prodex/prodex/internal/schema"
)

func ev(t time.Time, sr int64, kv ...any) event.Event {
	f := map[string]any{}
	for i := 0; i < len(kv); i += 2 {
		f[kv[i].(string)] = kv[i+1]
	}
	return event.Event{Time: t, SampleRate: sr, Fields: f}
}

func appendOK(t *testing.T, s *Store, ds string, evs ...event.Event) {
	t.Helper()
	b := &event.Batch{Dataset: ds, Events: evs}
	if err := s.Append(context.Background(), []*event.Batch{b}); err != nil {
		t.Fatal(err)
	}
	for i, err := range b.Errs {
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
	}
}

// dump reads back every event of a dataset as "name=value" lines, sorted.
func dump(t *testing.T, s *Store, ds string) []string {
	t.Helper()
	cat, err := s.Catalog(ds)
	if err != nil {
		t.Fatal(err)
	}
	cols := cat.Columns()
	var phys []string
	for _, c := range cols {
		phys = append(phys, c.Phys)
	}
	start, end := time.Unix(0, 0), time.Now().Add(48*time.Hour)
	q := "SELECT ts, sr"
	for _, p := range phys {
		q += ", " + ident(p)
	}
	q += " FROM " + cat.From(phys, start, end) + " ORDER BY ts"
	rows, err := s.DB().Query(q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		vals := make([]any, len(phys)+2)
		ptrs := make([]any, len(vals))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		line := fmt.Sprintf("sr=%v", vals[1])
		for i, c := range cols {
			if vals[i+2] != nil {
				line += fmt.Sprintf(" %s=%v(%T)", c.Name, vals[i+2], vals[i+2])
			}
		}
		out = append(out, line)
	}
	return out
}

func TestAppendSchemaOnWrite(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Truncate(time.Second)
	appendOK(t, s, "web", ev(now, 1, "status", int64(200), "Status", "ok", "dur", int64(12)))
	// a float promotes the integer column; a new field adds a column
	appendOK(t, s, "web", ev(now.Add(time.Second), 10, "status", int64(500), "dur", 12.5, "host", "a"))
	// a string that is not a number promotes to string
	appendOK(t, s, "web", ev(now.Add(2*time.Second), 1, "dur", "slow"))
	// yesterday goes to another segment
	appendOK(t, s, "web", ev(now.Add(-24*time.Hour), 1, "status", "404"))

	want := []string{
		"sr=1 status=404(int64)",
		"sr=1 Status=ok(string) dur=12.0(string) status=200(int64)", // promoted integer → float → string in place,
		"sr=10 dur=12.5(string) host=a(string) status=500(int64)",
		"sr=1 dur=slow(string)",
	}
	check := func() {
		got := dump(t, s, "web")
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	check()
	cols, _ := s.Columns("web")
	types := map[string]schema.Type{}
	for _, c := range cols {
		types[c.Name] = c.Type
	}
	if types["dur"] != schema.String || types["status"] != schema.Integer || types["Status"] != schema.String {
		t.Fatalf("types %v", types)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	check()
	appendOK(t, s, "web", ev(now.Add(3*time.Second), 1, "dur", int64(7), "new", true))
	want = append(want, "sr=1 dur=7(string) new=true(bool)")
	check()
}

func TestColumnLimitAndRetention(t *testing.T) {
	s, err := Open(t.TempDir(), Options{MaxColumns: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	b := &event.Batch{Dataset: "x", Events: []event.Event{
		ev(now, 1, "a", int64(1), "b", int64(2)),
		ev(now, 1, "c", int64(1), "d", int64(2)),
		ev(now, 1, "c", int64(1)),
		ev(now.Add(-61*24*time.Hour), 1, "a", int64(1)),
	}}
	if err := s.Append(context.Background(), []*event.Batch{b}); err != nil {
		t.Fatal(err)
	}
	// The second event keeps c (the third column) and leaves d out.
	if b.Errs[0] != nil || b.Errs[1] != nil || b.Errs[2] != nil || b.Errs[3] == nil || len(b.Notes) != 4 || b.Notes[1] == "" {
		t.Fatalf("errs %v, notes %q", b.Errs, b.Notes)
	}
	if got := len(dump(t, s, "x")); got != 3 {
		t.Fatalf("stored %d events, want 3", got)
	}
}

func TestDropExpired(t *testing.T) {
	s, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	appendOK(t, s, "x", ev(now.Add(-10*24*time.Hour), 1, "a", int64(1)), ev(now, 1, "a", int64(2)))
	if err := s.SetRetention(context.Background(), "x", 5*24*time.Hour); err != nil {
		t.Fatal(err)
	}
	n, err := s.DropExpired(context.Background(), now)
	if err != nil || n != 1 {
		t.Fatalf("dropped %d, %v", n, err)
	}
	if got := dump(t, s, "x"); len(got) != 1 || got[0] != "sr=1 a=2(int64)" {
		t.Fatalf("left %v", got)
	}
}

func TestLargeSegmentStartsNewOne(t *testing.T) {
	s, err := Open(t.TempDir(), Options{AlterRows: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	appendOK(t, s, "x", ev(now, 1, "a", int64(1)), ev(now, 1, "a", int64(2)))
	appendOK(t, s, "x", ev(now, 1, "b", "new"))
	appendOK(t, s, "x", ev(now, 1, "a", 2.5))
	cat, _ := s.catalog("x")
	if len(cat.segments) != 2 {
		t.Fatalf("segments %d, want 2", len(cat.segments))
	}
	if got := len(dump(t, s, "x")); got != 4 {
		t.Fatalf("rows %d", got)
	}
}

func TestFullSegmentRotates(t *testing.T) {
	s, err := Open(t.TempDir(), Options{SegmentRows: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	for i := 0; i < 4; i++ {
		appendOK(t, s, "x", ev(now, 1, "a", int64(i)), ev(now, 1, "a", int64(i)))
	}
	cat, _ := s.catalog("x")
	// A commit goes to the current segment if it is not yet full: 2+2
	// rows, then a new segment for the next 2+2.
	if len(cat.segments) != 2 {
		t.Fatalf("segments %d, want 2", len(cat.segments))
	}
	if got := len(dump(t, s, "x")); got != 8 {
		t.Fatalf("rows %d", got)
	}
}
