package slo

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/prodex/prodex/internal/duration"
	"github.com/prodex/prodex/internal/notify"
)

func TestDurationJSON(t *testing.T) {
	in := `{"severity":"page","long_window":"1h","short_window":"5m","burn_rate":14.4}`
	var r BurnRule
	if err := json.Unmarshal([]byte(in), &r); err != nil {
		t.Fatal(err)
	}
	if out, _ := json.Marshal(r); string(out) != in {
		t.Errorf("round trip: %s, want %s", out, in)
	}
	for _, bad := range []string{`{"long_window":3600}`, `{"long_window":"soon"}`} {
		if err := json.Unmarshal([]byte(bad), &r); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestWindow(t *testing.T) {
	for in, want := range map[string]Window{
		"30d": {Days: 30}, "28d": {Days: 28}, "4w": {Days: 28}, "720h": {Days: 30},
		"calendar-month": {CalendarMonth: true}, "month": {CalendarMonth: true}, "Calendar-Month": {CalendarMonth: true},
	} {
		if w, err := ParseWindow(in); err != nil || w != want {
			t.Errorf("ParseWindow(%q) = %+v, %v; want %+v", in, w, err, want)
		}
	}
	for _, bad := range []string{"", "36h", "0d", "-3d", "1m", "1M", "forever"} {
		if w, err := ParseWindow(bad); err == nil {
			t.Errorf("ParseWindow(%q) = %+v, want an error", bad, w)
		}
	}

	cases := []struct {
		w      Window
		now    time.Time
		start  time.Time
		length time.Duration
	}{
		{Window{Days: 30}, time.Date(2026, 3, 31, 12, 0, 0, 0, time.UTC), time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), 30 * day},
		{Window{CalendarMonth: true}, time.Date(2024, 2, 10, 15, 0, 0, 0, time.UTC), time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC), 29 * day},
		{Window{CalendarMonth: true}, time.Date(2026, 12, 31, 23, 59, 0, 0, time.UTC), time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), 31 * day},
		// The UTC month, whatever the zone of now: 2026-05-01 01:00 +02:00 is April in UTC.
		{Window{CalendarMonth: true}, time.Date(2026, 5, 1, 1, 0, 0, 0, time.FixedZone("CEST", 2*3600)), time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC), 30 * day},
	}
	for _, c := range cases {
		if got := c.w.Start(c.now); !got.Equal(c.start) {
			t.Errorf("%s at %v: start %v, want %v", c.w, c.now, got, c.start)
		}
		if got := c.w.Length(c.now); got != c.length {
			t.Errorf("%s at %v: length %v, want %v", c.w, c.now, got, c.length)
		}
	}

	for _, w := range []Window{{Days: 7}, {CalendarMonth: true}} {
		b, _ := json.Marshal(w)
		var back Window
		if err := json.Unmarshal(b, &back); err != nil || back != w {
			t.Errorf("%s: round trip through %s gave %+v, %v", w, b, back, err)
		}
	}
}

func valid() SLO {
	return SLO{Name: "checkout-availability", Dataset: "checkout", Target: 99.9, Window: Window{Days: 30}, SLI: SLI{Good: "status_code < 500"}}
}

