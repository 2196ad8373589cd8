package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prodex/prodex/internal/auth"
	"github.com/prodex/prodex/internal/store/duckdb"
	"github.com/prodex/prodex/internal/store/meta"
)

func testKeyring(t *testing.T) *auth.Keyring {
	t.Helper()
	st, err := duckdb.Open(t.TempDir(), duckdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	m, err := meta.OpenDuckDB(context.Background(), st.DB(), st.GuardWrite)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := auth.NewKeyring(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// Signing in sets the session cookie to a session's token, never the key:
// HttpOnly, same-site, living as long as the session may, and Secure when
// people reach the server over HTTPS, directly or through a proxy. A key
// that may not query signs nobody in.
func TestSessionCookie(t *testing.T) {
	keys := testKeyring(t)
	keys.LimitSessions(auth.SessionLimits{Lifetime: 48 * time.Hour})
	secret, _, err := keys.Create(context.Background(), auth.Query, "ui")
	if err != nil {
		t.Fatal(err)
	}
	for _, secure := range []bool{false, true} {
		s := &Server{Keys: keys, Now: time.Now, SecureCookies: secure}
		w := httptest.NewRecorder()
		s.uiIndex(w, httptest.NewRequest("GET", "/?key="+secret, nil))
		cs := w.Result().Cookies()
		if len(cs) != 1 {
			t.Fatalf("secure=%v: %d cookies set", secure, len(cs))
		}
		c := cs[0]
		if c.Name != "prodex_session" || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Secure != secure || c.MaxAge != 48*3600 ||
			strings.Contains(c.Value, secret[3:]) || !strings.HasPrefix(c.Value, "pds") {
			t.Errorf("secure=%v: cookie %+v", secure, c)
		}
		if _, err := keys.CheckSession(context.Background(), c.Value, auth.Query); err != nil {
			t.Errorf("the cookie's session: %v", err)
		}
	}
	ingest, _, _ := keys.Create(context.Background(), auth.Ingest, "shipper")
	for _, key := range []string{ingest, "pdx" + strings.Repeat("0", 48)} {
		w := httptest.NewRecorder()
		(&Server{Keys: keys}).uiIndex(w, httptest.NewRequest("GET", "/?key="+key, nil))
		if w.Code != http.StatusSeeOther || len(w.Result().Cookies()) != 0 {
			t.Errorf("signing in with %q: %d, cookies %v", key, w.Code, w.Result().Cookies())
		}
	}
}

// TestSignOutEndsTheSession: sign-out ends the session on the server and
// expires the cookie, and the cookie of earlier versions, which held the
// key itself, is expired wherever a browser still sends it.
func TestSignOutEndsTheSession(t *testing.T) {
	keys := testKeyring(t)
	secret, _, _ := keys.Create(context.Background(), auth.Query, "ui")
	token, _, err := keys.StartSession(context.Background(), secret, auth.Query)
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Keys: keys}
	r := httptest.NewRequest("GET", "/signout", nil)
	r.AddCookie(&http.Cookie{Name: sessionCookie, Value: token})
	r.AddCookie(&http.Cookie{Name: oldKeyCookie, Value: secret})
	w := httptest.NewRecorder()
	s.uiSignOut(w, r)
	if _, err := keys.CheckSession(context.Background(), token, auth.Query); err == nil {
		t.Error("the session outlived sign-out")
	}
	expired := map[string]bool{}
	for _, c := range w.Result().Cookies() {
		expired[c.Name] = c.MaxAge < 0 && c.Value == ""
	}
	if !expired[sessionCookie] || !expired[oldKeyCookie] {
		t.Errorf("cookies after sign-out: %v", w.Result().Cookies())
	}
}
