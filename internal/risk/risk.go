// Package risk quantifies what can go wrong with a service against its
// SLO's error budget, in the manner of the SRE Workbook's risk analysis:
// each risk costs (time to detect + time to repair) × share of users
// affected, per incident, times incidents per year, in bad minutes; the
// budget is (1 − target) of the minutes in a year. Risks are ranked by that
// expected cost and stacked against the budget, so a team sees which risks
// threaten the SLO and what fixing one is worth.
package risk

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/prodex/prodex/internal/duration"
	"github.com/prodex/prodex/internal/problem"
)

// MinutesPerYear is the year the yearly figures use: 365 days.
const MinutesPerYear = 365 * 24 * 60

// Statuses a risk may have. Fixed risks are listed but cost nothing.
const (
	Open       = "open"
	Accepted   = "accepted"
	Mitigating = "mitigating"
	Fixed      = "fixed"
)

// Risk is one thing that can go wrong, as a team estimates it.
type Risk struct {
	Name        string          `json:"name"`
	SLO         string          `json:"slo"`
	Description string          `json:"description,omitempty"`
	ETTD        duration.Coarse `json:"ettd"` // expected time to detect
	ETTR        duration.Coarse `json:"ettr"` // expected time to repair, once detected
	// FrequencyPerYear is incidents per year; TimeBetweenFailures may be
	// given instead (it sets the frequency).
	FrequencyPerYear    float64         `json:"frequency_per_year"`
	TimeBetweenFailures duration.Coarse `json:"time_between_failures,omitempty"`
	ImpactPercent       float64         `json:"impact_percent"` // share of users or events affected
	Owner               string          `json:"owner,omitempty"`
	Status              string          `json:"status"`
	Links               []Link          `json:"links,omitempty"`
	// Incidents are the alert episodes observed to be this risk.
	Incidents []string `json:"incidents,omitempty"`
}

// Link is a runbook, ticket or other page about a risk.
type Link struct {
	Title string `json:"title,omitempty"`
	URL   string `json:"url"`
}

var nameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// Normalize fills defaults (status open; frequency from the time between
// failures) and checks the risk, naming the field at fault.
func (r *Risk) Normalize() error {
	if r.Status == "" {
		r.Status = Open
	}
	if r.TimeBetweenFailures > 0 {
		f := float64(MinutesPerYear) / r.TimeBetweenFailures.Minutes()
		if r.FrequencyPerYear != 0 && math.Abs(r.FrequencyPerYear-f) > 1e-9*f {
			return fmt.Errorf("frequency_per_year: %v disagrees with time_between_failures %s (%.4g a year): give one", r.FrequencyPerYear, r.TimeBetweenFailures, f)
		}
		r.FrequencyPerYear = f
	}
	switch {
	case r.Name == "":
		return errors.New("name: required")
	case !nameRE.MatchString(r.Name):
		return fmt.Errorf("name: %q must be lower-case letters, digits and '-', at most 63", r.Name)
	case r.SLO == "":
		return errors.New("slo: required: the SLO whose budget the risk spends")
	case r.ETTD < 0:
		return errors.New("ettd: must not be negative")
	case r.ETTR < 0:
		return errors.New("ettr: must not be negative")
	case r.ETTD+r.ETTR <= 0:
		return errors.New("ettd, ettr: at least one must be positive: an incident lasts some time")
	case r.TimeBetweenFailures < 0:
		return errors.New("time_between_failures: must be positive")
	case !(r.FrequencyPerYear > 0) || math.IsInf(r.FrequencyPerYear, 0):
		return errors.New("frequency_per_year: required, a positive number (or give time_between_failures)")
	case !(r.ImpactPercent > 0 && r.ImpactPercent <= 100):
		return errors.New("impact_percent: required, above 0 and at most 100")
	}
	switch r.Status {
	case Open, Accepted, Mitigating, Fixed:
	default:
		return fmt.Errorf("status: %q is not one of open, accepted, mitigating, fixed", r.Status)
	}
	for i, l := range r.Links {
		if !strings.HasPrefix(l.URL, "http://") && !strings.HasPrefix(l.URL, "https://") {
			return fmt.Errorf("links[%d].url: want an http(s) URL, got %q", i, l.URL)
		}
	}
	return nil
}

// Budget is an SLO's error budget in bad minutes.
type Budget struct {
	Target float64       // percent, e.g. 99.9
	Window time.Duration // the SLO's window
}