func TestValidate(t *testing.T) {
	cases := []struct {
		name string
		edit func(*SLO)
		want string // "" for valid
	}{
		{"valid", func(*SLO) {}, ""},
		{"63 characters", func(s *SLO) { s.Name = "a" + strings.Repeat("b", 62) }, ""},
		{"all notifiers", func(s *SLO) {
			s.Notify = []notify.Target{{Type: "webhook", URL: "http://127.0.0.1:9999/hook", Secret: "s"}, {Type: "slack", URL: "https://hooks.slack.com/x"}, {Type: "pagerduty", RoutingKey: "k"}}
		}, ""},
		{"no name", func(s *SLO) { s.Name = "" }, "metadata.name: required"},
		{"64 characters", func(s *SLO) { s.Name = "a" + strings.Repeat("b", 63) }, "metadata.name: "},
		{"upper case", func(s *SLO) { s.Name = "Checkout" }, "metadata.name: "},
		{"starts with a digit", func(s *SLO) { s.Name = "1checkout" }, "metadata.name: "},
		{"underscore", func(s *SLO) { s.Name = "check_out" }, "metadata.name: "},
		{"no dataset", func(s *SLO) { s.Dataset = "" }, "spec.dataset: required"},
		{"target 100", func(s *SLO) { s.Target = 100 }, "spec.target: must be between 0 and 100 (exclusive), got 100"},
		{"target 0", func(s *SLO) { s.Target = 0 }, "spec.target: must be between 0 and 100 (exclusive), got 0"},
		{"target as ratio is fine but odd", func(s *SLO) { s.Target = 0.999 }, ""},
		{"no window", func(s *SLO) { s.Window = Window{} }, "spec.window: required"},
		{"both windows", func(s *SLO) { s.Window = Window{Days: 30, CalendarMonth: true} }, "spec.window: "},
		{"no good", func(s *SLO) { s.SLI.Good = " " }, "spec.sli.good: required"},
		{"relative runbook", func(s *SLO) { s.Runbook = "/wiki/checkout" }, "spec.runbook: "},
		{"notify type", func(s *SLO) { s.Notify = []notify.Target{{Type: "email", URL: "http://x"}} }, `spec.notify[0].type: "email" is not webhook, slack or pagerduty`},
		{"notify no type", func(s *SLO) { s.Notify = []notify.Target{{URL: "http://x"}} }, "spec.notify[0].type: required"},
		{"webhook without url", func(s *SLO) { s.Notify = []notify.Target{{Type: "slack", URL: "http://x"}, {Type: "webhook"}} }, "spec.notify[1].url: required"},
		{"webhook bad url", func(s *SLO) { s.Notify = []notify.Target{{Type: "webhook", URL: "ftp://x"}} }, "spec.notify[0].url: "},
		{"pagerduty without key", func(s *SLO) { s.Notify = []notify.Target{{Type: "pagerduty"}} }, "spec.notify[0].routing_key: required"},
		{"negative min_events", func(s *SLO) { s.Alerts.MinEvents = -1 }, "spec.alerts.min_events: "},
		{"burn severity", func(s *SLO) {
			s.Alerts.BurnRates = []BurnRule{{Severity: "urgent", Long: duration.Duration(time.Hour), Short: duration.Duration(5 * time.Minute), Factor: 14.4}}
		}, `spec.alerts.burn_rates[0].severity: "urgent" is not page or ticket`},
		{"long not longer", func(s *SLO) {
			s.Alerts.BurnRates = []BurnRule{{Severity: Page, Long: duration.Duration(time.Hour), Short: duration.Duration(time.Hour), Factor: 14.4}}
		}, "spec.alerts.burn_rates[0].long_window: must be longer than short_window"},
		{"no short", func(s *SLO) {
			s.Alerts.BurnRates = []BurnRule{{Severity: Page, Long: duration.Duration(time.Hour), Factor: 14.4}}
		}, "spec.alerts.burn_rates[0].short_window: must be positive"},
		{"factor 0", func(s *SLO) {
			s.Alerts.BurnRates = []BurnRule{{Severity: Page, Long: duration.Duration(time.Hour), Short: duration.Duration(5 * time.Minute)}}
		}, "spec.alerts.burn_rates[0].burn_rate: must be positive"},
		{"negative exhaustion", func(s *SLO) { s.Alerts.ExhaustionTicket = duration.Duration(-time.Hour) }, "spec.alerts.exhaustion_ticket: "},
		{"budget percent", func(s *SLO) {
			s.Alerts.BudgetRules = []BudgetRule{{Severity: Ticket, Percent: 0, Within: duration.Duration(day)}}
		}, "spec.alerts.budget_rules[0].percent: "},
		{"budget within", func(s *SLO) { s.Alerts.BudgetRules = []BudgetRule{{Severity: Ticket, Percent: 20}} }, "spec.alerts.budget_rules[0].within: "},
		{"budget severity", func(s *SLO) {
			s.Alerts.BudgetRules = []BudgetRule{{Severity: "PAGE", Percent: 20, Within: duration.Duration(day)}}
		}, "spec.alerts.budget_rules[0].severity: "},
	}
	for _, c := range cases {
		s := valid()
		c.edit(&s)
		err := s.Validate()
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.HasPrefix(err.Error(), c.want)):
			t.Errorf("%s: error %v, want one starting %q", c.name, err, c.want)
		}
	}
}

func TestDefaults(t *testing.T) {
	s := valid()
	s.Defaults()
	if s.Alerts.MinEvents != DefaultMinEvents || len(s.Alerts.BurnRates) != 4 || s.Alerts.BurnRates[0].Factor != 14.4 {
		t.Errorf("30d defaults: %+v", s.Alerts)
	}
	if err := s.Validate(); err != nil {
		t.Errorf("defaults do not validate: %v", err)
	}

	// A calendar month's defaults are the 30-day ones, whatever the month.
	m := valid()
	m.Window = Window{CalendarMonth: true}
	m.Defaults()
	if got := m.Alerts.BurnRates; got[0].Factor != 14.4 || got[3].Factor != 1 {
		t.Errorf("calendar month defaults: %+v", got)
	}

	own := valid()
	own.Alerts = Alerts{MinEvents: 5, BurnRates: []BurnRule{{Severity: Page, Long: duration.Duration(time.Hour), Short: duration.Duration(5 * time.Minute), Factor: 10}}}
	own.Defaults()
	if own.Alerts.MinEvents != 5 || len(own.Alerts.BurnRates) != 1 {
		t.Errorf("defaults replaced explicit rules: %+v", own.Alerts)
	}

	off := valid()
	off.Alerts.Disabled = true
	off.Defaults()
	if len(off.Alerts.BurnRates) != 0 {
		t.Errorf("disabled alerts got rules: %+v", off.Alerts)
	}
}

func TestSLOJSON(t *testing.T) {
	s := valid()
	s.Alerts.ExhaustionPage = duration.Duration(2 * day)
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"name":"checkout-availability"`, `"window":"30d"`, `"sli":{"good":"status_code \u003c 500"}`, `"exhaustion_page":"2d"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("%s lacks %s", b, want)
		}
	}
	var back SLO
	if err := json.Unmarshal(b, &back); err != nil || back.Window != s.Window || back.Alerts.ExhaustionPage != s.Alerts.ExhaustionPage {
		t.Errorf("round trip: %+v, %v", back, err)
	}
}
