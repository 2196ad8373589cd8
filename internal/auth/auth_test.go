package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// memStorage is an in-memory Storage. Keys are stored by value, as the
// production store does, so the test can inspect exactly what was persisted.
type memStorage struct {
	mu        sync.Mutex
	keys      []Key
	insertErr error
	loadErr   error
	revokeErr error
	usersErr  error  // of LoadUsers
	afterLoad func() // called once by LoadKeys, unlocked, after reading
	users     map[string]User
	sessions  map[string]Session // by hash
}

func (m *memStorage) PutUser(_ context.Context, u User) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.users == nil {
		m.users = map[string]User{}
	}
	m.users[u.Name] = u
	return nil
}

func (m *memStorage) DeleteUser(_ context.Context, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.users, name)
	return nil
}

func (m *memStorage) LoadUsers(_ context.Context) ([]User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.usersErr != nil {
		return nil, m.usersErr
	}
	var out []User
	for _, u := range m.users {
		out = append(out, u)
	}
	return out, nil
}

func (m *memStorage) InsertKey(_ context.Context, k Key) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.insertErr != nil {
		return m.insertErr
	}
	m.keys = append(m.keys, k)
	return nil
}

func (m *memStorage) LoadKeys(_ context.Context) ([]Key, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.loadErr != nil {
		return nil, m.loadErr
	}
	keys := append([]Key(nil), m.keys...)
	if f := m.afterLoad; f != nil {
		m.afterLoad = nil
		m.mu.Unlock()
		f()
		m.mu.Lock()
	}
	return keys, nil
}

func (m *memStorage) RevokeKey(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.revokeErr != nil {
		return m.revokeErr
	}
	for i := range m.keys {
		if m.keys[i].ID == id {
			m.keys[i].Revoked = true
		}
	}
	return nil
}

func (m *memStorage) stored(id string) (Key, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, k := range m.keys {
		if k.ID == id {
			return k, true
		}
	}
	return Key{}, false
}

func newRing(t *testing.T, st Storage) *Keyring {
	t.Helper()
	r, err := NewKeyring(context.Background(), st)
	if err != nil {
		t.Fatalf("NewKeyring: %v", err)
	}
	return r
}

func create(t *testing.T, r *Keyring, scope Scope, name string) (string, Key) {
	t.Helper()
	secret, k, err := r.Create(context.Background(), scope, name)
	if err != nil {
		t.Fatalf("Create(%q, %q): %v", scope, name, err)
	}
	return secret, k
}