// WindowMinutes is the budget of one window: 99.9 % over 30 days is 43.2.
func (b Budget) WindowMinutes() float64 {
	return (1 - b.Target/100) * b.Window.Minutes()
}

// YearMinutes is the budget of a year: 99.9 % is 525.6.
func (b Budget) YearMinutes() float64 {
	return (1 - b.Target/100) * MinutesPerYear
}

// Thresholds say when a risk is flagged.
type Thresholds struct {
	// IncidentPercent: one incident costing more than this share of the
	// window's budget is flagged (default 25).
	IncidentPercent float64 `json:"incident_percent"`
	// ThreatPercent: a risk whose expected yearly cost exceeds this share
	// of the yearly budget threatens the SLO (default 100).
	ThreatPercent float64 `json:"threat_percent"`
}

// DefaultThresholds flag an incident spending a quarter of a window's
// budget, and a risk spending the whole yearly budget.
var DefaultThresholds = Thresholds{IncidentPercent: 25, ThreatPercent: 100}

// Cost is a risk's computed cost.
type Cost struct {
	BadMinutesPerIncident float64 `json:"bad_minutes_per_incident"`
	BadMinutesPerYear     float64 `json:"bad_minutes_per_year"`
	// YearBudgetPercent is the yearly cost as a share of the yearly budget.
	YearBudgetPercent float64 `json:"year_budget_percent"`
	// IncidentBudgetPercent is one incident as a share of a window's budget.
	IncidentBudgetPercent float64 `json:"incident_budget_percent"`
	IncidentTooCostly     bool    `json:"incident_too_costly"`
	ThreatensSLO          bool    `json:"threatens_slo"`
}

// Assess computes a risk's cost against a budget.
func Assess(r Risk, b Budget, th Thresholds) Cost {
	var c Cost
	c.BadMinutesPerIncident = (r.ETTD.Minutes() + r.ETTR.Minutes()) * r.ImpactPercent / 100
	c.BadMinutesPerYear = c.BadMinutesPerIncident * r.FrequencyPerYear
	if r.Status == Fixed {
		c.BadMinutesPerYear = 0
	}
	if y := b.YearMinutes(); y > 0 {
		c.YearBudgetPercent = 100 * c.BadMinutesPerYear / y
	}
	if w := b.WindowMinutes(); w > 0 {
		c.IncidentBudgetPercent = 100 * c.BadMinutesPerIncident / w
	}
	c.IncidentTooCostly = r.Status != Fixed && c.IncidentBudgetPercent > th.IncidentPercent
	c.ThreatensSLO = c.YearBudgetPercent > th.ThreatPercent
	return c
}

// Entry is one risk of a register, ranked.
type Entry struct {
	Rank int  `json:"rank"` // 1 is the costliest
	Risk Risk `json:"risk"`
	Cost
	// CumulativePercent is the share of the yearly budget spent by this
	// risk and every costlier one.
	CumulativePercent float64   `json:"cumulative_percent"`
	Observed          *Observed `json:"observed,omitempty"`
}

// Register is an SLO's risks, ranked and stacked against its budget.
type Register struct {
	SLO                    string     `json:"slo"`
	Target                 float64    `json:"target"`
	Window                 string     `json:"window"`
	WindowBudgetMinutes    float64    `json:"window_budget_minutes"`
	YearBudgetMinutes      float64    `json:"year_budget_minutes"`
	Thresholds             Thresholds `json:"thresholds"`
	Risks                  []Entry    `json:"risks"`
	TotalBadMinutesPerYear float64    `json:"total_bad_minutes_per_year"`
	TotalBudgetPercent     float64    `json:"total_budget_percent"`
	// Achievable: all the risks together fit in the yearly budget.
	Achievable bool `json:"achievable"`
	// HeadroomMinutes is the yearly budget left once the risks are paid
	// (negative when they overspend it).
	HeadroomMinutes float64 `json:"headroom_minutes"`
	HeadroomPercent float64 `json:"headroom_percent"`
}

