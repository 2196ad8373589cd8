package slo

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/prodex/prodex/internal/duration"
)

// minutes is a Source of per-minute counts from start on; a minute counts
// when it starts in [from, to).
type minutes struct {
	start time.Time
	per   []Counts
}

func (m minutes) Sum(from, to time.Time) Counts {
	var c Counts
	for i, x := range m.per {
		if t := m.start.Add(time.Duration(i) * time.Minute); !t.Before(from) && t.Before(to) {
			c.Eligible += x.Eligible
			c.Good += x.Good
		}
	}
	return c
}

// span is d of traffic: eligible events a minute, bad of them bad.
type span struct {
	d             time.Duration
	eligible, bad int64
}

// traffic is consecutive spans of traffic ending at end.
func traffic(end time.Time, spans ...span) minutes {
	var total time.Duration
	var per []Counts
	for _, s := range spans {
		total += s.d
		for range int(s.d / time.Minute) {
			per = append(per, Counts{Eligible: s.eligible, Good: s.eligible - s.bad})
		}
	}
	return minutes{start: end.Add(-total), per: per}
}

var now = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

func TestBurnRate(t *testing.T) {
	cases := []struct {
		c      Counts
		target float64
		want   float64
	}{
		{Counts{}, 99.9, 0},
		{Counts{Eligible: 1000, Good: 1000}, 99.9, 0},
		{Counts{Eligible: 1000, Good: 999}, 99.9, 1},          // 0.1 % errors spend a 99.9 % budget exactly
		{Counts{Eligible: 10000, Good: 9856}, 99.9, 14.4},     // the Workbook's fast page
		{Counts{Eligible: 1000, Good: 994}, 99.9, 6},          // ... and slow page
		{Counts{Eligible: 100, Good: 0}, 99, 100},             // everything failing: 1 ÷ (1 − 0.99)
		{Counts{Eligible: 200, Good: 199}, 99.5, 1},           // 0.5 % of 200
		{Counts{Eligible: 1000000, Good: 999990}, 99.99, 0.1}, // ten bad in a million
	}
	for _, c := range cases {
		if got := BurnRate(c.c, c.target); got != c.want {
			t.Errorf("BurnRate(%+v, %v) = %v, want %v", c.c, c.target, got, c.want)
		}
	}
	if b := (Counts{Eligible: 10, Good: 7}).Bad(); b != 3 {
		t.Errorf("Bad = %d", b)
	}
}

func TestDefaultBurnRules(t *testing.T) {
	at := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		w    Window
		at   time.Time
		want []float64
	}{
		{Window{Days: 30}, at, []float64{14.4, 6, 3, 1}},
		{Window{Days: 28}, at, []float64{13.44, 5.6, 2.8, 0.933}},
		{Window{Days: 7}, at, []float64{3.36, 1.4, 0.7, 0.233}},
		{Window{CalendarMonth: true}, at, []float64{14.4, 6, 3, 1}},                                                    // November: 30 days
		{Window{CalendarMonth: true}, time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC), []float64{14.88, 6.2, 3.1, 1.033}}, // December: 31
	}
	for _, c := range cases {
		rules := DefaultBurnRules(c.w, c.at)
		if len(rules) != 4 {
			t.Fatalf("%d rules", len(rules))
		}
		for i, r := range rules {
			if r.Factor != c.want[i] {
				t.Errorf("%s rule %d: factor %v, want %v", c.w, i, r.Factor, c.want[i])
			}
		}
	}
	want := []BurnRule{
		{Page, duration.Duration(time.Hour), duration.Duration(5 * time.Minute), 14.4},
		{Page, duration.Duration(6 * time.Hour), duration.Duration(30 * time.Minute), 6},
		{Ticket, duration.Duration(day), duration.Duration(2 * time.Hour), 3},
		{Ticket, duration.Duration(3 * day), duration.Duration(6 * time.Hour), 1},
	}
	for i, r := range DefaultBurnRules(Window{Days: 30}, at) {
		if r != want[i] {
			t.Errorf("rule %d: %+v, want %+v", i, r, want[i])
		}
	}
}

