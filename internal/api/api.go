// Package api is Prodex's HTTP interface: the Honeycomb-compatible events
// API under /1/ and Prodex's own API under /api/v1/.
package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/prodex/prodex/internal/apply"
	"github.com/prodex/prodex/internal/auth"
	"github.com/prodex/prodex/internal/event"
	"github.com/prodex/prodex/internal/history"
	"github.com/prodex/prodex/internal/incident"
	"github.com/prodex/prodex/internal/ingest"
	"github.com/prodex/prodex/internal/marker"
	"github.com/prodex/prodex/internal/note"
	"github.com/prodex/prodex/internal/otlp"
	"github.com/prodex/prodex/internal/query"
	"github.com/prodex/prodex/internal/risk"
	"github.com/prodex/prodex/internal/rules"
	"github.com/prodex/prodex/internal/store"
)

// Server serves the API.
type Server struct {
	// Events holds the events; Meta everything else the API keeps.
	Events Events
	Meta   Meta
	Writer *ingest.Writer
	Keys   *auth.Keyring
	Limits event.Limits
	// Pace is how fast ingest bodies must arrive (408 otherwise).
	Pace Pace
	Log  *slog.Logger
	// Now is the clock (tests may replace it).
	Now func() time.Time
	// QueryTimeout bounds one query (default 60 s).
	QueryTimeout time.Duration
	// SecureCookies marks the UI's session cookie Secure even on plain
	// HTTP: set when people reach the server over HTTPS through a proxy.
	SecureCookies bool
	// Running, when set, holds the queries in progress so that the server
	// can cancel them when it reaches its memory ceiling.
	Running *query.Running
	// SLOs manages SLOs and their alerts.
	SLOs *rules.Manager
	// OTLP receives OpenTelemetry traces and logs (nil: not served).
	OTLP *otlp.Receiver

	once sync.Once // see defaults
	// The domain's books, made by defaults from Meta and SLOs: handlers
	// parse a request, call one of them, and answer.
	incidents *incident.Book
	risks     *risk.Book
	notes     *note.Book
	markers   *marker.Book
	history   *history.Book
	defs      apply.Owners

	// Env is the environment this server holds ("" the default one): keys
	// of other environments are unknown here.
	Env string
	// Envs manages the environments; set on the default environment's
	// server only, which alone manages keys, people and environments.
	Envs Environments

	// Observe, when set, is told of every query, explain and trace lookup
	// (kind "query", "explain" or "trace"), for metrics.
	Observe func(kind string, took time.Duration, err error)

	// Ready runs the ingest readiness checks behind /readyz, and MetaReady
	// the metadata readiness checks behind /readyz/meta (nil: always
	// ready).
	Ready, MetaReady func(ctx context.Context) []Check
	// Metrics serves /metrics in Prometheus format (nil: not served).
	Metrics http.Handler

	// KeyHeader is one more request header an API key may come in, for
	// OTLP senders that cannot set X-Honeycomb-Team.
	KeyHeader string
}

// observe reports a query's duration and outcome when someone listens.
func (s *Server) observe(kind string, began time.Time, err error) {
	if s.Observe != nil {
		s.Observe(kind, time.Since(began), err)
	}
}

// Handler returns the HTTP handler with every route.
func (s *Server) Handler() http.Handler {
	return identified(routed(s.routes().ServeMux, func(w http.ResponseWriter, r *http.Request, status int, allow string) {
		if status == http.StatusMethodNotAllowed {
			s.fail(w, r, httpError(status, r.Method+" is not allowed on "+r.URL.Path+"; use "+allow))
			return
		}
		s.fail(w, r, httpError(http.StatusNotFound, "no route for "+r.Method+" "+r.URL.Path))
	}))
}

