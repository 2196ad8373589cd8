// Package slo defines SLOs, reads them as code (prodex/v1 and OpenSLO v1
// documents) and does the error-budget, burn-rate and alert-rule
// arithmetic. It knows nothing of storage, HTTP or expression syntax:
// SLI expressions are plain strings checked elsewhere, and notification
// targets are notify's, validated there.
package slo

import (
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/prodex/prodex/internal/duration"
	"github.com/prodex/prodex/internal/notify"
)

// SLO is a service level objective over a dataset's events.
type SLO struct {
	Name        string            `json:"name"` // [a-z0-9-], at most 63, starting with a letter
	Dataset     string            `json:"dataset"`
	Description string            `json:"description,omitempty"`
	Tags        map[string]string `json:"tags,omitempty"`
	Runbook     string            `json:"runbook,omitempty"` // absolute URL
	Target      float64           `json:"target"`            // percent, 0 < target < 100, e.g. 99.9
	Window      Window            `json:"window"`
	SLI         SLI               `json:"sli"`
	Notify      []notify.Target   `json:"notify,omitempty"`
	Alerts      Alerts            `json:"alerts,omitempty"`
}

// SLI classifies events: those matching Eligible (every event when empty)
// count, and of them those matching Good are good.
type SLI struct {
	Eligible string `json:"eligible,omitempty"`
	Good     string `json:"good"`
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
	// MinEvents eligible events must be in a rule's long window before
	// the rule fires, so that one bad request in a quiet hour does not
	// page. Zero means DefaultMinEvents.
	MinEvents int64 `json:"min_events,omitempty"`
	// BurnRates default to DefaultBurnRules.
	BurnRates []BurnRule `json:"burn_rates,omitempty"`
	// ExhaustionPage and ExhaustionTicket fire when the budget runs out
	// within them at the last hour's rate; zero turns them off.
	ExhaustionPage   duration.Duration `json:"exhaustion_page,omitempty"`
	ExhaustionTicket duration.Duration `json:"exhaustion_ticket,omitempty"`
	BudgetRules      []BudgetRule      `json:"budget_rules,omitempty"`
}

// BurnRule fires when the burn rate over both windows reaches Factor:
// the long window makes it significant, the short one makes it stop
// soon after the errors do.
type BurnRule struct {
	Severity Severity          `json:"severity"`
	Long     duration.Duration `json:"long_window"`
	Short    duration.Duration `json:"short_window"`
	Factor   float64           `json:"burn_rate"`
}

// BudgetRule fires when the bad events of the last Within exceed Percent
// of the window's error budget.
type BudgetRule struct {
	Severity Severity          `json:"severity"`
	Percent  float64           `json:"percent"`
	Within   duration.Duration `json:"within"`
}

// DefaultMinEvents is the traffic a rule's long window needs before the
// rule may fire.
const DefaultMinEvents = 100

// defaultsAt is the time Defaults scales burn rules at: a calendar month
// counts as 30 days (April), the Workbook's own numbers, so that the
// defaults of a definition do not change from month to month.
var defaultsAt = time.Date(2001, time.April, 15, 0, 0, 0, 0, time.UTC)

