package slo

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/prodex/prodex/internal/duration"
)

// Counts are weighted event counts (a sampled event counts its sample
// rate).
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

// BurnRate is how fast the error budget is spent: the error ratio over
// the ratio the target allows, 1 − target/100. At 1 the budget lasts
// exactly the window; without events it is 0. The target must be below
// 100.
func BurnRate(c Counts, target float64) float64 {
	return clean(c.ErrorRatio() / allowed(target))
}

// allowed is the error ratio a target (in percent) allows, rounded to
// nine significant digits: 100 − 99.99 is 0.010000000000005116 in
// floating point, but the user meant 0.01.
func allowed(target float64) float64 {
	v, _ := strconv.ParseFloat(strconv.FormatFloat(100-target, 'g', 9, 64), 64)
	return v / 100
}

// clean rounds to 12 significant digits, removing floating-point noise
// so that a value exactly at a threshold compares equal to it.
func clean(x float64) float64 {
	if x == 0 || math.IsInf(x, 0) || math.IsNaN(x) {
		return x
	}
	v, _ := strconv.ParseFloat(strconv.FormatFloat(x, 'g', 12, 64), 64)
	return v
}

// workbookRules are the SRE Workbook's multiwindow, multi-burn-rate
// alerts (chapter 5, "Alerting on SLOs"): the percent of a 30-day budget
// whose spending within the long window warrants each.
var workbookRules = []struct {
	sev         Severity
	long, short time.Duration
	percent     int64
}{
	{Page, time.Hour, 5 * time.Minute, 2},
	{Page, 6 * time.Hour, 30 * time.Minute, 5},
	{Ticket, 24 * time.Hour, 2 * time.Hour, 10},
	{Ticket, 72 * time.Hour, 6 * time.Hour, 10},
}

// DefaultBurnRules are the Workbook's alerts with the factors scaled to
// the window so that each still means spending the same share of the
// budget within its long window: factor = share × window ÷ long window.
// For 30 days they are exactly 14.4, 6, 3 and 1. A calendar month is
// scaled by the length of the month containing at. Factors are rounded
// to three decimals (28 days: 13.44, 5.6, 2.8, 0.933) to keep rule ids
// readable.
func DefaultBurnRules(w Window, at time.Time) []BurnRule {
	minutes := int64(w.Length(at) / time.Minute)
	out := make([]BurnRule, len(workbookRules))
	for i, r := range workbookRules {
		// One division of exact integers, so 30 days gives the double
		// nearest 14.4, which is the literal 14.4.
		f := float64(r.percent*minutes) / float64(100*int64(r.long/time.Minute))
		out[i] = BurnRule{Severity: r.sev, Long: duration.Duration(r.long), Short: duration.Duration(r.short), Factor: math.Round(f*1000) / 1000}
	}
	return out
}

// Source answers weighted counts over [from, to).
type Source interface {
	Sum(from, to time.Time) Counts
}

// BurnWindows are the windows a Status reports burn rates over, keyed by
// name.
var BurnWindows = []struct {
	Name string
	D    time.Duration
}{{"5m", 5 * time.Minute}, {"30m", 30 * time.Minute}, {"1h", time.Hour}, {"6h", 6 * time.Hour}, {"1d", day}, {"3d", 3 * day}}

// Status is an SLO's state at one moment.
type Status struct {
	SLO         string    `json:"slo"`
	Target      float64   `json:"target"`
	Window      string    `json:"window"`
	WindowStart time.Time `json:"window_start"`
	Now         time.Time `json:"now"`
	// SLI is the percent of good events over the window; nil without
	// events.
	SLI      *float64 `json:"sli"`
	Eligible int64    `json:"eligible"`
	Good     int64    `json:"good"`
	Bad      int64    `json:"bad"`
	// BudgetTotal is (1 − target) × eligible events: the budget grows
	// with traffic.
	BudgetTotal     float64 `json:"budget_total"`
	BudgetUsed      int64   `json:"budget_used"` // bad events
	BudgetRemaining float64 `json:"budget_remaining"`
	// BudgetRemainingPercent is 100 without events and negative once the
	// budget is overspent.
	BudgetRemainingPercent float64            `json:"budget_remaining_percent"`
	BurnRate               map[string]float64 `json:"burn_rate"` // keyed by BurnWindows names
	// ExhaustionSeconds is nil when the budget is not shrinking; see
	// Exhaustion.
	ExhaustionSeconds *float64        `json:"exhaustion_seconds"`
	Burndown          []BurndownPoint `json:"burndown"`
	Daily             []DailyPoint    `json:"daily"`
	// BurnSeries is the burn rate over 5m, 1h and 6h every ten minutes
	// of the last day and now, to draw against the alert thresholds.
	BurnSeries []BurnPoint `json:"burn_series"`
}

