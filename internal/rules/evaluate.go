package rules

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/prodex/prodex/internal/risk"
	"github.com/prodex/prodex/internal/slo"
)

// Episode is one alert: from the moment a severity's rules start firing for
// an SLO until none does.
type Episode struct {
	ID         string       `json:"id"`
	SLO        string       `json:"slo"`
	Dataset    string       `json:"dataset"`
	Severity   slo.Severity `json:"severity"`
	State      string       `json:"state"` // firing or resolved
	Rules      []string     `json:"rules"` // every rule that fired during the episode
	Detail     string       `json:"detail"`
	StartedAt  time.Time    `json:"started_at"`
	ResolvedAt *time.Time   `json:"resolved_at"`
}

// LastEvaluated is when the last round of evaluation completed (zero
// before the first). A follower (see Options.Lease) counts each tick on
// which it got an answer about the lease as a round, so that readiness,
// which checks this, finds a healthy follower ready.
func (m *Manager) LastEvaluated() time.Time {
	if n := m.lastEval.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
}

// OnEpisode sets a function told of every alert episode that starts or
// resolves, after it is saved (incidents open from pages this way).
func (m *Manager) OnEpisode(f func(Episode)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.onEpisode = f
}

func (m *Manager) told(ep Episode) {
	m.mu.RLock()
	f := m.onEpisode
	m.mu.RUnlock()
	if f != nil {
		f(ep)
	}
}

