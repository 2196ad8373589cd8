package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// sessionCookieName is the web UI's session cookie.
const sessionCookieName = "prodex_session"

// noRedirects is a client that answers redirects instead of following them.
var noRedirects = &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// signIn opens the UI with ?key= as a browser would and returns the
// session cookie it sets (nil when none).
func signIn(t *testing.T, s *server, key string) *http.Cookie {
	t.Helper()
	resp, err := noRedirects.Get(s.url + "/?key=" + key)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in: %d", resp.StatusCode)
	}
	for _, c := range resp.Cookies() {
		if c.Name == sessionCookieName && c.Value != "" {
			return c
		}
	}
	return nil
}

// withCookie makes a request carrying only a cookie (and the UI's header
// when ui is set), and answers its status and body.
func withCookie(t *testing.T, method, url string, c *http.Cookie, ui bool, body string) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, url, rd)
	req.Header.Set("Content-Type", "application/json")
	if ui {
		req.Header.Set("X-Prodex-UI", "1")
	}
	req.AddCookie(c)
	resp, err := noRedirects.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}

// TestUISessionIsServerSide: signing in to the web UI makes a session on
// the server; the cookie holds its id, never the key, and is HttpOnly and
// SameSite=Strict. The session survives a restart, ends at sign-out and
// when its key is revoked or its user deleted; a key sent as the cookie is
// refused; event ingest and OTLP ignore the cookie, UI header or not.
func TestUISessionIsServerSide(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	admin := newKey(t, data, "admin")
	s := startOTLPServer(t, data)
	stopped := false
	defer func() {
		if !stopped {
			s.stop()
		}
	}()
	auth := s.url + "/1/auth"

	c := signIn(t, s, admin)
	if c == nil {
		t.Fatal("signing in set no session cookie")
	}
	if strings.Contains(c.Value, admin) || strings.Contains(c.Value, admin[3:11]) {
		t.Errorf("the session cookie holds the key: %q", c.Value)
	}
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.MaxAge != 7*24*3600 {
		t.Errorf("session cookie %+v: want HttpOnly, SameSite=Strict, Path=/ and Max-Age of 7 days", c)
	}
	if code, body := withCookie(t, "GET", auth, c, false, ""); code != 200 {
		t.Fatalf("GET /1/auth with the session: %d %s", code, body)
	}
	// A write needs the UI's header, as before.
	if code, _ := withCookie(t, "POST", s.url+"/api/v1/incidents", c, false, `{"title":"x"}`); code != 403 {
		t.Errorf("a write with the session alone: %d, want 403", code)
	}
	if code, body := withCookie(t, "POST", s.url+"/api/v1/incidents", c, true, `{"title":"x"}`); code != 201 {
		t.Errorf("a write with the session and X-Prodex-UI: %d %s", code, body)
	}

	// A key is not a session, under either cookie name.
	for _, name := range []string{sessionCookieName, "prodex_key"} {
		if code, _ := withCookie(t, "GET", auth, &http.Cookie{Name: name, Value: admin}, true, ""); code != 401 {
			t.Errorf("the key itself as cookie %s: %d, want 401", name, code)
		}
	}

	// Ingest and OTLP ignore the cookie, with the UI's header too.
	for _, u := range []string{s.url + "/1/batch/cookies", s.url + "/1/events/cookies"} {
		body := `{"a":1}`
		if strings.Contains(u, "batch") {
			body = `[{"data":{"a":1}}]`
		}
		if code, out := withCookie(t, "POST", u, c, true, body); code != 401 {
			t.Errorf("POST %s with the session and X-Prodex-UI: %d %s, want 401", u, code, out)
		}
	}
	for _, u := range []string{s.url + "/v1/traces", "http://" + s.otlpHTTP + "/v1/traces", s.url + "/v1/logs"} {
		body := `{"resourceSpans":[]}`
		if strings.HasSuffix(u, "logs") {
			body = `{"resourceLogs":[]}`
		}
		if code, out := withCookie(t, "POST", u, c, true, body); code != 401 {
			t.Errorf("POST %s with the session and X-Prodex-UI: %d %s, want 401", u, code, out)
		}
	}

	// The session is kept on the server: it outlives a restart.
	s.stop()
	s.start()
	if code, body := withCookie(t, "GET", auth, c, false, ""); code != 200 {
		t.Errorf("the session after a restart: %d %s", code, body)
	}

	// Signing out ends it on the server, not only in the browser.
	code, _ := withCookie(t, "GET", s.url+"/signout", c, false, "")
	if code != http.StatusSeeOther {
		t.Errorf("sign out: %d", code)
	}
	if code, _ := withCookie(t, "GET", auth, c, false, ""); code != 401 {
		t.Errorf("the session after signing out: %d, want 401", code)
	}

	// Revoking the key ends its sessions.
	var k struct{ ID, Key string }
	call(t, "POST", s.url+"/api/v1/keys", admin, map[string]string{"scope": "query", "name": "ui"}, &k)
	c = signIn(t, s, k.Key)
	if code, _ := withCookie(t, "GET", auth, c, false, ""); code != 200 {
		t.Fatalf("session of a query key: %d", code)
	}
	if code := call(t, "DELETE", s.url+"/api/v1/keys/"+k.ID, admin, nil, nil); code != 204 {
		t.Fatalf("revoke: %d", code)
	}
	if code, _ := withCookie(t, "GET", auth, c, false, ""); code != 401 {
		t.Errorf("the session of a revoked key: %d, want 401", code)
	}

	// Deleting a user ends the sessions of their keys.
	call(t, "PUT", s.url+"/api/v1/users/uma", admin, map[string]string{"role": "viewer"}, nil)
	call(t, "POST", s.url+"/api/v1/users/uma/keys", admin, map[string]string{"name": "laptop"}, &k)
	c = signIn(t, s, k.Key)
	if code, _ := withCookie(t, "GET", auth, c, false, ""); code != 200 {
		t.Fatalf("session of a personal key: %d", code)
	}
	if code := call(t, "DELETE", s.url+"/api/v1/users/uma", admin, nil, nil); code != 200 {
		t.Fatalf("delete uma: %d", code)
	}
	if code, _ := withCookie(t, "GET", auth, c, false, ""); code != 401 {
		t.Errorf("the session of a deleted user: %d, want 401", code)
	}
	s.stop()
	stopped = true
	if strings.Contains(s.log.String(), admin) {
		t.Errorf("the server's log holds the key")
	}
}

