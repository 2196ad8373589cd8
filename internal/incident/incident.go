// Package incident keeps the record of an incident as the team works it:
// severity, status (investigating, mitigated, resolved), who commands and
// who writes things down, when the damage started, was detected, mitigated
// and resolved (so time to detect and to repair are measured), every
// change as it happened, and the postmortem that closes it.
package incident

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prodex/prodex/internal/duration"
	"github.com/prodex/prodex/internal/risk"
)

// Statuses, in the order an incident normally moves through them.
const (
	Investigating = "investigating"
	Mitigated     = "mitigated"
	Resolved      = "resolved"
)

// Severities, sev1 the worst.
var severities = []string{"sev1", "sev2", "sev3", "sev4"}

// Incident is one incident.
type Incident struct {
	ID       string `json:"id"`
	Title    string `json:"title"`
	Severity string `json:"severity"`
	Status   string `json:"status"`
	// SLO and AlertID: the SLO that burned and the alert that opened the
	// incident, when it came from one.
	SLO     string `json:"slo,omitempty"`
	AlertID string `json:"alert_id,omitempty"`
	// Risk names the risk of the register this incident was, so that its
	// measured times feed the register.
	Risk      string `json:"risk,omitempty"`
	Commander string `json:"commander,omitempty"`
	Scribe    string `json:"scribe,omitempty"`
	// StartedAt is when users started to be hurt; DetectedAt when someone
	// or something noticed.
	StartedAt   time.Time  `json:"started_at"`
	DetectedAt  time.Time  `json:"detected_at"`
	MitigatedAt *time.Time `json:"mitigated_at"`
	ResolvedAt  *time.Time `json:"resolved_at"`
	// TTD is DetectedAt − StartedAt; TTR is from detection to mitigation
	// (or resolution, when it was never marked mitigated).
	TTD        duration.Coarse  `json:"ttd"`
	TTR        *duration.Coarse `json:"ttr"`
	Events     []Event          `json:"events"`
	Postmortem *Postmortem      `json:"postmortem,omitempty"`
	Author     string           `json:"author"`
	CreatedAt  time.Time        `json:"created_at"`
	UpdatedAt  time.Time        `json:"updated_at"`
}

// Event is one change to the incident, as it happened.
type Event struct {
	Time   time.Time `json:"time"`
	Kind   string    `json:"kind"` // opened, status, role, severity, title, risk, postmortem
	Author string    `json:"author"`
	Text   string    `json:"text"`
}

// Postmortem closes an incident: what happened, why, and what will be done.
type Postmortem struct {
	Summary             string     `json:"summary"`
	ContributingFactors []string   `json:"contributing_factors,omitempty"`
	FollowUps           []FollowUp `json:"follow_ups,omitempty"`
}

// FollowUp is an action from a postmortem, linked to the risk it reduces.
type FollowUp struct {
	Title string `json:"title"`
	Risk  string `json:"risk,omitempty"`
	URL   string `json:"url,omitempty"`
	Done  bool   `json:"done"`
}

// Open starts an incident. A zero startedAt means it started when it was
// detected.
func Open(id, title, severity, author string, startedAt, detectedAt, now time.Time) (*Incident, error) {
	if detectedAt.IsZero() {
		detectedAt = now
	}
	if startedAt.IsZero() {
		startedAt = detectedAt
	}
	inc := &Incident{ID: id, Title: title, Severity: severity, Status: Investigating, StartedAt: startedAt.UTC(), DetectedAt: detectedAt.UTC(),
		Author: author, CreatedAt: now.UTC(), UpdatedAt: now.UTC(), Events: []Event{}}
	if inc.Severity == "" {
		inc.Severity = "sev2"
	}
	if err := inc.validate(); err != nil {
		return nil, err
	}
	inc.Events = append(inc.Events, Event{Time: now.UTC(), Kind: "opened", Author: author, Text: fmt.Sprintf("opened (%s): %s", inc.Severity, title)})
	inc.times()
	return inc, nil
}

// Change is a partial update; nil fields stay as they are.
type Change struct {
	Title       *string     `json:"title,omitempty"`
	Severity    *string     `json:"severity,omitempty"`
	Status      *string     `json:"status,omitempty"`
	Commander   *string     `json:"commander,omitempty"`
	Scribe      *string     `json:"scribe,omitempty"`
	Risk        *string     `json:"risk,omitempty"`
	StartedAt   *time.Time  `json:"started_at,omitempty"`
	Postmortem  *Postmortem `json:"postmortem,omitempty"`
	MitigatedAt *time.Time  `json:"mitigated_at,omitempty"` // backdate a status change
	ResolvedAt  *time.Time  `json:"resolved_at,omitempty"`
}