// BurnPoint is the burn rates at one moment over three windows.
type BurnPoint struct {
	Time   time.Time `json:"time"`
	Burn5m float64   `json:"5m"`
	Burn1h float64   `json:"1h"`
	Burn6h float64   `json:"6h"`
}

// BurndownPoint is the budget left at a time of the window, counting
// from the window's start.
type BurndownPoint struct {
	Time                   time.Time `json:"time"`
	BudgetRemainingPercent float64   `json:"budget_remaining_percent"`
}

// DailyPoint is one UTC day's compliance. A day without events is met.
type DailyPoint struct {
	Day      string   `json:"day"` // 2006-01-02
	SLI      *float64 `json:"sli"`
	Eligible int64    `json:"eligible"`
	Good     int64    `json:"good"`
	Met      bool     `json:"met"`
}

// budget is the error budget of c in events, what is left of it and
// that as a percent (100 without events).
func budget(c Counts, target float64) (total, left, pct float64) {
	total = allowed(target) * float64(c.Eligible)
	left = total - float64(c.Bad())
	pct = 100
	if total > 0 {
		pct = clean(100 * left / total)
	}
	return total, left, pct
}

// Exhaustion is how many seconds the remaining budget (left, in events)
// lasts at the last hour's rate, or nil when it is not shrinking.
//
// The budget is (1 − t) × eligible, so each event adds 1 − t to it while
// each bad event takes 1 away. With r eligible events a second at burn
// rate b (error ratio b × (1 − t)), the budget changes by
//
//	(1 − t) × r − b × (1 − t) × r = −(b − 1) × (1 − t) × r
//
// per second, and runs out after left ÷ ((b − 1) × (1 − t) × r) seconds:
// 0 when it already has, never when b ≤ 1. Events leaving a rolling
// window are ignored, which errs towards alerting early.
func Exhaustion(left float64, lastHour Counts, target float64) *float64 {
	b := BurnRate(lastHour, target)
	if b <= 1 {
		return nil
	}
	secs := 0.0
	if left > 0 {
		r := float64(lastHour.Eligible) / time.Hour.Seconds()
		secs = clean(left / ((b - 1) * allowed(target) * r))
	}
	return &secs
}

// maxBurndown bounds the points of a burndown.
const maxBurndown = 200

