// Package slo defines SLOs, reads them as code (prodex/v1 and OpenSLO v1
// documents) and does the error-budget, burn-rate and alert-rule
// arithmetic. It knows nothing of storage, HTTP or expression syntax.
package slo

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// SLO is a service level objective over a dataset's events.
type SLO struct {
	Name        string            `json:"name"`
	Dataset     string            `json:"dataset"`
	Description string            `json:"description,omitempty"`
	Tags        map[string]string `json:"tags,omitempty"`
	Runbook     string            `json:"runbook,omitempty"`
	Target      float64           `json:"target"` // percent, e.g. 99.9
	Window      Window            `json:"window"`
	SLI         SLI               `json:"sli"`
	Notify      []Notify          `json:"notify,omitempty"`
	Alerts      Alerts            `json:"alerts"`
}

// SLI classifies events: those matching Eligible (every event when empty)
// count, and of them those matching Good are good.
type SLI struct {
	Eligible string `json:"eligible,omitempty"`
	Good     string `json:"good"`
}

// Notify is a notification receiver.
type Notify struct {
	Type       string `json:"type"` // webhook, slack or pagerduty
	URL        string `json:"url,omitempty"`
	Secret     string `json:"secret,omitempty"`
	RoutingKey string `json:"routing_key,omitempty"`
}

// Severity is how urgently a person must act: page now, ticket for days.
type Severity string

const (
	Page   Severity = "page"
	Ticket Severity = "ticket"
)

// Alerts configures an SLO's alert rules.
type Alerts struct {
	Disabled bool `json:"disabled,omitempty"`
	// MinEvents eligible events must be in a rule's long window before it
	// fires, so that one bad event in a quiet hour does not page.
	MinEvents        int64        `json:"min_events,omitempty"`
	BurnRates        []BurnRule   `json:"burn_rates,omitempty"`
	ExhaustionPage   Duration     `json:"exhaustion_page,omitempty"`
	ExhaustionTicket Duration     `json:"exhaustion_ticket,omitempty"`
	BudgetRules      []BudgetRule `json:"budget_rules,omitempty"`
}

// BurnRule fires when the burn rate over both windows reaches Factor.
type BurnRule struct {
	Severity Severity `json:"severity"`
	Long     Duration `json:"long_window"`
	Short    Duration `json:"short_window"`
	Factor   float64  `json:"burn_rate"`
}

// BudgetRule fires when the bad events of the last Within exceed Percent
// of the window's error budget.
type BudgetRule struct {
	Severity Severity `json:"severity"`
	Percent  float64  `json:"percent"`
	Within   Duration `json:"within"`
}

// DefaultMinEvents is the traffic a rule needs before it may fire.
const DefaultMinEvents = 100