// Rank builds the register of risks (all of one SLO) against b. Ties in
// cost keep name order, so the ranking is stable.
func Rank(slo, window string, b Budget, th Thresholds, risks []Risk) Register {
	reg := Register{SLO: slo, Target: b.Target, Window: window, WindowBudgetMinutes: b.WindowMinutes(),
		YearBudgetMinutes: b.YearMinutes(), Thresholds: th, Risks: []Entry{}}
	for _, r := range risks {
		reg.Risks = append(reg.Risks, Entry{Risk: r, Cost: Assess(r, b, th)})
	}
	sort.SliceStable(reg.Risks, func(i, j int) bool {
		a, c := reg.Risks[i], reg.Risks[j]
		if a.BadMinutesPerYear != c.BadMinutesPerYear {
			return a.BadMinutesPerYear > c.BadMinutesPerYear
		}
		return a.Risk.Name < c.Risk.Name
	})
	for i := range reg.Risks {
		e := &reg.Risks[i]
		e.Rank = i + 1
		reg.TotalBadMinutesPerYear += e.BadMinutesPerYear
		if reg.YearBudgetMinutes > 0 {
			e.CumulativePercent = 100 * reg.TotalBadMinutesPerYear / reg.YearBudgetMinutes
		}
	}
	if reg.YearBudgetMinutes > 0 {
		reg.TotalBudgetPercent = 100 * reg.TotalBadMinutesPerYear / reg.YearBudgetMinutes
	}
	reg.Achievable = reg.TotalBadMinutesPerYear <= reg.YearBudgetMinutes
	reg.HeadroomMinutes = reg.YearBudgetMinutes - reg.TotalBadMinutesPerYear
	reg.HeadroomPercent = 100 - reg.TotalBudgetPercent
	return reg
}

// Change is a what-if: new values for some of a risk's estimates.
type Change struct {
	ETTD             *duration.Coarse `json:"ettd,omitempty"`
	ETTR             *duration.Coarse `json:"ettr,omitempty"`
	FrequencyPerYear *float64         `json:"frequency_per_year,omitempty"`
	ImpactPercent    *float64         `json:"impact_percent,omitempty"`
	Status           *string          `json:"status,omitempty"`
}

// WhatIf is the register before and after a change to one risk, and what
// the change is worth.
type WhatIf struct {
	Risk                   string  `json:"risk"`
	Before                 Entry   `json:"before"`
	After                  Entry   `json:"after"`
	BadMinutesSavedPerYear float64 `json:"bad_minutes_saved_per_year"`
	// BudgetPercentFreed is the saving as a share of the yearly budget.
	BudgetPercentFreed float64  `json:"budget_percent_freed"`
	Register           Register `json:"register"` // after the change
}

// Apply returns r with the change made; r itself is not modified.
func (c Change) Apply(r Risk) (Risk, error) {
	out := r
	out.Links = append([]Link(nil), r.Links...)
	out.Incidents = append([]string(nil), r.Incidents...)
	if c.ETTD != nil {
		out.ETTD = *c.ETTD
	}
	if c.ETTR != nil {
		out.ETTR = *c.ETTR
	}
	if c.FrequencyPerYear != nil {
		out.FrequencyPerYear = *c.FrequencyPerYear
		out.TimeBetweenFailures = 0
	}
	if c.ImpactPercent != nil {
		out.ImpactPercent = *c.ImpactPercent
	}
	if c.Status != nil {
		out.Status = *c.Status
	}
	return out, out.Normalize()
}

// Try computes a what-if for the named risk of risks without changing
// them.
func Try(slo, window string, b Budget, th Thresholds, risks []Risk, name string, c Change) (WhatIf, error) {
	before := Rank(slo, window, b, th, risks)
	changed := make([]Risk, len(risks))
	copy(changed, risks)
	found := false
	for i := range changed {
		if changed[i].Name == name {
			r, err := c.Apply(changed[i])
			if err != nil {
				return WhatIf{}, err
			}
			changed[i], found = r, true
		}
	}
	if !found {
		return WhatIf{}, problem.Errorf(problem.NotFound, "no risk %q on SLO %s", name, slo)
	}
	after := Rank(slo, window, b, th, changed)
	w := WhatIf{Risk: name, Register: after}
	for _, e := range before.Risks {
		if e.Risk.Name == name {
			w.Before = e
		}
	}
	for _, e := range after.Risks {
		if e.Risk.Name == name {
			w.After = e
		}
	}
	w.BadMinutesSavedPerYear = w.Before.BadMinutesPerYear - w.After.BadMinutesPerYear
	if y := b.YearMinutes(); y > 0 {
		w.BudgetPercentFreed = 100 * w.BadMinutesSavedPerYear / y
	}
	return w, nil
}
