package metatest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prodex/prodex/internal/history"
	"github.com/prodex/prodex/internal/problem"
	"github.com/prodex/prodex/internal/query"
)

func histQuery(t *testing.T, ds, spec string, created time.Time) history.Query {
	t.Helper()
	sp, err := query.Parse([]byte(spec))
	if err != nil {
		t.Fatal(err)
	}
	q, err := history.NewQuery(ds, sp, created)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func record(t *testing.T, s Store, q history.Query, author string, at time.Time, errText string) history.Run {
	t.Helper()
	r := history.Run{ID: history.NewID(), QueryID: q.ID, Dataset: q.Dataset, Author: author, RanAt: at, DurationMS: 12.5, Rows: 3, Error: errText}
	if err := s.RecordRun(context.Background(), q, r); err != nil {
		t.Fatal(err)
	}
	return r
}

func runIDs(t *testing.T, s Store, f history.RunFilter) []string {
	t.Helper()
	runs, err := s.Runs(context.Background(), f)
	if err != nil {
		t.Fatalf("%+v: %v", f, err)
	}
	if runs == nil {
		t.Errorf("Runs(%+v) = nil; want an empty list, which the API writes as []", f)
	}
	ids := []string{}
	for _, r := range runs {
		ids = append(ids, r.ID)
	}
	return ids
}

// testQueryHistory: runs newest first, with every filter; each query is
// stored once however often it runs.
func testQueryHistory(t *testing.T, s Store) {
	ctx := context.Background()
	p99 := histQuery(t, "checkout", `{"time_range": 3600, "calculations": [{"op": "P99", "column": "duration_ms"}], "filters": [{"column": "status_code", "op": ">=", "value": 500}]}`, t0)
	cnt := histQuery(t, "payments", `{"time_range": 3600, "calculations": [{"op": "COUNT"}], "breakdowns": ["100%_done"]}`, t0)
	r1 := record(t, s, p99, "alice", t0, "")
	r2 := record(t, s, p99, "bob", t0.Add(time.Minute), "")
	r3 := record(t, s, cnt, "Alice", t0.Add(2*time.Minute), "query exceeded its time limit")
	// Runs at the same moment sort by id.
	tie1 := history.Run{ID: "ffff000000000001", QueryID: cnt.ID, Dataset: cnt.Dataset, Author: "tie", RanAt: t0.Add(-time.Hour)}
	tie0 := tie1
	tie0.ID = "ffff000000000000"
	for _, r := range []history.Run{tie1, tie0} {
		if err := s.RecordRun(ctx, cnt, r); err != nil {
			t.Fatal(err)
		}
	}

	got, err := s.StoredQuery(ctx, p99.ID)
	if err != nil || got.ID != p99.ID || got.Dataset != "checkout" || string(got.Spec) != string(p99.Spec) || !got.CreatedAt.Equal(t0) {
		t.Fatalf("StoredQuery = %+v, %v; want %+v", got, err, p99)
	}
	if _, err := s.StoredQuery(ctx, "0000000000000000"); !errors.Is(err, problem.ErrNotFound) {
		t.Errorf("unknown query: %v, want ErrNotFound", err)
	}
	if err := s.RecordRun(ctx, p99, history.Run{ID: history.NewID(), QueryID: cnt.ID}); err == nil {
		t.Error("a run recorded under another query's id")
	}

	tests := []struct {
		name string
		f    history.RunFilter
		want []string
	}{
		{"all, newest first, ties by id", history.RunFilter{}, []string{r3.ID, r2.ID, r1.ID, tie0.ID, tie1.ID}},
		{"dataset", history.RunFilter{Dataset: "checkout"}, []string{r2.ID, r1.ID}},
		{"author, any case", history.RunFilter{Author: "ALICE"}, []string{r3.ID, r1.ID}},
		{"text in the spec", history.RunFilter{Text: "Duration_MS"}, []string{r2.ID, r1.ID}},
		{"text in the spec as written", history.RunFilter{Text: `"status_code","op":">="`}, []string{r2.ID, r1.ID}},
		{"text in the author", history.RunFilter{Text: "bo"}, []string{r2.ID}},
		{"text in the dataset", history.RunFilter{Text: "paymen", Since: t0}, []string{r3.ID}},
		{"% is literal", history.RunFilter{Text: "100%_", Since: t0}, []string{r3.ID}},
		{"% alone matches only a %", history.RunFilter{Text: "%", Since: t0}, []string{r3.ID}},
		{"_ is literal", history.RunFilter{Text: "stat_s"}, []string{}},
		{`\ is literal`, history.RunFilter{Text: `status\_code`}, []string{}},
		{"quotes and SQL are text", history.RunFilter{Text: `'; DROP TABLE px_queries; --`}, []string{}},
		{"since", history.RunFilter{Since: t0.Add(time.Minute)}, []string{r3.ID, r2.ID}},
		{"until is exclusive", history.RunFilter{Until: t0.Add(time.Minute)}, []string{r1.ID, tie0.ID, tie1.ID}},
		{"since and until", history.RunFilter{Since: t0.Add(30 * time.Second), Until: t0.Add(90 * time.Second)}, []string{r2.ID}},
		{"limit", history.RunFilter{Limit: 2}, []string{r3.ID, r2.ID}},
		{"everything at once", history.RunFilter{Dataset: "checkout", Author: "alice", Text: "p99", Since: t0, Until: t0.Add(time.Hour), Limit: 5}, []string{r1.ID}},
		{"nothing", history.RunFilter{Dataset: "nope"}, []string{}},
	}
	for _, tc := range tests {
		if got := runIDs(t, s, tc.f); !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
	runs, err := s.Runs(ctx, history.RunFilter{Limit: 1})
	if err != nil || len(runs) != 1 {
		t.Fatalf("Runs: %d, %v", len(runs), err)
	}
	if r := runs[0]; r.ID != r3.ID || r.QueryID != cnt.ID || r.Author != "Alice" || r.Dataset != "payments" || string(r.Spec) != string(cnt.Spec) ||
		!r.RanAt.Equal(r3.RanAt) || r.DurationMS != 12.5 || r.Rows != 3 || r.Error != r3.Error {
		t.Errorf("run read back as %+v, want %+v", r, r3)
	}
}

// testRecordRunConcurrently: runs of one new query recorded at once all
// land, and store the query once.
func testRecordRunConcurrently(t *testing.T, s Store) {
	q := histQuery(t, "checkout", `{"time_range": 60}`, t0)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- s.RecordRun(context.Background(), q, history.Run{ID: history.NewID(), QueryID: q.ID, Dataset: q.Dataset, Author: "a", RanAt: t0})
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
	if got, err := s.StoredQuery(context.Background(), q.ID); err != nil || string(got.Spec) != string(q.Spec) {
		t.Errorf("StoredQuery = %+v, %v", got, err)
	}
}

// testSavedQueries: saved queries take their dataset and spec from their
// query, list by name ignoring case, search name and description, and
// update and delete by id with ErrNotFound for an unknown one.
func testSavedQueries(t *testing.T, s Store) {
	ctx := context.Background()
	q := histQuery(t, "checkout", `{"time_range": 3600, "calculations": [{"op": "P99", "column": "duration_ms"}]}`, t0)
	record(t, s, q, "alice", t0, "")

	save := func(name, desc string) history.Saved {
		t.Helper()
		sq, err := s.CreateSavedQuery(ctx, history.Saved{ID: history.NewID(), Name: name, Description: desc, QueryID: q.ID, Author: "bob", CreatedAt: t0, UpdatedAt: t0})
		if err != nil {
			t.Fatal(err)
		}
		return sq
	}
	slow := save("Slow checkouts", "P99 latency of checkout, for the Monday review")
	errs := save("errors by region", "50% of them are 5xx_timeouts")
	save("Apdex", "")
	save("Ärger", "non-ASCII names sort after ASCII ones, byte by byte")
	if slow.Dataset != "checkout" || string(slow.Spec) != string(q.Spec) || slow.Author != "bob" || slow.QueryID != q.ID ||
		!slow.CreatedAt.Equal(t0) || !slow.UpdatedAt.Equal(t0) || slow.Name != "Slow checkouts" {
		t.Errorf("saved query read back as %+v", slow)
	}
	if got, err := s.SavedQuery(ctx, slow.ID); err != nil || got.ID != slow.ID || got.Description != slow.Description || string(got.Spec) != string(q.Spec) {
		t.Errorf("SavedQuery = %+v, %v", got, err)
	}
	if _, err := s.CreateSavedQuery(ctx, history.Saved{ID: history.NewID(), Name: "x", QueryID: "ffffffffffffffff"}); !errors.Is(err, problem.ErrNotFound) {
		t.Errorf("saving an unknown query: %v, want ErrNotFound", err)
	}

	names := func(text string, limit int) string {
		t.Helper()
		list, err := s.SavedQueries(ctx, text, limit)
		if err != nil {
			t.Fatal(err)
		}
		if list == nil {
			t.Errorf("SavedQueries(%q) = nil; want an empty list, which the API writes as []", text)
		}
		var out []string
		for _, sq := range list {
			out = append(out, sq.Name)
		}
		return fmt.Sprint(out)
	}
	for _, tc := range []struct {
		text  string
		limit int
		want  string
	}{
		{"", 0, "[Apdex errors by region Slow checkouts Ärger]"}, // by name, ignoring case
		{"", 2, "[Apdex errors by region]"},
		{"", -1, "[Apdex errors by region Slow checkouts Ärger]"},
		{"SLOW", 0, "[Slow checkouts]"},
		{"monday", 0, "[Slow checkouts]"},
		{"50%", 0, "[errors by region]"},
		{"5xx_", 0, "[errors by region]"},
		{"ti_eouts", 0, "[]"},
		{"nothing", 0, "[]"},
		{"' OR 1=1", 0, "[]"},
	} {
		if got := names(tc.text, tc.limit); got != tc.want {
			t.Errorf("search %q, limit %d: %s, want %s", tc.text, tc.limit, got, tc.want)
		}
	}

	later := t0.Add(time.Hour)
	up, err := s.UpdateSavedQuery(ctx, slow.ID, "Slow checkouts (EU)", "", later)
	if err != nil || up.Name != "Slow checkouts (EU)" || up.Description != "" || !up.UpdatedAt.Equal(later) || !up.CreatedAt.Equal(t0) ||
		up.Author != "bob" || string(up.Spec) != string(q.Spec) {
		t.Errorf("update: %+v, %v", up, err)
	}
	if _, err := s.UpdateSavedQuery(ctx, "0000000000000000", "x", "", later); !errors.Is(err, problem.ErrNotFound) {
		t.Errorf("update unknown: %v, want ErrNotFound", err)
	}
	if err := s.DeleteSavedQuery(ctx, errs.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSavedQuery(ctx, errs.ID); !errors.Is(err, problem.ErrNotFound) {
		t.Errorf("delete twice: %v, want ErrNotFound", err)
	}
	if _, err := s.SavedQuery(ctx, errs.ID); !errors.Is(err, problem.ErrNotFound) {
		t.Errorf("get deleted: %v, want ErrNotFound", err)
	}
	if got := names("", 0); got != "[Apdex Slow checkouts (EU) Ärger]" {
		t.Errorf("after delete: %s", got)
	}
	// The query and its runs stay: they are history.
	if _, err := s.StoredQuery(ctx, q.ID); err != nil {
		t.Error(err)
	}
	if got := runIDs(t, s, history.RunFilter{}); len(got) != 1 {
		t.Errorf("runs after deleting saved queries: %v", got)
	}
}

// testDropRunsBefore: old runs go, and with them the queries nothing
// refers to any more; saved queries keep theirs.
func testDropRunsBefore(t *testing.T, s Store) {
	ctx := context.Background()
	old := t0.Add(-100 * 24 * time.Hour)
	gone := histQuery(t, "checkout", `{"time_range": 60}`, old)
	kept := histQuery(t, "checkout", `{"time_range": 120}`, old)
	saved := histQuery(t, "checkout", `{"time_range": 180}`, old)
	record(t, s, gone, "a", old, "")
	record(t, s, kept, "a", old, "")
	recent := record(t, s, kept, "a", t0, "")
	record(t, s, saved, "a", old, "")
	if _, err := s.CreateSavedQuery(ctx, history.Saved{ID: history.NewID(), Name: "n", QueryID: saved.ID, Author: "a", CreatedAt: old, UpdatedAt: old}); err != nil {
		t.Fatal(err)
	}
	cut := t0.Add(-30 * 24 * time.Hour)
	n, err := s.DropRunsBefore(ctx, cut)
	if err != nil || n != 3 {
		t.Fatalf("dropped %d runs (%v), want 3", n, err)
	}
	if ids := runIDs(t, s, history.RunFilter{}); !slices.Equal(ids, []string{recent.ID}) {
		t.Errorf("runs left: %v, want %v", ids, []string{recent.ID})
	}
	if _, err := s.StoredQuery(ctx, gone.ID); !errors.Is(err, problem.ErrNotFound) {
		t.Errorf("unreferenced query kept: %v", err)
	}
	for _, q := range []history.Query{kept, saved} {
		if _, err := s.StoredQuery(ctx, q.ID); err != nil {
			t.Errorf("query %s: %v", q.ID, err)
		}
	}
	if n, err := s.DropRunsBefore(ctx, cut); err != nil || n != 0 {
		t.Errorf("dropping again: %d, %v; want 0", n, err)
	}
}