// ComputeStatus computes an SLO's status at now.
func ComputeStatus(s SLO, src Source, now time.Time) Status {
	start := s.Window.Start(now)
	c := src.Sum(start, now)
	st := Status{SLO: s.Name, Target: s.Target, Window: s.Window.String(), WindowStart: start.UTC(), Now: now.UTC(),
		Eligible: c.Eligible, Good: c.Good, Bad: c.Bad(), BudgetUsed: c.Bad(),
		BurnRate: make(map[string]float64, len(BurnWindows)), Burndown: []BurndownPoint{}, Daily: []DailyPoint{}}
	st.SLI = sliPercent(c)
	st.BudgetTotal, st.BudgetRemaining, st.BudgetRemainingPercent = budget(c, s.Target)
	for _, w := range BurnWindows {
		st.BurnRate[w.Name] = BurnRate(src.Sum(now.Add(-w.D), now), s.Target)
	}
	st.ExhaustionSeconds = Exhaustion(st.BudgetRemaining, src.Sum(now.Add(-time.Hour), now), s.Target)

	// Burndown: a point at the start (the full budget), then every step,
	// summing only each step's new counts.
	step := max(time.Minute, (now.Sub(start) / maxBurndown).Truncate(time.Minute))
	if now.Sub(start)/step >= maxBurndown {
		step += time.Minute // the truncation left more than maxBurndown steps
	}
	st.Burndown = append(st.Burndown, BurndownPoint{Time: start.UTC(), BudgetRemainingPercent: 100})
	var sofar Counts
	for from := start; from.Before(now); {
		to := earliest(from.Add(step), now)
		d := src.Sum(from, to)
		sofar.Eligible += d.Eligible
		sofar.Good += d.Good
		_, _, pct := budget(sofar, s.Target)
		st.Burndown = append(st.Burndown, BurndownPoint{Time: to.UTC(), BudgetRemainingPercent: pct})
		from = to
	}

	st.BurnSeries = make([]BurnPoint, 0, 146)
	burnAt := func(t time.Time) BurnPoint {
		return BurnPoint{Time: t.UTC(),
			Burn5m: BurnRate(src.Sum(t.Add(-5*time.Minute), t), s.Target),
			Burn1h: BurnRate(src.Sum(t.Add(-time.Hour), t), s.Target),
			Burn6h: BurnRate(src.Sum(t.Add(-6*time.Hour), t), s.Target)}
	}
	for t := now.Add(-day).Truncate(10 * time.Minute).Add(10 * time.Minute); !t.After(now); t = t.Add(10 * time.Minute) {
		st.BurnSeries = append(st.BurnSeries, burnAt(t))
	}
	if n := len(st.BurnSeries); n == 0 || !st.BurnSeries[n-1].Time.Equal(now.UTC()) {
		st.BurnSeries = append(st.BurnSeries, burnAt(now)) // and the current rates
	}

	// Daily compliance, per UTC day the window touches.
	for d := start.UTC().Truncate(day); d.Before(now); d = d.Add(day) {
		dc := src.Sum(latest(d, start), earliest(d.Add(day), now))
		p := DailyPoint{Day: d.Format(time.DateOnly), Eligible: dc.Eligible, Good: dc.Good, SLI: sliPercent(dc), Met: true}
		if p.SLI != nil {
			p.Met = *p.SLI >= s.Target
		}
		st.Daily = append(st.Daily, p)
	}
	return st
}

func sliPercent(c Counts) *float64 {
	if c.Eligible == 0 {
		return nil
	}
	v := 100 * float64(c.Good) / float64(c.Eligible)
	return &v
}