// Defaults fills in the default alert rules.
func (s *SLO) Defaults() {
	if s.Alerts.Disabled {
		return
	}
	if s.Alerts.MinEvents == 0 {
		s.Alerts.MinEvents = DefaultMinEvents
	}
	if len(s.Alerts.BurnRates) == 0 {
		s.Alerts.BurnRates = DefaultBurnRules(s.Window, time.Now())
	}
}

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,62}$`)

// Validate checks a definition; every message names the field at fault.
func (s *SLO) Validate() error {
	switch {
	case !nameRE.MatchString(s.Name):
		return fmt.Errorf("metadata.name: %q must be 1 to 63 lower-case letters, digits or '-', starting with a letter", s.Name)
	case s.Dataset == "":
		return fmt.Errorf("spec.dataset: required")
	case !(s.Target > 0 && s.Target < 100):
		return fmt.Errorf("spec.target: must be between 0 and 100 (exclusive), got %v", s.Target)
	case s.Window.Days == 0 && !s.Window.CalendarMonth:
		return fmt.Errorf("spec.window: required (e.g. 30d or calendar-month)")
	case strings.TrimSpace(s.SLI.Good) == "":
		return fmt.Errorf("spec.sli.good: required")
	}
	if s.Runbook != "" {
		if u, err := url.Parse(s.Runbook); err != nil || u.Scheme == "" {
			return fmt.Errorf("spec.runbook: %q is not an absolute URL", s.Runbook)
		}
	}
	for i, n := range s.Notify {
		f := fmt.Sprintf("spec.notify[%d]", i)
		switch n.Type {
		case "webhook", "slack":
			if u, err := url.Parse(n.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return fmt.Errorf("%s.url: %q is not an http(s) URL", f, n.URL)
			}
		case "pagerduty":
			if n.RoutingKey == "" {
				return fmt.Errorf("%s.routing_key: required for pagerduty", f)
			}
			if n.URL != "" {
				if u, err := url.Parse(n.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
					return fmt.Errorf("%s.url: %q is not an http(s) URL", f, n.URL)
				}
			}
		default:
			return fmt.Errorf("%s.type: %q is not webhook, slack or pagerduty", f, n.Type)
		}
	}
	a := s.Alerts
	if a.MinEvents < 0 {
		return fmt.Errorf("spec.alerts.min_events: must not be negative")
	}
	for i, r := range a.BurnRates {
		f := fmt.Sprintf("spec.alerts.burn_rates[%d]", i)
		switch {
		case r.Severity != Page && r.Severity != Ticket:
			return fmt.Errorf("%s.severity: %q is not page or ticket", f, r.Severity)
		case r.Short <= 0 || r.Long <= r.Short:
			return fmt.Errorf("%s: want long_window > short_window > 0", f)
		case r.Factor <= 0:
			return fmt.Errorf("%s.burn_rate: must be positive", f)
		}
	}
	for i, r := range a.BudgetRules {
		f := fmt.Sprintf("spec.alerts.budget_rules[%d]", i)
		switch {
		case r.Severity != Page && r.Severity != Ticket:
			return fmt.Errorf("%s.severity: %q is not page or ticket", f, r.Severity)
		case !(r.Percent > 0 && r.Percent <= 100):
			return fmt.Errorf("%s.percent: must be in (0, 100]", f)
		case r.Within <= 0:
			return fmt.Errorf("%s.within: must be positive", f)
		}
	}
	if a.ExhaustionPage < 0 || a.ExhaustionTicket < 0 {
		return fmt.Errorf("spec.alerts.exhaustion_page/exhaustion_ticket: must not be negative")
	}
	return nil
}

// Duration is a time.Duration written as Go does ("90m", "1h") or with
// days and weeks ("3d", "2w").
type Duration time.Duration

// ParseDuration reads a Duration.
func ParseDuration(s string) (Duration, error) {
	s = strings.TrimSpace(s)
	if n := len(s); n > 1 && (s[n-1] == 'd' || s[n-1] == 'w') {
		v, err := strconv.ParseFloat(s[:n-1], 64)
		if err != nil || v < 0 {
			return 0, fmt.Errorf("invalid duration %q", s)
		}
		day := 24 * time.Hour
		if s[n-1] == 'w' {
			day *= 7
		}
		return Duration(v * float64(day)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q (e.g. 5m, 1h, 3d)", s)
	}
	return Duration(d), nil
}

func (d Duration) String() string {
	t := time.Duration(d)
	if t > 0 && t%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(t/(24*time.Hour)), 10) + "d"
	}
	s := t.String()
	s = strings.TrimSuffix(s, "0s")
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	if s == "" {
		return "0s"
	}
	return s
}

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a duration such as \"1h\" or \"3d\"")
	}
	v, err := ParseDuration(s)
	*d = v
	return err
}

// Window is the period an SLO is measured over: the last Days days, or
// the current calendar month (UTC).
type Window struct {
	Days          int
	CalendarMonth bool
}

// ParseWindow reads "30d", "4w" or "calendar-month" ("month").
func ParseWindow(s string) (Window, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "calendar-month", "month", "1m":
		return Window{CalendarMonth: true}, nil
	}
	d, err := ParseDuration(s)
	if err != nil || d <= 0 || time.Duration(d)%(24*time.Hour) != 0 {
		return Window{}, fmt.Errorf("invalid window %q: want whole days (30d, 4w) or calendar-month", s)
	}
	return Window{Days: int(time.Duration(d) / (24 * time.Hour))}, nil
}

func (w Window) String() string {
	if w.CalendarMonth {
		return "calendar-month"
	}
	return strconv.Itoa(w.Days) + "d"
}

func (w Window) MarshalJSON() ([]byte, error) { return json.Marshal(w.String()) }

func (w *Window) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a window such as \"30d\" or \"calendar-month\"")
	}
	v, err := ParseWindow(s)
	*w = v
	return err
}

// Start is when the window that ends at now began.
func (w Window) Start(now time.Time) time.Time {
	if w.CalendarMonth {
		u := now.UTC()
		return time.Date(u.Year(), u.Month(), 1, 0, 0, 0, 0, time.UTC)
	}
	return now.Add(-time.Duration(w.Days) * 24 * time.Hour)
}

// Length is the window's full length: for a calendar month, that of the
// month containing at.
func (w Window) Length(at time.Time) time.Duration {
	if w.CalendarMonth {
		start := w.Start(at)
		return start.AddDate(0, 1, 0).Sub(start)
	}
	return time.Duration(w.Days) * 24 * time.Hour
}