func sha(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func isLowerHex(s string) bool {
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// checkSecretFormat asserts the documented format: "pdx" + 8 hex id + 40 hex.
func checkSecretFormat(t *testing.T, secret string, k Key) {
	t.Helper()
	if len(secret) != 51 {
		t.Fatalf("secret %q has length %d, want 51", secret, len(secret))
	}
	if !strings.HasPrefix(secret, "pdx") {
		t.Fatalf("secret %q lacks prefix pdx", secret)
	}
	if !isLowerHex(secret[3:]) {
		t.Fatalf("secret %q: body is not lower-case hex", secret)
	}
	if k.ID != secret[3:11] {
		t.Fatalf("key id %q, want secret[3:11] = %q", k.ID, secret[3:11])
	}
	if len(k.ID) != 8 {
		t.Fatalf("key id %q has length %d, want 8", k.ID, len(k.ID))
	}
}

func TestParseScope(t *testing.T) {
	tests := []struct {
		in      string
		want    Scope
		wantErr bool
	}{
		{"ingest", Ingest, false},
		{"query", Query, false},
		{"admin", Admin, false},
		{"", "", true},
		{"Admin", "", true},
		{"write", "", true},
		{" admin", "", true},
	}
	for _, tt := range tests {
		got, err := ParseScope(tt.in)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("ParseScope(%q) = %q, %v; want %q, err=%v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestScopeAllows(t *testing.T) {
	tests := []struct {
		key, need Scope
		want      bool
	}{
		{Admin, Admin, true},
		{Admin, Ingest, true},
		{Admin, Query, true},
		{Ingest, Ingest, true},
		{Ingest, Query, false},
		{Ingest, Admin, false},
		{Query, Query, true},
		{Query, Ingest, false},
		{Query, Admin, false},
	}
	for _, tt := range tests {
		if got := tt.key.Allows(tt.need); got != tt.want {
			t.Errorf("%q.Allows(%q) = %v, want %v", tt.key, tt.need, got, tt.want)
		}
	}
}

func TestNew(t *testing.T) {
	now := time.Date(2024, 5, 6, 7, 8, 9, 0, time.FixedZone("X", 3600))
	secret, k, err := New(Query, "reader", now)
	if err != nil {
		t.Fatal(err)
	}
	checkSecretFormat(t, secret, k)
	if k.Hash != sha(secret) {
		t.Errorf("hash %q, want sha256 of secret %q", k.Hash, sha(secret))
	}
	if k.Scope != Query || k.Name != "reader" || k.Revoked {
		t.Errorf("key = %+v", k)
	}
	if !k.Created.Equal(now) || k.Created.Location() != time.UTC {
		t.Errorf("created %v, want %v in UTC", k.Created, now)
	}
}

func TestCreate(t *testing.T) {
	tests := []struct {
		scope Scope
		name  string
	}{
		{Ingest, "writer"},
		{Query, "reader"},
		{Admin, "root"},
		{Ingest, ""},
	}
	for _, tt := range tests {
		t.Run(string(tt.scope)+"/"+tt.name, func(t *testing.T) {
			st := &memStorage{}
			r := newRing(t, st)
			before := time.Now()
			secret, k := create(t, r, tt.scope, tt.name)
			checkSecretFormat(t, secret, k)
			if k.Scope != tt.scope || k.Name != tt.name || k.Revoked {
				t.Errorf("key = %+v", k)
			}
			if k.Created.Before(before.Add(-time.Second)) || k.Created.After(time.Now().Add(time.Second)) || k.Created.Location() != time.UTC {
				t.Errorf("created %v: not now in UTC", k.Created)
			}
			got, ok := st.stored(k.ID)
			if !ok {
				t.Fatalf("key %q not stored", k.ID)
			}
			if got != k {
				t.Errorf("stored %+v, returned %+v", got, k)
			}
		})
	}
}

func TestCreateUniqueSecrets(t *testing.T) {
	r := newRing(t, &memStorage{})
	seen := map[string]bool{}
	ids := map[string]bool{}
	for i := 0; i < 200; i++ {
		secret, k := create(t, r, Ingest, "k")
		if seen[secret] || ids[k.ID] {
			t.Fatalf("duplicate secret or id after %d keys: %q", i, secret)
		}
		seen[secret], ids[k.ID] = true, true
	}
	if n := len(r.List()); n != 200 {
		t.Fatalf("List has %d keys, want 200", n)
	}
}

// TestStoredIsHashed checks that storage never receives the secret: only its
// SHA-256 hash, and no field contains the secret or its random part.
func TestStoredIsHashed(t *testing.T) {
	st := &memStorage{}
	r := newRing(t, st)
	secret, k := create(t, r, Admin, "root")
	stored, ok := st.stored(k.ID)
	if !ok {
		t.Fatal("key not stored")
	}
	if stored.Hash == secret {
		t.Fatal("stored hash is the secret")
	}
	if stored.Hash != sha(secret) {
		t.Fatalf("stored hash %q, want sha256(secret) %q", stored.Hash, sha(secret))
	}
	if len(stored.Hash) != 64 || !isLowerHex(stored.Hash) {
		t.Fatalf("stored hash %q is not 64 hex characters", stored.Hash)
	}
	random := secret[11:]
	for field, v := range map[string]string{"id": stored.ID, "hash": stored.Hash, "name": stored.Name, "scope": string(stored.Scope)} {
		if strings.Contains(v, secret) || strings.Contains(v, random) {
			t.Errorf("stored %s %q contains the secret", field, v)
		}
	}
}

func TestListDoesNotExposeSecrets(t *testing.T) {
	r := newRing(t, &memStorage{})
	secrets := map[string]string{} // id → secret
	for _, s := range []Scope{Ingest, Query, Admin} {
		secret, k := create(t, r, s, string(s)+"-key")
		secrets[k.ID] = secret
	}
	list := r.List()
	if len(list) != 3 {
		t.Fatalf("List has %d keys, want 3", len(list))
	}
	for _, k := range list {
		secret, ok := secrets[k.ID]
		if !ok {
			t.Fatalf("List has unknown key %q", k.ID)
		}
		// The Key struct carries the hash (Hash is filled in), but never
		// the secret in any field.
		for _, v := range []string{k.ID, k.Hash, k.Name, string(k.Scope)} {
			if strings.Contains(v, secret) || strings.Contains(v, secret[11:]) {
				t.Errorf("listed key %q exposes its secret in %q", k.ID, v)
			}
		}
		b, err := json.Marshal(k)
		if err != nil {
			t.Fatal(err)
		}
		js := string(b)
		if strings.Contains(js, secret[11:]) || strings.Contains(js, k.Hash) || strings.Contains(strings.ToLower(js), "hash") {
			t.Errorf("JSON of listed key exposes secret or hash: %s", js)
		}
		var fields map[string]any
		if err := json.Unmarshal(b, &fields); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{"id", "scope", "name", "created_at", "revoked"} {
			if _, ok := fields[f]; !ok {
				t.Errorf("JSON of listed key lacks %q: %s", f, js)
			}
		}
		if len(fields) != 5 {
			t.Errorf("JSON of listed key has unexpected fields: %s", js)
		}
	}
}

func TestCheck(t *testing.T) {
	r := newRing(t, &memStorage{})
	secrets := map[Scope]string{}
	keys := map[Scope]Key{}
	for _, s := range []Scope{Ingest, Query, Admin} {
		secrets[s], keys[s] = create(t, r, s, string(s))
	}
	ing := secrets[Ingest]
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == '0' {
			b[i] = '1'
		} else {
			b[i] = '0'
		}
		return string(b)
	}

	tests := []struct {
		name    string
		secret  string
		need    Scope
		wantErr error
		wantKey Scope // scope of the key Check should return; "" for none
	}{
		{"ingest/ingest", secrets[Ingest], Ingest, nil, Ingest},
		{"query/query", secrets[Query], Query, nil, Query},
		{"admin/admin", secrets[Admin], Admin, nil, Admin},
		{"admin/ingest", secrets[Admin], Ingest, nil, Admin},
		{"admin/query", secrets[Admin], Query, nil, Admin},
		{"ingest/query", secrets[Ingest], Query, ErrForbidden, Ingest},
		{"ingest/admin", secrets[Ingest], Admin, ErrForbidden, Ingest},
		{"query/ingest", secrets[Query], Ingest, ErrForbidden, Query},
		{"query/admin", secrets[Query], Admin, ErrForbidden, Query},

		{"empty", "", Ingest, ErrUnauthenticated, ""},
		{"prefix only", "pdx", Ingest, ErrUnauthenticated, ""},
		{"garbage", "not-a-key", Ingest, ErrUnauthenticated, ""},
		{"51 chars of garbage", strings.Repeat("x", 51), Ingest, ErrUnauthenticated, ""},
		{"wrong prefix", "abc" + ing[3:], Ingest, ErrUnauthenticated, ""},
		{"upper-case prefix", "PDX" + ing[3:], Ingest, ErrUnauthenticated, ""},
		{"upper-case body", "pdx" + strings.ToUpper(ing[3:]), Ingest, ErrUnauthenticated, ""},
		{"truncated", ing[:50], Ingest, ErrUnauthenticated, ""},
		{"extra char", ing + "0", Ingest, ErrUnauthenticated, ""},
		{"leading space", " " + ing, Ingest, ErrUnauthenticated, ""},
		{"trailing newline", ing + "\n", Ingest, ErrUnauthenticated, ""},
		{"bearer prefix", "Bearer " + ing, Ingest, ErrUnauthenticated, ""},
		{"last char flipped", flip(ing, 50), Ingest, ErrUnauthenticated, ""},
		{"random part flipped", flip(ing, 20), Ingest, ErrUnauthenticated, ""},
		{"id char flipped", flip(ing, 5), Ingest, ErrUnauthenticated, ""},
		{"other key's id with this random part", "pdx" + keys[Admin].ID + ing[11:], Admin, ErrUnauthenticated, ""},
		{"unknown id well-formed", "pdx" + strings.Repeat("0", 48), Ingest, ErrUnauthenticated, ""},
		{"hash presented as key", keys[Ingest].Hash, Ingest, ErrUnauthenticated, ""},
		{"pdx + hash", "pdx" + keys[Ingest].Hash[:48], Ingest, ErrUnauthenticated, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := r.Check(tt.secret, tt.need)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("Check(%q, %q) error = %v, want %v", tt.secret, tt.need, err, tt.wantErr)
			}
			if tt.wantKey == "" {
				if k != (Key{}) {
					t.Fatalf("Check returned key %+v, want none", k)
				}
				return
			}
			if k != keys[tt.wantKey] {
				t.Fatalf("Check returned key %+v, want %+v", k, keys[tt.wantKey])
			}
		})
	}
}

func TestRevoke(t *testing.T) {
	ctx := context.Background()
	st := &memStorage{}
	r := newRing(t, st)
	adminSecret, adminKey := create(t, r, Admin, "root")
	otherSecret, _ := create(t, r, Ingest, "writer")

	if _, err := r.Check(adminSecret, Query); err != nil {
		t.Fatalf("Check before revoke: %v", err)
	}
	if err := r.Revoke(ctx, adminKey.ID); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	for _, need := range []Scope{Ingest, Query, Admin} {
		if _, err := r.Check(adminSecret, need); !errors.Is(err, ErrUnauthenticated) {
			t.Errorf("Check(revoked, %q) = %v, want ErrUnauthenticated", need, err)
		}
	}
	if _, err := r.Check(otherSecret, Ingest); err != nil {
		t.Errorf("other key after revoke: %v", err)
	}
	if k, _ := st.stored(adminKey.ID); !k.Revoked {
		t.Error("revocation not persisted")
	}
	var listed bool
	for _, k := range r.List() {
		if k.ID == adminKey.ID {
			listed = true
			if !k.Revoked {
				t.Error("List shows revoked key as not revoked")
			}
		}
	}
	if !listed {
		t.Error("revoked key dropped from List")
	}
	// Revoking twice is fine.
	if err := r.Revoke(ctx, adminKey.ID); err != nil {
		t.Errorf("second Revoke: %v", err)
	}
}

func TestRevokeErrors(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name      string
		id        func(k Key) string
		revokeErr error
	}{
		{"unknown id", func(Key) string { return "deadbeef" }, nil},
		{"empty id", func(Key) string { return "" }, nil},
		{"storage fails", func(k Key) string { return k.ID }, errors.New("disk full")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := &memStorage{}
			r := newRing(t, st)
			secret, k := create(t, r, Query, "reader")
			st.revokeErr = tt.revokeErr
			err := r.Revoke(ctx, tt.id(k))
			if err == nil {
				t.Fatal("Revoke succeeded, want error")
			}
			if tt.revokeErr != nil && !errors.Is(err, tt.revokeErr) {
				t.Fatalf("Revoke error %v, want %v", err, tt.revokeErr)
			}
			// A failed revoke leaves the key usable.
			if _, err := r.Check(secret, Query); err != nil {
				t.Fatalf("Check after failed revoke: %v", err)
			}
		})
	}
}

