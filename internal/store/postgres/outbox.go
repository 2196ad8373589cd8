package postgres

import (
	"context"
	"time"

	"github.com/prodex/prodex/internal/store"
)

// Owed returns every notification still owed, oldest first.
func (m *Meta) Owed(ctx context.Context) ([]store.Owed, error) {
	rows, err := m.pool.Query(ctx, `SELECT id, alert_id, target, message, created_us, attempts, last_error
		FROM px_notifications_owed ORDER BY created_us, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Owed
	for rows.Next() {
		var o store.Owed
		var created int64
		if err := rows.Scan(&o.ID, &o.AlertID, &o.Target, &o.Message, &created, &o.Attempts, &o.LastError); err != nil {
			return nil, err
		}
		o.Target, o.Message = orEmpty(o.Target), orEmpty(o.Message)
		o.Created = time.UnixMicro(created)
		out = append(out, o)
	}
	return out, rows.Err()
}

// Settle removes an owed notification: it was delivered or given up on.
func (m *Meta) Settle(ctx context.Context, id string) error {
	_, err := m.pool.Exec(ctx, `DELETE FROM px_notifications_owed WHERE id = $1`, id)
	return err
}

// Resending counts one more hand-off of an owed notification to a
// notifier, before a start sends it again.
func (m *Meta) Resending(ctx context.Context, id string) error {
	_, err := m.pool.Exec(ctx, `UPDATE px_notifications_owed SET attempts = attempts + 1 WHERE id = $1`, id)
	return err
}

// Unsent records why a hand-off ended without delivering an owed
// notification that stays owed (the notifier closed first).
func (m *Meta) Unsent(ctx context.Context, id, reason string) error {
	_, err := m.pool.Exec(ctx, `UPDATE px_notifications_owed SET last_error = $1 WHERE id = $2`, reason, id)
	return err
}
