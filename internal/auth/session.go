package auth

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"time"
)

// A session is a person signed in to the web UI. The server keeps it; the
// browser's cookie holds only its token, random and of no use anywhere
// else, which the server stores hashed, as it stores keys. A session acts
// as the key it was started with does at each request (its scope, its
// user's role and environment), and ends when unused for the idle time,
// at its lifetime however used, at sign-out, and with its key or user.

// Session is a stored session: never its token.
type Session struct {
	Hash    string // SHA-256 of the token, hex
	KeyID   string // the key it was started with
	Created time.Time
	Seen    time.Time // its last request, to touchEvery
}

// SessionStorage persists sessions.
type SessionStorage interface {
	InsertSession(ctx context.Context, s Session) error
	LoadSession(ctx context.Context, hash string) (Session, bool, error)
	TouchSession(ctx context.Context, hash string, seen time.Time) error
	DeleteSession(ctx context.Context, hash string) error
	DeleteSessionsOfKey(ctx context.Context, keyID string) error
	DeleteSessionsBefore(ctx context.Context, seen, created time.Time) error
	// TrimSessionsOfKey keeps a key's keep newest sessions and deletes
	// the others.
	TrimSessionsOfKey(ctx context.Context, keyID string, keep int) error
}

// Defaults of SessionLimits: a working day's pause, and a week.
const (
	DefaultSessionIdle     = 12 * time.Hour
	DefaultSessionLifetime = 7 * 24 * time.Hour
)

// MaxSessionsPerKey bounds the sessions one key holds at once: signing in
// once more ends its oldest, so that signing in in a loop cannot fill the
// metadata store.
const MaxSessionsPerKey = 100

// SessionLimits bound a session's life.
type SessionLimits struct {
	// Idle ends a session unused this long (default DefaultSessionIdle).
	Idle time.Duration
	// Lifetime ends a session this long after sign-in, however much it
	// is used (default DefaultSessionLifetime).
	Lifetime time.Duration
}

// withDefaults fills the limits left zero.
func (l SessionLimits) withDefaults() SessionLimits {
	if l.Idle <= 0 {
		l.Idle = DefaultSessionIdle
	}
	if l.Lifetime <= 0 {
		l.Lifetime = DefaultSessionLifetime
	}
	return l
}

// touchEvery is how stale a session's last use may be stored: a request
// records its time only when the stored one is older, so that browsing is
// not a write per request. A session may so end up to this much before its
// idle time, never after.
func (l SessionLimits) touchEvery() time.Duration { return min(time.Minute, l.Idle/4) }

// expired says whether a session has ended by now.
func (l SessionLimits) expired(s Session, now time.Time) bool {
	return !now.Before(s.Created.Add(l.Lifetime)) || !now.Before(s.Seen.Add(l.Idle))
}

// tokenPrefix starts every session token, as "pdx" starts every key.
const tokenPrefix = "pds"

// validToken says whether t has a token's form: "pds" and 64 hex digits.
func validToken(t string) bool {
	if len(t) != len(tokenPrefix)+64 || t[:len(tokenPrefix)] != tokenPrefix {
		return false
	}
	_, err := hex.DecodeString(t[len(tokenPrefix):])
	return err == nil
}

// LimitSessions sets the sessions' limits (zero fields: the defaults).
// Call it before the keyring is used.
func (r *Keyring) LimitSessions(l SessionLimits) { r.sessions = l.withDefaults() }

// SessionLimits are the limits in force.
func (r *Keyring) SessionLimits() SessionLimits { return r.sessions.withDefaults() }

// StartSession signs a key in: when the key may act with need, it stores a
// new session and returns its token (for the cookie) and the key. Expired
// sessions are dropped from storage on the way, and the key's oldest beyond
// MaxSessionsPerKey.
func (r *Keyring) StartSession(ctx context.Context, secret string, need Scope) (string, Key, error) {
	k, err := r.Check(secret, need)
	if err != nil {
		return "", k, err
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", Key{}, err
	}
	token := tokenPrefix + hex.EncodeToString(b[:])
	l, now := r.SessionLimits(), r.clock()
	if err := r.store.DeleteSessionsBefore(ctx, now.Add(-l.Idle), now.Add(-l.Lifetime)); err != nil {
		return "", Key{}, err
	}
	s := Session{Hash: hash(token), KeyID: k.ID, Created: now, Seen: now}
	if err := r.store.InsertSession(ctx, s); err != nil {
		return "", Key{}, err
	}
	if err := r.store.TrimSessionsOfKey(ctx, k.ID, MaxSessionsPerKey); err != nil {
		return "", Key{}, err
	}
	return token, k, nil
}

// CheckSession authenticates a session's token and authorises it for need,
// as Check does a key: ErrUnauthenticated for a token of no session, of
// one that has ended, or whose key no longer works; ErrForbidden (with the
// key) when the key's scope does not allow need. A session found ended is
// dropped. Any other error is the storage's.
func (r *Keyring) CheckSession(ctx context.Context, token string, need Scope) (Key, error) {
	if !validToken(token) {
		return Key{}, ErrUnauthenticated
	}
	h := hash(token)
	s, ok, err := r.store.LoadSession(ctx, h)
	if err != nil {
		return Key{}, err
	}
	if !ok {
		return Key{}, ErrUnauthenticated
	}
	l, now := r.SessionLimits(), r.clock()
	k, live := r.byKeyID(s.KeyID)
	if l.expired(s, now) || !live {
		if err := r.store.DeleteSession(ctx, h); err != nil {
			return Key{}, err
		}
		return Key{}, ErrUnauthenticated
	}
	if now.Sub(s.Seen) >= l.touchEvery() {
		// A failed touch leaves the session to end sooner, never later:
		// the request goes on.
		_ = r.store.TouchSession(ctx, h, now)
	}
	if !k.Scope.Allows(need) {
		return k, ErrForbidden
	}
	return k, nil
}

// EndSession ends the session of a token (sign-out); ending one that is
// not there is no error.
func (r *Keyring) EndSession(ctx context.Context, token string) error {
	if !validToken(token) {
		return nil
	}
	return r.store.DeleteSession(ctx, hash(token))
}

// SessionEnv is the environment of the key a session token's session was
// started with, "" when unknown. Like EnvOf, it only routes: CheckSession
// then authenticates.
func (r *Keyring) SessionEnv(ctx context.Context, token string) string {
	if !validToken(token) {
		return ""
	}
	s, ok, err := r.store.LoadSession(ctx, hash(token))
	if err != nil || !ok {
		return ""
	}
	k, _ := r.byKeyID(s.KeyID)
	return k.Env
}

// byKeyID is the key of an id as it acts now, and whether it still works
// (not revoked; a personal key's user still there).
func (r *Keyring) byKeyID(id string) (Key, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	k, ok := r.byID[id]
	if !ok || k.Revoked {
		return Key{}, false
	}
	if k.User != "" {
		u, ok := r.users[k.User]
		if !ok {
			return Key{}, false
		}
		k.Scope, _ = u.Role.Scope()
	}
	return r.current(k), true
}

// clock is the keyring's time.
func (r *Keyring) clock() time.Time {
	if r.now != nil {
		return r.now()
	}
	return time.Now()
}