func TestKeysSurviveReload(t *testing.T) {
	ctx := context.Background()
	st := &memStorage{}
	r1 := newRing(t, st)
	ingSecret, ingKey := create(t, r1, Ingest, "writer")
	adminSecret, _ := create(t, r1, Admin, "root")
	revSecret, revKey := create(t, r1, Query, "old")
	if err := r1.Revoke(ctx, revKey.ID); err != nil {
		t.Fatal(err)
	}

	r2 := newRing(t, st)
	if n := len(r2.List()); n != 3 {
		t.Fatalf("reloaded List has %d keys, want 3", n)
	}
	tests := []struct {
		name    string
		secret  string
		need    Scope
		wantErr error
	}{
		{"ingest key", ingSecret, Ingest, nil},
		{"ingest key on query", ingSecret, Query, ErrForbidden},
		{"admin key", adminSecret, Query, nil},
		{"revoked key stays revoked", revSecret, Query, ErrUnauthenticated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := r2.Check(tt.secret, tt.need)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("Check = %v, want %v", err, tt.wantErr)
			}
		})
	}
	// Revoking through the new keyring works too.
	if err := r2.Revoke(ctx, ingKey.ID); err != nil {
		t.Fatal(err)
	}
	r3 := newRing(t, st)
	if _, err := r3.Check(ingSecret, Ingest); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("Check after revoke and reload = %v, want ErrUnauthenticated", err)
	}
}

