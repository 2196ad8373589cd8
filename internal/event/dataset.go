package event

import (
	"fmt"
	"strings"
)

// Batch is the events of one write request for one dataset. The store fills
// Errs (same length as Events) with a per-event rejection, nil when stored,
// and Notes (when not nil, same length) with what it stored differently
// from what was sent: fields left out at the dataset's column limit.
// It lives here, beside the event, so that the ingest side hands batches
// to a store without depending on the store layer.
type Batch struct {
	Dataset string
	Events  []Event
	Errs    []error
	Notes   []string
}

// Note records a note for event i, making Notes when needed.
func (b *Batch) Note(i int, note string) {
	if len(b.Notes) != len(b.Events) {
		b.Notes = make([]string, len(b.Events))
	}
	b.Notes[i] = note
}

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
