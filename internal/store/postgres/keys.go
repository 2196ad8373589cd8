package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/prodex/prodex/internal/auth"
)

// InsertKey stores a key's hash.
func (m *Meta) InsertKey(ctx context.Context, k auth.Key) error {
	_, err := m.pool.Exec(ctx, `INSERT INTO px_keys (id, hash, scope, name, created_us, revoked, user_name, env)
		VALUES ($1, $2, $3, $4, $5, false, $6, $7)`,
		k.ID, k.Hash, string(k.Scope), k.Name, k.Created.UnixMicro(), k.User, k.Env)
	return err
}

// LoadKeys returns every stored key.
func (m *Meta) LoadKeys(ctx context.Context) ([]auth.Key, error) {
	rows, err := m.pool.Query(ctx, `SELECT id, hash, scope, name, created_us, revoked, user_name, env FROM px_keys`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []auth.Key
	for rows.Next() {
		var k auth.Key
		var scope string
		var created int64
		if err := rows.Scan(&k.ID, &k.Hash, &scope, &k.Name, &created, &k.Revoked, &k.User, &k.Env); err != nil {
			return nil, err
		}
		k.Scope = auth.Scope(scope)
		k.Created = time.UnixMicro(created).UTC()
		out = append(out, k)
	}
	return out, rows.Err()
}

// RevokeKey marks a key revoked.
func (m *Meta) RevokeKey(ctx context.Context, id string) error {
	_, err := m.pool.Exec(ctx, `UPDATE px_keys SET revoked = true WHERE id = $1`, id)
	return err
}

// PutUser stores (creates or replaces) a user.
func (m *Meta) PutUser(ctx context.Context, u auth.User) error {
	body, err := json.Marshal(u)
	if err != nil {
		return err
	}
	return m.putDoc(ctx, "px_users", u.Name, body)
}

// DeleteUser removes a user.
func (m *Meta) DeleteUser(ctx context.Context, name string) error {
	return m.deleteDoc(ctx, "px_users", name)
}

// LoadUsers returns every user.
func (m *Meta) LoadUsers(ctx context.Context) ([]auth.User, error) {
	docs, err := m.docs(ctx, "px_users")
	if err != nil {
		return nil, err
	}
	out := make([]auth.User, 0, len(docs))
	for name, body := range docs {
		var u auth.User
		if err := json.Unmarshal(body, &u); err != nil {
			return nil, fmt.Errorf("stored user %s: %w", name, err)
		}
		out = append(out, u)
	}
	return out, nil
}
