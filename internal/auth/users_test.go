package auth

import (
	"context"
	"testing"
)

// TestPersonalKeyActsInItsUsersEnvironment: a person moved to another
// environment takes their keys along: each acts only there (Check, EnvOf,
// List), also for a keyring loaded afresh from storage (a restart), where
// the key's stored environment is still the one it was made in.
func TestPersonalKeyActsInItsUsersEnvironment(t *testing.T) {
	ctx := context.Background()
	st := &memStorage{}
	r := newRing(t, st)
	admin := RoleAdmin
	if _, _, err := r.ChangeUser(ctx, UserChange{Name: "mia", Role: &admin}); err != nil {
		t.Fatal(err)
	}
	secret, k, err := r.CreateFor(ctx, "mia", "laptop")
	if err != nil || k.Env != "" {
		t.Fatalf("%+v %v", k, err)
	}
	staging := "staging"
	if _, created, err := r.ChangeUser(ctx, UserChange{Name: "mia", Env: &staging}); err != nil || created {
		t.Fatal(created, err)
	}
	for _, ring := range []*Keyring{r, newRing(t, st)} {
		got, err := ring.Check(secret, Admin)
		if err != nil || got.Env != "staging" || got.Scope != Admin {
			t.Errorf("Check: %+v %v, want an admin key of staging", got, err)
		}
		if env := ring.EnvOf(secret); env != "staging" {
			t.Errorf("EnvOf: %q, want staging", env)
		}
		for _, l := range ring.List() {
			if l.ID == k.ID && l.Env != "staging" {
				t.Errorf("List: %+v", l)
			}
		}
	}
	if stored, _ := st.stored(k.ID); stored.Env != "" {
		t.Fatalf("the stored key changed: %+v", stored)
	}
}

// TestChangeUserKeepsWhatItDoesNotCarry: a change sets the fields it
// carries and keeps the others; making a person needs a role.
func TestChangeUserKeepsWhatItDoesNotCarry(t *testing.T) {
	ctx := context.Background()
	r := newRing(t, &memStorage{})
	viewer, editor := Viewer, Editor
	email, staging, none := "sam@example.com", "staging", ""
	if _, _, err := r.ChangeUser(ctx, UserChange{Name: "sam", Email: &email}); err == nil {
		t.Error("made a user without a role")
	}
	u, created, err := r.ChangeUser(ctx, UserChange{Name: "sam", Role: &viewer, Email: &email, Env: &staging})
	if err != nil || !created {
		t.Fatal(created, err)
	}
	made := u.Created
	for _, c := range []struct {
		change UserChange
		want   User
	}{
		{UserChange{Name: "sam", Role: &editor}, User{Name: "sam", Role: Editor, Email: email, Env: "staging"}},
		{UserChange{Name: "sam", Email: &none}, User{Name: "sam", Role: Editor, Env: "staging"}},
		{UserChange{Name: "sam", Env: &none}, User{Name: "sam", Role: Editor}},
	} {
		u, created, err := r.ChangeUser(ctx, c.change)
		c.want.Created = made
		if err != nil || created || u != c.want {
			t.Errorf("%+v: %+v %v %v, want %+v", c.change, u, created, err, c.want)
		}
	}
	bad := Role("owner")
	if _, _, err := r.ChangeUser(ctx, UserChange{Name: "sam", Role: &bad}); err == nil {
		t.Error("accepted role owner")
	}
	if got := r.Users(); len(got) != 1 || got[0].Role != Editor {
		t.Errorf("a refused change changed the user: %+v", got)
	}
}
