package meta

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prodex/prodex/internal/history"
	"github.com/prodex/prodex/internal/problem"
	"github.com/prodex/prodex/internal/query"
)

var histT0 = time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)

func histQuery(t *testing.T, ds, spec string) history.Query {
	t.Helper()
	s, err := query.Parse([]byte(spec))
	if err != nil {
		t.Fatal(err)
	}
	q, err := history.NewQuery(ds, s, histT0)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func record(t *testing.T, s *embedded, q history.Query, author string, at time.Time, errText string) history.Run {
	t.Helper()
	r := history.Run{ID: history.NewID(), QueryID: q.ID, Dataset: q.Dataset, Author: author, RanAt: at, DurationMS: 12.5, Rows: 3, Error: errText}
	if err := s.RecordRun(context.Background(), q, r); err != nil {
		t.Fatal(err)
	}
	return r
}

func runIDs(t *testing.T, s *embedded, f history.RunFilter) []string {
	t.Helper()
	runs, err := s.Runs(context.Background(), f)
	if err != nil {
		t.Fatalf("%+v: %v", f, err)
	}
	ids := []string{}
	for _, r := range runs {
		ids = append(ids, r.ID)
	}
	return ids
}

func TestQueryHistory(t *testing.T) {
	dir := t.TempDir()
	s, err := openEmbedded(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	p99 := histQuery(t, "checkout", `{"time_range": 3600, "calculations": [{"op": "P99", "column": "duration_ms"}], "filters": [{"column": "status_code", "op": ">=", "value": 500}]}`)
	cnt := histQuery(t, "payments", `{"time_range": 3600, "calculations": [{"op": "COUNT"}], "breakdowns": ["100%_done"]}`)
	r1 := record(t, s, p99, "alice", histT0, "")
	r2 := record(t, s, p99, "bob", histT0.Add(time.Minute), "")
	r3 := record(t, s, cnt, "Alice", histT0.Add(2*time.Minute), "query exceeded its time limit")

	got, err := s.StoredQuery(ctx, p99.ID)
	if err != nil || got.ID != p99.ID || got.Dataset != "checkout" || string(got.Spec) != string(p99.Spec) || !got.CreatedAt.Equal(histT0) {
		t.Fatalf("StoredQuery = %+v, %v; want %+v", got, err, p99)
	}
	if _, err := s.StoredQuery(ctx, "0000000000000000"); !errors.Is(err, problem.ErrNotFound) {
		t.Errorf("unknown query: %v, want ErrNotFound", err)
	}

	tests := []struct {
		name string
		f    history.RunFilter
		want []string
	}{
		{"all, newest first", history.RunFilter{}, []string{r3.ID, r2.ID, r1.ID}},
		{"dataset", history.RunFilter{Dataset: "checkout"}, []string{r2.ID, r1.ID}},
		{"author, any case", history.RunFilter{Author: "ALICE"}, []string{r3.ID, r1.ID}},
		{"text in the spec", history.RunFilter{Text: "Duration_MS"}, []string{r2.ID, r1.ID}},
		{"text in the spec as written", history.RunFilter{Text: `"status_code","op":">="`}, []string{r2.ID, r1.ID}},
		{"text in the author", history.RunFilter{Text: "bo"}, []string{r2.ID}},
		{"text in the dataset", history.RunFilter{Text: "paymen"}, []string{r3.ID}},
		{"% is literal", history.RunFilter{Text: "100%_"}, []string{r3.ID}},
		{"% alone matches only a %", history.RunFilter{Text: "%"}, []string{r3.ID}},
		{"_ is literal", history.RunFilter{Text: "stat_s"}, []string{}},
		{"quotes and SQL are text", history.RunFilter{Text: `'; DROP TABLE px_queries; --`}, []string{}},
		{"since", history.RunFilter{Since: histT0.Add(time.Minute)}, []string{r3.ID, r2.ID}},
		{"until is exclusive", history.RunFilter{Until: histT0.Add(time.Minute)}, []string{r1.ID}},
		{"since and until", history.RunFilter{Since: histT0.Add(30 * time.Second), Until: histT0.Add(90 * time.Second)}, []string{r2.ID}},
		{"limit", history.RunFilter{Limit: 2}, []string{r3.ID, r2.ID}},
		{"everything at once", history.RunFilter{Dataset: "checkout", Author: "alice", Text: "p99", Since: histT0, Until: histT0.Add(time.Hour), Limit: 5}, []string{r1.ID}},
		{"nothing", history.RunFilter{Dataset: "nope"}, []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := runIDs(t, s, tc.f); fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	runs, _ := s.Runs(ctx, history.RunFilter{Limit: 1})
	if r := runs[0]; r.QueryID != cnt.ID || r.Author != "Alice" || r.Dataset != "payments" || string(r.Spec) != string(cnt.Spec) ||
		!r.RanAt.Equal(r3.RanAt) || r.DurationMS != 12.5 || r.Rows != 3 || r.Error != r3.Error {
		t.Errorf("run read back as %+v, want %+v", r, r3)
	}

	// The query table holds each question once.
	var n int
	if err := s.DB().QueryRow(`SELECT count(*) FROM px_queries`).Scan(&n); err != nil || n != 2 {
		t.Errorf("%d queries stored (%v), want 2", n, err)
	}

	// Everything survives a restart.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = openEmbedded(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := runIDs(t, s, history.RunFilter{}); len(got) != 3 {
		t.Errorf("after restart: %v", got)
	}
}

func TestRecordRunConcurrently(t *testing.T) {
	s, err := openEmbedded(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	q := histQuery(t, "checkout", `{"time_range": 60}`)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- s.RecordRun(context.Background(), q, history.Run{ID: history.NewID(), QueryID: q.ID, Dataset: q.Dataset, Author: "a", RanAt: histT0})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if got := runIDs(t, s, history.RunFilter{}); len(got) != 16 {
		t.Errorf("%d runs, want 16", len(got))
	}
	if err := s.RecordRun(context.Background(), q, history.Run{ID: history.NewID(), QueryID: "other"}); err == nil {
		t.Error("a run recorded under another query's id")
	}
}

func TestSavedQueries(t *testing.T) {
	s, err := openEmbedded(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	q := histQuery(t, "checkout", `{"time_range": 3600, "calculations": [{"op": "P99", "column": "duration_ms"}]}`)
	record(t, s, q, "alice", histT0, "")

	save := func(name, desc string) history.Saved {
		t.Helper()
		sq, err := s.CreateSavedQuery(ctx, history.Saved{ID: history.NewID(), Name: name, Description: desc, QueryID: q.ID, Author: "bob", CreatedAt: histT0, UpdatedAt: histT0})
		if err != nil {
			t.Fatal(err)
		}
		return sq
	}
	slow := save("Slow checkouts", "P99 latency of checkout, for the Monday review")
	errs := save("errors by region", "50% of them are 5xx_timeouts")
	if slow.Dataset != "checkout" || string(slow.Spec) != string(q.Spec) || slow.Author != "bob" || slow.QueryID != q.ID || !slow.CreatedAt.Equal(histT0) {
		t.Errorf("saved query read back as %+v", slow)
	}
	if _, err := s.CreateSavedQuery(ctx, history.Saved{ID: history.NewID(), Name: "x", QueryID: "ffffffffffffffff"}); !errors.Is(err, problem.ErrNotFound) {
		t.Errorf("saving an unknown query: %v, want ErrNotFound", err)
	}

	names := func(text string) string {
		t.Helper()
		list, err := s.SavedQueries(ctx, text, 0)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, sq := range list {
			out = append(out, sq.Name)
		}
		return fmt.Sprint(out)
	}
	for text, want := range map[string]string{
		"":         "[errors by region Slow checkouts]", // by name, ignoring case
		"SLOW":     "[Slow checkouts]",
		"monday":   "[Slow checkouts]",
		"50%":      "[errors by region]",
		"5xx_":     "[errors by region]",
		"ti_eouts": "[]",
		"nothing":  "[]",
		"' OR 1=1": "[]",
	} {
		if got := names(text); got != want {
			t.Errorf("search %q: %s, want %s", text, got, want)
		}
	}

	later := histT0.Add(time.Hour)
	up, err := s.UpdateSavedQuery(ctx, slow.ID, "Slow checkouts (EU)", "", later)
	if err != nil || up.Name != "Slow checkouts (EU)" || up.Description != "" || !up.UpdatedAt.Equal(later) || !up.CreatedAt.Equal(histT0) || up.Author != "bob" {
		t.Errorf("update: %+v, %v", up, err)
	}
	if _, err := s.UpdateSavedQuery(ctx, "0000000000000000", "x", "", later); !errors.Is(err, problem.ErrNotFound) {
		t.Errorf("update unknown: %v", err)
	}
	if err := s.DeleteSavedQuery(ctx, errs.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSavedQuery(ctx, errs.ID); !errors.Is(err, problem.ErrNotFound) {
		t.Errorf("delete twice: %v", err)
	}
	if _, err := s.SavedQuery(ctx, errs.ID); !errors.Is(err, problem.ErrNotFound) {
		t.Errorf("get deleted: %v", err)
	}
	if got := names(""); got != "[Slow checkouts (EU)]" {
		t.Errorf("after delete: %s", got)
	}
	// The query and its runs stay: they are history.
	if _, err := s.StoredQuery(ctx, q.ID); err != nil {
		t.Error(err)
	}
}

// TestDropRunsBefore: old runs go, and with them the queries nothing
// refers to any more; saved queries keep theirs.
func TestDropRunsBefore(t *testing.T) {
	s, err := openEmbedded(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	old := histT0.Add(-100 * 24 * time.Hour)
	mk := func(spec string) history.Query {
		sp, err := query.Parse([]byte(spec))
		if err != nil {
			t.Fatal(err)
		}
		q, err := history.NewQuery("checkout", sp, old)
		if err != nil {
			t.Fatal(err)
		}
		return q
	}
	gone := mk(`{"time_range": 60}`)
	kept := mk(`{"time_range": 120}`)
	saved := mk(`{"time_range": 180}`)
	record(t, s, gone, "a", old, "")
	record(t, s, kept, "a", old, "")
	recent := record(t, s, kept, "a", histT0, "")
	record(t, s, saved, "a", old, "")
	if _, err := s.CreateSavedQuery(ctx, history.Saved{ID: history.NewID(), Name: "n", QueryID: saved.ID, Author: "a", CreatedAt: old, UpdatedAt: old}); err != nil {
		t.Fatal(err)
	}
	n, err := s.DropRunsBefore(ctx, histT0.Add(-30*24*time.Hour))
	if err != nil || n != 3 {
		t.Fatalf("dropped %d runs: %v", n, err)
	}
	if ids := runIDs(t, s, history.RunFilter{}); len(ids) != 1 || ids[0] != recent.ID {
		t.Errorf("runs left: %v", ids)
	}
	if _, err := s.StoredQuery(ctx, gone.ID); !errors.Is(err, problem.ErrNotFound) {
		t.Errorf("unreferenced query kept: %v", err)
	}
	for _, q := range []history.Query{kept, saved} {
		if _, err := s.StoredQuery(ctx, q.ID); err != nil {
			t.Errorf("query %s: %v", q.ID, err)
		}
	}
}