func TestStorageErrors(t *testing.T) {
	ctx := context.Background()
	boom := errors.New("boom")

	if _, err := NewKeyring(ctx, &memStorage{loadErr: boom}); !errors.Is(err, boom) {
		t.Errorf("NewKeyring with failing load = %v, want %v", err, boom)
	}

	st := &memStorage{insertErr: boom}
	r := newRing(t, st)
	secret, k, err := r.Create(ctx, Admin, "root")
	if !errors.Is(err, boom) {
		t.Fatalf("Create with failing insert = %v, want %v", err, boom)
	}
	if secret != "" || k != (Key{}) {
		t.Errorf("failed Create returned secret %q, key %+v", secret, k)
	}
	if n := len(r.List()); n != 0 {
		t.Errorf("failed Create left %d keys in the keyring", n)
	}
}

// TestCreateRejectsUnknownScope: a key must have a scope it can use.
func TestCreateRejectsUnknownScope(t *testing.T) {
	r := newRing(t, &memStorage{})
	if _, _, err := r.Create(context.Background(), Scope("bogus"), "x"); err == nil {
		t.Fatal("Create with scope bogus succeeded")
	}
	if n := len(r.List()); n != 0 {
		t.Errorf("rejected Create left %d keys", n)
	}
}

func TestConcurrentUse(t *testing.T) {
	r := newRing(t, &memStorage{})
	secret, _ := create(t, r, Admin, "root")
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 50; j++ {
				if _, err := r.Check(secret, Query); err != nil {
					t.Errorf("Check: %v", err)
					return
				}
				_, k, err := r.Create(context.Background(), Ingest, "w")
				if err != nil {
					t.Errorf("Create: %v", err)
					return
				}
				if j%2 == 0 {
					if err := r.Revoke(context.Background(), k.ID); err != nil {
						t.Errorf("Revoke: %v", err)
						return
					}
				}
				_ = r.List()
			}
		}()
	}
	wg.Wait()
	if n := len(r.List()); n != 1+8*50 {
		t.Fatalf("List has %d keys, want %d", n, 1+8*50)
	}
}

