package rules

import (
	"context"
	"fmt"
	"time"
)

// Lease elects the one node of several that evaluates alerts
// (meta.Store has it). Lease takes or renews the lease
// called name for holder; Release gives it up, so that another node need
// not wait for it to expire.
type Lease interface {
	Lease(ctx context.Context, name, holder string, ttl time.Duration) (held bool, until time.Time, err error)
	Release(ctx context.Context, name, holder string) error
}

// leaseName is the lease of the node that evaluates alerts.
const leaseName = "alerts"

// Run evaluates every SLO's rules each interval until ctx ends. With a
// Lease it first takes or renews the lease, evaluates only while this node
// leads, and releases the lease at the end so that another node takes over
// at once. With SyncEvery it syncs the SLOs that often.
func (m *Manager) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	var renew <-chan time.Time
	if m.lease != nil {
		defer m.release()
		if every > m.leaseTTL/3 {
			r := time.NewTicker(m.leaseTTL / 3)
			defer r.Stop()
			renew = r.C
		}
	}
	synced := time.Now() // New read the SLOs
	for {
		if m.syncEvery > 0 && time.Since(synced) >= m.syncEvery {
			synced = time.Now()
			if err := m.Sync(ctx); err != nil {
				m.log.Warn("syncing SLOs from the store failed", "err", err)
			}
			// A follower shows the episodes the leader opens and resolves.
			if m.lease != nil && !m.Leader() {
				if err := m.loadOpen(ctx); err != nil {
					m.log.Warn("reading the open alerts failed", "err", err)
				}
			}
		}
		answered := m.lease == nil || m.renew(ctx)
		switch {
		case m.Leader():
			m.EvaluateAll(ctx)
		case answered:
			m.lastEval.Store(time.Now().UnixNano()) // a healthy follower
		}
		for wait := true; wait; {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				wait = false
			case <-renew:
				m.renew(ctx)
			}
		}
	}
}

// Leader reports whether this node evaluates alerts: always without a
// Lease; with one, while a renewal of the lease succeeded less than
// LeaseTTL*2/3 ago by the local clock, which leaves a node cut off from
// the store time to stop before the lease expires and another takes it.
func (m *Manager) Leader() bool {
	if m.lease == nil {
		return true
	}
	return m.leaderAt(m.mono())
}

func (m *Manager) leaderAt(now time.Time) bool {
	m.leaseMu.Lock()
	defer m.leaseMu.Unlock()
	return !m.heldAt.IsZero() && now.Sub(m.heldAt) < m.leaseTTL*2/3
}

func (m *Manager) setHeld(at time.Time) {
	m.leaseMu.Lock()
	defer m.leaseMu.Unlock()
	m.heldAt = at
}

// renew takes or renews the lease and reports whether the store answered.
// On taking it (again), this node reloads the open episodes, which the
// previous leader changed, and sends what is owed before it leads.
func (m *Manager) renew(ctx context.Context) bool {
	asked := m.mono()
	was := m.leaderAt(asked)
	// Given up after a third of the ttl, a renewal granted is one asked
	// while the lease was still this node's, if it was.
	lctx, cancel := context.WithTimeout(ctx, m.leaseTTL/3)
	held, _, err := m.lease.Lease(lctx, leaseName, m.holder, m.leaseTTL)
	cancel()
	switch {
	case err != nil:
		m.log.Warn("renewing the alerts lease failed", "holder", m.holder, "err", err)
	case !held:
		m.setHeld(time.Time{})
	case was:
		m.setHeld(asked)
	default:
		if err := m.takeOver(ctx); err != nil {
			m.log.Error("taking over alert evaluation failed; releasing the lease", "holder", m.holder, "err", err)
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			if err := m.lease.Release(rctx, leaseName, m.holder); err != nil {
				m.log.Warn("releasing the alerts lease failed", "holder", m.holder, "err", err)
			}
			cancel()
			break
		}
		m.setHeld(asked)
	}
	m.noteLeading()
	return err == nil
}

// noteLeading logs a change of leadership.
func (m *Manager) noteLeading() {
	now := m.Leader()
	switch {
	case now && !m.leading:
		m.log.Info("leading alert evaluation", "holder", m.holder)
	case !now && m.leading:
		m.log.Warn("no longer leading alert evaluation: stopped evaluating", "holder", m.holder)
	}
	m.leading = now
}

func (m *Manager) takeOver(ctx context.Context) error {
	if err := m.loadOpen(ctx); err != nil {
		return fmt.Errorf("open alerts: %w", err)
	}
	if err := m.resend(ctx); err != nil {
		return fmt.Errorf("notifications owed: %w", err)
	}
	return nil
}

// release gives up the lease at the end of Run.
func (m *Manager) release() {
	m.setHeld(time.Time{})
	m.noteLeading()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := m.lease.Release(ctx, leaseName, m.holder); err != nil {
		m.log.Warn("releasing the alerts lease failed; another node takes over when it expires", "holder", m.holder, "err", err)
	}
}
