package notify

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// A receiver's secrets are write-only: a Slack or webhook URL (whose path
// or query is the credential), a webhook's HMAC secret and a PagerDuty
// routing key go in with a definition and never come out. Every read shows
// each one redacted, as Mask followed by its last four characters, which
// says that it is set and which one it is without giving it away; a
// definition that carries a redacted form where a secret goes keeps the
// stored secret it stands for (see Restore), so that a definition read back
// can be applied again.

// Mask starts every redacted secret. A value starting with it is read as a
// redacted form, never as a secret.
const Mask = "…"

// revealFrom is the least length (in characters) of a secret whose last
// four characters its redacted form shows; a shorter one shows only Mask,
// as four characters would be too much of it.
const revealFrom = 12

// Redact is the redacted form of a secret: Mask and the secret's last four
// characters, Mask alone for a secret shorter than 12 characters, "" for
// none.
func Redact(secret string) string {
	switch n := utf8.RuneCountInString(secret); {
	case n == 0:
		return ""
	case n < revealFrom:
		return Mask
	}
	r := []rune(secret)
	return Mask + string(r[len(r)-4:])
}

// IsRedacted reports whether v is a redacted form rather than a secret.
func IsRedacted(v string) bool { return strings.HasPrefix(v, Mask) }

// secretField is one of a target's secrets: its JSON name and its value.
type secretField struct {
	name string
	v    *string
}

// secrets are t's secret fields. A PagerDuty target's URL is the Events
// API's, not a credential: its routing key is.
func (t *Target) secrets() []secretField {
	fs := []secretField{{"secret", &t.Secret}, {"routing_key", &t.RoutingKey}}
	if t.Type != "pagerduty" {
		fs = append(fs, secretField{"url", &t.URL})
	}
	return fs
}

// field is the value of t's secret field name ("" for a field that is not
// a secret of t's type).
func (t Target) field(name string) string {
	for _, f := range t.secrets() {
		if f.name == name {
			return *f.v
		}
	}
	return ""
}

// Redacted is t as every read shows it: each secret redacted.
func (t Target) Redacted() Target {
	for _, f := range t.secrets() {
		*f.v = Redact(*f.v)
	}
	return t
}

// Restore replaces each redacted form in t, the i-th target of a
// definition being applied, by the secret it stands for among stored, the
// targets the definition has now: that of the i-th stored target when it
// is of the same type and matches, else the one secret of the same type and
// field that does. A redacted form that stands for no stored secret, or
// for several, is an error naming the field.
func (t Target) Restore(i int, stored []Target) (Target, error) {
	for _, f := range t.secrets() {
		if !IsRedacted(*f.v) {
			continue
		}
		if i < len(stored) && stored[i].Type == t.Type && Redact(stored[i].field(f.name)) == *f.v {
			*f.v = stored[i].field(f.name)
			continue
		}
		var found []string
		for _, s := range stored {
			if v := s.field(f.name); s.Type == t.Type && v != "" && Redact(v) == *f.v && !slices.Contains(found, v) {
				found = append(found, v)
			}
		}
		switch len(found) {
		case 0:
			return t, fmt.Errorf("%s: %q is the redacted form of a secret this definition does not hold: give the secret itself", f.name, *f.v)
		case 1:
			*f.v = found[0]
		default:
			return t, fmt.Errorf("%s: %q stands for more than one secret this definition holds: give the secret itself", f.name, *f.v)
		}
	}
	return t, nil
}
