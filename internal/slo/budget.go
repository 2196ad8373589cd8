package slo

import (
	"fmt"
	"math"
	"time"
)

// Counts are weighted event counts.
type Counts struct{ Eligible, Good int64 }

// Bad is the eligible events that were not good.
func (c Counts) Bad() int64 { return c.Eligible - c.Good }

// ErrorRatio is bad ÷ eligible; 0 without events.
func (c Counts) ErrorRatio() float64 {
	if c.Eligible == 0 {
		return 0
	}
	return float64(c.Bad()) / float64(c.Eligible)
}

// BurnRate is how fast the error budget is spent: the error ratio over the
// ratio the target allows. At 1 the budget lasts exactly the window.
func BurnRate(c Counts, target float64) float64 {
	return c.ErrorRatio() / (1 - target/100)
}

// workbookRules are the SRE Workbook's alerts for a 30-day window: the
// share of the budget spent within the long window that warrants them.
var workbookRules = []struct {
	sev         Severity
	long, short time.Duration
	budget      float64
}{
	{Page, time.Hour, 5 * time.Minute, 0.02},
	{Page, 6 * time.Hour, 30 * time.Minute, 0.05},
	{Ticket, 24 * time.Hour, 2 * time.Hour, 0.10},
	{Ticket, 72 * time.Hour, 6 * time.Hour, 0.10},
}

// DefaultBurnRules are the Workbook's multiwindow, multi-burn-rate alerts
// with the factors scaled to the window: spending the same share of the
// budget within the long window, factor = share × window ÷ long window
// (14.4, 6, 3 and 1 for 30 days).
func DefaultBurnRules(w Window, at time.Time) []BurnRule {
	length := w.Length(at)
	out := make([]BurnRule, len(workbookRules))
	for i, r := range workbookRules {
		f := r.budget * float64(length) / float64(r.long)
		out[i] = BurnRule{Severity: r.sev, Long: Duration(r.long), Short: Duration(r.short), Factor: math.Round(f*1000) / 1000}
	}
	return out
}

// Source answers weighted counts over [from, to).
type Source interface {
	Sum(from, to time.Time) Counts
}

// BurnWindows are the windows a status reports burn rates over.
var BurnWindows = []struct {
	Name string
	D    time.Duration
}{{"5m", 5 * time.Minute}, {"30m", 30 * time.Minute}, {"1h", time.Hour}, {"6h", 6 * time.Hour}, {"1d", 24 * time.Hour}, {"3d", 72 * time.Hour}}

// Status is an SLO's state at one moment.
type Status struct {
	SLO                    string             `json:"slo"`
	Target                 float64            `json:"target"`
	Window                 string             `json:"window"`
	WindowStart            time.Time          `json:"window_start"`
	Now                    time.Time          `json:"now"`
	SLI                    *float64           `json:"sli"`
	Eligible               int64              `json:"eligible"`
	Good                   int64              `json:"good"`
	Bad                    int64              `json:"bad"`
	BudgetTotal            float64            `json:"budget_total"`
	BudgetUsed             int64              `json:"budget_used"`
	BudgetRemaining        float64            `json:"budget_remaining"`
	BudgetRemainingPercent float64            `json:"budget_remaining_percent"`
	BurnRate               map[string]float64 `json:"burn_rate"`
	ExhaustionSeconds      *float64           `json:"exhaustion_seconds"`
	Burndown               []BurndownPoint    `json:"burndown"`
	Daily                  []DailyPoint       `json:"daily"`
}

// BurndownPoint is the budget left at a time of the window.
type BurndownPoint struct {
	Time                   time.Time `json:"time"`
	BudgetRemainingPercent float64   `json:"budget_remaining_percent"`
}

// DailyPoint is one UTC day's compliance.
type DailyPoint struct {
	Day      string   `json:"day"`
	SLI      *float64 `json:"sli"`
	Eligible int64    `json:"eligible"`
	Good     int64    `json:"good"`
	Met      bool     `json:"met"`
}

// remaining is the budget left, in events and percent: the budget is
// (1 − target) × eligible, so it grows with traffic.
func remaining(c Counts, target float64) (total, left, pct float64) {
	total = (1 - target/100) * float64(c.Eligible)
	left = total - float64(c.Bad())
	pct = 100
	if total > 0 {
		pct = 100 * left / total
	}
	return total, left, pct
}

// Exhaustion is how long the remaining budget lasts at the last hour's
// rate, or nil when it is not shrinking. The budget grows by (1 − target)
// per event while bad events spend it, so it shrinks at
// (burn − 1) × (1 − target) × events per second, and lasts
// left ÷ that; at a burn rate of 1 or less it never runs out.
func Exhaustion(left float64, lastHour Counts, target float64) *float64 {
	b := BurnRate(lastHour, target)
	if b <= 1+1e-9 || lastHour.Eligible == 0 { // 1 − 0.999 is not exactly 0.001
		return nil
	}
	rate := float64(lastHour.Eligible) / 3600
	secs := 0.0
	if left > 0 {
		secs = left / ((b - 1) * (1 - target/100) * rate)
	}
	return &secs
}

