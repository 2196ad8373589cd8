package duckdb

import (
	"context"
	"database/sql"
	"time"

	"github.com/prodex/prodex/internal/store"
)

// Metadata documents (SLO definitions, alert episodes) are stored as JSON
// under a name: the store keeps them durable and leaves their meaning to
// the packages that own them.

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

// putDoc, deleteDoc and docs keep named documents in table, one of the
// metadata tables above (never user input).
func (s *Store) putDoc(ctx context.Context, table, name string, body []byte) error {
	_, err := s.exec(ctx, `INSERT INTO `+table+` VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET body = excluded.body, updated_us = excluded.updated_us`,
		name, string(body), time.Now().UnixMicro())
	return err
}

func (s *Store) deleteDoc(ctx context.Context, table, name string) error {
	_, err := s.exec(ctx, `DELETE FROM `+table+` WHERE name = ?`, name)
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
		var name, body string
		if err := rows.Scan(&name, &body); err != nil {
			return nil, err
		}
		out[name] = []byte(body)
	}
	return out, rows.Err()
}

// PutAlert stores (creates or replaces) an alert episode, and records the
// notifications owed for its change (see Owed) in the same transaction:
// after a crash either both are there, and the notifications are sent
// again, or neither is, and the episode is opened or resolved again.
func (s *Store) PutAlert(ctx context.Context, id, slo string, started time.Time, open bool, body []byte, owed ...store.Owed) error {
	if len(owed) == 0 {
		_, err := s.exec(ctx, `INSERT INTO px_alerts VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET open = excluded.open, body = excluded.body`,
			id, slo, started.UnixMicro(), open, string(body))
		return err
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO px_alerts VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET open = excluded.open, body = excluded.body`,
			id, slo, started.UnixMicro(), open, string(body)); err != nil {
			return err
		}
		for _, o := range owed {
			// An id already owed is the same notification: keep the first.
			if _, err := tx.ExecContext(ctx, `INSERT INTO px_notifications_owed VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
				o.ID, id, string(o.Target), string(o.Message), o.Created.UnixMicro(), o.Attempts, o.LastError); err != nil {
				return err
			}
		}
		return nil
	})
}

// Alerts returns alert episodes, newest first: those of one SLO when slo is
// not empty, only open ones when openOnly, at most limit.
func (s *Store) Alerts(ctx context.Context, slo string, openOnly bool, limit int) ([][]byte, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT body FROM px_alerts WHERE ($1 = '' OR slo = $1) AND ($2 = false OR open) ORDER BY started_us DESC, id LIMIT $3`,
		slo, openOnly, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][]byte
	for rows.Next() {
		var body string
		if err := rows.Scan(&body); err != nil {
			return nil, err
		}
		out = append(out, []byte(body))
	}
	return out, rows.Err()
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
