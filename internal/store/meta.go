package store

import "time"

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
