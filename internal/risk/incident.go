package risk

import (
	"fmt"
	"math"
	"time"

	"github.com/prodex/prodex/internal/duration"
	"github.com/prodex/prodex/internal/slo"
)

// Source gives an SLO's counts of the minutes starting in [from, to), as
// the alert rules keep them.
type Source interface {
	Sum(from, to time.Time) slo.Counts
}

// Incident is what Prodex measured of an alert episode: when bad events
// started, when the alert fired, when the burn stopped, and how many
// events it hit. A minute is bad when its error ratio exceeds what the SLO
// allows (a burn rate above 1); minutes without events do not count
// either way.
type Incident struct {
	AlertID  string    `json:"alert_id"`
	SLO      string    `json:"slo"`
	Severity string    `json:"severity"`
	BadStart time.Time `json:"bad_start"`
	Detected time.Time `json:"detected"`
	// BadEnd is the end of the last bad minute; nil while still burning.
	BadEnd   *time.Time `json:"bad_end"`
	Resolved *time.Time `json:"resolved"`
	// TTD is Detected − BadStart; TTR is BadEnd − Detected (0 when the
	// burn stopped before the alert fired).
	TTD duration.Coarse `json:"ttd"`
	TTR duration.Coarse `json:"ttr"`
	// ImpactPercent is bad ÷ eligible over [BadStart, BadEnd).
	ImpactPercent float64 `json:"impact_percent"`
	// BadMinutes is the incident's cost as the risk arithmetic counts it:
	// its length × impact.
	BadMinutes float64 `json:"bad_minutes"`
	Ongoing    bool    `json:"ongoing"`
}

// maxLookBack bounds how far before the alert a bad streak is followed.
const maxLookBack = 7 * 24 * 60

// Measure measures an alert episode that fired at detected (and resolved,
// if it has) from the SLO's counts, with allowed = 1 − target/100.
func Measure(id, sloName, severity string, detected time.Time, resolved *time.Time, allowed float64, src Source, now time.Time) Incident {
	inc := Incident{AlertID: id, SLO: sloName, Severity: severity, Detected: detected, Resolved: resolved}
	minute := func(t time.Time) time.Time { return t.Truncate(time.Minute) }
	state := func(m time.Time) int { // 1 bad, 0 good, -1 no events
		c := src.Sum(m, m.Add(time.Minute))
		switch {
		case c.Eligible == 0:
			return -1
		case c.ErrorRatio() > allowed:
			return 1
		}
		return 0
	}
	// Back from the minute the alert fired in, while minutes are bad.
	start := minute(detected)
	for i, m := 0, start.Add(-time.Minute); i < maxLookBack; i, m = i+1, m.Add(-time.Minute) {
		s := state(m)
		if s == 0 {
			break
		}
		if s == 1 {
			start = m
		}
	}
	if state(minute(detected)) != 1 && start.Equal(minute(detected)) {
		// The alert fired on a burn already over: the streak is the
		// latest bad minutes before it.
		for i, m := 0, minute(detected).Add(-time.Minute); i < maxLookBack; i, m = i+1, m.Add(-time.Minute) {
			if state(m) == 1 {
				start = m
				for b := m.Add(-time.Minute); state(b) == 1; b = b.Add(-time.Minute) {
					start = b
				}
				break
			}
		}
	}
	inc.BadStart = start
	// Forward: the last bad minute, when every minute after it up to now
	// (the current one included, once it has events) is good.
	last := start
	end := now
	if resolved != nil && resolved.Before(now) {
		end = *resolved
	}
	for m := start; !m.After(end); m = m.Add(time.Minute) {
		if state(m) == 1 {
			last = m
		}
	}
	stopped := false // no minute after last up to end is bad; one good ends the streak
	for m := last.Add(time.Minute); !m.After(end) && !stopped; m = m.Add(time.Minute) {
		stopped = state(m) == 0
	}
	if stopped || resolved != nil {
		e := last.Add(time.Minute)
		inc.BadEnd = &e
	} else {
		inc.Ongoing = true
	}
	if inc.Detected.After(inc.BadStart) {
		inc.TTD = duration.Coarse(inc.Detected.Sub(inc.BadStart))
	}
	to := now
	if inc.BadEnd != nil {
		to = *inc.BadEnd
		if to.After(inc.Detected) {
			inc.TTR = duration.Coarse(to.Sub(inc.Detected))
		}
	}
	if c := src.Sum(inc.BadStart, to); c.Eligible > 0 {
		inc.ImpactPercent = 100 * float64(c.Bad()) / float64(c.Eligible)
		inc.BadMinutes = to.Sub(inc.BadStart).Minutes() * inc.ImpactPercent / 100
	}
	return inc
}

// Observed compares a risk's estimates with its linked incidents.
type Observed struct {
	Incidents     int             `json:"incidents"`
	TTD           duration.Coarse `json:"ttd"` // means over the incidents
	TTR           duration.Coarse `json:"ttr"`
	ImpactPercent float64         `json:"impact_percent"`
	// Suggestions name the estimates the incidents contradict (by more
	// than a quarter), with the measured value to use instead.
	Suggestions []string `json:"suggestions"`
}

// Observe summarizes the incidents (already measured) linked to r; nil
// when there are none. An incident with a negative ImpactPercent did not
// measure its impact and counts only for the times.
func Observe(r Risk, incidents []Incident) *Observed {
	var n, withImpact int
	var ttd, ttr, impact float64
	for _, in := range incidents {
		if in.Ongoing {
			continue
		}
		n++
		ttd += float64(in.TTD)
		ttr += float64(in.TTR)
		if in.ImpactPercent >= 0 { // negative: not measured
			withImpact++
			impact += in.ImpactPercent
		}
	}
	if n == 0 {
		return nil
	}
	o := &Observed{Incidents: n, TTD: round(duration.Coarse(ttd / float64(n))), TTR: round(duration.Coarse(ttr / float64(n))), Suggestions: []string{}}
	if withImpact > 0 {
		o.ImpactPercent = math.Round(impact/float64(withImpact)*10) / 10
	}
	off := func(est, obs float64) bool { return math.Abs(obs-est) > 0.25*math.Max(est, obs) }
	if off(float64(r.ETTD), float64(o.TTD)) {
		o.Suggestions = append(o.Suggestions, fmt.Sprintf("ettd: %s estimated, %s observed", r.ETTD, o.TTD))
	}
	if off(float64(r.ETTR), float64(o.TTR)) {
		o.Suggestions = append(o.Suggestions, fmt.Sprintf("ettr: %s estimated, %s observed", r.ETTR, o.TTR))
	}
	if withImpact > 0 && off(r.ImpactPercent, o.ImpactPercent) {
		o.Suggestions = append(o.Suggestions, fmt.Sprintf("impact_percent: %g estimated, %g observed", r.ImpactPercent, o.ImpactPercent))
	}
	return o
}

// round rounds to the minute when longer than one, else to the second.
func round(d duration.Coarse) duration.Coarse {
	t := time.Duration(d)
	if t >= time.Minute {
		return duration.Coarse(t.Round(time.Minute))
	}
	return duration.Coarse(t.Round(time.Second))
}
