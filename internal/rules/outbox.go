package rules

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/prodex/prodex/internal/notify"
	"github.com/prodex/prodex/internal/slo"
	"github.com/prodex/prodex/internal/store"
)

// Outbox keeps the notifications owed until they are settled, so that a
// crash between saving an episode and delivering its page loses nothing.
type Outbox interface {
	Owed(ctx context.Context) ([]store.Owed, error)
	Resending(ctx context.Context, id string) error
	Unsent(ctx context.Context, id, reason string) error
	Settle(ctx context.Context, id string) error
}

// Sender delivers notifications without blocking (notify.Notifier), and
// tells done, once, whether each was delivered (nil), given up on, or
// left undelivered by a shutdown (notify.ErrClosed).
type Sender interface {
	SendThen(t notify.Target, m notify.Message, done func(error))
}

// owed is one notification an episode's change owes one target.
type owed struct {
	id string // unique per episode, state and target
	t  notify.Target
	m  notify.Message
}

// owe builds the notifications of an episode's change, one per target of
// the SLO (none without a sender).
func (m *Manager) owe(e *entry, ep *Episode) []owed {
	if m.sender == nil || len(e.def.Notify) == 0 {
		return nil
	}
	st := slo.ComputeStatus(e.def, e.counts, m.now())
	sli := 100.0
	if st.SLI != nil {
		sli = *st.SLI
	}
	msg := notify.Message{
		SLO: e.def.Name, Dataset: e.def.Dataset, Severity: string(ep.Severity), State: ep.State,
		Rule: strings.Join(ep.Rules, ", "), Summary: summary(e.def, ep, st), SLI: sli, Target: e.def.Target,
		BudgetRemainingPercent: st.BudgetRemainingPercent, BurnRates: st.BurnRate, ExhaustionSeconds: st.ExhaustionSeconds,
		DedupKey: ep.ID, At: m.now().UTC(),
	}
	if m.link != "" {
		msg.Link = m.link + "/slos/" + e.def.Name
	}
	msg = notify.Clean(msg) // stored as JSON, which has no NaN or infinity
	out := make([]owed, len(e.def.Notify))
	for i, t := range e.def.Notify {
		out[i] = owed{id: fmt.Sprintf("%s/%s/%d", ep.ID, ep.State, i), t: t, m: msg}
	}
	return out
}

// persist saves an episode with the notifications its change owes.
func (m *Manager) persist(ctx context.Context, ep *Episode, notes []owed) error {
	body, err := json.Marshal(ep)
	if err != nil {
		return err
	}
	rows := make([]store.Owed, 0, len(notes))
	created := m.now()
	for _, o := range notes {
		t, err := json.Marshal(o.t)
		if err != nil {
			return err
		}
		msg, err := json.Marshal(o.m)
		if err != nil {
			return err
		}
		rows = append(rows, store.Owed{ID: o.id, Target: t, Message: msg, Created: created, Attempts: 1})
	}
	return m.store.PutAlert(ctx, ep.ID, ep.SLO, ep.StartedAt, ep.State == "firing", body, rows...)
}

// send hands saved notifications to the sender, which delivers them in
// the background; each is settled when the sender is done with it.
func (m *Manager) send(notes []owed) {
	for _, o := range notes {
		m.sender.SendThen(o.t, o.m, func(err error) { m.settle(o.id, err) })
	}
}

// settle forgets a notification once it is delivered or given up on (the
// sender logs and counts the failure); one the sender closed on stays
// owed, for the next start to send again.
func (m *Manager) settle(id string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if errors.Is(err, notify.ErrClosed) {
		if uerr := m.store.Unsent(ctx, id, err.Error()); uerr != nil {
			m.log.Warn("noting an undelivered notification failed; it stays owed", "id", id, "err", uerr)
		}
		return
	}
	if serr := m.store.Settle(ctx, id); serr != nil {
		m.log.Error("forgetting a settled notification failed; the next start sends it again", "id", id, "err", serr)
	}
}

// resend sends again every notification owed from before the start: the
// process stopped after saving them and before they were settled.
func (m *Manager) resend(ctx context.Context) error {
	if m.sender == nil {
		return nil // they stay owed until a start with a sender
	}
	rows, err := m.store.Owed(ctx)
	if err != nil {
		return err
	}
	if len(rows) > 0 {
		m.log.Info("sending notifications owed from before the start again", "count", len(rows))
	}
	for _, row := range rows {
		o := owed{id: row.ID}
		if err := errors.Join(json.Unmarshal(row.Target, &o.t), json.Unmarshal(row.Message, &o.m)); err != nil {
			m.log.Error("dropping an unreadable owed notification", "id", row.ID, "err", err)
			m.settle(row.ID, err)
			continue
		}
		if err := m.store.Resending(ctx, row.ID); err != nil {
			m.log.Warn("counting a resend failed", "id", row.ID, "err", err)
		}
		m.log.Info("notification owed: sending again", "id", row.ID, "dedup_key", o.m.DedupKey, "state", o.m.State,
			"attempts", row.Attempts+1, "last_error", row.LastError)
		m.send([]owed{o})
	}
	return nil
}