// Apply makes a change, recording each part as an event by author at now.
// The incident is unchanged when the change is refused.
func (inc *Incident) Apply(c Change, author string, now time.Time) error {
	next := *inc
	next.Events = append([]Event(nil), inc.Events...)
	now = now.UTC()
	log := func(kind, format string, args ...any) {
		next.Events = append(next.Events, Event{Time: now, Kind: kind, Author: author, Text: fmt.Sprintf(format, args...)})
	}
	if c.Title != nil && *c.Title != next.Title {
		log("title", "title: %s", *c.Title)
		next.Title = *c.Title
	}
	if c.Severity != nil && *c.Severity != next.Severity {
		log("severity", "severity %s → %s", next.Severity, *c.Severity)
		next.Severity = *c.Severity
	}
	for _, role := range []struct {
		name string
		to   *string
		cur  *string
	}{{"commander", c.Commander, &next.Commander}, {"scribe", c.Scribe, &next.Scribe}} {
		if role.to != nil && *role.to != *role.cur {
			if *role.to == "" {
				log("role", "%s: nobody", role.name)
			} else {
				log("role", "%s: %s", role.name, *role.to)
			}
			*role.cur = *role.to
		}
	}
	if c.Risk != nil && *c.Risk != next.Risk {
		log("risk", "the risk %q", *c.Risk)
		next.Risk = *c.Risk
	}
	if c.StartedAt != nil && !c.StartedAt.Equal(next.StartedAt) {
		log("times", "started at %s", c.StartedAt.UTC().Format(time.RFC3339))
		next.StartedAt = c.StartedAt.UTC()
	}
	at := func(t *time.Time) *time.Time {
		v := now
		if t != nil {
			v = t.UTC()
		}
		return &v
	}
	if c.Status != nil && *c.Status != next.Status {
		switch *c.Status {
		case Mitigated:
			next.MitigatedAt = at(c.MitigatedAt)
		case Resolved:
			next.ResolvedAt = at(c.ResolvedAt)
			if next.MitigatedAt == nil {
				next.MitigatedAt = next.ResolvedAt
			}
		case Investigating: // reopened: the incident goes on
			next.ResolvedAt = nil
		}
		log("status", "status %s → %s", next.Status, *c.Status)
		next.Status = *c.Status
	} else {
		if c.MitigatedAt != nil && next.MitigatedAt != nil {
			next.MitigatedAt = at(c.MitigatedAt)
		}
		if c.ResolvedAt != nil && next.ResolvedAt != nil {
			next.ResolvedAt = at(c.ResolvedAt)
		}
	}
	if c.Postmortem != nil {
		log("postmortem", "postmortem written")
		pm := *c.Postmortem
		next.Postmortem = &pm
	}
	if err := next.validate(); err != nil {
		return err
	}
	next.UpdatedAt = now
	next.times()
	*inc = next
	return nil
}

// times computes TTD and TTR.
func (inc *Incident) times() {
	inc.TTD = 0
	if inc.DetectedAt.After(inc.StartedAt) {
		inc.TTD = duration.Coarse(inc.DetectedAt.Sub(inc.StartedAt))
	}
	inc.TTR = nil
	end := inc.MitigatedAt
	if end == nil {
		end = inc.ResolvedAt
	}
	if end != nil {
		d := duration.Coarse(0)
		if end.After(inc.DetectedAt) {
			d = duration.Coarse(end.Sub(inc.DetectedAt))
		}
		inc.TTR = &d
	}
}

func (inc *Incident) validate() error {
	switch {
	case strings.TrimSpace(inc.Title) == "":
		return errors.New("title: required")
	case utf8.RuneCountInString(inc.Title) > 200:
		return errors.New("title: at most 200 characters")
	case !contains(severities, inc.Severity):
		return fmt.Errorf("severity: %q is not one of %s", inc.Severity, strings.Join(severities, ", "))
	case !contains([]string{Investigating, Mitigated, Resolved}, inc.Status):
		return fmt.Errorf("status: %q is not one of investigating, mitigated, resolved", inc.Status)
	case inc.DetectedAt.Before(inc.StartedAt):
		return errors.New("started_at: must not be after the detection")
	case inc.MitigatedAt != nil && inc.MitigatedAt.Before(inc.DetectedAt):
		return errors.New("mitigated_at: must not be before the detection")
	case inc.ResolvedAt != nil && inc.MitigatedAt != nil && inc.ResolvedAt.Before(*inc.MitigatedAt):
		return errors.New("resolved_at: must not be before the mitigation")
	case len(inc.Commander) > 100 || len(inc.Scribe) > 100:
		return errors.New("commander, scribe: at most 100 characters")
	}
	if pm := inc.Postmortem; pm != nil {
		if len(pm.Summary) > 100_000 {
			return errors.New("postmortem.summary: at most 100,000 bytes")
		}
		for i, f := range pm.FollowUps {
			if strings.TrimSpace(f.Title) == "" {
				return fmt.Errorf("postmortem.follow_ups[%d].title: required", i)
			}
			if f.URL != "" && !strings.HasPrefix(f.URL, "https://") && !strings.HasPrefix(f.URL, "http://") {
				return fmt.Errorf("postmortem.follow_ups[%d].url: want an http(s) URL", i)
			}
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Measured is the incident as the risk register counts it. Impact is not
// known from the incident alone (-1) unless the alert measured it.
func (inc *Incident) Measured(impactPercent float64) risk.Incident {
	out := risk.Incident{AlertID: inc.ID, SLO: inc.SLO, Severity: inc.Severity, BadStart: inc.StartedAt, Detected: inc.DetectedAt,
		TTD: inc.TTD, ImpactPercent: impactPercent, Ongoing: inc.TTR == nil}
	if inc.TTR != nil {
		out.TTR = *inc.TTR
		end := inc.DetectedAt.Add(time.Duration(*inc.TTR))
		out.BadEnd = &end
	}
	return out
}

// Record adds an event that changes nothing else (an alert resolving, a
// message).
func (inc *Incident) Record(kind, author, text string, now time.Time) {
	inc.Events = append(inc.Events, Event{Time: now.UTC(), Kind: kind, Author: author, Text: text})
	inc.UpdatedAt = now.UTC()
}
