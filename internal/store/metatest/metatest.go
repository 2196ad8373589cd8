// Package metatest is the conformance suite of Prodex's metadata stores:
// one set of cases, run against the embedded DuckDB store and the
// PostgreSQL one, so that either can stand behind Store and callers cannot
// tell which. A behaviour a caller relies on belongs here rather than in
// one store's own tests.
package metatest

import (
	"context"
	"testing"
	"time"

	"github.com/prodex/prodex/internal/auth"
	"github.com/prodex/prodex/internal/history"
	"github.com/prodex/prodex/internal/marker"
	"github.com/prodex/prodex/internal/store"
)

// Store is every method of a metadata store.
type Store interface {
	// Named documents, kept byte for byte.
	PutSLO(ctx context.Context, name string, body []byte) error
	DeleteSLO(ctx context.Context, name string) error
	SLOs(ctx context.Context) (map[string][]byte, error)
	PutRisk(ctx context.Context, name string, body []byte) error
	DeleteRisk(ctx context.Context, name string) error
	Risks(ctx context.Context) (map[string][]byte, error)
	PutNote(ctx context.Context, id string, body []byte) error
	DeleteNote(ctx context.Context, id string) error
	Notes(ctx context.Context) (map[string][]byte, error)
	PutIncident(ctx context.Context, id string, body []byte) error
	Incidents(ctx context.Context) (map[string][]byte, error)

	// Alert episodes and the notifications they owe.
	PutAlert(ctx context.Context, id, slo string, started time.Time, open bool, body []byte, owed ...store.Owed) error
	Alerts(ctx context.Context, slo string, openOnly bool, limit int) ([][]byte, error)
	Owed(ctx context.Context) ([]store.Owed, error)
	Settle(ctx context.Context, id string) error
	Resending(ctx context.Context, id string) error
	Unsent(ctx context.Context, id, reason string) error

	// API keys and people.
	InsertKey(ctx context.Context, k auth.Key) error
	LoadKeys(ctx context.Context) ([]auth.Key, error)
	RevokeKey(ctx context.Context, id string) error
	PutUser(ctx context.Context, u auth.User) error
	DeleteUser(ctx context.Context, name string) error
	LoadUsers(ctx context.Context) ([]auth.User, error)

	// The web UI's sessions.
	auth.SessionStorage

	// Markers.
	PutMarker(ctx context.Context, m marker.Marker) error
	DeleteMarker(ctx context.Context, id string) error
	GetMarker(ctx context.Context, id string) (marker.Marker, bool, error)
	Markers(ctx context.Context, datasets []string, start, end time.Time) ([]marker.Marker, error)

	// Query history and saved queries.
	RecordRun(ctx context.Context, q history.Query, run history.Run) error
	StoredQuery(ctx context.Context, id string) (history.Query, error)
	Runs(ctx context.Context, f history.RunFilter) ([]history.Run, error)
	CreateSavedQuery(ctx context.Context, sq history.Saved) (history.Saved, error)
	SavedQuery(ctx context.Context, id string) (history.Saved, error)
	SavedQueries(ctx context.Context, text string, limit int) ([]history.Saved, error)
	UpdateSavedQuery(ctx context.Context, id, name, description string, updated time.Time) (history.Saved, error)
	DeleteSavedQuery(ctx context.Context, id string) error
	DropRunsBefore(ctx context.Context, t time.Time) (int64, error)

	// Audit log.
	Audit(ctx context.Context, e store.AuditEntry) error
	AuditLog(ctx context.Context, author string, since time.Time, limit int) ([]store.AuditEntry, error)

	// Leader lease, for the node that evaluates alerts.
	Lease(ctx context.Context, name, holder string, ttl time.Duration) (held bool, until time.Time, err error)
	Release(ctx context.Context, name, holder string) error
}

// Run runs every case, each against a new, empty store from open, which
// also arranges (t.Cleanup) for the store to be closed.
func Run(t *testing.T, open func(t *testing.T) Store) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.run(t, open(t)) })
	}
}

var cases = []struct {
	name string
	run  func(*testing.T, Store)
}{
	{"Documents", testDocuments},
	{"DocumentKindsApart", testDocumentKindsApart},
	{"Alerts", testAlerts},
	{"Outbox", testOutbox},
	{"PutAlertAllOrNothing", testPutAlertAllOrNothing},
	{"Keys", testKeys},
	{"Users", testUsers},
	{"Sessions", testSessions},
	{"Markers", testMarkers},
	{"MarkersMatchOverlaps", testMarkersMatchOverlaps},
	{"QueryHistory", testQueryHistory},
	{"RecordRunConcurrently", testRecordRunConcurrently},
	{"SavedQueries", testSavedQueries},
	{"DropRunsBefore", testDropRunsBefore},
	{"AuditLog", testAuditLog},
	{"Lease", testLease},
	{"LeaseRace", testLeaseRace},
}

// t0 is the suite's "now": a time with whole microseconds, which every
// store keeps exactly.
var t0 = time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)

// hostile is a name or text that would break SQL built by formatting.
const hostile = `'); DROP TABLE px_slos; --`
