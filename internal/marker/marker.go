// Package marker holds markers: the deploys, incidents and config changes
// a team pins to the time axis, in Honeycomb's shape, so that every graph
// of a dataset shows what changed when. A marker belongs to one dataset or,
// under the name AllDatasets, to the whole environment.
package marker

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"regexp"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/prodex/prodex/internal/event"
)

// AllDatasets is the dataset name of environment-wide markers, shown with
// every dataset's answers (Honeycomb's name).
const AllDatasets = "__all__"

// Limits on a marker's fields.
const (
	MaxMessage = 1000 // characters
	MaxType    = 64   // characters
	MaxURL     = 2048 // bytes
	// MaxTime is the latest start or end time accepted (9999-12-31, Unix
	// seconds); larger values are usually milliseconds sent by mistake.
	MaxTime = 253402300799
)

// Marker is one marker.
type Marker struct {
	ID        string    `json:"id"`
	Dataset   string    `json:"dataset"`            // AllDatasets for environment-wide
	StartTime int64     `json:"start_time"`         // Unix seconds
	EndTime   int64     `json:"end_time,omitempty"` // Unix seconds, 0 = a point in time
	Message   string    `json:"message"`
	Type      string    `json:"type"`            // e.g. deploy, incident, config
	URL       string    `json:"url,omitempty"`   // http or https
	Color     string    `json:"color,omitempty"` // #rgb or #rrggbb
	Author    string    `json:"author"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Input is the body a client sends to create or change a marker
// (Honeycomb's Markers API). A field left out is nil: on create it takes
// its default (start_time now, the others empty), on update it keeps the
// marker's value.
type Input struct {
	StartTime *int64  `json:"start_time"`
	EndTime   *int64  `json:"end_time"`
	Message   *string `json:"message"`
	Type      *string `json:"type"`
	URL       *string `json:"url"`
	Color     *string `json:"color"`
}

// Apply copies the fields the client gave onto m. When neither m nor in has a
// start time, it becomes now.
func (in Input) Apply(m *Marker, now time.Time) {
	if in.StartTime != nil {
		m.StartTime = *in.StartTime
	} else if m.StartTime == 0 {
		m.StartTime = now.Unix()
	}
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	if in.EndTime != nil {
		m.EndTime = *in.EndTime
	}
	set(&m.Message, in.Message)
	set(&m.Type, in.Type)
	set(&m.URL, in.URL)
	set(&m.Color, in.Color)
}

var colorRE = regexp.MustCompile(`^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$`)

// Validate checks a marker; the error names the field at fault.
func (m *Marker) Validate() error {
	if ds, err := event.NormalizeDataset(m.Dataset); err != nil {
		return fmt.Errorf("dataset: %v", err)
	} else if ds != m.Dataset {
		return fmt.Errorf("dataset: %q is not in canonical (lower-case) form", m.Dataset)
	}
	switch {
	case m.StartTime <= 0:
		return fmt.Errorf("start_time: %d is not a positive Unix time in seconds", m.StartTime)
	case m.StartTime > MaxTime:
		return fmt.Errorf("start_time: %d is too large for Unix seconds (milliseconds?)", m.StartTime)
	case m.EndTime < 0:
		return fmt.Errorf("end_time: %d is negative (0 or absent makes a point in time)", m.EndTime)
	case m.EndTime > MaxTime:
		return fmt.Errorf("end_time: %d is too large for Unix seconds (milliseconds?)", m.EndTime)
	case m.EndTime != 0 && m.EndTime < m.StartTime:
		return fmt.Errorf("end_time: %d is before start_time %d", m.EndTime, m.StartTime)
	}
	if err := text("message", m.Message, MaxMessage, true); err != nil {
		return err
	}
	if err := text("type", m.Type, MaxType, false); err != nil {
		return err
	}
	if m.URL != "" {
		if len(m.URL) > MaxURL {
			return fmt.Errorf("url: %d bytes, at most %d", len(m.URL), MaxURL)
		}
		u, err := url.Parse(m.URL)
		switch {
		case err != nil:
			return fmt.Errorf("url: %q is not a URL", m.URL)
		case u.Scheme != "http" && u.Scheme != "https":
			return fmt.Errorf("url: %q must be an http or https URL", m.URL)
		case u.Host == "":
			return fmt.Errorf("url: %q has no host", m.URL)
		}
	}
	if m.Color != "" && !colorRE.MatchString(m.Color) {
		return fmt.Errorf("color: %q is not #rgb or #rrggbb", m.Color)
	}
	return nil
}

// text checks a text field: valid UTF-8, at most max characters, no control
// characters (a message may hold newlines and tabs).
func text(field, s string, max int, multiline bool) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s: not valid UTF-8", field)
	}
	if n := utf8.RuneCountInString(s); n > max {
		return fmt.Errorf("%s: %d characters, at most %d", field, n, max)
	}
	for _, r := range s {
		if unicode.IsControl(r) && !(multiline && (r == '\n' || r == '\t')) {
			return fmt.Errorf("%s: contains the control character %U", field, r)
		}
	}
	return nil
}

// Overlaps reports whether m falls in [start, end): a point marker when
// start ≤ its time < end, a marker with an end time when it starts before
// end and ends at or after start. A zero start or end is unbounded.
func (m *Marker) Overlaps(start, end time.Time) bool {
	last := max(m.StartTime, m.EndTime)
	return (end.IsZero() || m.StartTime < CeilUnix(end)) && (start.IsZero() || last >= CeilUnix(start))
}

// CeilUnix is t in Unix seconds, rounded up, for comparing whole-second
// marker times with a time range exactly: for a whole second s,
// s < t ⇔ s < CeilUnix(t) and s ≥ t ⇔ s ≥ CeilUnix(t).
func CeilUnix(t time.Time) int64 {
	s := t.Unix()
	if t.Nanosecond() > 0 {
		s++
	}
	return s
}

// NewID is a random marker id (16 hex digits).
func NewID() string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return hex.EncodeToString(b[:])
}