// TestBudgetSpent checks the Workbook's numbers for 99.9 % over 30
// days: burning at b for d spends b × d ÷ 30 days of the budget.
func TestBudgetSpent(t *testing.T) {
	s := SLO{Name: "x", Target: 99.9, Window: Window{Days: 30}}
	const perMinute = 10000 // bad per minute at burn b: 10 × b
	cases := []struct {
		name  string
		burn  int64 // bad events a minute (10 per unit of burn)
		d     time.Duration
		spent float64 // percent of the budget
	}{
		{"burn 14.4 for 1h spends 2 %", 144, time.Hour, 2},
		{"burn 6 for 6h spends 5 %", 60, 6 * time.Hour, 5},
		{"burn 3 for 1d spends 10 %", 30, day, 10},
		{"burn 1 for 3d spends 10 %", 10, 3 * day, 10},
		{"burn 1 for 30d spends exactly the budget", 10, 30 * day, 100},
	}
	for _, c := range cases {
		src := traffic(now, span{30*day - c.d, perMinute, 0}, span{c.d, perMinute, c.burn})
		st := ComputeStatus(s, src, now)
		if got := 100 - st.BudgetRemainingPercent; math.Abs(got-c.spent) > 1e-9 {
			t.Errorf("%s: spent %v %%", c.name, got)
		}
	}
}

func TestExhaustion(t *testing.T) {
	hour := func(eligible, bad int64) Counts { return Counts{Eligible: eligible, Good: eligible - bad} }
	cases := []struct {
		name   string
		left   float64
		last   Counts
		target float64
		want   float64 // -1: nil
	}{
		{"no traffic", 100, Counts{}, 99.9, -1},
		{"burn 1 never exhausts", 100, hour(36000, 36), 99.9, -1},
		{"burn 0.5 never exhausts", 100, hour(36000, 18), 99.9, -1},
		{"burn 1 with the budget spent", -5, hour(36000, 36), 99.9, -1},
		// 1 event/s at burn 5 and 99 %: the budget shrinks by
		// (5 − 1) × 0.01 × 1 = 0.04 events a second; 100 last 2500 s.
		{"burn 5", 100, hour(3600, 180), 99, 2500},
		{"burn 5, budget spent", 0, hour(3600, 180), 99, 0},
		{"burn 5, overspent", -50, hour(3600, 180), 99, 0},
		// 99.9 % at 1000 events/s and burn 14.4: the budget shrinks by
		// 13.4 × 0.001 × 1000 = 13.4 events a second.
		{"burn 14.4", 13400, hour(3600000, 51840), 99.9, 1000},
	}
	for _, c := range cases {
		got := Exhaustion(c.left, c.last, c.target)
		switch {
		case c.want == -1 && got != nil:
			t.Errorf("%s: %v s, want never", c.name, *got)
		case c.want >= 0 && (got == nil || math.Abs(*got-c.want) > 1e-6*math.Max(1, c.want)):
			t.Errorf("%s: %v, want %v s", c.name, got, c.want)
		}
	}
}

func TestWorkedExhaustion(t *testing.T) {
	s := SLO{Name: "x", Target: 99, Window: Window{Days: 30}}
	src := minutes{start: now.Add(-10*day - time.Hour)}
	for range 10 * 24 * 60 {
		src.per = append(src.per, Counts{Eligible: 10, Good: 10})
	}
	for i := range 60 { // 30 bad in the hour
		src.per = append(src.per, Counts{Eligible: 10, Good: 10 - int64(i%2)})
	}
	st := ComputeStatus(s, src, now)
	if st.Eligible != 144600 || st.Bad != 30 || math.Abs(st.BudgetRemaining-1416) > 1e-9 || st.BurnRate["1h"] != 5 {
		t.Fatalf("status %+v", st)
	}
	if st.ExhaustionSeconds == nil || math.Abs(*st.ExhaustionSeconds-212400) > 1e-6 {
		t.Errorf("exhaustion %v, want 212400 s", st.ExhaustionSeconds)
	}
}

