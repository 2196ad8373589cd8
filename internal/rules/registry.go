package rules

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/prodex/prodex/internal/event"
	"github.com/prodex/prodex/internal/problem"
	"github.com/prodex/prodex/internal/slo"
	"github.com/prodex/prodex/internal/store"
)

// forgetter is a store whose counters several nodes share: ForgetCounter
// stops this node following one without touching the shared counts.
type forgetter interface {
	ForgetCounter(name string)
}

func counterOf(d slo.SLO) store.Counter {
	return store.Counter{Name: d.Name, Dataset: d.Dataset, Eligible: d.SLI.Eligible, Good: d.SLI.Good}
}

// install replaces the entry's counts with a full set from the store.
func (e *entry) install(counts []store.MinuteCount) {
	e.counts.reset()
	for _, c := range counts {
		e.counts.set(c.Minute, c.Eligible, c.Good, c.Invalid)
	}
}

// setCounts takes a commit's new per-minute totals (the store calls it
// after each commit): each replaces that minute's counts of its SLO.
func (m *Manager) setCounts(totals []store.MinuteCount) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	for _, d := range totals {
		if e := m.slos[d.Name]; e != nil {
			e.counts.set(d.Minute, d.Eligible, d.Good, d.Invalid)
		}
	}
}

// Change is what Apply did to one SLO (or, elsewhere, to another
// definition: Kind tells which).
type Change struct {
	Kind   string   `json:"kind,omitempty"`
	Name   string   `json:"name"`
	Action string   `json:"action"` // created, updated or unchanged
	Diff   []string `json:"diff,omitempty"`
}

// Apply creates or updates an SLO. Counts are backfilled from stored
// events when the SLO is new or its dataset or SLI changed. With dryRun
// nothing is changed and the diff is returned.
//
// Receivers' secrets are write-only: where d carries the redacted form of
// one the SLO holds, the stored secret is kept (slo.SLO.KeepSecrets), and
// the diff never shows one.
func (m *Manager) Apply(ctx context.Context, d slo.SLO, dryRun bool) (Change, error) {
	m.setMu.Lock()
	defer m.setMu.Unlock()
	m.mu.RLock()
	old := m.slos[d.Name]
	m.mu.RUnlock()
	var stored slo.SLO
	if old != nil {
		stored = old.def
	}
	if err := d.KeepSecrets(stored); err != nil {
		return Change{}, problem.Wrap(problem.Invalid, err)
	}
	d.Defaults()
	if err := d.Validate(); err != nil {
		return Change{}, problem.Wrap(problem.Invalid, err)
	}
	ds, err := event.NormalizeDataset(d.Dataset)
	if err != nil {
		return Change{}, problem.Wrap(problem.Invalid, fmt.Errorf("spec.dataset: %w", err))
	}
	d.Dataset = ds
	ch := Change{Name: d.Name, Action: "created"}
	if old != nil {
		ch.Diff = diff(old.def, d)
		ch.Action = "updated"
		if len(ch.Diff) == 0 {
			ch.Action = "unchanged"
		}
	}
	if dryRun || ch.Action == "unchanged" {
		return ch, nil
	}
	body, err := json.Marshal(d)
	if err != nil {
		return Change{}, err
	}
	backfill := old == nil || old.def.Dataset != d.Dataset || old.def.SLI != d.SLI
	e := m.successor(old, d, backfill)
	if backfill {
		if old != nil {
			// stop streaming the old SLI before its counts are replaced
			m.mu.Lock()
			delete(m.slos, d.Name)
			m.mu.Unlock()
		}
		m.mu.Lock()
		m.slos[d.Name] = e
		m.mu.Unlock()
		if err := m.store.SetCounter(ctx, counterOf(d), true, e.install); err != nil {
			m.mu.Lock()
			if old != nil {
				m.slos[d.Name] = old
			} else {
				delete(m.slos, d.Name)
			}
			m.mu.Unlock()
			return Change{}, err
		}
	} else {
		m.mu.Lock()
		m.slos[d.Name] = e
		m.mu.Unlock()
	}
	if err := m.store.PutSLO(ctx, d.Name, body); err != nil {
		return Change{}, err
	}
	return ch, nil
}

// Delete removes an SLO and its counts.
func (m *Manager) Delete(ctx context.Context, name string) error {
	m.setMu.Lock()
	defer m.setMu.Unlock()
	m.mu.Lock()
	_, ok := m.slos[name]
	delete(m.slos, name)
	m.mu.Unlock()
	if !ok {
		return noSLO(name)
	}
	if err := m.store.RemoveCounter(ctx, name); err != nil {
		return err
	}
	return m.store.DeleteSLO(ctx, name)
}

