package auth

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// Sessions in memStorage, by hash.

func (m *memStorage) InsertSession(_ context.Context, s Session) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.sessions == nil {
		m.sessions = map[string]Session{}
	}
	m.sessions[s.Hash] = s
	return nil
}

func (m *memStorage) LoadSession(_ context.Context, hash string) (Session, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.sessions[hash]
	return s, ok, nil
}

func (m *memStorage) TouchSession(_ context.Context, hash string, seen time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s, ok := m.sessions[hash]; ok {
		s.Seen = seen
		m.sessions[hash] = s
	}
	return nil
}

func (m *memStorage) DeleteSession(_ context.Context, hash string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.sessions, hash)
	return nil
}

func (m *memStorage) DeleteSessionsOfKey(_ context.Context, keyID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for h, s := range m.sessions {
		if s.KeyID == keyID {
			delete(m.sessions, h)
		}
	}
	return nil
}

func (m *memStorage) DeleteSessionsBefore(_ context.Context, seen, created time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for h, s := range m.sessions {
		if s.Seen.Before(seen) || s.Created.Before(created) {
			delete(m.sessions, h)
		}
	}
	return nil
}

func (m *memStorage) TrimSessionsOfKey(_ context.Context, keyID string, keep int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var of []Session
	for _, s := range m.sessions {
		if s.KeyID == keyID {
			of = append(of, s)
		}
	}
	slices.SortFunc(of, func(a, b Session) int {
		if c := b.Created.Compare(a.Created); c != 0 {
			return c
		}
		return strings.Compare(a.Hash, b.Hash)
	})
	for _, s := range of[min(keep, len(of)):] {
		delete(m.sessions, s.Hash)
	}
	return nil
}

func (m *memStorage) session(token string) (Session, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.sessions[sha(token)]
	return s, ok
}

// clock is a time tests move by hand.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

var sessionT0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

func startSession(t *testing.T, r *Keyring, secret string) string {
	t.Helper()
	token, _, err := r.StartSession(context.Background(), secret, Query)
	if err != nil {
		t.Fatal(err)
	}
	return token
}

// TestSessionDefaults pins the limits a keyring starts with: 12 hours
// idle, 7 days in all, the last use stored to the minute.
func TestSessionDefaults(t *testing.T) {
	l := newRing(t, &memStorage{}).SessionLimits()
	if l.Idle != 12*time.Hour || l.Lifetime != 7*24*time.Hour || l.touchEvery() != time.Minute {
		t.Errorf("defaults %+v, touch every %s", l, l.touchEvery())
	}
	if l := (SessionLimits{Idle: 2 * time.Second}).withDefaults(); l.touchEvery() != 500*time.Millisecond || l.Lifetime != DefaultSessionLifetime {
		t.Errorf("a short idle time: %+v, touch every %s", l, l.touchEvery())
	}
}

// TestSessionHoldsNoKey: a session's token is random, of its own form,
// and stored only as its hash; it acts as its key; a key, or anything but
// a token of a live session, is no session.
func TestSessionHoldsNoKey(t *testing.T) {
	ctx := context.Background()
	st := &memStorage{}
	r := newRing(t, st)
	secret, k := create(t, r, Admin, "ui")
	token, got, err := r.StartSession(ctx, secret, Query)
	if err != nil || got.ID != k.ID {
		t.Fatal(got, err)
	}
	if !validToken(token) || strings.Contains(token, secret[3:]) || strings.Contains(token, k.ID) {
		t.Errorf("token %q", token)
	}
	s, ok := st.session(token)
	if !ok || s.KeyID != k.ID || s.Hash != sha(token) {
		t.Fatalf("stored %+v %v", s, ok)
	}
	if other := startSession(t, r, secret); other == token {
		t.Error("two sessions share a token")
	}
	if k2, err := r.CheckSession(ctx, token, Admin); err != nil || k2.ID != k.ID || k2.Scope != Admin {
		t.Errorf("CheckSession: %+v %v", k2, err)
	}
	for _, bad := range []string{"", secret, token[:len(token)-1], token[:len(token)-1] + "g", "pds" + strings.Repeat("0", 64)} {
		if _, err := r.CheckSession(ctx, bad, Query); !errors.Is(err, ErrUnauthenticated) {
			t.Errorf("CheckSession(%q): %v", bad, err)
		}
	}
	// Signing in needs a key that may use the UI.
	ingest, _ := create(t, r, Ingest, "shipper")
	if _, _, err := r.StartSession(ctx, ingest, Query); !errors.Is(err, ErrForbidden) {
		t.Errorf("an ingest key signed in: %v", err)
	}
	if _, _, err := r.StartSession(ctx, "pdx"+strings.Repeat("0", 48), Query); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("an unknown key signed in: %v", err)
	}
	if n := len(st.sessions); n != 2 {
		t.Errorf("%d sessions stored, want 2", n)
	}
}

