package metatest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prodex/prodex/internal/auth"
)

func loadSession(t *testing.T, s Store, hash string) (auth.Session, bool) {
	t.Helper()
	se, ok, err := s.LoadSession(context.Background(), hash)
	if err != nil {
		t.Fatal(err)
	}
	return se, ok
}

// testSessions: sessions read back as inserted (times in UTC, to the
// microsecond), by hash only; a touch moves the last use; they are deleted
// one by one, by key, and by their times (last use before one, or made
// before another), a key's are trimmed to its newest, and deleting what is
// not there is no error.
func testSessions(t *testing.T, s Store) {
	ctx := context.Background()
	if _, ok := loadSession(t, s, "nope"); ok {
		t.Fatal("a session in an empty store")
	}
	a := auth.Session{Hash: "h-a", KeyID: "k1", Created: t0, Seen: t0.Add(time.Minute).In(time.FixedZone("CET", 3600))}
	b := auth.Session{Hash: "h-b", KeyID: "k1", Created: t0.Add(time.Hour), Seen: t0.Add(time.Hour)}
	c := auth.Session{Hash: hostile, KeyID: "k2", Created: t0.Add(-time.Hour), Seen: t0.Add(3 * time.Hour)}
	for _, se := range []auth.Session{a, b, c} {
		if err := s.InsertSession(ctx, se); err != nil {
			t.Fatal(err)
		}
	}
	same := func(what string, got auth.Session, ok bool, want auth.Session) {
		t.Helper()
		if !ok || got.Hash != want.Hash || got.KeyID != want.KeyID || !got.Created.Equal(want.Created) || !got.Seen.Equal(want.Seen) ||
			got.Created.Location() != time.UTC || got.Seen.Location() != time.UTC {
			t.Errorf("%s: %+v (found %v), want %+v", what, got, ok, want)
		}
	}
	for _, want := range []auth.Session{a, b, c} {
		got, ok := loadSession(t, s, want.Hash)
		same("inserted", got, ok, want)
	}

	seen := t0.Add(90 * time.Minute).Add(123 * time.Microsecond)
	if err := s.TouchSession(ctx, "h-b", seen); err != nil {
		t.Fatal(err)
	}
	b.Seen = seen
	got, ok := loadSession(t, s, "h-b")
	same("touched", got, ok, b)
	if err := s.TouchSession(ctx, "unknown", seen); err != nil {
		t.Errorf("touching an unknown session: %v", err)
	}

	// Ended by their times: a was last used before t0+30m.
	if err := s.DeleteSessionsBefore(ctx, t0.Add(30*time.Minute), t0.Add(-2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, ok := loadSession(t, s, "h-a"); ok {
		t.Error("a session last used before the bound is left")
	}
	got, ok = loadSession(t, s, hostile)
	same("a session made after the bound", got, ok, c)
	// c was made before t0.
	if err := s.DeleteSessionsBefore(ctx, t0, t0); err != nil {
		t.Fatal(err)
	}
	if _, ok := loadSession(t, s, hostile); ok {
		t.Error("a session made before the bound is left")
	}
	got, ok = loadSession(t, s, "h-b")
	same("the session within both bounds", got, ok, b)

	if err := s.InsertSession(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSession(ctx, "h-b"); err != nil {
		t.Fatal(err)
	}
	if _, ok := loadSession(t, s, "h-b"); ok {
		t.Error("a deleted session is left")
	}
	if err := s.DeleteSessionsOfKey(ctx, "k1"); err != nil {
		t.Fatal(err)
	}
	if _, ok := loadSession(t, s, "h-a"); ok {
		t.Error("a session of a key whose sessions were deleted is left")
	}

	// Trimmed to a key's newest: the others' sessions stay.
	for i := range 5 {
		se := auth.Session{Hash: fmt.Sprintf("t-%d", i), KeyID: "k3", Created: t0.Add(time.Duration(i) * time.Minute), Seen: t0}
		if err := s.InsertSession(ctx, se); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.InsertSession(ctx, auth.Session{Hash: "other", KeyID: "k4", Created: t0, Seen: t0}); err != nil {
		t.Fatal(err)
	}
	if err := s.TrimSessionsOfKey(ctx, "k3", 2); err != nil {
		t.Fatal(err)
	}
	for h, want := range map[string]bool{"t-0": false, "t-1": false, "t-2": false, "t-3": true, "t-4": true, "other": true} {
		if _, ok := loadSession(t, s, h); ok != want {
			t.Errorf("after trimming k3 to 2: session %s there %v, want %v", h, ok, want)
		}
	}
	if err := s.TrimSessionsOfKey(ctx, "k9", 2); err != nil {
		t.Errorf("trimming a key without sessions: %v", err)
	}

	for _, err := range []error{s.DeleteSession(ctx, "h-b"), s.DeleteSessionsOfKey(ctx, "k9"), s.DeleteSession(ctx, hostile)} {
		if err != nil {
			t.Errorf("deleting what is not there: %v", err)
		}
	}
}
