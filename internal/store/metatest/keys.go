package metatest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prodex/prodex/internal/auth"
)

func loadKeys(t *testing.T, s Store) []auth.Key {
	t.Helper()
	keys, err := s.LoadKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// In no particular order: the keyring indexes them.
	slices.SortFunc(keys, func(a, b auth.Key) int { return strings.Compare(a.ID, b.ID) })
	return keys
}

func sameKeys(t *testing.T, what string, got, want []auth.Key) {
	t.Helper()
	ok := len(got) == len(want)
	for i := 0; ok && i < len(got); i++ {
		g, w := got[i], want[i]
		ok = g.ID == w.ID && g.Hash == w.Hash && g.Scope == w.Scope && g.Name == w.Name && g.User == w.User &&
			g.Env == w.Env && g.Created.Equal(w.Created) && g.Created.Location() == time.UTC && g.Revoked == w.Revoked
	}
	if !ok {
		t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

// testKeys: keys read back as inserted (creation time in UTC), personal
// and team keys alike, and revoking marks one key only.
func testKeys(t *testing.T, s Store) {
	ctx := context.Background()
	sameKeys(t, "empty store", loadKeys(t, s), nil)
	team := auth.Key{ID: "k1", Hash: "sha256:0a1b", Scope: auth.Admin, Name: "CI " + hostile, Created: t0}
	personal := auth.Key{ID: "k2", Hash: "sha256:2c3d", Scope: auth.Query, Name: "ana's laptop", User: "ana", Env: "staging",
		Created: t0.Add(time.Hour).In(time.FixedZone("CET", 3600))}
	for _, k := range []auth.Key{team, personal} {
		if err := s.InsertKey(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	sameKeys(t, "inserted", loadKeys(t, s), []auth.Key{team, personal})

	if err := s.RevokeKey(ctx, team.ID); err != nil {
		t.Fatal(err)
	}
	team.Revoked = true
	sameKeys(t, "after revoking k1", loadKeys(t, s), []auth.Key{team, personal})
	for _, id := range []string{team.ID, "unknown", hostile} {
		if err := s.RevokeKey(ctx, id); err != nil {
			t.Errorf("RevokeKey(%q): %v", id, err)
		}
	}
	sameKeys(t, "after revoking again and unknown keys", loadKeys(t, s), []auth.Key{team, personal})
}

func loadUsers(t *testing.T, s Store) string {
	t.Helper()
	users, err := s.LoadUsers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(users, func(a, b auth.User) int { return strings.Compare(a.Name, b.Name) })
	out := []string{}
	for _, u := range users {
		out = append(out, fmt.Sprintf("%s|%s|%s|%s|%s", u.Name, u.Email, u.Role, u.Env, u.Created.UTC().Format(time.RFC3339Nano)))
	}
	return strings.Join(out, "\n")
}

// testUsers: users are stored, replaced and deleted by name; deleting one
// that is not there is no error.
func testUsers(t *testing.T, s Store) {
	ctx := context.Background()
	if got := loadUsers(t, s); got != "" {
		t.Fatalf("empty store: %s", got)
	}
	for _, u := range []auth.User{
		{Name: "ana", Email: "ana@example.com", Role: auth.Editor, Env: "staging", Created: t0},
		{Name: "bob", Role: auth.Viewer, Created: t0.Add(time.Hour)},
		{Name: hostile, Role: auth.Viewer, Created: t0},
	} {
		if err := s.PutUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	want := hostile + "||viewer||2026-11-24T10:00:00Z\n" +
		"ana|ana@example.com|editor|staging|2026-11-24T10:00:00Z\n" +
		"bob||viewer||2026-11-24T11:00:00Z"
	if got := loadUsers(t, s); got != want {
		t.Errorf("users:\n%s\nwant\n%s", got, want)
	}
	if err := s.PutUser(ctx, auth.User{Name: "ana", Role: auth.RoleAdmin, Created: t0}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUser(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUser(ctx, hostile); err != nil {
		t.Fatal(err)
	}
	if got, want := loadUsers(t, s), "ana||admin||2026-11-24T10:00:00Z"; got != want {
		t.Errorf("after replacing ana and deleting bob:\n%s\nwant\n%s", got, want)
	}
	for _, name := range []string{"bob", "never-there"} {
		if err := s.DeleteUser(ctx, name); err != nil {
			t.Errorf("DeleteUser(%q): %v", name, err)
		}
	}
}
