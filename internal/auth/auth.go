// Package auth issues and checks API keys. A key carries one scope; only a
// SHA-256 hash of it is stored, and presented keys are compared by hash in
// constant time.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Scope is what a key may do.
type Scope string

// Scopes. Admin may do everything; edit may ingest, query and write what
// the team shares (markers, notes, saved queries, incidents); ingest and
// query only what they say.
const (
	Ingest Scope = "ingest"
	Query  Scope = "query"
	Edit   Scope = "edit"
	Admin  Scope = "admin"
)

// ParseScope validates a scope name.
func ParseScope(s string) (Scope, error) {
	switch Scope(s) {
	case Ingest, Query, Edit, Admin:
		return Scope(s), nil
	}
	return "", fmt.Errorf("unknown scope %q (want ingest, query, edit or admin)", s)
}

// Allows reports whether a key of scope k may act with scope need.
func (k Scope) Allows(need Scope) bool {
	return k == Admin || k == need || k == Edit && (need == Query || need == Ingest)
}

// Key is a stored key: never the secret itself.
type Key struct {
	ID    string `json:"id"`
	Hash  string `json:"-"`
	Scope Scope  `json:"scope"`
	Name  string `json:"name"`
	// User is the person a personal key belongs to ("" for a team key).
	User    string    `json:"user,omitempty"`
	Created time.Time `json:"created_at"`
	Revoked bool      `json:"revoked"`
}

// Storage persists keys.
type Storage interface {
	InsertKey(ctx context.Context, k Key) error
	LoadKeys(ctx context.Context) ([]Key, error)
	RevokeKey(ctx context.Context, id string) error
}

// New makes a key: it returns the secret, shown once, and its stored form.
// The secret is "pdx" + 8 hex id + 40 hex random characters.
func New(scope Scope, name string, now time.Time) (secret string, k Key, err error) {
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", Key{}, err
	}
	id := hex.EncodeToString(b[:4])
	secret = "pdx" + id + hex.EncodeToString(b[4:])
	return secret, Key{ID: id, Hash: hash(secret), Scope: scope, Name: name, Created: now.UTC()}, nil
}

func hash(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// Errors of Check. The API maps ErrUnauthenticated to 401 and ErrForbidden to 403.
var (
	ErrUnauthenticated = errors.New("missing or unknown API key")
	ErrForbidden       = errors.New("API key lacks the required scope")
)

// Keyring checks presented keys against the stored ones, cached in memory.
type Keyring struct {
	store Storage
	mu    sync.RWMutex
	byID  map[string]Key
}

// NewKeyring loads the keys from storage.
func NewKeyring(ctx context.Context, st Storage) (*Keyring, error) {
	r := &Keyring{store: st, byID: map[string]Key{}}
	keys, err := st.LoadKeys(ctx)
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		r.byID[k.ID] = k
	}
	return r, nil
}

// Create makes, stores and returns a new key and its secret.
func (r *Keyring) Create(ctx context.Context, scope Scope, name string) (string, Key, error) {
	if _, err := ParseScope(string(scope)); err != nil {
		return "", Key{}, err
	}
	secret, k, err := New(scope, name, time.Now())
	if err != nil {
		return "", Key{}, err
	}
	if err := r.store.InsertKey(ctx, k); err != nil {
		return "", Key{}, err
	}
	r.mu.Lock()
	r.byID[k.ID] = k
	r.mu.Unlock()
	return secret, k, nil
}

// Revoke disables a key.
func (r *Keyring) Revoke(ctx context.Context, id string) error {
	r.mu.RLock()
	_, ok := r.byID[id]
	r.mu.RUnlock()
	if !ok {
		return fmt.Errorf("no key with id %q", id)
	}
	if err := r.store.RevokeKey(ctx, id); err != nil {
		return err
	}
	r.mu.Lock()
	k := r.byID[id]
	k.Revoked = true
	r.byID[id] = k
	r.mu.Unlock()
	return nil
}

// List returns the keys (without secrets).
func (r *Keyring) List() []Key {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]Key, 0, len(r.byID))
	for _, k := range r.byID {
		out = append(out, k)
	}
	return out
}

// Check authenticates a presented secret and authorises it for need.
func (r *Keyring) Check(secret string, need Scope) (Key, error) {
	if len(secret) != 51 || secret[:3] != "pdx" {
		return Key{}, ErrUnauthenticated
	}
	r.mu.RLock()
	k, ok := r.byID[secret[3:11]]
	r.mu.RUnlock()
	if !ok || k.Revoked || subtle.ConstantTimeCompare([]byte(k.Hash), []byte(hash(secret))) != 1 {
		return Key{}, ErrUnauthenticated
	}
	if !k.Scope.Allows(need) {
		return k, ErrForbidden
	}
	return k, nil
}
