package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/prodex/prodex/internal/store"
)

// Named documents (SLO definitions, risks, notes, incidents, users) are
// kept as they were given: the store leaves their meaning to the packages
// that own them.

// PutSLO stores (creates or replaces) an SLO definition.
func (m *Meta) PutSLO(ctx context.Context, name string, body []byte) error {
	return m.putDoc(ctx, "px_slos", name, body)
}

// DeleteSLO removes an SLO definition.
func (m *Meta) DeleteSLO(ctx context.Context, name string) error {
	return m.deleteDoc(ctx, "px_slos", name)
}

// SLOs returns every stored SLO definition by name.
func (m *Meta) SLOs(ctx context.Context) (map[string][]byte, error) {
	return m.docs(ctx, "px_slos")
}

// PutRisk stores (creates or replaces) a risk.
func (m *Meta) PutRisk(ctx context.Context, name string, body []byte) error {
	return m.putDoc(ctx, "px_risks", name, body)
}

// DeleteRisk removes a risk.
func (m *Meta) DeleteRisk(ctx context.Context, name string) error {
	return m.deleteDoc(ctx, "px_risks", name)
}

// Risks returns every stored risk by name.
func (m *Meta) Risks(ctx context.Context) (map[string][]byte, error) {
	return m.docs(ctx, "px_risks")
}

// PutNote stores (creates or replaces) a note.
func (m *Meta) PutNote(ctx context.Context, id string, body []byte) error {
	return m.putDoc(ctx, "px_notes", id, body)
}

// DeleteNote removes a note.
func (m *Meta) DeleteNote(ctx context.Context, id string) error {
	return m.deleteDoc(ctx, "px_notes", id)
}

// Notes returns every note by id.
func (m *Meta) Notes(ctx context.Context) (map[string][]byte, error) {
	return m.docs(ctx, "px_notes")
}

// PutIncident stores (creates or replaces) an incident.
func (m *Meta) PutIncident(ctx context.Context, id string, body []byte) error {
	return m.putDoc(ctx, "px_incidents", id, body)
}

// Incidents returns every incident by id.
func (m *Meta) Incidents(ctx context.Context) (map[string][]byte, error) {
	return m.docs(ctx, "px_incidents")
}

// putDoc, deleteDoc and docs keep named documents in table, one of the
// document tables above (never user input).
func (m *Meta) putDoc(ctx context.Context, table, name string, body []byte) error {
	_, err := m.pool.Exec(ctx, `INSERT INTO `+table+` (name, body, updated_us) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET body = EXCLUDED.body, updated_us = EXCLUDED.updated_us`,
		name, orEmpty(body), time.Now().UnixMicro())
	return err
}

func (m *Meta) deleteDoc(ctx context.Context, table, name string) error {
	_, err := m.pool.Exec(ctx, `DELETE FROM `+table+` WHERE name = $1`, name)
	return err
}

func (m *Meta) docs(ctx context.Context, table string) (map[string][]byte, error) {
	rows, err := m.pool.Query(ctx, `SELECT name, body FROM `+table)
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

const putAlert = `INSERT INTO px_alerts (id, slo, started_us, open, body) VALUES ($1, $2, $3, $4, $5)
	ON CONFLICT (id) DO UPDATE SET open = EXCLUDED.open, body = EXCLUDED.body`

// PutAlert stores (creates or replaces) an alert episode, and records the
// notifications owed for its change (see Owed) in the same transaction:
// after a crash either both are there, and the notifications are sent
// again, or neither is, and the episode is opened or resolved again.
func (m *Meta) PutAlert(ctx context.Context, id, slo string, started time.Time, open bool, body []byte, owed ...store.Owed) error {
	if len(owed) == 0 {
		_, err := m.pool.Exec(ctx, putAlert, id, slo, started.UnixMicro(), open, orEmpty(body))
		return err
	}
	return pgx.BeginFunc(ctx, m.pool, func(tx pgx.Tx) error {
		var b pgx.Batch
		b.Queue(putAlert, id, slo, started.UnixMicro(), open, orEmpty(body))
		for _, o := range owed {
			// An id already owed is the same notification: keep the first.
			b.Queue(`INSERT INTO px_notifications_owed (id, alert_id, target, message, created_us, attempts, last_error)
				VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING`,
				o.ID, id, orEmpty(o.Target), orEmpty(o.Message), o.Created.UnixMicro(), o.Attempts, o.LastError)
		}
		return tx.SendBatch(ctx, &b).Close()
	})
}

// Alerts returns alert episodes, newest first: those of one SLO when slo is
// not empty, only open ones when openOnly, at most limit.
func (m *Meta) Alerts(ctx context.Context, slo string, openOnly bool, limit int) ([][]byte, error) {
	rows, err := m.pool.Query(ctx, `SELECT body FROM px_alerts WHERE ($1 = '' OR slo = $1) AND (NOT $2::boolean OR open)
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