// ComputeStatus computes the status at now.
func ComputeStatus(s SLO, src Source, now time.Time) Status {
	start := s.Window.Start(now)
	c := src.Sum(start, now)
	st := Status{SLO: s.Name, Target: s.Target, Window: s.Window.String(), WindowStart: start.UTC(), Now: now.UTC(),
		Eligible: c.Eligible, Good: c.Good, Bad: c.Bad(), BudgetUsed: c.Bad(), BurnRate: map[string]float64{}}
	if c.Eligible > 0 {
		v := 100 * float64(c.Good) / float64(c.Eligible)
		st.SLI = &v
	}
	st.BudgetTotal, st.BudgetRemaining, st.BudgetRemainingPercent = remaining(c, s.Target)
	for _, w := range BurnWindows {
		st.BurnRate[w.Name] = BurnRate(src.Sum(now.Add(-w.D), now), s.Target)
	}
	st.ExhaustionSeconds = Exhaustion(st.BudgetRemaining, src.Sum(now.Add(-time.Hour), now), s.Target)

	// Burndown: the budget left at each step, counting from the start.
	span := now.Sub(start)
	step := max(time.Minute, (span / 200).Truncate(time.Minute))
	for t := start.Add(step); ; t = t.Add(step) {
		if t.After(now) {
			t = now
		}
		_, _, pct := remaining(src.Sum(start, t), s.Target)
		st.Burndown = append(st.Burndown, BurndownPoint{Time: t.UTC(), BudgetRemainingPercent: pct})
		if !t.Before(now) {
			break
		}
	}
	// Daily compliance, per UTC day of the window.
	for d := start.UTC().Truncate(24 * time.Hour); d.Before(now); d = d.Add(24 * time.Hour) {
		from := d
		if from.Before(start) {
			from = start
		}
		dc := src.Sum(from, d.Add(24*time.Hour))
		p := DailyPoint{Day: d.Format("2006-01-02"), Eligible: dc.Eligible, Good: dc.Good, Met: true}
		if dc.Eligible > 0 {
			v := 100 * float64(dc.Good) / float64(dc.Eligible)
			p.SLI, p.Met = &v, v >= s.Target
		}
		st.Daily = append(st.Daily, p)
	}
	return st
}

// RuleResult is one alert rule's verdict.
type RuleResult struct {
	Rule     string             `json:"rule"`
	Severity Severity           `json:"severity"`
	Firing   bool               `json:"firing"`
	Detail   string             `json:"detail"`
	Values   map[string]float64 `json:"values"`
}

// Evaluate applies an SLO's alert rules at now.
func Evaluate(s SLO, src Source, now time.Time) []RuleResult {
	if s.Alerts.Disabled {
		return nil
	}
	minEvents := s.Alerts.MinEvents
	var out []RuleResult
	for _, r := range s.Alerts.BurnRates {
		long := src.Sum(now.Add(-time.Duration(r.Long)), now)
		short := src.Sum(now.Add(-time.Duration(r.Short)), now)
		bl, bs := BurnRate(long, s.Target), BurnRate(short, s.Target)
		out = append(out, RuleResult{
			Rule:     fmt.Sprintf("burn:%s:%s/%s:%g", r.Severity, r.Long, r.Short, r.Factor),
			Severity: r.Severity,
			Firing:   bl >= r.Factor && bs >= r.Factor && long.Eligible >= minEvents,
			Detail:   fmt.Sprintf("burn rate %.1f over %s and %.1f over %s (threshold %g)", bl, r.Long, bs, r.Short, r.Factor),
			Values:   map[string]float64{"long": bl, "short": bs, "threshold": r.Factor, "events": float64(long.Eligible)},
		})
	}
	if s.Alerts.ExhaustionPage > 0 || s.Alerts.ExhaustionTicket > 0 {
		_, left, _ := remaining(src.Sum(s.Window.Start(now), now), s.Target)
		hour := src.Sum(now.Add(-time.Hour), now)
		ex := Exhaustion(left, hour, s.Target)
		for _, r := range []struct {
			sev Severity
			d   Duration
		}{{Page, s.Alerts.ExhaustionPage}, {Ticket, s.Alerts.ExhaustionTicket}} {
			if r.d <= 0 {
				continue
			}
			res := RuleResult{Rule: fmt.Sprintf("exhaustion:%s:%s", r.sev, r.d), Severity: r.sev, Detail: "error budget is not shrinking", Values: map[string]float64{}}
			if ex != nil {
				res.Firing = *ex <= time.Duration(r.d).Seconds() && hour.Eligible >= minEvents
				res.Detail = fmt.Sprintf("error budget exhausted in %s at the last hour's rate (threshold %s)", (time.Duration(*ex) * time.Second).Round(time.Minute), r.d)
				res.Values["exhaustion_seconds"] = *ex
			}
			out = append(out, res)
		}
	}
	for _, r := range s.Alerts.BudgetRules {
		total, _, _ := remaining(src.Sum(s.Window.Start(now), now), s.Target)
		recent := src.Sum(now.Add(-time.Duration(r.Within)), now)
		share := 0.0
		if total > 0 {
			share = 100 * float64(recent.Bad()) / total
		}
		out = append(out, RuleResult{
			Rule:     fmt.Sprintf("budget:%s:%g%%/%s", r.Severity, r.Percent, r.Within),
			Severity: r.Severity,
			Firing:   share >= r.Percent && recent.Eligible >= minEvents,
			Detail:   fmt.Sprintf("%.1f%% of the error budget spent in the last %s (threshold %g%%)", share, r.Within, r.Percent),
			Values:   map[string]float64{"percent": share, "threshold": r.Percent},
		})
	}
	return out
}
