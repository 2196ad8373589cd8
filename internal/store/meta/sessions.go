package meta

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/prodex/prodex/internal/auth"
)

// Sessions of the web UI, by the hash of their token (the token itself is
// never stored); package auth decides when one has expired.

// InsertSession stores a new session.
func (s *Store) InsertSession(ctx context.Context, se auth.Session) error {
	_, err := s.exec(ctx, `INSERT INTO px_sessions (hash, key_id, created_us, seen_us) VALUES ($1, $2, $3, $4)`,
		se.Hash, se.KeyID, se.Created.UnixMicro(), se.Seen.UnixMicro())
	return err
}

// LoadSession reads the session whose token hashes to hash (ok false when
// there is none).
func (s *Store) LoadSession(ctx context.Context, hash string) (se auth.Session, ok bool, err error) {
	var created, seen int64
	err = s.db.QueryRowContext(ctx, `SELECT hash, key_id, created_us, seen_us FROM px_sessions WHERE hash = $1`, hash).
		Scan(&se.Hash, &se.KeyID, &created, &seen)
	if errors.Is(err, sql.ErrNoRows) {
		return auth.Session{}, false, nil
	}
	if err != nil {
		return auth.Session{}, false, err
	}
	se.Created, se.Seen = time.UnixMicro(created).UTC(), time.UnixMicro(seen).UTC()
	return se, true, nil
}

// TouchSession records that a session was used at seen.
func (s *Store) TouchSession(ctx context.Context, hash string, seen time.Time) error {
	_, err := s.exec(ctx, `UPDATE px_sessions SET seen_us = $2 WHERE hash = $1`, hash, seen.UnixMicro())
	return err
}

// DeleteSession ends one session; ending one that is not there is no
// error.
func (s *Store) DeleteSession(ctx context.Context, hash string) error {
	_, err := s.exec(ctx, `DELETE FROM px_sessions WHERE hash = $1`, hash)
	return err
}

// DeleteSessionsOfKey ends every session signed in with a key.
func (s *Store) DeleteSessionsOfKey(ctx context.Context, keyID string) error {
	_, err := s.exec(ctx, `DELETE FROM px_sessions WHERE key_id = $1`, keyID)
	return err
}

// DeleteSessionsBefore drops the sessions last used before seen or made
// before created: those that have expired.
func (s *Store) DeleteSessionsBefore(ctx context.Context, seen, created time.Time) error {
	_, err := s.exec(ctx, `DELETE FROM px_sessions WHERE seen_us < $1 OR created_us < $2`, seen.UnixMicro(), created.UnixMicro())
	return err
}

// TrimSessionsOfKey keeps a key's keep newest sessions (by sign-in time)
// and deletes the others.
func (s *Store) TrimSessionsOfKey(ctx context.Context, keyID string, keep int) error {
	_, err := s.exec(ctx, `DELETE FROM px_sessions WHERE key_id = $1 AND hash NOT IN
		(SELECT hash FROM px_sessions WHERE key_id = $1 ORDER BY created_us DESC, hash LIMIT $2)`, keyID, keep)
	return err
}
