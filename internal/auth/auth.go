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
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prodex/prodex/internal/problem"
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
	User string `json:"user,omitempty"`
	// Env is the environment the key works in ("" for the default one):
	// it never reads or writes another environment's data.
	Env     string    `json:"environment,omitempty"`
	Created time.Time `json:"created_at"`
	Revoked bool      `json:"revoked"`
}

// Storage persists keys, users and the web UI's sessions.
type Storage interface {
	SessionStorage
	InsertKey(ctx context.Context, k Key) error
	LoadKeys(ctx context.Context) ([]Key, error)
	RevokeKey(ctx context.Context, id string) error
	PutUser(ctx context.Context, u User) error
	DeleteUser(ctx context.Context, name string) error
	LoadUsers(ctx context.Context) ([]User, error)
}

// ErrNoUser is returned, wrapped, for a user that does not exist; it is a
// problem.ErrNotFound.
var ErrNoUser = problem.Errorf(problem.NotFound, "no user")

// Role is what a person may do; their personal keys act with its scope.
type Role string

// Roles: viewers query, editors also send events and write what the team
// shares, admins do everything.
const (
	Viewer    Role = "viewer"
	Editor    Role = "editor"
	RoleAdmin Role = "admin"
)

// Scope is the scope a role's keys act with.
func (r Role) Scope() (Scope, error) {
	switch r {
	case Viewer:
		return Query, nil
	case Editor:
		return Edit, nil
	case RoleAdmin:
		return Admin, nil
	}
	return "", fmt.Errorf("unknown role %q (want viewer, editor or admin)", r)
}

// User is a person with a role.
type User struct {
	Name    string    `json:"name"`
	Email   string    `json:"email,omitempty"`
	Role    Role      `json:"role"`
	Env     string    `json:"environment,omitempty"` // where their keys work
	Created time.Time `json:"created_at"`
}

var envRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)

// CheckEnv validates an environment name; "" is the default environment.
func CheckEnv(env string) error {
	if env != "" && !envRE.MatchString(env) {
		return fmt.Errorf("environment: %q must be 1 to 32 lower-case letters, digits and '-'", env)
	}
	return nil
}

var userRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