// successor is the entry replacing old (nil for a new SLO) with definition
// d: it keeps old's open episodes, and its counts unless they are counted
// anew.
func (m *Manager) successor(old *entry, d slo.SLO, recount bool) *entry {
	e := &entry{def: d, counts: &series{}, open: map[slo.Severity]*Episode{}}
	if old != nil {
		m.mu.RLock()
		e.open = old.open // a new leader may replace it (loadOpen)
		m.mu.RUnlock()
		if !recount {
			e.counts = old.counts
		}
	}
	return e
}

// Sync brings the SLOs in memory in line with the stored ones, which
// other nodes sharing the store change: it adds the SLOs it does not know,
// replaces those whose definition differs (keeping their open episodes,
// and their counts unless the dataset or SLI changed) and drops those no
// longer stored. The node that applied a change already counted its
// events, so the counts are read, not backfilled.
func (m *Manager) Sync(ctx context.Context) error {
	m.setMu.Lock()
	defer m.setMu.Unlock()
	bodies, err := m.store.SLOs(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for name, body := range bodies {
		var d slo.SLO
		if err := json.Unmarshal(body, &d); err != nil {
			errs = append(errs, fmt.Errorf("stored SLO %s: %w", name, err))
			continue
		}
		d.Defaults()
		m.mu.RLock()
		old := m.slos[name]
		m.mu.RUnlock()
		if old != nil && len(diff(old.def, d)) == 0 {
			continue
		}
		recount := old == nil || old.def.Dataset != d.Dataset || old.def.SLI != d.SLI
		e := m.successor(old, d, recount)
		m.mu.Lock()
		m.slos[name] = e
		m.mu.Unlock()
		if !recount {
			continue
		}
		if err := m.store.SetCounter(ctx, counterOf(d), false, e.install); err != nil {
			m.mu.Lock()
			if old != nil {
				m.slos[name] = old
			} else {
				delete(m.slos, name)
			}
			m.mu.Unlock()
			errs = append(errs, fmt.Errorf("SLO %s: %w", name, err))
			continue
		}
		m.log.Info("SLO synced from the store", "slo", name)
	}
	m.mu.Lock()
	var gone []string
	for name := range m.slos {
		if _, ok := bodies[name]; !ok {
			delete(m.slos, name)
			gone = append(gone, name)
		}
	}
	m.mu.Unlock()
	for _, name := range gone {
		m.log.Info("SLO deleted on another node: dropped", "slo", name)
		// A store shared by the nodes had the counter removed by the node
		// that deleted the SLO; removing it again here could remove the
		// counter of the same name that node has applied since.
		if f, ok := m.store.(forgetter); ok {
			f.ForgetCounter(name)
		} else if err := m.store.RemoveCounter(ctx, name); err != nil {
			errs = append(errs, fmt.Errorf("SLO %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// Get returns an SLO's definition, redacted (slo.SLO.Redacted): this is
// how every reader outside the evaluator sees one, so no read can show a
// receiver's secret.
func (m *Manager) Get(name string) (slo.SLO, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	e, ok := m.slos[name]
	if !ok {
		return slo.SLO{}, false
	}
	return e.def.Redacted(), true
}

// List returns every SLO, by name, redacted as Get does.
func (m *Manager) List() []slo.SLO {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]slo.SLO, 0, len(m.slos))
	for _, e := range m.slos {
		out = append(out, e.def.Redacted())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// diff lists the fields that differ between two definitions, as a
// --dry-run shows them: secrets redacted, and a change of secret alone
// said without showing either.
func diff(a, b slo.SLO) []string {
	out := fieldDiff(a.Redacted(), b.Redacted())
	an, _ := json.Marshal(a.Notify)
	bn, _ := json.Marshal(b.Notify)
	if string(an) != string(bn) && len(fieldDiff(slo.SLO{Notify: a.Redacted().Notify}, slo.SLO{Notify: b.Redacted().Notify})) == 0 {
		out = append(out, "notify: a receiver's secret changed (secrets are never shown)")
		sort.Strings(out)
	}
	return out
}

// fieldDiff lists the top-level JSON fields that differ, with both values.
func fieldDiff(a, b slo.SLO) []string {
	var am, bm map[string]any
	ab, _ := json.Marshal(a)
	bb, _ := json.Marshal(b)
	json.Unmarshal(ab, &am) //nolint:errcheck // our own JSON
	json.Unmarshal(bb, &bm) //nolint:errcheck
	var out []string
	keys := map[string]bool{}
	for k := range am {
		keys[k] = true
	}
	for k := range bm {
		keys[k] = true
	}
	for k := range keys {
		x, _ := json.Marshal(am[k])
		y, _ := json.Marshal(bm[k])
		if string(x) != string(y) {
			out = append(out, fmt.Sprintf("%s: %s → %s", k, x, y))
		}
	}
	sort.Strings(out)
	return out
}
