// Package event defines a wide structured event as Prodex receives it and
// decodes the Honeycomb-compatible wire formats into it.
package event

import "time"

// Event is one decoded event, flattened: nested objects become dotted field
// names and every value is nil, int64, float64, string or bool (arrays are
// kept as their JSON text).
type Event struct {
	Time       time.Time
	SampleRate int64 // always ≥ 1: the event stands for this many
	Fields     map[string]any
}
