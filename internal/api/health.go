package api

import (
	"context"
	"net/http"
	"time"
)

// Check is one readiness check's answer: an empty Problem means it passed.
// A Degraded problem is reported without making the server unready (ingest
// refusing for lack of memory still leaves queries and alerts working);
// Degraded is set only on a check that has a problem.
type Check struct {
	Name     string `json:"name"`
	Problem  string `json:"problem,omitempty"`
	Degraded bool   `json:"degraded,omitempty"`
}

// getReady is ingest readiness, for load balancers (in front of ingest, or
// of the whole server): 200 while this node can take events, 503 naming
// what is wrong otherwise. The metadata store and the alert rules are
// reported but never make it unready: ingest goes on without them.
// It needs no key, and says nothing that is not about the server's own
// health.
func (s *Server) getReady(w http.ResponseWriter, r *http.Request) {
	answerReady(w, r, s.Ready)
}

// getMetaReady is metadata readiness: 200 while the metadata store answers
// and the alert rules are evaluated, 503 otherwise; for a load balancer in
// front of the routes that read or change definitions.
func (s *Server) getMetaReady(w http.ResponseWriter, r *http.Request) {
	answerReady(w, r, s.MetaReady)
}

func answerReady(w http.ResponseWriter, r *http.Request, checks func(context.Context) []Check) {
	if checks == nil {
		writeJSON(w, http.StatusOK, map[string]any{"status": "ready", "checks": []Check{}})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	cs := checks(ctx)
	status, code := "ready", http.StatusOK
	for _, c := range cs {
		if c.Problem != "" && !c.Degraded {
			status, code = "not ready", http.StatusServiceUnavailable
			break
		}
	}
	writeJSON(w, code, map[string]any{"status": status, "checks": cs})
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
