package slo

import (
	"math"
	"testing"
	"time"
)

// minutes is a Source with constant traffic: per minute, eligible events
// and the bad among them, from a start time on.
type minutes struct {
	start     time.Time
	perMinute []Counts // index: minutes since start
}

func (m minutes) Sum(from, to time.Time) Counts {
	var c Counts
	for i, x := range m.perMinute {
		t := m.start.Add(time.Duration(i) * time.Minute)
		if !t.Before(from) && t.Before(to) {
			c.Eligible += x.Eligible
			c.Good += x.Good
		}
	}
	return c
}

// steady returns d of traffic ending at end: n events a minute at the
// given error ratio.
func steady(end time.Time, d time.Duration, n int64, errRatio float64) minutes {
	k := int(d / time.Minute)
	m := minutes{start: end.Add(-d)}
	for i := 0; i < k; i++ {
		bad := int64(math.Round(float64(n) * errRatio))
		m.perMinute = append(m.perMinute, Counts{Eligible: n, Good: n - bad})
	}
	return m
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9*math.Max(1, math.Abs(b)) }

func TestDefaultBurnRulesFollowTheWorkbook(t *testing.T) {
	at := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		w    Window
		want []float64
	}{
		{Window{Days: 30}, []float64{14.4, 6, 3, 1}},
		{Window{Days: 28}, []float64{13.44, 5.6, 2.8, 0.933}},
		{Window{Days: 7}, []float64{3.36, 1.4, 0.7, 0.233}},
		{Window{CalendarMonth: true}, []float64{14.4, 6, 3, 1}}, // November has 30 days
	}
	for _, c := range cases {
		rules := DefaultBurnRules(c.w, at)
		for i, r := range rules {
			if !near(r.Factor, c.want[i]) {
				t.Errorf("%s rule %d: factor %v, want %v", c.w, i, r.Factor, c.want[i])
			}
		}
		if rules[0].Severity != Page || rules[2].Severity != Ticket || time.Duration(rules[0].Short) != 5*time.Minute || time.Duration(rules[3].Long) != 72*time.Hour {
			t.Errorf("%s: rules %+v", c.w, rules)
		}
	}
}

// TestWorkbookNumbers: 99.9 % over 30 days. A burn rate of 14.4 for an
// hour spends 2 % of the budget; a burn rate of 1 spends exactly the
// budget over the window and never exhausts it early.
func TestWorkbookNumbers(t *testing.T) {
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	s := SLO{Name: "x", Target: 99.9, Window: Window{Days: 30}}
	const perMinute = 10000
	// 30 days at burn 1 (0.1 % errors)...
	src := steady(now, 30*24*time.Hour, perMinute, 0.001)
	st := ComputeStatus(s, src, now)
	if !near(st.BurnRate["1h"], 1) || !near(st.BurnRate["3d"], 1) {
		t.Fatalf("burn rates %v", st.BurnRate)
	}
	if math.Abs(st.BudgetRemainingPercent) > 1e-6 {
		t.Errorf("burn 1 for the whole window left %v%% of the budget, want 0", st.BudgetRemainingPercent)
	}
	if st.ExhaustionSeconds != nil {
		t.Errorf("burn 1: exhaustion %v, want never", *st.ExhaustionSeconds)
	}
	// ...versus one hour at burn 14.4 after a clean month: 2 % of budget.
	clean := steady(now.Add(-time.Hour), 30*24*time.Hour-time.Hour, perMinute, 0)
	hot := steady(now, time.Hour, perMinute, 0.0144)
	both := minutes{start: clean.start, perMinute: append(clean.perMinute, hot.perMinute...)}
	st = ComputeStatus(s, both, now)
	if !near(st.BurnRate["1h"], 14.4) {
		t.Fatalf("1h burn %v", st.BurnRate["1h"])
	}
	spent := 100 - st.BudgetRemainingPercent
	if math.Abs(spent-2) > 1e-9 {
		t.Errorf("an hour at burn 14.4 spent %v%% of the budget, want 2%%", spent)
	}
	// Time to exhaustion at burn 14.4: left ÷ ((14.4 − 1) × 0.001 × 1000/60 per s).
	left := 0.98 * 0.001 * float64(30*24*60*perMinute)
	want := left / ((14.4 - 1) * 0.001 * perMinute / 60)
	if st.ExhaustionSeconds == nil || math.Abs(*st.ExhaustionSeconds-want) > 1e-6*want {
		t.Errorf("exhaustion %v, want %v s", st.ExhaustionSeconds, want)
	}
}

