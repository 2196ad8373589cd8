// Package store holds the types shared by the event stores (the embedded
// DuckDB store and ClickHouse) and the metadata stores: a dataset's
// description, the not-found error, the metadata value types, and what
// the readers above the stores (query, explain) need of an event store.
package store

import (
	"time"
)

// Dataset describes a dataset.
type Dataset struct {
	Name      string        `json:"name"`
	Created   time.Time     `json:"created_at"`
	Retention time.Duration `json:"-"`
	Columns   int           `json:"columns"`
}