func TestStatus(t *testing.T) {
	at := time.Date(2026, 11, 24, 12, 30, 0, 0, time.UTC)
	s := SLO{Name: "x", Target: 99, Window: Window{Days: 3}}
	st := ComputeStatus(s, traffic(at, span{2 * time.Hour, 20, 1}), at)
	if len(st.BurnRate) != 6 {
		t.Errorf("burn rates %v", st.BurnRate)
	}
	for _, w := range []string{"5m", "30m", "1h", "6h", "1d", "3d"} {
		if st.BurnRate[w] != 5 {
			t.Errorf("burn rate over %s: %v, want 5", w, st.BurnRate[w])
		}
	}
	if st.SLI == nil || *st.SLI != 95 || st.Eligible != 2400 || st.Good != 2280 || st.Bad != 120 || st.BudgetUsed != 120 ||
		math.Abs(st.BudgetTotal-24) > 1e-9 || math.Abs(st.BudgetRemaining+96) > 1e-9 || st.BudgetRemainingPercent != -400 {
		t.Errorf("status %+v", st)
	}
	if st.ExhaustionSeconds == nil || *st.ExhaustionSeconds != 0 {
		t.Errorf("overspent budget at burn 5: exhaustion %v, want 0", st.ExhaustionSeconds)
	}
	if !st.WindowStart.Equal(at.Add(-3*day)) || st.Window != "3d" {
		t.Errorf("window %s from %v", st.Window, st.WindowStart)
	}

	// Burndown: from the full budget at the start to now, at most ~200 points.
	bd := st.Burndown
	if len(bd) < 2 || len(bd) > 201 || !bd[0].Time.Equal(st.WindowStart) || bd[0].BudgetRemainingPercent != 100 ||
		!bd[len(bd)-1].Time.Equal(at) || bd[len(bd)-1].BudgetRemainingPercent != -400 {
		t.Errorf("burndown of %d points: %v … %v", len(bd), bd[0], bd[len(bd)-1])
	}
	// Days: the window's partial first day, two empty ones, today.
	if len(st.Daily) != 4 || st.Daily[0].Day != "2026-11-21" || st.Daily[0].SLI != nil || !st.Daily[0].Met ||
		st.Daily[3].Day != "2026-11-24" || st.Daily[3].Met || st.Daily[3].Eligible != 2400 {
		t.Errorf("daily %+v", st.Daily)
	}

	empty := ComputeStatus(s, minutes{}, at)
	if empty.SLI != nil || empty.BudgetRemainingPercent != 100 || empty.ExhaustionSeconds != nil || empty.BurnRate["1h"] != 0 {
		t.Errorf("no traffic: %+v", empty)
	}
	b, err := json.Marshal(empty)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"sli":null`, `"exhaustion_seconds":null`, `"budget_remaining_percent":100`, `"burn_rate":{"1d":0,`, `"window":"3d"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("%s lacks %s", b, want)
		}
	}
}

func TestBurndownPoints(t *testing.T) {
	for _, w := range []Window{{Days: 30}, {Days: 1}, {Days: 90}} {
		st := ComputeStatus(SLO{Name: "x", Target: 99.9, Window: w}, minutes{}, now.Add(17*time.Second))
		if n := len(st.Burndown); n < 150 || n > 201 {
			t.Errorf("%s: %d burndown points", w, n)
		}
	}
	// Early in a calendar month: one point a minute.
	m := Window{CalendarMonth: true}
	at := time.Date(2026, 11, 1, 0, 5, 0, 0, time.UTC)
	if st := ComputeStatus(SLO{Name: "x", Target: 99.9, Window: m}, minutes{}, at); len(st.Burndown) != 6 || len(st.Daily) != 1 {
		t.Errorf("5 minutes into the month: %d points, %d days", len(st.Burndown), len(st.Daily))
	}
}

// results runs Evaluate and indexes the results by rule id.
func results(s SLO, src Source) map[string]RuleResult {
	out := map[string]RuleResult{}
	for _, r := range Evaluate(s, src, now) {
		out[r.Rule] = r
	}
	return out
}

func firing(rs map[string]RuleResult) []string {
	var out []string
	for _, id := range []string{"burn:page:1h/5m:14.4", "burn:page:6h/30m:6", "burn:ticket:1d/2h:3", "burn:ticket:3d/6h:1"} {
		if rs[id].Firing {
			out = append(out, id)
		}
	}
	return out
}