// routes registers every route, on a mux that remembers their patterns.
func (s *Server) routes() *routeMux {
	s.defaults()
	mux := newRouteMux()
	mux.HandleFunc("POST /1/events/{dataset}", s.with(auth.Ingest, s.postEvent))
	mux.HandleFunc("POST /1/batch/{dataset}", s.with(auth.Ingest, s.postBatch))
	mux.HandleFunc("GET /1/columns/{dataset}", s.with(auth.Query, s.getColumns))
	mux.HandleFunc("GET /1/auth", s.with("", s.getAuth))
	mux.HandleFunc("POST /api/v1/query/{dataset}", s.with(auth.Query, s.postQuery))
	mux.HandleFunc("POST /api/v1/explain/{dataset}", s.with(auth.Query, s.postExplain))
	mux.HandleFunc("GET /api/v1/datasets", s.with(auth.Query, s.getDatasets))
	mux.HandleFunc("PUT /api/v1/datasets/{dataset}", s.with(auth.Admin, s.putDataset))
	mux.HandleFunc("GET /api/v1/keys", s.with(auth.Admin, s.rootOnly(s.getKeys)))
	mux.HandleFunc("POST /api/v1/keys", s.with(auth.Admin, s.rootOnly(s.postKey)))
	mux.HandleFunc("DELETE /api/v1/keys/{id}", s.with(auth.Admin, s.rootOnly(s.deleteKey)))
	mux.HandleFunc("GET /api/v1/environments", s.with(auth.Admin, s.rootOnly(s.getEnvs)))
	mux.HandleFunc("POST /api/v1/environments", s.with(auth.Admin, s.rootOnly(s.postEnv)))
	s.sloRoutes(mux)
	s.otlpRoutes(mux)
	s.riskRoutes(mux)
	s.markerRoutes(mux)
	s.historyRoutes(mux)
	s.userRoutes(mux)
	s.incidentRoutes(mux)
	s.noteRoutes(mux)
	s.uiRoutes(mux)
	mux.HandleFunc("GET /api/v1/audit", s.with(auth.Admin, s.getAudit))
	mux.HandleFunc("GET /api/v1/traces/{trace_id}", s.with(auth.Query, s.getTrace))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, map[string]string{"status": "ok"}) })
	mux.HandleFunc("GET /readyz", s.getReady)
	mux.HandleFunc("GET /readyz/meta", s.getMetaReady)
	mux.HandleFunc("GET /metrics", s.with(auth.Query, s.rootOnly(s.getMetrics)))
	mux.HandleFunc("GET /api/v1/openapi.json", getOpenAPI)
	return mux
}

// routed serves mux, answering a request no route matches (404) or whose
// path matches only under other methods (405, with Allow) through miss,
// so that those errors are in the API's format too.
func routed(mux *http.ServeMux, miss func(w http.ResponseWriter, r *http.Request, status int, allow string)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		// Ask the mux what it would answer (it redirects, or says 404 or
		// 405 with the methods allowed), without its plain-text body.
		probe := &probeWriter{header: http.Header{}}
		h.ServeHTTP(probe, r)
		switch probe.status {
		case http.StatusNotFound, http.StatusMethodNotAllowed:
			allow := probe.header.Get("Allow")
			if allow != "" {
				w.Header().Set("Allow", allow)
			}
			miss(w, r, probe.status, allow)
		default: // a redirect to the canonical path
			for k, v := range probe.header {
				w.Header()[k] = v
			}
			w.WriteHeader(probe.status)
		}
	})
}

// probeWriter records a status and headers and drops the body.
type probeWriter struct {
	header http.Header
	status int
}

func (p *probeWriter) Header() http.Header { return p.header }
func (p *probeWriter) Write(b []byte) (int, error) {
	if p.status == 0 {
		p.status = http.StatusOK
	}
	return len(b), nil
}
func (p *probeWriter) WriteHeader(code int) { p.status = code }

// Environments creates and lists environments.
type Environments interface {
	List() []string
	Create(ctx context.Context, name string) error
}

// defaults fills the options left zero; every entry point calls it.
func (s *Server) defaults() {
	s.once.Do(func() {
		if s.Now == nil {
			s.Now = time.Now
		}
		if s.Log == nil {
			s.Log = slog.Default()
		}
		if s.QueryTimeout <= 0 {
			s.QueryTimeout = 60 * time.Second
		}
		s.books()
	})
}

