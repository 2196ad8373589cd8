package notify

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/prodex/prodex/internal/duration"
)

// encode renders a message in the target's format.
func encode(t Target, m Message) ([]byte, error) {
	var v any
	switch t.Type {
	case "webhook":
		v = m
	case "slack":
		v = slackMessage(m)
	case "pagerduty":
		v = pagerDutyEvent(t, m)
	default:
		return nil, permanent{fmt.Errorf("unknown target type %q", t.Type)}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, permanent{err}
	}
	return b, nil
}

// headline is the one-line description shared by the formats.
func headline(m Message) string {
	s := fmt.Sprintf("%s %s: SLO %s", strings.ToUpper(m.Severity), m.State, m.SLO)
	if m.Summary != "" {
		s += " — " + m.Summary
	}
	return s
}

// exhaustionText is the time until the budget runs out, e.g. "3h12m".
func exhaustionText(secs *float64) string {
	if secs == nil {
		return "not shrinking"
	}
	if *secs <= 0 {
		return "exhausted"
	}
	// Beyond ten years the exact figure means nothing (and could overflow).
	d := time.Duration(min(*secs, 10*365*86400) * float64(time.Second)).Round(time.Minute)
	days, h, mins := int64(d/(24*time.Hour)), int64(d/time.Hour)%24, int64(d/time.Minute)%60
	switch {
	case days > 0:
		return fmt.Sprintf("%dd%dh", days, h)
	case h > 0:
		return fmt.Sprintf("%dh%dm", h, mins)
	default:
		return fmt.Sprintf("%dm", max(mins, 1))
	}
}

// burnText lists burn rates shortest window first, e.g. "5m 20.0x, 1h 15.0x".
func burnText(rates map[string]float64) string {
	ws := make([]string, 0, len(rates))
	for w := range rates {
		ws = append(ws, w)
	}
	slices.SortFunc(ws, func(a, b string) int {
		return cmp.Or(cmp.Compare(windowLen(a), windowLen(b)), strings.Compare(a, b))
	})
	parts := make([]string, len(ws))
	for i, w := range ws {
		parts[i] = fmt.Sprintf("%s %.1fx", w, rates[w])
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// windowLen parses a window name such as "5m", "6h" or "3d"; unknown
// names sort last.
func windowLen(w string) time.Duration {
	if d, err := duration.Parse(w); err == nil {
		return time.Duration(d)
	}
	return math.MaxInt64
}

// Slack incoming webhooks take text plus legacy attachments; the
// attachment carries the colour bar, the fields and the link.
type slackBody struct {
	Text        string            `json:"text"`
	Attachments []slackAttachment `json:"attachments"`
}

type slackAttachment struct {
	Fallback  string       `json:"fallback"`
	Color     string       `json:"color"`
	Title     string       `json:"title"`
	TitleLink string       `json:"title_link,omitempty"`
	Text      string       `json:"text,omitempty"`
	Fields    []slackField `json:"fields"`
	Footer    string       `json:"footer,omitempty"`
	Ts        int64        `json:"ts,omitempty"`
}

type slackField struct {
	Title string `json:"title"`
	Value string `json:"value"`
	Short bool   `json:"short"`
}

// Slack colours: red for a firing page, orange for a firing ticket, green
// once resolved.
const (
	slackRed    = "#e01e5a"
	slackOrange = "#ff8c00"
	slackGreen  = "#2eb67d"
)

// slackEscape escapes the three characters Slack's text format reserves.
var slackEscape = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace

func slackMessage(m Message) slackBody {
	color := slackRed
	switch {
	case m.State == "resolved":
		color = slackGreen
	case m.Severity == "ticket":
		color = slackOrange
	}
	field := func(title, value string) slackField {
		return slackField{Title: title, Value: slackEscape(value), Short: true}
	}
	text := slackEscape(headline(m))
	att := slackAttachment{
		Fallback:  text,
		Color:     color,
		Title:     slackEscape("SLO " + m.SLO),
		TitleLink: m.Link,
		Fields: []slackField{
			field("SLI", fmt.Sprintf("%.3f%%", m.SLI)),
			field("Target", fmt.Sprintf("%g%%", m.Target)),
			field("Budget remaining", fmt.Sprintf("%.1f%%", m.BudgetRemainingPercent)),
			field("Time to exhaustion", exhaustionText(m.ExhaustionSeconds)),
			field("Burn rates", burnText(m.BurnRates)),
		},
	}
	if m.Rule != "" {
		att.Text = slackEscape("Rule: " + m.Rule)
	}
	if m.Dataset != "" {
		att.Footer = slackEscape("dataset " + m.Dataset)
	}
	if !m.At.IsZero() {
		att.Ts = m.At.Unix()
	}
	return slackBody{Text: text, Attachments: []slackAttachment{att}}
}

// PagerDuty Events API v2. A trigger carries the payload; a resolve needs
// only routing_key, event_action and dedup_key, which is all we send.
type pdEvent struct {
	RoutingKey  string     `json:"routing_key"`
	EventAction string     `json:"event_action"`
	DedupKey    string     `json:"dedup_key,omitempty"`
	Payload     *pdPayload `json:"payload,omitempty"`
	Links       []pdLink   `json:"links,omitempty"`
}

type pdPayload struct {
	Summary       string         `json:"summary"`
	Source        string         `json:"source"`
	Severity      string         `json:"severity"`
	Timestamp     string         `json:"timestamp,omitempty"`
	Component     string         `json:"component,omitempty"`
	Group         string         `json:"group,omitempty"`
	CustomDetails map[string]any `json:"custom_details,omitempty"`
}

type pdLink struct {
	Href string `json:"href"`
	Text string `json:"text"`
}

// pdSummaryMax is PagerDuty's limit on payload.summary.
const pdSummaryMax = 1024

func pagerDutyEvent(t Target, m Message) pdEvent {
	ev := pdEvent{RoutingKey: t.RoutingKey, EventAction: "trigger", DedupKey: m.DedupKey}
	if m.State == "resolved" {
		ev.EventAction = "resolve"
		return ev
	}
	sev := "critical"
	if m.Severity == "ticket" {
		sev = "warning"
	}
	summary := m.Summary
	if summary == "" {
		summary = headline(m)
	}
	if r := []rune(summary); len(r) > pdSummaryMax {
		summary = string(r[:pdSummaryMax-1]) + "…"
	}
	p := &pdPayload{
		Summary:   summary,
		Source:    "prodex",
		Severity:  sev,
		Component: m.SLO,
		Group:     m.Dataset,
		CustomDetails: map[string]any{
			"severity":                 m.Severity,
			"rule":                     m.Rule,
			"sli":                      m.SLI,
			"target":                   m.Target,
			"budget_remaining_percent": m.BudgetRemainingPercent,
			"burn_rates":               m.BurnRates,
			"exhaustion_seconds":       m.ExhaustionSeconds,
			"time_to_exhaustion":       exhaustionText(m.ExhaustionSeconds),
		},
	}
	if !m.At.IsZero() {
		p.Timestamp = m.At.UTC().Format(time.RFC3339)
	}
	ev.Payload = p
	if m.Link != "" {
		ev.Links = []pdLink{{Href: m.Link, Text: "SLO"}}
	}
	return ev
}
