package meta

import (
	"context"
	"database/sql"
	"time"

	"github.com/prodex/prodex/internal/store"
)

// Named documents (SLO definitions, risks, notes, incidents, users) are
// kept as they were given: the store leaves their meaning to the packages
// that own them.

// PutSLO stores (creates or replaces) an SLO definition.
func (s *Store) PutSLO(ctx context.Context, name string, body []byte) error {
	return s.putDoc(ctx, "px_slos", name, body)
}

// DeleteSLO removes an SLO definition.
func (s *Store) DeleteSLO(ctx context.Context, name string) error {
	return s.deleteDoc(ctx, "px_slos", name)
}

// SLOs returns every stored SLO definition by name.
func (s *Store) SLOs(ctx context.Context) (map[string][]byte, error) {
	return s.docs(ctx, "px_slos")
}

// PutRisk stores (creates or replaces) a risk.
func (s *Store) PutRisk(ctx context.Context, name string, body []byte) error {
	return s.putDoc(ctx, "px_risks", name, body)
}

// DeleteRisk removes a risk.
func (s *Store) DeleteRisk(ctx context.Context, name string) error {
	return s.deleteDoc(ctx, "px_risks", name)
}

// Risks returns every stored risk by name.
func (s *Store) Risks(ctx context.Context) (map[string][]byte, error) {
	return s.docs(ctx, "px_risks")
}

// PutNote stores (creates or replaces) a note.
func (s *Store) PutNote(ctx context.Context, id string, body []byte) error {
	return s.putDoc(ctx, "px_notes", id, body)
}

// DeleteNote removes a note.
func (s *Store) DeleteNote(ctx context.Context, id string) error {
	return s.deleteDoc(ctx, "px_notes", id)
}

// Notes returns every note by id.
func (s *Store) Notes(ctx context.Context) (map[string][]byte, error) {
	return s.docs(ctx, "px_notes")
}

// PutIncident stores (creates or replaces) an incident.
func (s *Store) PutIncident(ctx context.Context, id string, body []byte) error {
	return s.putDoc(ctx, "px_incidents", id, body)
}

// Incidents returns every incident by id.
func (s *Store) Incidents(ctx context.Context) (map[string][]byte, error) {
	return s.docs(ctx, "px_incidents")
}

// putDoc, deleteDoc and docs keep named documents in table, one of the
// metadata tables above (never user input).
func (s *Store) putDoc(ctx context.Context, table, name string, body []byte) error {
	_, err := s.exec(ctx, `INSERT INTO `+table+` (name, body, updated_us) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET body = excluded.body, updated_us = excluded.updated_us`,
		name, s.d.doc(body), time.Now().UnixMicro())
	return err
}

func (s *Store) deleteDoc(ctx context.Context, table, name string) error {
	_, err := s.exec(ctx, `DELETE FROM `+table+` WHERE name = $1`, name)
	return err
}

func (s *Store) docs(ctx context.Context, table string) (map[string][]byte, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT name, body FROM `+table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string][]byte{}
	for rows.Next() {
		var name string
		var body []byte
		if err := rows.Scan(&name, &body); err != nil {
			return nil, err
		}
		out[name] = orEmpty(body)
	}
	return out, rows.Err()
}

const (
	putAlert = `INSERT INTO px_alerts (id, slo, started_us, open, body) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (id) DO UPDATE SET open = excluded.open, body = excluded.body`
	// An id already owed is the same notification: keep the first.
	putOwed = `INSERT INTO px_notifications_owed (id, alert_id, target, message, created_us, attempts, last_error)
		VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING`
)

// PutAlert stores (creates or replaces) an alert episode, and records the
// notifications owed for its change (see Owed) in the same transaction:
// after a crash either both are there, and the notifications are sent
// again, or neither is, and the episode is opened or resolved again.
func (s *Store) PutAlert(ctx context.Context, id, slo string, started time.Time, open bool, body []byte, owed ...store.Owed) error {
	if len(owed) == 0 {
		_, err := s.exec(ctx, putAlert, id, slo, started.UnixMicro(), open, s.d.doc(body))
		return err
	}
	return s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, putAlert, id, slo, started.UnixMicro(), open, s.d.doc(body)); err != nil {
			return err
		}
		for _, o := range owed {
			if _, err := tx.ExecContext(ctx, putOwed,
				o.ID, id, s.d.doc(o.Target), s.d.doc(o.Message), o.Created.UnixMicro(), o.Attempts, o.LastError); err != nil {
				return err
			}
		}
		return nil
	})
}

// Alerts returns alert episodes, newest first: those of one SLO when slo is
// not empty, only open ones when openOnly, at most limit.
func (s *Store) Alerts(ctx context.Context, slo string, openOnly bool, limit int) ([][]byte, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT body FROM px_alerts WHERE ($1 = '' OR slo = $1) AND (NOT $2::boolean OR open)
		ORDER BY started_us DESC, id LIMIT $3`, slo, openOnly, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][]byte
	for rows.Next() {
		var body []byte
		if err := rows.Scan(&body); err != nil {
			return nil, err
		}
		out = append(out, orEmpty(body))
	}
	return out, rows.Err()
}

// Owed returns every notification still owed, oldest first.
func (s *Store) Owed(ctx context.Context) ([]store.Owed, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, alert_id, target, message, created_us, attempts, last_error
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
		o.Target, o.Message, o.Created = orEmpty(o.Target), orEmpty(o.Message), time.UnixMicro(created)
		out = append(out, o)
	}
	return out, rows.Err()
}

// Settle removes an owed notification: it was delivered or given up on.
func (s *Store) Settle(ctx context.Context, id string) error {
	_, err := s.exec(ctx, `DELETE FROM px_notifications_owed WHERE id = $1`, id)
	return err
}

// Resending counts one more hand-off of an owed notification to a
// notifier, before a start sends it again.
func (s *Store) Resending(ctx context.Context, id string) error {
	_, err := s.exec(ctx, `UPDATE px_notifications_owed SET attempts = attempts + 1 WHERE id = $1`, id)
	return err
}

// Unsent records why a hand-off ended without delivering an owed
// notification that stays owed (the notifier closed first).
func (s *Store) Unsent(ctx context.Context, id, reason string) error {
	_, err := s.exec(ctx, `UPDATE px_notifications_owed SET last_error = $1 WHERE id = $2`, reason, id)
	return err
}