// books makes the domain's books over Meta and SLOs. The clock is read
// through s.Now, which tests may replace.
func (s *Server) books() {
	now := func() time.Time { return s.Now() }
	s.risks = &risk.Book{Store: s.Meta, SLOs: s.SLOs, Now: now}
	s.markers = &marker.Book{Store: s.Meta, Now: now}
	s.history = &history.Book{Store: s.Meta, Now: now}
	s.notes = &note.Book{Store: s.Meta, Now: now}
	s.incidents = &incident.Book{Store: s.Meta, SLOs: s.SLOs, Risks: s.risks, Notes: s.notes, Records: s.Meta, Now: now, Log: s.Log}
	s.risks.Work = s.incidents
	s.notes.Targets = map[string]note.Target{
		"slo": func(_ context.Context, name string) (bool, error) {
			_, ok := s.SLOs.Get(name)
			return ok, nil
		},
		"incident": s.incidents.Exists,
		"marker":   s.markers.Exists,
		"query":    s.history.Exists,
	}
	s.defs = apply.Owners{SLOs: s.SLOs, Risks: s.risks}
}

// Incidents is the book of this server's incidents, which the alerts of
// its SLOs open.
func (s *Server) Incidents() *incident.Book {
	s.defaults()
	return s.incidents
}

type keyCtx struct{}

// with authenticates the request's key for scope need ("" = any valid key).
func (s *Server) with(need auth.Scope, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.forged(r) {
			s.fail(w, r, httpError(http.StatusForbidden, "a change made with the web UI's session needs the "+uiHeader+" header"))
			return
		}
		scope := need
		if scope == "" {
			scope = auth.Ingest
		}
		k, err := s.authenticate(r, scope)
		if err == nil || errors.Is(err, auth.ErrForbidden) {
			if k.Env != s.Env { // another environment's key does not exist here
				err = auth.ErrUnauthenticated
			}
		}
		switch {
		case errors.Is(err, auth.ErrUnauthenticated):
			s.fail(w, r, httpError(http.StatusUnauthorized, "unknown API key: send a valid key in the X-Honeycomb-Team header (in the web UI, sign in again)"))
			return
		case err != nil && !errors.Is(err, auth.ErrForbidden): // the session store failed
			s.fail(w, r, err)
			return
		}
		r = r.WithContext(context.WithValue(r.Context(), keyCtx{}, k))
		serve := h
		if errors.Is(err, auth.ErrForbidden) && need != "" {
			serve = func(w http.ResponseWriter, r *http.Request) {
				s.fail(w, r, httpError(http.StatusForbidden, "this API key has scope "+string(k.Scope)+"; this route needs "+string(need)))
			}
		}
		if !audited(r) {
			serve(w, r)
			return
		}
		// Refused writes are recorded too: who tried what matters.
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		serve(sw, r)
		e := store.AuditEntry{Time: s.Now().UTC(), Author: author(r), KeyID: k.ID, Method: r.Method, Path: auditPath(r), Status: sw.status}
		if err := s.Meta.Audit(context.WithoutCancel(r.Context()), e); err != nil {
			s.Log.Error("audit record failed", "method", r.Method, "path", r.URL.Path, "err", err)
		}
	}
}

// auditPath is the request's path as the audit log keeps it: decoded,
// unless that is not valid UTF-8 or holds a NUL, which the stores refuse
// (the write would go unrecorded); then as it came, percent-encoded.
func auditPath(r *http.Request) string {
	if p := r.URL.Path; utf8.ValidString(p) && !strings.ContainsRune(p, 0) {
		return p
	}
	return r.URL.EscapedPath()
}

// audited tells the requests that change what Prodex holds — definitions,
// keys, people, shared objects — from reads and event ingest: those are
// recorded with their author in the audit log.
func audited(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		return false
	}
	switch r.Pattern {
	case "POST /1/events/{dataset}", "POST /1/batch/{dataset}", "POST /api/v1/query/{dataset}", "POST /api/v1/explain/{dataset}",
		"POST /api/v1/queries/{id}/run", "POST /api/v1/risks/{name}/what-if":
		return false
	}
	return true
}

