package meta

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/prodex/prodex/internal/auth"
	"github.com/prodex/prodex/internal/store"
)

// InsertKey stores a key's hash.
func (s *Store) InsertKey(ctx context.Context, k auth.Key) error {
	_, err := s.exec(ctx, `INSERT INTO px_keys (id, hash, scope, name, created_us, revoked, user_name, env)
		VALUES ($1, $2, $3, $4, $5, false, $6, $7)`,
		k.ID, k.Hash, string(k.Scope), k.Name, k.Created.UnixMicro(), k.User, k.Env)
	return err
}

// LoadKeys returns every stored key. On DuckDB, user_name and env were
// added to the table later and are NULL in the rows of older keys.
func (s *Store) LoadKeys(ctx context.Context) ([]auth.Key, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, hash, scope, name, created_us, revoked, coalesce(user_name, ''), coalesce(env, '') FROM px_keys`)
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
func (s *Store) RevokeKey(ctx context.Context, id string) error {
	_, err := s.exec(ctx, `UPDATE px_keys SET revoked = true WHERE id = $1`, id)
	return err
}

// PutUser stores (creates or replaces) a user.
func (s *Store) PutUser(ctx context.Context, u auth.User) error {
	body, err := json.Marshal(u)
	if err != nil {
		return err
	}
	return s.putDoc(ctx, "px_users", u.Name, body)
}

// DeleteUser removes a user.
func (s *Store) DeleteUser(ctx context.Context, name string) error {
	return s.deleteDoc(ctx, "px_users", name)
}

// LoadUsers returns every user.
func (s *Store) LoadUsers(ctx context.Context) ([]auth.User, error) {
	docs, err := s.docs(ctx, "px_users")
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

// Audit records a write.
func (s *Store) Audit(ctx context.Context, e store.AuditEntry) error {
	_, err := s.exec(ctx, `INSERT INTO px_audit (time_us, author, key_id, method, path, status) VALUES ($1, $2, $3, $4, $5, $6)`,
		e.Time.UnixMicro(), e.Author, e.KeyID, e.Method, e.Path, e.Status)
	return err
}

// AuditLog returns writes, newest first: by author when author is not
// empty, since a time, at most limit.
func (s *Store) AuditLog(ctx context.Context, author string, since time.Time, limit int) ([]store.AuditEntry, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT time_us, author, key_id, method, path, status FROM px_audit
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
