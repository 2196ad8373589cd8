package history

import (
	"context"
	"testing"
	"time"

	"github.com/prodex/prodex/internal/problem"
	"github.com/prodex/prodex/internal/query"
)

// memStore keeps queries, runs and saved queries in memory.
type memStore struct {
	queries map[string]Query
	runs    []Run
	saved   map[string]Saved
}

func (m *memStore) RecordRun(_ context.Context, q Query, run Run) error {
	m.queries[q.ID] = q
	m.runs = append(m.runs, run)
	return nil
}
func (m *memStore) StoredQuery(_ context.Context, id string) (Query, error) {
	q, ok := m.queries[id]
	if !ok {
		return q, problem.ErrNotFound
	}
	return q, nil
}
func (m *memStore) CreateSavedQuery(_ context.Context, sq Saved) (Saved, error) {
	if _, ok := m.queries[sq.QueryID]; !ok {
		return Saved{}, problem.ErrNotFound
	}
	m.saved[sq.ID] = sq
	return sq, nil
}
func (m *memStore) SavedQuery(_ context.Context, id string) (Saved, error) {
	sq, ok := m.saved[id]
	if !ok {
		return sq, problem.ErrNotFound
	}
	return sq, nil
}
func (m *memStore) UpdateSavedQuery(_ context.Context, id, name, description string, updated time.Time) (Saved, error) {
	sq, ok := m.saved[id]
	if !ok {
		return sq, problem.ErrNotFound
	}
	sq.Name, sq.Description, sq.UpdatedAt = name, description, updated
	m.saved[id] = sq
	return sq, nil
}
func (m *memStore) DeleteSavedQuery(_ context.Context, id string) error {
	if _, ok := m.saved[id]; !ok {
		return problem.ErrNotFound
	}
	delete(m.saved, id)
	return nil
}

// A recorded run makes its query findable by id and savable; what does
// not exist is refused as not found or as bad input, in the API's words.
func TestBookRecordsAndSaves(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the client has gone away: the run is recorded anyway
	m := &memStore{queries: map[string]Query{}, saved: map[string]Saved{}}
	b := &Book{Store: m, Now: func() time.Time { return now }}
	spec, err := query.Parse([]byte(`{"time_range": 7200, "calculations": [{"op": "COUNT"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	id, err := b.Record(ctx, "checkout", spec, "alice", 1500*time.Microsecond, 3, "")
	if err != nil || !ValidID(id) || len(m.runs) != 1 || m.runs[0].DurationMS != 1.5 || m.runs[0].Author != "alice" {
		t.Fatalf("record: %q, %v, %+v", id, err, m.runs)
	}
	ctx = context.Background()
	if q, err := b.Query(ctx, id); err != nil || q.Dataset != "checkout" {
		t.Errorf("query: %+v, %v", q, err)
	}
	for _, c := range []struct {
		err  error
		kind problem.Kind
		msg  string
	}{
		{func() error { _, err := b.Query(ctx, "nope"); return err }(), problem.NotFound, `query "nope" does not exist (an id is 16 hex characters)`},
		{func() error { _, err := b.Query(ctx, "0123456789abcdef"); return err }(), problem.NotFound, "query 0123456789abcdef does not exist"},
		{func() error { _, err := b.Save(ctx, " ", "n", "", "bob"); return err }(), problem.Invalid, "query_id: required: the id of a query that has run (its answer's query_id)"},
		{func() error { _, err := b.Save(ctx, "0123456789abcdef", "n", "", "bob"); return err }(), problem.Invalid, `query_id: no query has id "0123456789abcdef"`},
		{func() error { _, err := b.Saved(ctx, "x"); return err }(), problem.NotFound, `saved query "x" does not exist`},
		{b.Unsave(ctx, "0123456789abcdef"), problem.NotFound, `saved query "0123456789abcdef" does not exist`},
	} {
		if problem.KindOf(c.err) != c.kind || c.err.Error() != c.msg {
			t.Errorf("%v, want %q", c.err, c.msg)
		}
	}
	sq, err := b.Save(ctx, id, "errors by service", "", "bob")
	if err != nil || sq.QueryID != id || sq.Author != "bob" {
		t.Fatalf("save: %+v, %v", sq, err)
	}
	if _, err := b.Rename(ctx, sq, nil, nil); !problem.Is(err, problem.Invalid) {
		t.Errorf("rename to nothing: %v", err)
	}
	desc := "for the weekly review"
	if up, err := b.Rename(ctx, sq, nil, &desc); err != nil || up.Name != "errors by service" || up.Description != desc {
		t.Errorf("rename: %+v, %v", up, err)
	}
	if err := b.Unsave(ctx, sq.ID); err != nil || len(m.saved) != 0 {
		t.Errorf("unsave: %v", err)
	}
}
