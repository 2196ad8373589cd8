package api

import (
	"context"
	"time"

	"github.com/prodex/prodex/internal/event"
	"github.com/prodex/prodex/internal/history"
	"github.com/prodex/prodex/internal/marker"
	"github.com/prodex/prodex/internal/schema"
	"github.com/prodex/prodex/internal/store"
)

// Events is the event store the API reads: the embedded DuckDB store or
// ClickHouse.
type Events interface {
	Datasets() []store.Dataset
	Columns(dataset string) ([]schema.Column, error)
	SetRetention(ctx context.Context, dataset string, d time.Duration) error
	Find(ctx context.Context, dataset, column string, value any, start, end time.Time, limit int) ([]event.Event, error)
	// Source is what query.Ask and explain.Ask read.
	store.Source
}

// Meta is the metadata store: history, markers, notes, incidents, risks,
// the audit log (DuckDB embedded, PostgreSQL for several nodes).
type Meta interface {
	Audit(ctx context.Context, e store.AuditEntry) error
	AuditLog(ctx context.Context, author string, since time.Time, limit int) ([]store.AuditEntry, error)

	RecordRun(ctx context.Context, q history.Query, run history.Run) error
	StoredQuery(ctx context.Context, id string) (history.Query, error)
	Runs(ctx context.Context, f history.RunFilter) ([]history.Run, error)
	CreateSavedQuery(ctx context.Context, sq history.Saved) (history.Saved, error)
	SavedQuery(ctx context.Context, id string) (history.Saved, error)
	SavedQueries(ctx context.Context, text string, limit int) ([]history.Saved, error)
	UpdateSavedQuery(ctx context.Context, id, name, description string, updated time.Time) (history.Saved, error)
	DeleteSavedQuery(ctx context.Context, id string) error

	PutMarker(ctx context.Context, m marker.Marker) error
	DeleteMarker(ctx context.Context, id string) error
	GetMarker(ctx context.Context, id string) (marker.Marker, bool, error)
	Markers(ctx context.Context, datasets []string, start, end time.Time) ([]marker.Marker, error)

	PutRisk(ctx context.Context, name string, body []byte) error
	DeleteRisk(ctx context.Context, name string) error
	Risks(ctx context.Context) (map[string][]byte, error)
	PutNote(ctx context.Context, id string, body []byte) error
	DeleteNote(ctx context.Context, id string) error
	Notes(ctx context.Context) (map[string][]byte, error)
	PutIncident(ctx context.Context, id string, body []byte) error
	Incidents(ctx context.Context) (map[string][]byte, error)
}
