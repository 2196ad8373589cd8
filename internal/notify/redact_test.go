package notify

import (
	"strings"
	"testing"
)

// TestRedact: a secret reads as "…" and its last four characters; one
// shorter than 12 characters as "…" alone; none as nothing.
func TestRedact(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"s", "…"},
		{"elevenchars", "…"},
		{"twelve-chars", "…hars"},
		{"https://hooks.slack.com/services/T0/B0/XYZabcd", "…abcd"},
		{"clé-secrète-ünïcødé", "…cødé"}, // characters, not bytes
	} {
		if got := Redact(c.in); got != c.want {
			t.Errorf("Redact(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestTargetRedacted: every secret of each kind of receiver is redacted:
// Slack and webhook URLs, the webhook's HMAC secret, PagerDuty's routing
// key; PagerDuty's URL, the Events API's, is not a secret.
func TestTargetRedacted(t *testing.T) {
	in := []Target{
		{Type: "slack", URL: "https://hooks.slack.com/services/T0/B0/slack-1234"},
		{Type: "webhook", URL: "https://example.com/hook?token=hook-5678", Secret: "hmac-secret-9012"},
		{Type: "pagerduty", URL: "https://events.example.com/v2/enqueue", RoutingKey: "routing-key-3456"},
	}
	want := []Target{
		{Type: "slack", URL: "…1234"},
		{Type: "webhook", URL: "…5678", Secret: "…9012"},
		{Type: "pagerduty", URL: "https://events.example.com/v2/enqueue", RoutingKey: "…3456"},
	}
	for i, tg := range in {
		if got := tg.Redacted(); got != want[i] {
			t.Errorf("%s: %+v, want %+v", tg.Type, got, want[i])
		}
		if err := want[i].Validate(); err != nil {
			t.Errorf("the redacted %s target does not validate: %v", tg.Type, err)
		}
	}
	if in[1].Secret != "hmac-secret-9012" {
		t.Error("Redacted changed its receiver")
	}
}

// TestRestore: a redacted form becomes the stored secret it stands for —
// the same position's first, else the one of its type and field that
// matches; one that stands for none or for two is refused, naming the
// field; a secret given in full is kept as given.
func TestRestore(t *testing.T) {
	stored := []Target{
		{Type: "webhook", URL: "https://a.example/hook-aaaa", Secret: "first-secret-1111"},
		{Type: "webhook", URL: "https://b.example/hook-bbbb", Secret: "second-secret-1111"},
		{Type: "slack", URL: "https://hooks.slack.com/services/x-cccc"},
		{Type: "webhook", URL: "https://c.example/hook-dddd", Secret: "short"},
	}
	for _, c := range []struct {
		name string
		i    int
		in   Target
		want Target
		err  string
	}{
		{"same position", 1, Target{Type: "webhook", URL: "…bbbb", Secret: "…1111"}, Target{Type: "webhook", URL: "https://b.example/hook-bbbb", Secret: "second-secret-1111"}, ""},
		{"moved", 0, Target{Type: "slack", URL: "…cccc"}, Target{Type: "slack", URL: "https://hooks.slack.com/services/x-cccc"}, ""},
		{"new secret, kept URL", 0, Target{Type: "webhook", URL: "…aaaa", Secret: "a-brand-new-secret"}, Target{Type: "webhook", URL: "https://a.example/hook-aaaa", Secret: "a-brand-new-secret"}, ""},
		{"short secret at its position", 3, Target{Type: "webhook", URL: "…dddd", Secret: "…"}, Target{Type: "webhook", URL: "https://c.example/hook-dddd", Secret: "short"}, ""},
		{"unknown", 0, Target{Type: "slack", URL: "…zzzz"}, Target{}, `url: "…zzzz" is the redacted form of a secret this definition does not hold`},
		{"other type", 2, Target{Type: "webhook", URL: "…cccc"}, Target{}, "url: "},
		{"two match", 5, Target{Type: "webhook", URL: "https://d.example/x", Secret: "…1111"}, Target{}, `secret: "…1111" stands for more than one secret`},
	} {
		got, err := c.in.Restore(c.i, stored)
		switch {
		case c.err != "" && (err == nil || !strings.HasPrefix(err.Error(), c.err)):
			t.Errorf("%s: %+v, %v; want the error %q", c.name, got, err, c.err)
		case c.err == "" && (err != nil || got != c.want):
			t.Errorf("%s: %+v, %v; want %+v", c.name, got, err, c.want)
		}
	}
	if _, err := (Target{Type: "slack", URL: "…cccc"}).Restore(0, nil); err == nil {
		t.Error("a redacted form restored for a new definition")
	}
}

// TestValidateShowsNoSecret: a Slack or webhook URL that is not one is
// named redacted in the error.
func TestValidateShowsNoSecret(t *testing.T) {
	err := Target{Type: "slack", URL: "hooks.slack.com/services/T0/B0/secret-part"}.Validate()
	if err == nil || strings.Contains(err.Error(), "secret-part") || !strings.Contains(err.Error(), "…part") {
		t.Errorf("error %v", err)
	}
}
