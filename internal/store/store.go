// Package store holds the types shared by the event stores (the embedded
// DuckDB store today, ClickHouse later): the unit of a write and the
// validation of dataset names.
package store

import (
	"fmt"
	"strings"
	"time"

	"github.com/prodex/prodex/internal/event"
	"github.com/prodex/prodex/internal/lookup"
)

// Batch is the events of one write request for one dataset. The store fills
// Errs (same length as Events) with a per-event rejection, nil when stored.
type Batch struct {
	Dataset string
	Events  []event.Event
	Errs    []error
}

// Dataset describes a dataset.
type Dataset struct {
	Name      string        `json:"name"`
	Created   time.Time     `json:"created_at"`
	Retention time.Duration `json:"-"`
	Columns   int           `json:"columns"`
}

// ErrNotFound is returned for a dataset (or stored query) that does not
// exist. It is lookup.ErrNotFound, the one not-found error of every package.
var ErrNotFound = lookup.ErrNotFound

// MaxDatasetName is the longest dataset name accepted.
const MaxDatasetName = 128

// NormalizeDataset validates a dataset name and returns its canonical
// (lower-case) form. Dataset names are case-insensitive, as in Honeycomb.
// Only letters, digits, '-', '_' and '.' are allowed, so a name can never
// traverse paths or need quoting anywhere.
func NormalizeDataset(name string) (string, error) {
	if name == "" {
		return "", fmt.Errorf("dataset name is empty")
	}
	if len(name) > MaxDatasetName {
		return "", fmt.Errorf("dataset name is longer than %d characters", MaxDatasetName)
	}
	if name[0] == '.' || name[0] == '-' || strings.Contains(name, "..") {
		return "", fmt.Errorf("dataset name %q must not start with '.' or '-' or contain '..'", name)
	}
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
		default:
			return "", fmt.Errorf("dataset name %q may only contain letters, digits, '-', '_' and '.'", name)
		}
	}
	return strings.ToLower(name), nil
}
