package api

import (
	"context"
	"net/http"
	"time"
)

// Check is one readiness check's answer: an empty Problem means it passed.
// A Degraded problem is reported without making the server unready (ingest
// refusing for lack of memory still leaves queries and alerts working).
type Check struct {
	Name     string `json:"name"`
	Problem  string `json:"problem,omitempty"`
	Degraded bool   `json:"degraded,omitempty"`
}

// getReady answers load balancers: 200 when the server can do its work,
// 503 naming what is wrong otherwise. It needs no key, and says nothing
// that is not about the server's own health.
func (s *Server) getReady(w http.ResponseWriter, r *http.Request) {
	if s.Ready == nil {
		writeJSON(w, http.StatusOK, map[string]any{"status": "ready", "checks": []Check{}})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	checks := s.Ready(ctx)
	status, code := "ready", http.StatusOK
	for _, c := range checks {
		if c.Problem != "" && !c.Degraded {
			status, code = "not ready", http.StatusServiceUnavailable
			break
		}
	}
	writeJSON(w, code, map[string]any{"status": status, "checks": checks})
}

// getMetrics serves the process's metrics (to keys of the default
// environment: they describe every environment).
func (s *Server) getMetrics(w http.ResponseWriter, r *http.Request) {
	if s.Metrics == nil {
		s.fail(w, r, httpError(http.StatusNotFound, "metrics are not served by this server"))
		return
	}
	s.Metrics.ServeHTTP(w, r)
}