// statusWriter remembers the status a handler answered with.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// author names who makes a request, for the records every write keeps:
// the key's user, else its name, else its id.
func author(r *http.Request) string {
	k, _ := r.Context().Value(keyCtx{}).(auth.Key)
	switch {
	case k.User != "":
		return k.User
	case k.Name != "":
		return k.Name
	}
	return "key " + k.ID
}

// owner is who a request acts as, for things only their writer may change:
// the person of a personal key, else the key itself.
func owner(r *http.Request) string {
	k, _ := r.Context().Value(keyCtx{}).(auth.Key)
	if k.User != "" {
		return "user:" + k.User
	}
	return "key:" + k.ID
}

// cookieless are the routes that ignore the web UI's session cookie: event
// ingest, which no page of the UI sends (OTLP's routes ignore it too, see
// withOTLP). A key must come in a header there.
var cookieless = map[string]bool{
	"POST /1/events/{dataset}": true,
	"POST /1/batch/{dataset}":  true,
}

// authenticate checks the credentials of a request for scope need: the API
// key of a header, else, on a route that takes it, the session of the
// UI's cookie (which acts as the key it was started with).
func (s *Server) authenticate(r *http.Request, need auth.Scope) (auth.Key, error) {
	if secret := s.headerKey(r); secret != "" {
		return s.Keys.Check(secret, need)
	}
	if c, err := r.Cookie(sessionCookie); err == nil && !cookieless[r.Pattern] {
		return s.Keys.CheckSession(r.Context(), c.Value, need)
	}
	return auth.Key{}, auth.ErrUnauthenticated
}

// EnvOf is the environment of a request's credentials — a header's key,
// else the key of the UI's session — "" when unknown: where to send the
// request, whose handler then authenticates it.
func (s *Server) EnvOf(r *http.Request) string {
	if secret := s.headerKey(r); secret != "" {
		return s.Keys.EnvOf(secret)
	}
	if c, err := r.Cookie(sessionCookie); err == nil {
		return s.Keys.SessionEnv(r.Context(), c.Value)
	}
	return ""
}

// headerKey is the API key a request carries in a header ("" if none).
func (s *Server) headerKey(r *http.Request) string {
	secret := r.Header.Get("X-Honeycomb-Team")
	if secret == "" && s.KeyHeader != "" {
		secret = r.Header.Get(s.KeyHeader)
	}
	if secret == "" {
		if a := r.Header.Get("Authorization"); strings.HasPrefix(a, "Bearer ") {
			secret = strings.TrimPrefix(a, "Bearer ")
		}
	}
	return secret
}

// forged reports a request that changes something on the strength of the
// UI's session cookie alone, without the header only the UI sends: the
// credentials authenticate takes come from the cookie (whatever other
// headers, such as a non-Bearer Authorization, the request has).
func (s *Server) forged(r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead || r.Header.Get(uiHeader) != "" || cookieless[r.Pattern] {
		return false
	}
	if s.headerKey(r) != "" {
		return false
	}
	_, err := r.Cookie(sessionCookie)
	return err == nil
}

func (s *Server) getAuth(w http.ResponseWriter, r *http.Request) {
	k := r.Context().Value(keyCtx{}).(auth.Key)
	writeJSON(w, 200, map[string]any{"id": k.ID, "scope": k.Scope, "name": k.Name, "user": k.User,
		"api_key_access": map[string]bool{"events": k.Scope.Allows(auth.Ingest), "queries": k.Scope.Allows(auth.Query), "admin": k.Scope.Allows(auth.Admin)}})
}

// dataset validates the {dataset} path value.
func dataset(r *http.Request) (string, error) {
	name, err := event.NormalizeDataset(r.PathValue("dataset"))
	if err != nil {
		return "", badRequest(err.Error())
	}
	return name, nil
}
