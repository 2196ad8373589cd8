// Package note holds what people write down while they debug: Markdown
// notes attached to an SLO, a query, a marker or an incident, with their
// author and time. Notes are rendered to HTML here, once, safely: the
// Markdown renderer (goldmark) drops raw HTML and dangerous links, and the
// result is sanitized again (bluemonday's user-content policy), so that a
// note can never run script in a reader's browser.
package note

import (
	"bytes"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/microcosm-cc/bluemonday"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
)

// Targets a note can be attached to.
var Targets = []string{"slo", "query", "marker", "incident"}

// MaxText bounds a note's Markdown.
const MaxText = 64 << 10

// Note is one note.
type Note struct {
	ID         string `json:"id"`
	TargetType string `json:"target_type"`
	TargetID   string `json:"target_id"`
	Text       string `json:"text"` // Markdown
	HTML       string `json:"html"` // rendered, safe to insert
	Author     string `json:"author"`
	// Owner is who may change the note besides an admin: "user:NAME" when
	// written with a person's key, "key:ID" with a team key. The author's
	// name alone would not do: a team key may be named like a person.
	Owner     string    `json:"owner"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Check validates a note's target and text.
func (n *Note) Check() error {
	ok := false
	for _, t := range Targets {
		ok = ok || n.TargetType == t
	}
	switch {
	case !ok:
		return fmt.Errorf("target_type: %q is not one of %s", n.TargetType, strings.Join(Targets, ", "))
	case n.TargetID == "" || len(n.TargetID) > 256:
		return fmt.Errorf("target_id: required, at most 256 characters")
	case strings.TrimSpace(n.Text) == "":
		return fmt.Errorf("text: required")
	case len(n.Text) > MaxText:
		return fmt.Errorf("text: %d bytes, at most %d", len(n.Text), MaxText)
	case !utf8.ValidString(n.Text):
		return fmt.Errorf("text: not valid UTF-8")
	}
	return nil
}

var (
	md     = goldmark.New(goldmark.WithExtensions(extension.GFM))
	policy = bluemonday.UGCPolicy()
)

// Render turns Markdown into safe HTML.
func Render(markdown string) (string, error) {
	var buf bytes.Buffer
	if err := md.Convert([]byte(markdown), &buf); err != nil {
		return "", err
	}
	return policy.Sanitize(buf.String()), nil
}
