package postgres

import (
	"context"
	"time"

	"github.com/prodex/prodex/internal/store"
)

// Audit records a write.
func (m *Meta) Audit(ctx context.Context, e store.AuditEntry) error {
	_, err := m.pool.Exec(ctx, `INSERT INTO px_audit (time_us, author, key_id, method, path, status) VALUES ($1, $2, $3, $4, $5, $6)`,
		e.Time.UnixMicro(), e.Author, e.KeyID, e.Method, e.Path, e.Status)
	return err
}

// AuditLog returns writes, newest first: by author when author is not
// empty, since a time, at most limit.
func (m *Meta) AuditLog(ctx context.Context, author string, since time.Time, limit int) ([]store.AuditEntry, error) {
	rows, err := m.pool.Query(ctx, `SELECT time_us, author, key_id, method, path, status FROM px_audit
		WHERE ($1 = '' OR author = $1) AND time_us >= $2 ORDER BY time_us DESC LIMIT $3`, author, since.UnixMicro(), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []store.AuditEntry{}
	for rows.Next() {
		var e store.AuditEntry
		var us int64
		if err := rows.Scan(&us, &e.Author, &e.KeyID, &e.Method, &e.Path, &e.Status); err != nil {
			return nil, err
		}
		e.Time = time.UnixMicro(us).UTC()
		out = append(out, e)
	}
	return out, rows.Err()
}
