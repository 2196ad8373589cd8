package history

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/prodex/prodex/internal/problem"
)

// Store keeps the runs, the queries and the saved queries (the metadata
// store); a query or saved query it does not hold is problem.ErrNotFound.
type Store interface {
	RecordRun(ctx context.Context, q Query, run Run) error
	StoredQuery(ctx context.Context, id string) (Query, error)
	CreateSavedQuery(ctx context.Context, sq Saved) (Saved, error)
	SavedQuery(ctx context.Context, id string) (Saved, error)
	UpdateSavedQuery(ctx context.Context, id, name, description string, updated time.Time) (Saved, error)
	DeleteSavedQuery(ctx context.Context, id string) error
}

// Book keeps the history: it records every run of a query under the
// query's id, and keeps the team's collection of saved queries.
type Book struct {
	Store Store
	Now   func() time.Time
}

// Record keeps a run of spec (resolved) on dataset ds by author, which
// took took: rows answer rows, or errText when it failed. It returns the
// query's id. The run is recorded even when ctx has been cancelled (the
// client has gone away).
func (b *Book) Record(ctx context.Context, ds string, spec Spec, author string, took time.Duration, rows int, errText string) (string, error) {
	now := b.Now()
	q, err := NewQuery(ds, spec, now)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	err = b.Store.RecordRun(ctx, q, Run{ID: NewID(), QueryID: q.ID, Dataset: ds, Author: author,
		RanAt: now.UTC(), DurationMS: float64(took.Microseconds()) / 1000, Rows: rows, Error: errText})
	if err != nil {
		return "", err
	}
	return q.ID, nil
}

// Query finds a query by id.
func (b *Book) Query(ctx context.Context, id string) (Query, error) {
	if !ValidID(id) {
		return Query{}, problem.New(problem.NotFound, "query "+strconv.Quote(id)+" does not exist (an id is 16 hex characters)")
	}
	q, err := b.Store.StoredQuery(ctx, id)
	if errors.Is(err, problem.ErrNotFound) {
		return q, problem.New(problem.NotFound, "query "+id+" does not exist")
	}
	return q, err
}

// Exists reports whether a query exists, for notes about it.
func (b *Book) Exists(ctx context.Context, id string) (bool, error) {
	_, err := b.Store.StoredQuery(ctx, id)
	if errors.Is(err, problem.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// Save adds the query queryID (one that has run) to the team's collection
// under a name.
func (b *Book) Save(ctx context.Context, queryID, name, description, author string) (Saved, error) {
	now := b.Now().UTC()
	sq := Saved{ID: NewID(), Name: name, Description: description, QueryID: strings.TrimSpace(queryID),
		Author: author, CreatedAt: now, UpdatedAt: now}
	if sq.QueryID == "" {
		return Saved{}, problem.New(problem.Invalid, "query_id: required: the id of a query that has run (its answer's query_id)")
	}
	if err := sq.Validate(); err != nil {
		return Saved{}, problem.Wrap(problem.Invalid, err)
	}
	unknown := problem.New(problem.Invalid, "query_id: no query has id "+strconv.Quote(sq.QueryID))
	if !ValidID(sq.QueryID) {
		return Saved{}, unknown
	}
	saved, err := b.Store.CreateSavedQuery(ctx, sq)
	if errors.Is(err, problem.ErrNotFound) {
		return Saved{}, unknown
	}
	return saved, err
}

// notSaved is the refusal for a saved query id that does not exist.
func notSaved(id string) error {
	return problem.New(problem.NotFound, "saved query "+strconv.Quote(id)+" does not exist")
}

// Saved finds a saved query by id.
func (b *Book) Saved(ctx context.Context, id string) (Saved, error) {
	if !ValidID(id) {
		return Saved{}, notSaved(id)
	}
	sq, err := b.Store.SavedQuery(ctx, id)
	if errors.Is(err, problem.ErrNotFound) {
		return sq, notSaved(id)
	}
	return sq, err
}

// Rename changes a saved query's name and description; a nil one keeps
// its value. The question itself does not change: save the new query
// instead.
func (b *Book) Rename(ctx context.Context, sq Saved, name, description *string) (Saved, error) {
	if name == nil && description == nil {
		return Saved{}, problem.New(problem.Invalid, "name: give a name and/or a description to change")
	}
	if name != nil {
		sq.Name = *name
	}
	if description != nil {
		sq.Description = *description
	}
	if err := sq.Validate(); err != nil {
		return Saved{}, problem.Wrap(problem.Invalid, err)
	}
	up, err := b.Store.UpdateSavedQuery(ctx, sq.ID, sq.Name, sq.Description, b.Now().UTC())
	if errors.Is(err, problem.ErrNotFound) { // deleted meanwhile
		return Saved{}, notSaved(sq.ID)
	}
	return up, err
}

// Unsave removes a saved query from the collection.
func (b *Book) Unsave(ctx context.Context, id string) error {
	err := problem.ErrNotFound
	if ValidID(id) {
		err = b.Store.DeleteSavedQuery(ctx, id)
	}
	if errors.Is(err, problem.ErrNotFound) {
		return notSaved(id)
	}
	return err
}
