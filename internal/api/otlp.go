package api

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/prodex/prodex/internal/auth"
	"github.com/prodex/prodex/internal/ingest"
	"github.com/prodex/prodex/internal/otlp"
)

// otlpRoutes serves OTLP/HTTP on the main listener.
func (s *Server) otlpRoutes(mux *routeMux) {
	if s.OTLP == nil {
		return
	}
	mux.HandleFunc("POST /v1/traces", s.withOTLP(s.OTLP.ServeTraces))
	mux.HandleFunc("POST /v1/logs", s.withOTLP(s.OTLP.ServeLogs))
}

// OTLPHandler serves only OTLP/HTTP, for its conventional port.
func (s *Server) OTLPHandler() http.Handler {
	mux := newRouteMux()
	s.otlpRoutes(mux)
	return identified(routed(mux.ServeMux, func(w http.ResponseWriter, r *http.Request, status int, allow string) {
		otlp.WriteHTTPError(w, r, status, "no route for "+r.Method+" "+r.URL.Path+": OTLP/HTTP is POST /v1/traces and /v1/logs")
	}))
}

// withOTLP authenticates an OTLP/HTTP request by the key of its headers,
// answering failures with the Status body OTLP clients expect. The web
// UI's session cookie is ignored: telemetry is sent with a key.
func (s *Server) withOTLP(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		switch id, err := s.Authorize(r.Context(), s.headerKey(r)); {
		case errors.Is(err, otlp.ErrUnauthenticated):
			otlp.WriteHTTPError(w, r, http.StatusUnauthorized, "unknown API key: send a valid key in the X-Honeycomb-Team header")
		case err != nil:
			otlp.WriteHTTPError(w, r, http.StatusForbidden, err.Error())
		default:
			s.paced(w, r)
			h(w, r.WithContext(ingest.WithKey(r.Context(), id)))
		}
	}
}

// Authorize checks that key may send events, for OTLP over HTTP and gRPC,
// and returns its id.
func (s *Server) Authorize(ctx context.Context, key string) (string, error) {
	k, err := s.Keys.Check(key, auth.Ingest)
	if (err == nil || errors.Is(err, auth.ErrForbidden)) && k.Env != s.Env {
		err = auth.ErrUnauthenticated
	}
	switch {
	case errors.Is(err, auth.ErrUnauthenticated):
		return "", otlp.ErrUnauthenticated
	case err != nil:
		return "", errors.New("this API key has scope " + string(k.Scope) + "; sending telemetry needs " + string(auth.Ingest))
	}
	return k.ID, nil
}

// KeyHeaders are the lower-case gRPC metadata names an API key may come in.
func (s *Server) KeyHeaders() []string {
	h := []string{"x-honeycomb-team"}
	if s.KeyHeader != "" {
		h = append(h, strings.ToLower(s.KeyHeader))
	}
	return h
}