// TestSessionExpiry pins when a session ends: Idle after its last use
// (stored to touchEvery), Lifetime after sign-in however used; an ended
// session is dropped, and signing in drops every ended one.
func TestSessionExpiry(t *testing.T) {
	ctx := context.Background()
	st := &memStorage{}
	r := newRing(t, st)
	c := &clock{t: sessionT0}
	r.now = c.now
	r.LimitSessions(SessionLimits{Idle: time.Hour, Lifetime: 5 * time.Hour})
	secret, _ := create(t, r, Query, "ui")
	check := func(token string, at time.Time, want error) {
		t.Helper()
		c.t = at
		if _, err := r.CheckSession(ctx, token, Query); !errors.Is(err, want) {
			t.Errorf("at t0+%s: %v, want %v", at.Sub(sessionT0), err, want)
		}
	}

	// Idle: an hour after the last use stored. A use less than a minute
	// after the stored one is not stored, so the session ends up to a
	// minute early, never late.
	a, b, early := startSession(t, r, secret), startSession(t, r, secret), startSession(t, r, secret)
	check(early, sessionT0.Add(30*time.Second), nil)
	if s, _ := st.session(early); !s.Seen.Equal(sessionT0) {
		t.Errorf("a use within a minute was stored: %s", s.Seen)
	}
	used := sessionT0.Add(40 * time.Minute)
	check(a, used, nil)
	if s, _ := st.session(a); !s.Seen.Equal(used) {
		t.Errorf("last use stored %s, want %s", s.Seen, used)
	}
	check(b, sessionT0.Add(time.Hour-time.Nanosecond), nil)
	check(early, sessionT0.Add(time.Hour), ErrUnauthenticated)
	check(a, used.Add(time.Hour-time.Nanosecond), nil)
	check(b, sessionT0.Add(time.Hour-time.Nanosecond).Add(time.Hour), ErrUnauthenticated)
	if _, ok := st.session(b); ok {
		t.Error("an ended session stays stored")
	}

	// Lifetime: used every 30 minutes, it ends 5 hours after sign-in.
	c.t = sessionT0
	busy := startSession(t, r, secret)
	for at := sessionT0; at.Before(sessionT0.Add(5 * time.Hour)); at = at.Add(30 * time.Minute) {
		check(busy, at, nil)
	}
	check(busy, sessionT0.Add(5*time.Hour-time.Nanosecond), nil)
	check(busy, sessionT0.Add(5*time.Hour), ErrUnauthenticated)

	// Signing in drops the sessions that ended meanwhile.
	c.t = sessionT0
	stale := startSession(t, r, secret)
	c.t = sessionT0.Add(2 * time.Hour)
	startSession(t, r, secret)
	if _, ok := st.session(stale); ok {
		t.Error("signing in left an ended session stored")
	}
}

// TestSessionEnds: at sign-out, when its key is revoked, when its user is
// deleted; it follows its user's role and environment meanwhile.
func TestSessionEnds(t *testing.T) {
	ctx := context.Background()
	st := &memStorage{}
	r := newRing(t, st)
	secret, k := create(t, r, Query, "ui")

	out := startSession(t, r, secret)
	if err := r.EndSession(ctx, out); err != nil {
		t.Fatal(err)
	}
	if _, err := r.CheckSession(ctx, out, Query); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("after sign-out: %v", err)
	}
	if err := r.EndSession(ctx, out); err != nil {
		t.Errorf("signing out twice: %v", err)
	}

	revoked := startSession(t, r, secret)
	if err := r.Revoke(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	if _, ok := st.session(revoked); ok {
		t.Error("revoking the key left its session stored")
	}
	if _, err := r.CheckSession(ctx, revoked, Query); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("after revoking the key: %v", err)
	}

	viewer, staging := Viewer, "staging"
	r.ChangeUser(ctx, UserChange{Name: "ann", Role: &viewer})
	personal, _, err := r.CreateFor(ctx, "ann", "laptop")
	if err != nil {
		t.Fatal(err)
	}
	sess := startSession(t, r, personal)
	if _, err := r.CheckSession(ctx, sess, Edit); !errors.Is(err, ErrForbidden) {
		t.Errorf("a viewer's session may edit: %v", err)
	}
	editor := Editor
	r.ChangeUser(ctx, UserChange{Name: "ann", Role: &editor, Env: &staging})
	if got, err := r.CheckSession(ctx, sess, Edit); err != nil || got.Env != "staging" {
		t.Errorf("after promoting and moving ann: %+v %v", got, err)
	}
	if env := r.SessionEnv(ctx, sess); env != "staging" {
		t.Errorf("SessionEnv %q", env)
	}
	if err := r.DeleteUser(ctx, "ann"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.CheckSession(ctx, sess, Query); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("after deleting the user: %v", err)
	}
	if len(st.sessions) != 0 {
		t.Errorf("sessions left: %+v", st.sessions)
	}
}

// TestSessionsPerKeyBounded: a key holds at most MaxSessionsPerKey (100)
// sessions; signing in once more ends its oldest, not another key's.
func TestSessionsPerKeyBounded(t *testing.T) {
	ctx := context.Background()
	st := &memStorage{}
	r := newRing(t, st)
	c := &clock{t: sessionT0}
	r.now = c.now
	if MaxSessionsPerKey != 100 {
		t.Errorf("MaxSessionsPerKey %d, want 100", MaxSessionsPerKey)
	}
	secret, _ := create(t, r, Query, "ui")
	other, _ := create(t, r, Query, "other")
	otherSession := startSession(t, r, other)
	var tokens []string
	for i := range MaxSessionsPerKey + 1 {
		c.t = sessionT0.Add(time.Duration(i) * time.Second)
		tokens = append(tokens, startSession(t, r, secret))
	}
	if _, err := r.CheckSession(ctx, tokens[0], Query); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("the oldest session past the bound: %v", err)
	}
	for _, tok := range append(tokens[1:], otherSession) {
		if _, err := r.CheckSession(ctx, tok, Query); err != nil {
			t.Fatalf("a session within the bound: %v", err)
		}
	}
	if n := len(st.sessions); n != MaxSessionsPerKey+1 {
		t.Errorf("%d sessions stored, want %d", n, MaxSessionsPerKey+1)
	}
}
