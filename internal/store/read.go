package store

import (
	"database/sql"
	"time"

	"github.com/prodex/prodex/internal/problem"
	"github.com/prodex/prodex/internal/schema"
)

// Dialect names the SQL an event store's database speaks, so that the
// readers above the stores (query, explain) compile for it.
type Dialect string

// The event stores' dialects.
const (
	DuckDB     Dialect = "duckdb"
	ClickHouse Dialect = "clickhouse"
)

// Catalog is what a reader needs to know of one dataset's storage: its
// columns and a table expression that yields its events in a time range.
// It is a snapshot. ClickHouse's catalog can also name the one table its
// events are in (query.TableCatalog), so that shards aggregate.
type Catalog interface {
	// Column returns the stored column of a field name.
	Column(name string) (schema.Column, bool)
	// Columns lists the dataset's columns.
	Columns() []schema.Column
	// From returns a parenthesised table expression yielding ts (µs), sr
	// and the given physical columns for the events in [start, end).
	From(phys []string, start, end time.Time) string
	// Weighted reports whether an event in [start, end) may have a sample
	// rate above 1.
	Weighted(start, end time.Time) bool
}

// Source is an event store as the readers above it see it: the database,
// its dialect, and each dataset's catalog (problem.ErrNotFound for a dataset that
// does not exist). The stores hold events and counts; compiling a query
// or an explanation for them is the readers' business.
type Source interface {
	DB() *sql.DB
	Dialect() Dialect
	Catalog(dataset string) (Catalog, error)
}

// Bounds of a dataset's retention: from an hour (retention drops whole
// days, so less would only drop the current one) to 100 years (36,500
// days), past which a time.Duration of nanoseconds would soon overflow.
const (
	MinRetention = time.Hour
	MaxRetention = 36500 * 24 * time.Hour
)

// CheckRetention refuses a retention outside [MinRetention, MaxRetention].
func CheckRetention(d time.Duration) error {
	if d < MinRetention || d > MaxRetention {
		return problem.Errorf(problem.Invalid, "retention must be between 1h and 36500 days (100 years), got %s", d)
	}
	return nil
}
