package api

import (
	"net/http"
	"time"

	"github.com/prodex/prodex/internal/auth"
	"github.com/prodex/prodex/internal/ui"
)

// sessionCookie holds the API key of a person signed in to the web UI.
const sessionCookie = "prodex_key"

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
// the key goes into an HTTP-only, same-site cookie and the address loses
// it.
func (s *Server) uiIndex(w http.ResponseWriter, r *http.Request) {
	if key := r.URL.Query().Get("key"); key != "" {
		if k, err := s.Keys.Check(key, auth.Query); err == nil && k.Env == s.Env {
			http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: key, Path: "/", HttpOnly: true, Secure: s.SecureCookies || r.TLS != nil,
				SameSite: http.SameSiteStrictMode, Expires: s.Now().Add(30 * 24 * time.Hour)})
		}
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Write(ui.Index())
}

func (s *Server) uiSignOut(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode, MaxAge: -1})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}