// TestUISessionExpires: a session unused for --session-idle ends; one in
// use ends anyway --session-lifetime after sign-in.
func TestUISessionExpires(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	admin := newKey(t, data, "admin")
	s := startServer(t, data, "--session-idle", "3s", "--session-lifetime", "8s")
	defer s.stop()
	auth := s.url + "/1/auth"

	idle := signIn(t, s, admin)
	busy := signIn(t, s, admin)
	if idle == nil || busy == nil {
		t.Fatal("no session cookie")
	}
	if busy.MaxAge != 8 {
		t.Errorf("Max-Age %d, want the lifetime, 8", busy.MaxAge)
	}
	began := time.Now()
	// The busy session is used every second: it stays past the idle
	// time, up to its lifetime.
	for time.Since(began) < 6*time.Second {
		if code, _ := withCookie(t, "GET", auth, busy, false, ""); code != 200 {
			t.Fatalf("a session in use ended after %s: %d", time.Since(began).Round(time.Millisecond), code)
		}
		time.Sleep(time.Second)
	}
	if code, _ := withCookie(t, "GET", auth, idle, false, ""); code != 401 {
		t.Errorf("a session idle for %s: %d, want 401", time.Since(began).Round(time.Millisecond), code)
	}
	for time.Since(began) < 9*time.Second {
		time.Sleep(time.Second)
		withCookie(t, "GET", auth, busy, false, "")
	}
	if code, _ := withCookie(t, "GET", auth, busy, false, ""); code != 401 {
		t.Errorf("a session in use %s after sign-in: %d, want 401", time.Since(began).Round(time.Millisecond), code)
	}
}
