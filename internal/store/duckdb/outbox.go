package duckdb

import (
	"context"
	"database/sql"
	"time"

	"github.com/prodex/prodex/internal/store"
)

// Owed returns every notification still owed, oldest first.
func (s *Store) Owed(ctx context.Context) ([]store.Owed, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, alert_id, target, message, created_us, attempts, last_error FROM px_notifications_owed ORDER BY created_us, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Owed
	for rows.Next() {
		var o store.Owed
		var target, msg string
		var created int64
		if err := rows.Scan(&o.ID, &o.AlertID, &target, &msg, &created, &o.Attempts, &o.LastError); err != nil {
			return nil, err
		}
		o.Target, o.Message, o.Created = []byte(target), []byte(msg), time.UnixMicro(created)
		out = append(out, o)
	}
	return out, rows.Err()
}

// Settle removes an owed notification: it was delivered or given up on.
func (s *Store) Settle(ctx context.Context, id string) error {
	_, err := s.exec(ctx, `DELETE FROM px_notifications_owed WHERE id = ?`, id)
	return err
}

// Resending counts one more hand-off of an owed notification to a
// notifier, before a start sends it again.
func (s *Store) Resending(ctx context.Context, id string) error {
	_, err := s.exec(ctx, `UPDATE px_notifications_owed SET attempts = attempts + 1 WHERE id = ?`, id)
	return err
}

// Unsent records why a hand-off ended without delivering an owed
// notification that stays owed (the notifier closed first).
func (s *Store) Unsent(ctx context.Context, id, reason string) error {
	_, err := s.exec(ctx, `UPDATE px_notifications_owed SET last_error = ? WHERE id = ?`, reason, id)
	return err
}

// inTx runs f in a transaction and commits it, noting a failure for lack
// of disk space as exec does.
func (s *Store) inTx(ctx context.Context, f func(*sql.Tx) error) error {
	if s.poisoned.Load() {
		return ErrDiskFailure
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := f(tx); err != nil {
		s.failed(err)
		return err
	}
	return s.commitTx(tx)
}