func TestEvaluateBurnRules(t *testing.T) {
	const (
		fast  = "burn:page:1h/5m:14.4"
		slow  = "burn:page:6h/30m:6"
		day1  = "burn:ticket:1d/2h:3"
		days3 = "burn:ticket:3d/6h:1"
	)
	clean := span{3 * day, 10000, 0}
	cases := []struct {
		name      string
		minEvents int64
		src       Source
		want      []string
	}{
		{"clean", 0, traffic(now, clean), nil},
		{"burn 0.5", 0, traffic(now, span{3 * day, 10000, 5}), nil},
		{"burn 20 for an hour", 0, traffic(now, clean, span{time.Hour, 10000, 200}), []string{fast}},
		{"burn exactly 14.4 for an hour", 0, traffic(now, clean, span{time.Hour, 10000, 144}), []string{fast}},
		{"burn 14 for an hour", 0, traffic(now, clean, span{time.Hour, 10000, 140}), nil},
		{"burn 20 for an hour, over 10 minutes ago", 0, traffic(now, clean, span{time.Hour, 10000, 200}, span{10 * time.Minute, 10000, 0}), nil},
		{"burn 8 for 6 hours", 0, traffic(now, clean, span{6 * time.Hour, 10000, 80}), []string{slow}},
		{"burn 4 for a day", 0, traffic(now, clean, span{day, 10000, 40}), []string{day1, days3}},
		{"burn 2 for three days", 0, traffic(now, span{3 * day, 10000, 20}), []string{days3}},
		// 60 events, all bad: burn 1000 everywhere, but too few events.
		{"low traffic", 0, traffic(now, span{time.Hour, 1, 1}), nil},
		{"low traffic, min_events 60", 60, traffic(now, span{time.Hour, 1, 1}), []string{fast, slow, day1, days3}},
		{"low traffic, min_events 61", 61, traffic(now, span{time.Hour, 1, 1}), nil},
		// The long window has the events even if the short one has few.
		{"min_events counts the long window", 0, traffic(now, span{time.Hour, 2, 2}), []string{fast, slow, day1, days3}},
	}
	for _, c := range cases {
		s := valid()
		s.Alerts.MinEvents = c.minEvents
		rs := results(s, c.src)
		if len(rs) != 4 {
			t.Fatalf("%s: %d results", c.name, len(rs))
		}
		if got := firing(rs); strings.Join(got, " ") != strings.Join(c.want, " ") {
			t.Errorf("%s: firing %v, want %v", c.name, got, c.want)
		}
	}

	r := results(valid(), traffic(now, clean, span{time.Hour, 10000, 200}))[fast]
	if r.Severity != Page || r.Detail != "burn rate 20.0 over 1h and 20.0 over 5m ≥ 14.4" ||
		r.Values["long_burn_rate"] != 20 || r.Values["short_burn_rate"] != 20 || r.Values["threshold"] != 14.4 || r.Values["long_eligible"] != 600000 {
		t.Errorf("result %+v", r)
	}
	r = results(valid(), traffic(now, span{time.Hour, 1, 1}))[fast]
	if r.Firing || !strings.Contains(r.Detail, "only 60 eligible events over 1h (min_events 100)") {
		t.Errorf("gated result %+v", r)
	}

	off := valid()
	off.Alerts.Disabled = true
	if rs := Evaluate(off, traffic(now, span{time.Hour, 1000, 1000}), now); rs != nil {
		t.Errorf("disabled: %+v", rs)
	}
}

func TestEvaluateExhaustion(t *testing.T) {
	// The worked example: the budget runs out in 212,400 s (59 h).
	src := minutes{start: now.Add(-10*day - time.Hour)}
	for range 10 * 24 * 60 {
		src.per = append(src.per, Counts{Eligible: 10, Good: 10})
	}
	for i := range 60 {
		src.per = append(src.per, Counts{Eligible: 10, Good: 10 - int64(i%2)})
	}
	h := func(n int) duration.Duration { return duration.Duration(time.Duration(n) * time.Hour) }
	cases := []struct {
		name           string
		page, ticket   duration.Duration
		minEvents      int64
		src            Source
		wantP, wantT   bool
		ruleP, ruleT   bool // whether the rules exist
		exhaustionSecs float64
	}{
		{"59h: ticket within 3d, page not within 2d", h(48), h(72), 0, src, false, true, true, true, 212400},
		{"page within 60h", h(60), 0, 0, src, true, false, true, false, 212400},
		{"exactly 59h", h(59), 0, 0, src, true, false, true, false, 212400},
		{"min_events above the hour's 600", h(60), h(72), 601, src, false, false, true, true, 212400},
		{"burn 1 does not shrink the budget", h(1000), h(1000), 0, traffic(now, span{day, 1000, 10}), false, false, true, true, -1},
		{"off", 0, 0, 0, src, false, false, false, false, 0},
	}
	for _, c := range cases {
		s := SLO{Name: "x", Target: 99, Window: Window{Days: 30}}
		s.Alerts = Alerts{MinEvents: c.minEvents, ExhaustionPage: c.page, ExhaustionTicket: c.ticket}
		rs := results(s, c.src)
		p, hasP := rs["exhaustion:page"]
		tk, hasT := rs["exhaustion:ticket"]
		if hasP != c.ruleP || hasT != c.ruleT || p.Firing != c.wantP || tk.Firing != c.wantT {
			t.Errorf("%s: page %+v, ticket %+v", c.name, p, tk)
		}
		for _, r := range []RuleResult{p, tk} {
			if r.Rule == "" {
				continue
			}
			v, ok := r.Values["exhaustion_seconds"]
			if c.exhaustionSecs < 0 && ok || c.exhaustionSecs >= 0 && math.Abs(v-c.exhaustionSecs) > 1e-6 {
				t.Errorf("%s: %s values %v", c.name, r.Rule, r.Values)
			}
		}
	}
	s := SLO{Name: "x", Target: 99, Window: Window{Days: 30}, Alerts: Alerts{ExhaustionTicket: h(72)}}
	if d := results(s, src)["exhaustion:ticket"].Detail; d != "error budget runs out in 59h at the last hour's rate, within 3d" {
		t.Errorf("detail %q", d)
	}
}

