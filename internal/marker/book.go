package marker

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/prodex/prodex/internal/event"
	"github.com/prodex/prodex/internal/problem"
)

// Store keeps markers (the metadata store).
type Store interface {
	PutMarker(ctx context.Context, m Marker) error
	DeleteMarker(ctx context.Context, id string) error
	GetMarker(ctx context.Context, id string) (Marker, bool, error)
	Markers(ctx context.Context, datasets []string, start, end time.Time) ([]Marker, error)
}

// Book keeps the markers: it validates them, records who changed them,
// and serialises changes (read, change, write), so that an update never
// brings back a marker deleted meanwhile.
type Book struct {
	Store Store
	Now   func() time.Time

	mu sync.Mutex
}

// Create adds a marker to dataset ds.
func (b *Book) Create(ctx context.Context, ds string, in Input, author string) (Marker, error) {
	now := b.Now().UTC()
	m := Marker{ID: NewID(), Dataset: ds, Author: author, CreatedAt: now, UpdatedAt: now}
	in.Apply(&m, now)
	return b.put(ctx, m)
}

// Update changes the fields in gives of dataset ds's marker id.
func (b *Book) Update(ctx context.Context, ds, id string, in Input, author string) (Marker, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	m, err := b.named(ctx, ds, id)
	if err != nil {
		return Marker{}, err
	}
	in.Apply(&m, b.Now())
	m.Author, m.UpdatedAt = author, b.Now().UTC()
	return b.put(ctx, m)
}

// Delete removes dataset ds's marker id and returns it.
func (b *Book) Delete(ctx context.Context, ds, id string) (Marker, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	m, err := b.named(ctx, ds, id)
	if err != nil {
		return Marker{}, err
	}
	if err := b.Store.DeleteMarker(ctx, m.ID); err != nil {
		return Marker{}, err
	}
	return m, nil
}

// named finds a marker among those of dataset ds.
func (b *Book) named(ctx context.Context, ds, id string) (Marker, error) {
	m, found, err := b.Store.GetMarker(ctx, id)
	if err != nil {
		return Marker{}, err
	}
	if !found || m.Dataset != ds {
		return Marker{}, problem.New(problem.NotFound, "marker "+strconv.Quote(id)+" does not exist in dataset "+ds)
	}
	return m, nil
}

// put validates and stores a marker.
func (b *Book) put(ctx context.Context, m Marker) (Marker, error) {
	if err := m.Validate(); err != nil {
		return Marker{}, problem.Wrap(problem.Invalid, err)
	}
	if err := b.Store.PutMarker(ctx, m); err != nil {
		return Marker{}, err
	}
	return m, nil
}

// Exists reports whether a marker exists, for notes about it.
func (b *Book) Exists(ctx context.Context, id string) (bool, error) {
	_, ok, err := b.Store.GetMarker(ctx, id)
	return ok, err
}

// Around returns the markers shown with an answer about dataset ds over
// [start, end): its own and the environment-wide ones.
func (b *Book) Around(ctx context.Context, ds string, start, end time.Time) ([]Marker, error) {
	datasets := []string{AllDatasets}
	if ds, err := event.NormalizeDataset(ds); err == nil && ds != AllDatasets {
		datasets = append(datasets, ds)
	}
	return b.Store.Markers(ctx, datasets, start, end)
}