// Validate checks a user's name, email and role.
func (u User) Validate() error {
	if !userRE.MatchString(u.Name) {
		return fmt.Errorf("name: %q must be 1 to 63 lower-case letters, digits, '.', '_' or '-'", u.Name)
	}
	if u.Email != "" && (!strings.Contains(u.Email, "@") || len(u.Email) > 254 || strings.ContainsAny(u.Email, " <>\"\r\n")) {
		return fmt.Errorf("email: %q is not an email address", u.Email)
	}
	if _, err := u.Role.Scope(); err != nil {
		return fmt.Errorf("role: %w", err)
	}
	return CheckEnv(u.Env)
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

// Keyring checks presented keys against the stored ones, cached in memory,
// and keeps the users their personal keys belong to.
type Keyring struct {
	store Storage
	// wmu orders this keyring's writes with Reload, so that a reload
	// read before a write cannot swap out what the write just added.
	wmu   sync.Mutex
	mu    sync.RWMutex
	byID  map[string]Key
	users map[string]User
	// sessions are the limits of the web UI's sessions (LimitSessions).
	sessions SessionLimits
	// now is the clock of sessions (nil: time.Now); tests set it.
	now func() time.Time
}

// NewKeyring loads the keys and users from storage.
func NewKeyring(ctx context.Context, st Storage) (*Keyring, error) {
	r := &Keyring{store: st}
	if err := r.Reload(ctx); err != nil {
		return nil, err
	}
	return r, nil
}

// Reload reads the keys and users from storage again, so that keys created
// or revoked, and users changed, by other nodes sharing the storage take
// effect here. On failure the keyring keeps what it had.
func (r *Keyring) Reload(ctx context.Context) error {
	r.wmu.Lock()
	defer r.wmu.Unlock()
	keys, err := r.store.LoadKeys(ctx)
	if err != nil {
		return err
	}
	users, err := r.store.LoadUsers(ctx)
	if err != nil {
		return err
	}
	byID := make(map[string]Key, len(keys))
	for _, k := range keys {
		byID[k.ID] = k
	}
	byName := make(map[string]User, len(users))
	for _, u := range users {
		byName[u.Name] = u
	}
	r.mu.Lock()
	r.byID, r.users = byID, byName
	r.mu.Unlock()
	return nil
}

// Create makes, stores and returns a new team key of the default
// environment and its secret.
func (r *Keyring) Create(ctx context.Context, scope Scope, name string) (string, Key, error) {
	return r.create(ctx, scope, name, "", "")
}

// CreateIn is Create for a key of environment env.
func (r *Keyring) CreateIn(ctx context.Context, env string, scope Scope, name string) (string, Key, error) {
	if err := CheckEnv(env); err != nil {
		return "", Key{}, err
	}
	return r.create(ctx, scope, name, "", env)
}

// EnvOf is the environment of the key a secret names, "" when unknown. It
// does not authenticate: it only says where to send the request, whose
// handler then checks the key.
func (r *Keyring) EnvOf(secret string) string {
	if len(secret) != 51 || secret[:3] != "pdx" {
		return ""
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.current(r.byID[secret[3:11]]).Env
}

// current is k as it acts now (r.mu held): a personal key in its user's
// environment of the moment, whatever it was made in, so that a person
// moved elsewhere keeps no power where they left.
func (r *Keyring) current(k Key) Key {
	if k.User != "" {
		if u, ok := r.users[k.User]; ok {
			k.Env = u.Env
		}
	}
	return k
}

// CreateFor makes a personal key of a user: it acts with the user's role,
// whatever that role becomes, and dies with the user.
func (r *Keyring) CreateFor(ctx context.Context, user, name string) (string, Key, error) {
	r.mu.RLock()
	u, ok := r.users[user]
	r.mu.RUnlock()
	if !ok {
		return "", Key{}, fmt.Errorf("%w %q", ErrNoUser, user)
	}
	scope, _ := u.Role.Scope()
	return r.create(ctx, scope, name, user, u.Env)
}

func (r *Keyring) create(ctx context.Context, scope Scope, name, user, env string) (string, Key, error) {
	if _, err := ParseScope(string(scope)); err != nil {
		return "", Key{}, err
	}
	secret, k, err := New(scope, name, time.Now())
	if err != nil {
		return "", Key{}, err
	}
	k.User, k.Env = user, env
	r.wmu.Lock()
	defer r.wmu.Unlock()
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
	r.wmu.Lock()
	defer r.wmu.Unlock()
	return r.revoke(ctx, id)
}

func (r *Keyring) revoke(ctx context.Context, id string) error {
	r.mu.RLock()
	_, ok := r.byID[id]
	r.mu.RUnlock()
	if !ok {
		return problem.Errorf(problem.NotFound, "no key with id %q", id)
	}
	if err := r.store.RevokeKey(ctx, id); err != nil {
		return err
	}
	r.mu.Lock()
	k := r.byID[id]
	k.Revoked = true
	r.byID[id] = k
	r.mu.Unlock()
	// Its sessions would be refused anyway (CheckSession asks for the
	// key); dropping them is the revocation on disk too.
	return r.store.DeleteSessionsOfKey(ctx, id)
}

// UserChange is a change to a person: the fields it carries change, those
// it leaves out (nil) keep their values. Making a person needs a role.
type UserChange struct {
	Name  string  `json:"name,omitempty"` // the person changed; an API request's path names them
	Role  *Role   `json:"role,omitempty"`
	Email *string `json:"email,omitempty"`
	// Env moves the person and their keys to another environment ("" the
	// default one).
	Env *string `json:"environment,omitempty"`
}

// ChangeUser creates (created true) or changes the user c names; what c
// leaves out keeps its value, so a role change does not move anyone. Their
// keys act with the result at once.
func (r *Keyring) ChangeUser(ctx context.Context, c UserChange) (u User, created bool, err error) {
	r.wmu.Lock()
	defer r.wmu.Unlock()
	r.mu.RLock()
	u, existed := r.users[c.Name]
	r.mu.RUnlock()
	if !existed && c.Role == nil {
		return User{}, false, errors.New("role: required for a new user (viewer, editor or admin)")
	}
	u.Name = c.Name
	if c.Role != nil {
		u.Role = *c.Role
	}
	if c.Email != nil {
		u.Email = *c.Email
	}
	if c.Env != nil {
		u.Env = *c.Env
	}
	return r.setUser(ctx, u)
}

// SetUser creates or replaces a user; their keys take the new role and
// environment at once.
func (r *Keyring) SetUser(ctx context.Context, u User) (User, bool, error) {
	r.wmu.Lock()
	defer r.wmu.Unlock()
	return r.setUser(ctx, u)
}

// setUser stores u (r.wmu held).
func (r *Keyring) setUser(ctx context.Context, u User) (User, bool, error) {
	if err := u.Validate(); err != nil {
		return User{}, false, err
	}
	r.mu.RLock()
	old, existed := r.users[u.Name]
	r.mu.RUnlock()
	if existed {
		u.Created = old.Created
	} else {
		u.Created = time.Now().UTC()
	}
	if err := r.store.PutUser(ctx, u); err != nil {
		return User{}, false, err
	}
	r.mu.Lock()
	r.users[u.Name] = u
	r.mu.Unlock()
	return u, !existed, nil
}

// DeleteUser removes a user and revokes their keys.
func (r *Keyring) DeleteUser(ctx context.Context, name string) error {
	r.wmu.Lock()
	defer r.wmu.Unlock()
	r.mu.RLock()
	_, ok := r.users[name]
	var keys []string
	for id, k := range r.byID {
		if k.User == name && !k.Revoked {
			keys = append(keys, id)
		}
	}
	r.mu.RUnlock()
	if !ok {
		return fmt.Errorf("%w %q", ErrNoUser, name)
	}
	for _, id := range keys {
		if err := r.revoke(ctx, id); err != nil {
			return err
		}
	}
	if err := r.store.DeleteUser(ctx, name); err != nil {
		return err
	}
	r.mu.Lock()
	delete(r.users, name)
	r.mu.Unlock()
	return nil
}

// Users lists the users, by name.
func (r *Keyring) Users() []User {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]User, 0, len(r.users))
	for _, u := range r.users {
		out = append(out, u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// List returns the keys (without secrets), each personal key in its
// user's environment of now.
func (r *Keyring) List() []Key {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]Key, 0, len(r.byID))
	for _, k := range r.byID {
		out = append(out, r.current(k))
	}
	return out
}

// Check authenticates a presented secret and authorises it for need.
func (r *Keyring) Check(secret string, need Scope) (Key, error) {
	if len(secret) != 51 || secret[:3] != "pdx" {
		return Key{}, ErrUnauthenticated
	}
	r.mu.RLock()
	stored, ok := r.byID[secret[3:11]]
	r.mu.RUnlock()
	if !ok || subtle.ConstantTimeCompare([]byte(stored.Hash), []byte(hash(secret))) != 1 {
		return Key{}, ErrUnauthenticated
	}
	// A personal key acts with its user's role, in their environment, of
	// now.
	k, live := r.byKeyID(stored.ID)
	if !live {
		return Key{}, ErrUnauthenticated
	}
	if !k.Scope.Allows(need) {
		return k, ErrForbidden
	}
	return k, nil
}