func TestEvaluateBudgetRules(t *testing.T) {
	// 99 % over 30 days; three days at 1000 events a minute make a budget
	// of 43,200 events. 20 % of it is 8,640: six bad a minute for a day.
	rule := BudgetRule{Severity: Ticket, Percent: 20, Within: duration.Duration(day)}
	const id = "budget:ticket:20%/1d"
	cases := []struct {
		name      string
		window    Window
		at        time.Time
		minEvents int64
		src       Source
		want      bool
		percent   float64
	}{
		{"7 bad a minute: 23.3 %", Window{Days: 30}, now, 0, traffic(now, span{2 * day, 1000, 0}, span{day, 1000, 7}), true, 23.333333333333},
		{"6 bad a minute: exactly 20 %, not over", Window{Days: 30}, now, 0, traffic(now, span{2 * day, 1000, 0}, span{day, 1000, 6}), false, 20},
		{"bad events older than a day", Window{Days: 30}, now, 0, traffic(now, span{2 * day, 1000, 50}, span{day, 1000, 0}), false, 0},
		{"min_events", Window{Days: 30}, now, 1440001, traffic(now, span{2 * day, 1000, 0}, span{day, 1000, 7}), false, 23.333333333333},
		// Six hours into November, a day back reaches into October,
		// whose bad events are not this window's.
		{"calendar month's own events", Window{CalendarMonth: true}, time.Date(2026, 11, 1, 6, 0, 0, 0, time.UTC), 0,
			traffic(time.Date(2026, 11, 1, 6, 0, 0, 0, time.UTC), span{18 * time.Hour, 1000, 500}, span{6 * time.Hour, 1000, 0}), false, 0},
	}
	for _, c := range cases {
		s := SLO{Name: "x", Target: 99, Window: c.window, Alerts: Alerts{MinEvents: c.minEvents, BudgetRules: []BudgetRule{rule}}}
		var r RuleResult
		for _, x := range Evaluate(s, c.src, c.at) {
			if x.Rule == id {
				r = x
			}
		}
		if r.Rule != id || r.Firing != c.want || math.Abs(r.Values["percent"]-c.percent) > 1e-9 {
			t.Errorf("%s: %+v", c.name, r)
		}
	}
}

// TestBurnSeries: a day of burn rates every ten minutes; a steady error
// ratio burns steadily, and a burst shows in the short window first.
func TestBurnSeries(t *testing.T) {
	s := SLO{Name: "x", Target: 99.9, Window: Window{Days: 30}}
	// A day at 0.1 % errors (burn 1), then 10 minutes at 1.44 % (burn 14.4).
	src := traffic(now, span{2 * day, 1000, 1}, span{10 * time.Minute, 1000, 1000 * 144 / 10000})
	st := ComputeStatus(s, src, now)
	if n := len(st.BurnSeries); n != 144 {
		t.Fatalf("%d points, want 144", n)
	}
	first, last := st.BurnSeries[0], st.BurnSeries[len(st.BurnSeries)-1]
	if !last.Time.Equal(now) || !first.Time.Equal(now.Add(-day+10*time.Minute)) {
		t.Errorf("times %v … %v", first.Time, last.Time)
	}
	if first.Burn5m != 1 || first.Burn1h != 1 || first.Burn6h != 1 {
		t.Errorf("steady: %+v", first)
	}
	if last.Burn5m != 14 || last.Burn1h <= 1 || last.Burn1h >= last.Burn5m || last.Burn6h >= last.Burn1h {
		t.Errorf("burst: %+v", last)
	}
}