// TestPersonalKeys: a personal key acts with its user's role of the
// moment, and dies with the user.
func TestPersonalKeys(t *testing.T) {
	ctx := context.Background()
	st := &memStorage{}
	r := newRing(t, st)
	if _, _, err := r.CreateFor(ctx, "alice", "laptop"); err == nil {
		t.Fatal("key for a user who does not exist")
	}
	if _, created, err := r.SetUser(ctx, User{Name: "alice", Email: "alice@example.com", Role: Viewer}); err != nil || !created {
		t.Fatal(created, err)
	}
	secret, k, err := r.CreateFor(ctx, "alice", "laptop")
	if err != nil || k.User != "alice" || k.Scope != Query {
		t.Fatalf("%+v %v", k, err)
	}
	if _, err := r.Check(secret, Edit); !errors.Is(err, ErrForbidden) {
		t.Errorf("viewer's key may edit: %v", err)
	}
	r.SetUser(ctx, User{Name: "alice", Role: Editor})
	if got, err := r.Check(secret, Edit); err != nil || got.Scope != Edit || got.User != "alice" {
		t.Errorf("editor's key: %+v %v", got, err)
	}
	if _, err := r.Check(secret, Admin); !errors.Is(err, ErrForbidden) {
		t.Errorf("editor's key may administer: %v", err)
	}
	// The ring reloaded from storage knows the same.
	r2 := newRing(t, st)
	if _, err := r2.Check(secret, Edit); err != nil {
		t.Errorf("after reload: %v", err)
	}
	if err := r.DeleteUser(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Check(secret, Query); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("deleted user's key works: %v", err)
	}
	for _, u := range []User{{Name: "Bob", Role: Viewer}, {Name: "bob", Role: "owner"}, {Name: "bob", Role: Viewer, Email: "nope"}} {
		if _, _, err := r.SetUser(ctx, u); err == nil {
			t.Errorf("accepted %+v", u)
		}
	}
}

func TestEditScope(t *testing.T) {
	for _, c := range []struct {
		k, need Scope
		ok      bool
	}{{Edit, Query, true}, {Edit, Ingest, true}, {Edit, Edit, true}, {Edit, Admin, false}, {Query, Edit, false}, {Ingest, Edit, false}, {Admin, Edit, true}} {
		if c.k.Allows(c.need) != c.ok {
			t.Errorf("%s allows %s: %v", c.k, c.need, !c.ok)
		}
	}
}

