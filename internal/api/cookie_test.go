package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prodex/prodex/internal/auth"
	"github.com/prodex/prodex/internal/store/duckdb"
	"github.com/prodex/prodex/internal/store/meta"
)

// Signing in sets the session cookie HttpOnly and same-site, and Secure
// when people reach the server over HTTPS, directly or through a proxy.
func TestSessionCookie(t *testing.T) {
	st, err := duckdb.Open(t.TempDir(), duckdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	m, err := meta.OpenDuckDB(context.Background(), st.DB(), st.GuardWrite)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := auth.NewKeyring(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
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
		if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Secure != secure || c.Value != secret {
			t.Errorf("secure=%v: cookie %+v", secure, c)
		}
	}
}
