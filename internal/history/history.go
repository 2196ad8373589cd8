// Package history keeps the records of the team's questions: every query
// run (who asked what, when, how long it took), the queries themselves
// under a stable id that makes a permalink, and the queries saved to the
// team's collection under a name.
//
// The id rule. A query is the dataset and its spec with the time range
// made absolute: after query.Spec.Resolve, start_time and end_time hold the
// interval and time_range is dropped, so "the last two hours" asked at
// 10:00 and "08:00 to 10:00" are the same question and have the same id,
// and the permalink reproduces exactly the interval that was asked. The id
// is the first 16 hex characters of the SHA-256 of the dataset and that
// canonical JSON.
package history

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Query is a question as stored: its id, dataset and absolute spec.
type Query struct {
	ID        string          `json:"id"`
	Dataset   string          `json:"dataset"`
	Spec      json.RawMessage `json:"spec"` // canonical, with start_time and end_time
	CreatedAt time.Time       `json:"created_at"`
}

// Run is one execution of a query: who ran it, when, and how it went.
type Run struct {
	ID         string          `json:"id"`
	QueryID    string          `json:"query_id"`
	Dataset    string          `json:"dataset"`
	Author     string          `json:"author"`
	Spec       json.RawMessage `json:"spec"`
	RanAt      time.Time       `json:"ran_at"`
	DurationMS float64         `json:"duration_ms"`
	Rows       int             `json:"rows"`
	Error      string          `json:"error,omitempty"`
}

// Saved is a query saved to the team's collection under a name.
type Saved struct {
	ID          string          `json:"id"`
	Name        string          `json:"name"`
	Description string          `json:"description"`
	QueryID     string          `json:"query_id"`
	Dataset     string          `json:"dataset"`
	Author      string          `json:"author"`
	Spec        json.RawMessage `json:"spec"`
	CreatedAt   time.Time       `json:"created_at"`
	UpdatedAt   time.Time       `json:"updated_at"`
}

// RunFilter selects runs. Zero values select everything.
type RunFilter struct {
	Dataset string // exactly this dataset
	Author  string // exactly this author (case-insensitive)
	// Text is searched case-insensitively, as a plain substring, in the
	// dataset, the author and the spec's JSON.
	Text string
	// Since and Until bound the run time: Since ≤ ran_at < Until.
	Since, Until time.Time
	Limit        int // default DefaultLimit, at most MaxLimit
}

// Limits on what is listed and on what is saved.
const (
	DefaultLimit    = 100
	MaxLimit        = 1000
	MaxName         = 200  // characters
	MaxDescription  = 2000 // characters
	idHexChars      = 16
	permalinkPrefix = "/q/"
)

// Error is an invalid value; Field names it.
type Error struct {
	Field string
	Msg   string
}

func (e *Error) Error() string { return e.Field + ": " + e.Msg }

// Spec is a question a query is made from: query.Spec, which says its
// canonical form — resolved at now, absolute, each spelling made one — so
// that the same question asked twice has one id. The history takes it as
// an interface, so that the metadata store that keeps queries need not
// import the query engine.
type Spec interface {
	Canonical(now time.Time) (json.RawMessage, error)
}

// ID is a query's id: the first 16 hex characters of the SHA-256 of the
// dataset and the canonical spec.
func ID(dataset string, canonical json.RawMessage) string {
	h := sha256.New()
	h.Write([]byte(dataset))
	h.Write([]byte{0})
	h.Write(canonical)
	return hex.EncodeToString(h.Sum(nil))[:idHexChars]
}

// NewQuery makes the stored form of spec asked of dataset at now.
func NewQuery(dataset string, spec Spec, now time.Time) (Query, error) {
	c, err := spec.Canonical(now)
	if err != nil {
		return Query{}, err
	}
	return Query{ID: ID(dataset, c), Dataset: dataset, Spec: c, CreatedAt: now.UTC()}, nil
}

// Permalink is the path that shows a query again: /q/{id}.
func Permalink(id string) string { return permalinkPrefix + id }

// ValidID reports whether s looks like an id this package makes (16
// lower-case hex characters), so that anything else is refused before it
// reaches the store.
func ValidID(s string) bool {
	if len(s) != idHexChars {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !(s[i] >= '0' && s[i] <= '9' || s[i] >= 'a' && s[i] <= 'f') {
			return false
		}
	}
	return true
}

// NewID is a random id for a run or a saved query, of the same form as a
// query id.
func NewID() string {
	var b [idHexChars / 2]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return hex.EncodeToString(b[:])
}

// Validate checks a saved query's name and description. The name is
// trimmed of surrounding space first.
func (s *Saved) Validate() error {
	s.Name = strings.TrimSpace(s.Name)
	if err := checkName(s.Name); err != nil {
		return err
	}
	if n := utf8.RuneCountInString(s.Description); n > MaxDescription {
		return &Error{"description", fmt.Sprintf("%d characters; at most %d", n, MaxDescription)}
	}
	if !utf8.ValidString(s.Description) {
		return &Error{"description", "not valid UTF-8"}
	}
	return nil
}

func checkName(name string) error {
	n := utf8.RuneCountInString(name)
	switch {
	case n == 0:
		return &Error{"name", "required (1 to 200 characters)"}
	case n > MaxName:
		return &Error{"name", fmt.Sprintf("%d characters; at most %d", n, MaxName)}
	case !utf8.ValidString(name):
		return &Error{"name", "not valid UTF-8"}
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return &Error{"name", "must not contain control characters such as line breaks"}
		}
	}
	return nil
}

// EffectiveLimit is the number of runs f asks for: DefaultLimit when
// unset, never more than MaxLimit.
func (f RunFilter) EffectiveLimit() int {
	switch {
	case f.Limit <= 0:
		return DefaultLimit
	case f.Limit > MaxLimit:
		return MaxLimit
	}
	return f.Limit
}

// LikePattern makes a case-insensitive substring pattern of text for
// LIKE/ILIKE … ESCAPE '\': % and _ in text match only themselves.
func LikePattern(text string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(text) + "%"
}