func (m *memStorage) fail(keys, users error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.loadErr, m.usersErr = keys, users
}

// TestReload: two keyrings over one storage are two nodes; what one
// writes, the other sees after Reload, and a failed Reload keeps what the
// keyring had.
func TestReload(t *testing.T) {
	ctx := context.Background()
	boom := errors.New("boom")
	st := &memStorage{}
	a, b := newRing(t, st), newRing(t, st)
	oldSecret, oldKey := create(t, a, Query, "old")
	if err := b.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.SetUser(ctx, User{Name: "ann", Role: Viewer}); err != nil {
		t.Fatal(err)
	}
	annSecret, _, err := a.CreateFor(ctx, "ann", "laptop")
	if err != nil {
		t.Fatal(err)
	}
	newSecret, _ := create(t, a, Ingest, "new")
	if err := a.Revoke(ctx, oldKey.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.SetUser(ctx, User{Name: "ann", Role: Editor}); err != nil {
		t.Fatal(err)
	}
	type check struct {
		secret string
		need   Scope
		want   error
	}
	for _, step := range []struct {
		what       string
		reload     bool
		keys, usrs error // of the storage's loads during Reload
		wantErr    error
		checks     []check
	}{
		{"before the reload, b knows the old key only", false, nil, nil, nil, []check{
			{oldSecret, Query, nil}, {newSecret, Ingest, ErrUnauthenticated}, {annSecret, Query, ErrUnauthenticated}}},
		{"a failed load of keys changes nothing", true, boom, nil, boom, []check{
			{oldSecret, Query, nil}, {newSecret, Ingest, ErrUnauthenticated}}},
		{"nor does a failed load of users", true, nil, boom, boom, []check{
			{oldSecret, Query, nil}, {newSecret, Ingest, ErrUnauthenticated}, {annSecret, Query, ErrUnauthenticated}}},
		{"reloaded: new keys work, the revoked one not, ann is an editor", true, nil, nil, nil, []check{
			{oldSecret, Query, ErrUnauthenticated}, {newSecret, Ingest, nil}, {annSecret, Ingest, nil}}},
	} {
		if step.reload {
			st.fail(step.keys, step.usrs)
			err := b.Reload(ctx)
			st.fail(nil, nil)
			if !errors.Is(err, step.wantErr) || (err == nil) != (step.wantErr == nil) {
				t.Fatalf("%s: Reload = %v, want %v", step.what, err, step.wantErr)
			}
		}
		for _, c := range step.checks {
			if _, err := b.Check(c.secret, c.need); !errors.Is(err, c.want) || (err == nil) != (c.want == nil) {
				t.Errorf("%s: Check(%s…, %s) = %v, want %v", step.what, c.secret[:11], c.need, err, c.want)
			}
		}
	}
	if us := b.Users(); len(us) != 1 || us[0].Role != Editor {
		t.Errorf("b's users after the reload: %+v", us)
	}
	// A user deleted on a is gone from b, and so is their key.
	if err := a.DeleteUser(ctx, "ann"); err != nil {
		t.Fatal(err)
	}
	if err := b.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Check(annSecret, Query); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("the deleted user's key after the reload: %v", err)
	}
}

// TestReloadDuringWrites: a key created while a reload is reading the
// storage, from before the key was stored, is not lost when the reload
// swaps its maps in.
func TestReloadDuringWrites(t *testing.T) {
	ctx := context.Background()
	st := &memStorage{}
	r := newRing(t, st)
	read, resume := make(chan struct{}), make(chan struct{})
	st.mu.Lock()
	st.afterLoad = func() { close(read); <-resume }
	st.mu.Unlock()
	reloaded := make(chan error)
	go func() { reloaded <- r.Reload(ctx) }()
	<-read // the reload has the keys of before the create
	created := make(chan string)
	go func() {
		secret, _, err := r.Create(ctx, Query, "k")
		if err != nil {
			t.Error(err)
		}
		created <- secret
	}()
	var secret string
	select {
	case secret = <-created: // a keyring that let the create through
	case <-time.After(50 * time.Millisecond): // one that holds it back
	}
	close(resume)
	if err := <-reloaded; err != nil {
		t.Fatal(err)
	}
	if secret == "" {
		secret = <-created
	}
	if _, err := r.Check(secret, Query); err != nil {
		t.Fatalf("the key created during the reload: %v", err)
	}
}
