package duckdb

import (
	"context"
	"time"

	"github.com/prodex/prodex/internal/auth"
)

// InsertKey stores a key's hash.
func (s *Store) InsertKey(ctx context.Context, k auth.Key) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO px_keys VALUES (?, ?, ?, ?, ?, false)`, k.ID, k.Hash, string(k.Scope), k.Name, k.Created.UnixMicro())
	return err
}

// LoadKeys returns every stored key.
func (s *Store) LoadKeys(ctx context.Context) ([]auth.Key, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, hash, scope, name, created_us, revoked FROM px_keys`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []auth.Key
	for rows.Next() {
		var k auth.Key
		var scope string
		var created int64
		if err := rows.Scan(&k.ID, &k.Hash, &scope, &k.Name, &created, &k.Revoked); err != nil {
			return nil, err
		}
		k.Scope = auth.Scope(scope)
		k.Created = time.UnixMicro(created).UTC()
		out = append(out, k)
	}
	return out, rows.Err()
}

// RevokeKey marks a key revoked.
func (s *Store) RevokeKey(ctx context.Context, id string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE px_keys SET revoked = true WHERE id = ?`, id)
	return err
}