// loadOpen replaces the open episodes of every SLO with the stored ones:
// a new leader's memory of them may be stale.
func (m *Manager) loadOpen(ctx context.Context) error {
	bodies, err := m.store.Alerts(ctx, "", true, 10000)
	if err != nil {
		return err
	}
	open := map[string]map[slo.Severity]*Episode{}
	for _, body := range bodies {
		var ep Episode
		if err := json.Unmarshal(body, &ep); err != nil {
			return err
		}
		if open[ep.SLO] == nil {
			open[ep.SLO] = map[slo.Severity]*Episode{}
		}
		open[ep.SLO][ep.Severity] = &ep
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for name, e := range m.slos {
		if open[name] == nil {
			open[name] = map[slo.Severity]*Episode{}
		}
		e.open = open[name]
	}
	return nil
}

// EvaluateAll evaluates every SLO once, opening and resolving episodes.
// With a Lease, only while this node leads.
func (m *Manager) EvaluateAll(ctx context.Context) {
	if !m.Leader() {
		return
	}
	began := time.Now()
	defer func() {
		m.lastEval.Store(time.Now().UnixNano())
		if m.evaluated != nil {
			m.evaluated(time.Since(began))
		}
	}()
	now := m.now()
	m.mu.RLock()
	entries := make([]*entry, 0, len(m.slos))
	for _, e := range m.slos {
		entries = append(entries, e)
	}
	m.mu.RUnlock()
	for _, e := range entries {
		if !m.Leader() {
			return // lost the lease mid-round: the next leader goes on
		}
		m.evaluate(ctx, e, now)
		// memory stays bounded by the window (plus a day of history)
		e.counts.trim((e.def.Window.Start(now).Unix() - 86400) / 60)
	}
}

func (m *Manager) evaluate(ctx context.Context, e *entry, now time.Time) {
	results := slo.Evaluate(e.def, e.counts, now)
	for _, sev := range []slo.Severity{"page", "ticket"} {
		var firing []slo.RuleResult
		for _, r := range results {
			if r.Severity == sev && r.Firing {
				firing = append(firing, r)
			}
		}
		m.mu.Lock()
		ep := e.open[sev]
		paging := e.open[slo.Page] != nil
		m.mu.Unlock()
		switch {
		case len(firing) > 0 && ep == nil && sev == slo.Ticket && paging:
			// A page for the SLO is open: a ticket for the same burn would
			// only repeat it (as Alertmanager's inhibition would).
		case len(firing) > 0 && ep == nil:
			ep = &Episode{ID: fmt.Sprintf("%s/%s/%d", e.def.Name, sev, now.Unix()), SLO: e.def.Name, Dataset: e.def.Dataset,
				Severity: sev, State: "firing", StartedAt: now.UTC(), Detail: firing[0].Detail}
			for _, r := range firing {
				ep.Rules = append(ep.Rules, r.Rule)
			}
			// Persist the episode and the notifications it owes before
			// sending: after a crash the episode is not opened again, and
			// what was not delivered is sent again by the next start.
			notes := m.owe(e, ep)
			if err := m.persist(ctx, ep, notes); err != nil {
				m.log.Error("saving alert failed; not notifying", "slo", e.def.Name, "err", err)
				continue
			}
			m.mu.Lock()
			e.open[sev] = ep
			m.mu.Unlock()
			m.log.Info("alert firing", "slo", e.def.Name, "severity", sev, "detail", ep.Detail)
			m.send(notes)
			m.told(*ep)
		case len(firing) > 0:
			changed := false
			for _, r := range firing {
				if !contains(ep.Rules, r.Rule) {
					ep.Rules = append(ep.Rules, r.Rule)
					changed = true
				}
			}
			if changed {
				if err := m.persist(ctx, ep, nil); err != nil {
					m.log.Error("saving alert failed", "slo", e.def.Name, "err", err)
				}
			}
		case ep != nil:
			t := now.UTC()
			done := *ep
			done.State, done.ResolvedAt = "resolved", &t
			notes := m.owe(e, &done)
			if err := m.persist(ctx, &done, notes); err != nil {
				m.log.Error("saving alert failed; still firing", "slo", e.def.Name, "err", err)
				continue
			}
			m.mu.Lock()
			delete(e.open, sev)
			m.mu.Unlock()
			m.log.Info("alert resolved", "slo", e.def.Name, "severity", sev)
			m.send(notes)
			m.told(done)
		}
	}
}

func summary(d slo.SLO, ep *Episode, st slo.Status) string {
	if ep.State == "resolved" {
		return fmt.Sprintf("%s: error budget burn is back under the %s thresholds (budget remaining %.1f%%)", d.Name, ep.Severity, st.BudgetRemainingPercent)
	}
	s := fmt.Sprintf("%s is burning its error budget: %s; budget remaining %.1f%%", d.Name, ep.Detail, st.BudgetRemainingPercent)
	if st.ExhaustionSeconds != nil {
		s += fmt.Sprintf(", exhausted in %s at this rate", (time.Duration(*st.ExhaustionSeconds) * time.Second).Round(time.Minute))
	}
	return s
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Status is an SLO's status now, with its open alerts and the events whose
// SLI could not be evaluated.
type Status struct {
	slo.Status
	Invalid int64      `json:"invalid_events"`
	Alerts  []*Episode `json:"alerts"`
}

// Status computes an SLO's status from its in-memory counts.
func (m *Manager) Status(name string) (Status, error) {
	m.mu.RLock()
	e, ok := m.slos[name]
	var open []*Episode
	if ok {
		for _, ep := range e.open {
			c := *ep
			open = append(open, &c)
		}
	}
	m.mu.RUnlock()
	if !ok {
		return Status{}, noSLO(name)
	}
	sort.Slice(open, func(i, j int) bool { return open[i].StartedAt.Before(open[j].StartedAt) })
	return Status{Status: slo.ComputeStatus(e.def, e.counts, m.now()), Invalid: e.counts.invalid(), Alerts: append([]*Episode{}, open...)}, nil
}

// Alerts returns alert episodes, newest first.
func (m *Manager) Alerts(ctx context.Context, sloName string, openOnly bool, limit int) ([]Episode, error) {
	bodies, err := m.store.Alerts(ctx, sloName, openOnly, limit)
	if err != nil {
		return nil, err
	}
	out := make([]Episode, 0, len(bodies))
	for _, b := range bodies {
		var ep Episode
		if err := json.Unmarshal(b, &ep); err != nil {
			return nil, err
		}
		out = append(out, ep)
	}
	return out, nil
}

// Measure measures one alert episode of an SLO as an incident.
func (m *Manager) Measure(ep Episode) (risk.Incident, error) {
	m.mu.RLock()
	e, ok := m.slos[ep.SLO]
	m.mu.RUnlock()
	if !ok {
		return risk.Incident{}, noSLO(ep.SLO)
	}
	return risk.Measure(ep.ID, ep.SLO, string(ep.Severity), ep.StartedAt, ep.ResolvedAt, 1-e.def.Target/100, e.counts, m.now()), nil
}

// Incidents measures the SLO's alert episodes (newest first, at most
// limit) from its per-minute counts: when the bad events started, when
// the alert fired, when the burn stopped and the share of events hit.
func (m *Manager) Incidents(ctx context.Context, sloName string, limit int) ([]risk.Incident, error) {
	m.mu.RLock()
	e, ok := m.slos[sloName]
	m.mu.RUnlock()
	if !ok {
		return nil, noSLO(sloName)
	}
	eps, err := m.Alerts(ctx, sloName, false, limit)
	if err != nil {
		return nil, err
	}
	out := make([]risk.Incident, 0, len(eps))
	now := m.now()
	for _, ep := range eps {
		out = append(out, risk.Measure(ep.ID, ep.SLO, string(ep.Severity), ep.StartedAt, ep.ResolvedAt, 1-e.def.Target/100, e.counts, now))
	}
	return out, nil
}
