package store

import (
	"sort"
	"time"
)

// The value types of the metadata store live here rather than in one
// store's package, so that every metadata store (the embedded DuckDB one,
// PostgreSQL for several nodes) speaks the same types and callers can swap
// one for the other behind an interface.

// AuditEntry is one write made through the API: who, when, what.
type AuditEntry struct {
	Time   time.Time `json:"time"`
	Author string    `json:"author"`
	KeyID  string    `json:"key_id"`
	Method string    `json:"method"`
	Path   string    `json:"path"`
	Status int       `json:"status"`
}

// Owed is a notification the alert rules owe a receiver: saved with the
// alert change that caused it (PutAlert) and deleted once it is delivered
// or given up on, so that one still owed when the process dies is sent
// again at the next start. Target and Message are JSON the store does not
// interpret.
type Owed struct {
	ID        string
	AlertID   string // set by PutAlert
	Target    []byte
	Message   []byte
	Created   time.Time
	Attempts  int    // times handed to a notifier
	LastError string // why the last hand-off did not finish, if known
}

// Counter is an SLI whose per-minute counts an event store keeps as
// events arrive, for an SLO's budget and alerts.
type Counter struct {
	Name     string // the SLO
	Dataset  string
	Eligible string // CEL expression; empty: every event
	Good     string // CEL expression
}

// MinuteCount is one SLO's weighted counts in one minute: totals so far.
// An event whose expressions cannot be evaluated is not eligible; it is
// counted as invalid.
type MinuteCount struct {
	Name                    string
	Minute                  int64 // Unix time / 60
	Eligible, Good, Invalid int64
}

// SortCounts orders counts by SLO, then minute, as the stores hand them
// over.
func SortCounts(cs []MinuteCount) {
	sort.Slice(cs, func(i, j int) bool {
		if cs[i].Name != cs[j].Name {
			return cs[i].Name < cs[j].Name
		}
		return cs[i].Minute < cs[j].Minute
	})
}