func TestStatusShape(t *testing.T) {
	now := time.Date(2026, 11, 24, 12, 30, 0, 0, time.UTC)
	s := SLO{Name: "x", Target: 99, Window: Window{Days: 3}}
	st := ComputeStatus(s, steady(now, 2*time.Hour, 20, 0.05), now)
	for _, w := range []string{"5m", "30m", "1h", "6h", "1d", "3d"} {
		if _, ok := st.BurnRate[w]; !ok {
			t.Errorf("no burn rate for %s", w)
		}
	}
	if st.SLI == nil || !near(*st.SLI, 95) || st.Eligible != 2400 || st.Bad != 120 {
		t.Errorf("status %+v", st)
	}
	if len(st.Burndown) == 0 || len(st.Burndown) > 210 || !st.Burndown[len(st.Burndown)-1].Time.Equal(now) {
		t.Errorf("burndown of %d points", len(st.Burndown))
	}
	if len(st.Daily) != 4 || st.Daily[3].Met || st.Daily[0].SLI != nil || !st.Daily[0].Met {
		t.Errorf("daily %+v", st.Daily)
	}
	empty := ComputeStatus(s, minutes{}, now)
	if empty.SLI != nil || empty.BudgetRemainingPercent != 100 || empty.ExhaustionSeconds != nil {
		t.Errorf("no traffic: %+v", empty)
	}
}

func TestEvaluate(t *testing.T) {
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	base := SLO{Name: "x", Target: 99.9, Window: Window{Days: 30}}
	base.Defaults()
	firing := func(s SLO, src Source) map[Severity][]string {
		out := map[Severity][]string{}
		for _, r := range Evaluate(s, src, now) {
			if r.Firing {
				out[r.Severity] = append(out[r.Severity], r.Rule)
			}
		}
		return out
	}
	cases := []struct {
		name         string
		slo          func(SLO) SLO
		src          Source
		page, ticket int
	}{
		{"clean", nil, steady(now, 3*24*time.Hour, 100, 0), 0, 0},
		{"burn 0.5", nil, steady(now, 3*24*time.Hour, 100, 0.0005), 0, 0},
		{"burn 20 for an hour", nil, steady(now, time.Hour, 1000, 0.02), 2, 2}, // 1h and 6h windows hold only the hot hour
		{"burn 2 for three days", nil, steady(now, 3*24*time.Hour, 1000, 0.002), 0, 1},
		{"burn 4 for a day", nil, steady(now, 24*time.Hour, 1000, 0.004), 0, 2},
		{"low traffic", nil, steady(now, time.Hour, 1, 1), 0, 0}, // 60 events < min_events
		{"low traffic, min 10", func(s SLO) SLO { s.Alerts.MinEvents = 10; return s }, steady(now, time.Hour, 1, 1), 2, 2},
		{"disabled", func(s SLO) SLO { s.Alerts.Disabled = true; return s }, steady(now, time.Hour, 1000, 0.5), 0, 0},
		{"exhaustion page", func(s SLO) SLO {
			s.Alerts.BurnRates = nil
			s.Alerts.ExhaustionPage = Duration(48 * time.Hour)
			return s
		},
			steady(now, 3*24*time.Hour, 100, 0.005), 1, 0},
		{"budget rule", func(s SLO) SLO {
			s.Alerts.BurnRates = nil
			s.Alerts.BudgetRules = []BudgetRule{{Severity: Ticket, Percent: 20, Within: Duration(24 * time.Hour)}}
			return s
		}, steady(now, 3*24*time.Hour, 1000, 0.001), 0, 1}, // a day at burn 1 of 3 days' traffic: 33 %
	}
	for _, c := range cases {
		s := base
		if c.slo != nil {
			s = c.slo(base)
		}
		got := firing(s, c.src)
		if len(got[Page]) != c.page || len(got[Ticket]) != c.ticket {
			t.Errorf("%s: firing %v, want %d page and %d ticket rules", c.name, got, c.page, c.ticket)
		}
	}
}

func TestWindow(t *testing.T) {
	now := time.Date(2024, 2, 10, 15, 0, 0, 0, time.UTC)
	m := Window{CalendarMonth: true}
	if !m.Start(now).Equal(time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC)) || m.Length(now) != 29*24*time.Hour {
		t.Errorf("calendar month: %v %v", m.Start(now), m.Length(now))
	}
	for in, want := range map[string]string{"30d": "30d", "4w": "28d", "calendar-month": "calendar-month", "month": "calendar-month"} {
		w, err := ParseWindow(in)
		if err != nil || w.String() != want {
			t.Errorf("ParseWindow(%q) = %v, %v", in, w, err)
		}
	}
	for _, bad := range []string{"", "36h", "0d", "-3d", "forever"} {
		if _, err := ParseWindow(bad); err == nil {
			t.Errorf("ParseWindow(%q) accepted", bad)
		}
	}
	for in, want := range map[string]time.Duration{"5m": 5 * time.Minute, "1h": time.Hour, "3d": 72 * time.Hour, "2w": 14 * 24 * time.Hour, "90m": 90 * time.Minute} {
		d, err := ParseDuration(in)
		if err != nil || time.Duration(d) != want {
			t.Errorf("ParseDuration(%q) = %v, %v", in, d, err)
		}
	}
}