// Defaults fills in MinEvents and, unless alerts are disabled, the
// default burn-rate rules.
func (s *SLO) Defaults() {
	if s.Alerts.MinEvents == 0 {
		s.Alerts.MinEvents = DefaultMinEvents
	}
	if !s.Alerts.Disabled && len(s.Alerts.BurnRates) == 0 {
		s.Alerts.BurnRates = DefaultBurnRules(s.Window, defaultsAt)
	}
}

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,62}$`)

// Validate checks a definition. Every message starts with the field at
// fault, spelled as in a prodex/v1 document.
func (s *SLO) Validate() error {
	switch {
	case s.Name == "":
		return fmt.Errorf("metadata.name: required")
	case !nameRE.MatchString(s.Name):
		return fmt.Errorf("metadata.name: %q must be 1 to 63 lower-case letters, digits or '-', starting with a letter", s.Name)
	case strings.TrimSpace(s.Dataset) == "":
		return fmt.Errorf("spec.dataset: required")
	case !(s.Target > 0 && s.Target < 100): // also rejects NaN
		return fmt.Errorf("spec.target: must be between 0 and 100 (exclusive), got %v", s.Target)
	case s.Window.CalendarMonth && s.Window.Days != 0:
		return fmt.Errorf("spec.window: a calendar month has no day count")
	case !s.Window.CalendarMonth && s.Window.Days <= 0:
		return fmt.Errorf("spec.window: required (e.g. 30d, 4w or calendar-month)")
	case strings.TrimSpace(s.SLI.Good) == "":
		return fmt.Errorf("spec.sli.good: required")
	}
	if s.Runbook != "" {
		if u, err := url.Parse(s.Runbook); err != nil || u.Scheme == "" || u.Host == "" {
			return fmt.Errorf("spec.runbook: %q is not an absolute URL", s.Runbook)
		}
	}
	for i, t := range s.Notify {
		if err := t.Validate(); err != nil {
			return fmt.Errorf("spec.notify[%d].%w", i, err)
		}
	}
	return s.Alerts.validate()
}

// Redacted is the definition as every read shows it: its receivers'
// secrets redacted (notify.Target.Redacted).
func (s SLO) Redacted() SLO {
	if s.Notify != nil {
		n := make([]notify.Target, len(s.Notify))
		for i, t := range s.Notify {
			n[i] = t.Redacted()
		}
		s.Notify = n
	}
	return s
}

// KeepSecrets gives s, a definition being applied, the secrets of stored
// (the SLO as it is now, zero for a new one) where its receivers carry
// their redacted forms (notify.Target.Restore), so that a definition read
// back and applied again keeps them.
func (s *SLO) KeepSecrets(stored SLO) error {
	n := make([]notify.Target, len(s.Notify))
	for i, t := range s.Notify {
		r, err := t.Restore(i, stored.Notify)
		if err != nil {
			return fmt.Errorf("spec.notify[%d].%w", i, err)
		}
		n[i] = r
	}
	if s.Notify != nil {
		s.Notify = n
	}
	return nil
}

func (a Alerts) validate() error {
	if a.MinEvents < 0 {
		return fmt.Errorf("spec.alerts.min_events: must not be negative, got %d", a.MinEvents)
	}
	for i, r := range a.BurnRates {
		f := fmt.Sprintf("spec.alerts.burn_rates[%d]", i)
		switch {
		case !r.Severity.valid():
			return fmt.Errorf("%s.severity: %q is not page or ticket", f, r.Severity)
		case r.Short <= 0:
			return fmt.Errorf("%s.short_window: must be positive, got %s", f, r.Short)
		case r.Long <= r.Short:
			return fmt.Errorf("%s.long_window: must be longer than short_window (%s), got %s", f, r.Short, r.Long)
		case !(r.Factor > 0) || math.IsInf(r.Factor, 0):
			return fmt.Errorf("%s.burn_rate: must be positive, got %v", f, r.Factor)
		}
	}
	if a.ExhaustionPage < 0 {
		return fmt.Errorf("spec.alerts.exhaustion_page: must not be negative, got %s", a.ExhaustionPage)
	}
	if a.ExhaustionTicket < 0 {
		return fmt.Errorf("spec.alerts.exhaustion_ticket: must not be negative, got %s", a.ExhaustionTicket)
	}
	for i, r := range a.BudgetRules {
		f := fmt.Sprintf("spec.alerts.budget_rules[%d]", i)
		switch {
		case !r.Severity.valid():
			return fmt.Errorf("%s.severity: %q is not page or ticket", f, r.Severity)
		case !(r.Percent > 0 && r.Percent <= 100):
			return fmt.Errorf("%s.percent: must be in (0, 100], got %v", f, r.Percent)
		case r.Within <= 0:
			return fmt.Errorf("%s.within: must be positive, got %s", f, r.Within)
		}
	}
	return nil
}

func (s Severity) valid() bool { return s == Page || s == Ticket }

const day = 24 * time.Hour

// Window is the period an SLO is measured over: the last Days days, or
// the current calendar month (UTC).
type Window struct {
	Days          int
	CalendarMonth bool
}

// ParseWindow reads "30d", "4w" (any whole number of days) or
// "calendar-month" (alias "month").
func ParseWindow(s string) (Window, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "calendar-month", "month":
		return Window{CalendarMonth: true}, nil
	}
	d, err := duration.Parse(s)
	if err != nil || d <= 0 || time.Duration(d)%day != 0 {
		return Window{}, fmt.Errorf("invalid window %q: want whole days (30d, 4w) or calendar-month", s)
	}
	return Window{Days: int(time.Duration(d) / day)}, nil
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
		return fmt.Errorf("want a window string such as \"30d\" or \"calendar-month\", got %s", b)
	}
	v, err := ParseWindow(s)
	if err != nil {
		return err
	}
	*w = v
	return nil
}

// Start is when the window that ends at now began: now minus the length
// for a rolling window, the first instant of now's UTC month for a
// calendar month.
func (w Window) Start(now time.Time) time.Time {
	if w.CalendarMonth {
		u := now.UTC()
		return time.Date(u.Year(), u.Month(), 1, 0, 0, 0, 0, time.UTC)
	}
	return now.Add(-time.Duration(w.Days) * day)
}

// Length is the window's full length: for a calendar month, that of the
// UTC month containing at.
func (w Window) Length(at time.Time) time.Duration {
	if w.CalendarMonth {
		start := w.Start(at)
		return start.AddDate(0, 1, 0).Sub(start)
	}
	return time.Duration(w.Days) * day
}