func earliest(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// RuleResult is one alert rule's verdict.
type RuleResult struct {
	// Rule is a stable id: "burn:page:1h/5m:14.4", "exhaustion:page",
	// "budget:ticket:20%/1d".
	Rule     string             `json:"rule"`
	Severity Severity           `json:"severity"`
	Firing   bool               `json:"firing"`
	Detail   string             `json:"detail"`
	Values   map[string]float64 `json:"values"`
}

// Evaluate applies an SLO's alert rules at now, in the order burn-rate,
// exhaustion (page, ticket), budget rules. An SLO not passed through
// Defaults is evaluated as if it had been. Disabled alerts give nil.
//
// Every rule needs MinEvents eligible events in its long window (the
// last hour for exhaustion rules, Within for budget rules) before it
// fires.
func Evaluate(s SLO, src Source, now time.Time) []RuleResult {
	if s.Alerts.Disabled {
		return nil
	}
	s.Defaults()
	minEvents := s.Alerts.MinEvents
	var out []RuleResult
	for _, r := range s.Alerts.BurnRates {
		long := src.Sum(now.Add(-time.Duration(r.Long)), now)
		short := src.Sum(now.Add(-time.Duration(r.Short)), now)
		bl, bs := BurnRate(long, s.Target), BurnRate(short, s.Target)
		res := RuleResult{
			Rule:     fmt.Sprintf("burn:%s:%s/%s:%g", r.Severity, r.Long, r.Short, r.Factor),
			Severity: r.Severity,
			Values:   map[string]float64{"long_burn_rate": bl, "short_burn_rate": bs, "threshold": r.Factor, "long_eligible": float64(long.Eligible)},
		}
		rates := fmt.Sprintf("burn rate %.1f over %s and %.1f over %s", bl, r.Long, bs, r.Short)
		switch {
		case bl < r.Factor || bs < r.Factor:
			res.Detail = fmt.Sprintf("%s, below %g", rates, r.Factor)
		case long.Eligible < minEvents:
			res.Detail = fmt.Sprintf("%s ≥ %g, but only %d eligible events over %s (min_events %d)", rates, r.Factor, long.Eligible, r.Long, minEvents)
		default:
			res.Firing, res.Detail = true, fmt.Sprintf("%s ≥ %g", rates, r.Factor)
		}
		out = append(out, res)
	}

	if s.Alerts.ExhaustionPage > 0 || s.Alerts.ExhaustionTicket > 0 {
		_, left, _ := budget(src.Sum(s.Window.Start(now), now), s.Target)
		hour := src.Sum(now.Add(-time.Hour), now)
		ex := Exhaustion(left, hour, s.Target)
		for _, r := range []struct {
			sev Severity
			d   duration.Duration
		}{{Page, s.Alerts.ExhaustionPage}, {Ticket, s.Alerts.ExhaustionTicket}} {
			if r.d <= 0 {
				continue
			}
			limit := time.Duration(r.d).Seconds()
			res := RuleResult{Rule: "exhaustion:" + string(r.sev), Severity: r.sev,
				Values: map[string]float64{"threshold_seconds": limit, "burn_rate_1h": BurnRate(hour, s.Target), "eligible_1h": float64(hour.Eligible)}}
			switch {
			case ex == nil:
				res.Detail = fmt.Sprintf("error budget is not shrinking (burn rate %.1f over 1h)", res.Values["burn_rate_1h"])
			case *ex > limit:
				res.Values["exhaustion_seconds"] = *ex
				res.Detail = fmt.Sprintf("error budget runs out in %s at the last hour's rate, later than %s", roundSeconds(*ex), r.d)
			case hour.Eligible < minEvents:
				res.Values["exhaustion_seconds"] = *ex
				res.Detail = fmt.Sprintf("error budget runs out in %s at the last hour's rate, but only %d eligible events over 1h (min_events %d)", roundSeconds(*ex), hour.Eligible, minEvents)
			default:
				res.Values["exhaustion_seconds"] = *ex
				res.Firing, res.Detail = true, fmt.Sprintf("error budget runs out in %s at the last hour's rate, within %s", roundSeconds(*ex), r.d)
			}
			out = append(out, res)
		}
	}

	if len(s.Alerts.BudgetRules) > 0 {
		start := s.Window.Start(now)
		total, _, _ := budget(src.Sum(start, now), s.Target)
		for _, r := range s.Alerts.BudgetRules {
			// Only the window's own events: a calendar month's first day
			// does not count last month's.
			recent := src.Sum(latest(now.Add(-time.Duration(r.Within)), start), now)
			share := 0.0
			if total > 0 {
				share = clean(100 * float64(recent.Bad()) / total)
			}
			res := RuleResult{
				Rule:     fmt.Sprintf("budget:%s:%g%%/%s", r.Severity, r.Percent, r.Within),
				Severity: r.Severity,
				Values:   map[string]float64{"percent": share, "threshold": r.Percent, "bad": float64(recent.Bad()), "eligible": float64(recent.Eligible)},
			}
			spent := fmt.Sprintf("%.1f%% of the error budget spent in the last %s", share, r.Within)
			switch {
			case share <= r.Percent:
				res.Detail = fmt.Sprintf("%s, not over %g%%", spent, r.Percent)
			case recent.Eligible < minEvents:
				res.Detail = fmt.Sprintf("%s > %g%%, but only %d eligible events (min_events %d)", spent, r.Percent, recent.Eligible, minEvents)
			default:
				res.Firing, res.Detail = true, fmt.Sprintf("%s > %g%%", spent, r.Percent)
			}
			out = append(out, res)
		}
	}
	return out
}

// roundSeconds writes seconds as a readable duration.
func roundSeconds(s float64) string {
	if s >= float64(math.MaxInt64/int64(time.Second)) {
		return "a very long time"
	}
	d := time.Duration(s * float64(time.Second))
	switch {
	case d >= time.Hour:
		d = d.Round(time.Minute)
	case d >= time.Second:
		d = d.Round(time.Second)
	}
	return duration.Duration(d).String()
}
