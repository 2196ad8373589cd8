package api

import (
	"errors"
	"net/http"

	"github.com/prodex/prodex/internal/auth"
	"github.com/prodex/prodex/internal/ui"
)

// sessionCookie holds the token of a person's session in the web UI: not
// their key, which stays on the server's side (auth.Keyring.StartSession).
const sessionCookie = "prodex_session"

// oldKeyCookie is the cookie earlier versions kept the API key itself in;
// the UI's pages expire it wherever a browser still sends it.
const oldKeyCookie = "prodex_key"

// uiHeader marks requests the UI itself makes; a request authenticated by
// the session cookie must carry it to change anything, which a page of
// another site cannot make a browser do (cross-site request forgery).
const uiHeader = "X-Prodex-UI"

func (s *Server) uiRoutes(mux *routeMux) {
	mux.Handle("GET /ui/", ui.Assets())
	mux.HandleFunc("GET /{$}", s.uiIndex)
	mux.HandleFunc("GET /signout", s.uiSignOut)
}

// uiIndex serves the web UI. Opened with ?key=KEY it signs the person in:
// a session on the server, its token in an HTTP-only, same-site cookie,
// and the address loses the key. A key that may not query gets no session
// (the page then asks for a key again).
func (s *Server) uiIndex(w http.ResponseWriter, r *http.Request) {
	if _, err := r.Cookie(oldKeyCookie); err == nil {
		s.setCookie(w, r, oldKeyCookie, "", -1)
	}
	if key := r.URL.Query().Get("key"); key != "" {
		if c, err := r.Cookie(sessionCookie); err == nil {
			if err := s.Keys.EndSession(r.Context(), c.Value); err != nil {
				s.fail(w, r, err)
				return
			}
		}
		token, _, err := s.Keys.StartSession(r.Context(), key, auth.Query)
		switch {
		case err == nil:
			s.setCookie(w, r, sessionCookie, token, int(s.Keys.SessionLimits().Lifetime.Seconds()))
		case !errors.Is(err, auth.ErrUnauthenticated) && !errors.Is(err, auth.ErrForbidden):
			s.fail(w, r, err)
			return
		}
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Write(ui.Index())
}

// uiSignOut ends the session on the server and in the browser.
func (s *Server) uiSignOut(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		if err := s.Keys.EndSession(r.Context(), c.Value); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	s.setCookie(w, r, sessionCookie, "", -1)
	if _, err := r.Cookie(oldKeyCookie); err == nil {
		s.setCookie(w, r, oldKeyCookie, "", -1)
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// setCookie sets (maxAge > 0 seconds) or expires (maxAge < 0) one of the
// UI's cookies: HttpOnly, SameSite=Strict, and Secure when people reach
// the server over HTTPS, directly or through a proxy (SecureCookies).
func (s *Server) setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: true, Secure: s.SecureCookies || r.TLS != nil,
		SameSite: http.SameSiteStrictMode, MaxAge: maxAge})
}
