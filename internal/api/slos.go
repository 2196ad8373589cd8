package api

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/prodex/prodex/internal/auth"
	"github.com/prodex/prodex/internal/problem"
	"github.com/prodex/prodex/internal/slo"
)

const maxDefinitionBytes = 4 << 20

func (s *Server) sloRoutes(mux *routeMux) {
	mux.HandleFunc("GET /api/v1/slos", s.with(auth.Query, s.listSLOs))
	mux.HandleFunc("POST /api/v1/slos", s.with(auth.Admin, s.postSLO))
	mux.HandleFunc("GET /api/v1/slos/{name}", s.with(auth.Query, s.getSLO))
	mux.HandleFunc("PUT /api/v1/slos/{name}", s.with(auth.Admin, s.putSLO))
	mux.HandleFunc("DELETE /api/v1/slos/{name}", s.with(auth.Admin, s.deleteSLO))
	mux.HandleFunc("GET /api/v1/slos/{name}/status", s.with(auth.Query, s.sloStatus))
	mux.HandleFunc("GET /api/v1/slos/{name}/gate", s.with(auth.Query, s.sloGate))
	mux.HandleFunc("POST /api/v1/apply", s.with(auth.Admin, s.apply))
	mux.HandleFunc("GET /api/v1/alerts", s.with(auth.Query, s.listAlerts))
}

func (s *Server) listSLOs(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.SLOs.List())
}

func (s *Server) getSLO(w http.ResponseWriter, r *http.Request) {
	d, ok := s.SLOs.Get(r.PathValue("name"))
	if !ok {
		s.fail(w, r, noSLO(r))
		return
	}
	writeJSON(w, http.StatusOK, d)
}

// noSLO is the 404 for the SLO the path names.
func noSLO(r *http.Request) error {
	return httpError(http.StatusNotFound, "SLO "+r.PathValue("name")+" does not exist")
}

func (s *Server) postSLO(w http.ResponseWriter, r *http.Request) {
	var d slo.SLO
	if err := readStrict(w, r, &d, "SLO"); err != nil {
		s.fail(w, r, err)
		return
	}
	s.applyOne(w, r, d, http.StatusCreated)
}

func (s *Server) putSLO(w http.ResponseWriter, r *http.Request) {
	var d slo.SLO
	err := readStrict(w, r, &d, "SLO")
	if err == nil {
		err = nameFromPath(r, &d.Name)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.applyOne(w, r, d, http.StatusOK)
}

// nameFromPath gives a definition PUT without a name the URL's, and
// refuses (a 400) one whose name differs.
func nameFromPath(r *http.Request, name *string) error {
	if *name == "" {
		*name = r.PathValue("name")
	}
	if *name != r.PathValue("name") {
		return badRequest(fmt.Sprintf("name: %q does not match the URL's %q", *name, r.PathValue("name")))
	}
	return nil
}

// applyOne creates or updates one SLO. A definition at fault is a 400
// saying why; a failure of the store (counting its events, say) is the
// server's: a 500 with the request's id, the detail in the log only.
func (s *Server) applyOne(w http.ResponseWriter, r *http.Request, d slo.SLO, created int) {
	ch, err := s.SLOs.Apply(r.Context(), d, r.URL.Query().Get("dry_run") == "true")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	status := http.StatusOK
	if ch.Action == "created" {
		status = created
	}
	writeJSON(w, status, ch)
}

// apply takes SLOs and risks as code (YAML or JSON documents: prodex/v1
// SLO or Risk, OpenSLO v1 SLO); package apply hands each to its owner.
func (s *Server) apply(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxDefinitionBytes))
	if err != nil {
		s.fail(w, r, httpError(http.StatusRequestEntityTooLarge, "definitions larger than 4 MiB"))
		return
	}
	out, err := s.defs.Stream(r.Context(), body, r.URL.Query().Get("dry_run") == "true")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) deleteSLO(w http.ResponseWriter, r *http.Request) {
	err := s.SLOs.Delete(r.Context(), r.PathValue("name"))
	switch {
	case errors.Is(err, problem.ErrNotFound):
		s.fail(w, r, noSLO(r))
	case err != nil:
		s.fail(w, r, err)
	default:
		writeJSON(w, http.StatusOK, map[string]string{"deleted": r.PathValue("name")})
	}
}

func (s *Server) sloStatus(w http.ResponseWriter, r *http.Request) {
	st, err := s.SLOs.Status(r.PathValue("name"))
	if err != nil {
		s.fail(w, r, noSLO(r))
		return
	}
	s.writeSLOStatus(w, r, st)
}

// sloGate answers "is it safe to ship a risky change?": yes when at least
// min_remaining percent of the error budget is left and nothing pages.
func (s *Server) sloGate(w http.ResponseWriter, r *http.Request) {
	min := 0.0
	if v := strings.TrimSuffix(r.URL.Query().Get("min_remaining"), "%"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || !(f >= 0 && f <= 100) { // NaN too
			s.fail(w, r, badRequest("min_remaining: want a percentage between 0 and 100"))
			return
		}
		min = f
	}
	st, err := s.SLOs.Status(r.PathValue("name"))
	if err != nil {
		s.fail(w, r, noSLO(r))
		return
	}
	a := GateAnswer{SLO: st.SLO, OK: true, BudgetRemainingPercent: st.BudgetRemainingPercent, MinRemainingPercent: min, OpenAlerts: []string{}}
	for _, ep := range st.Alerts {
		a.OpenAlerts = append(a.OpenAlerts, string(ep.Severity)+": "+ep.Detail)
	}
	switch {
	case st.BudgetRemainingPercent < min:
		a.OK, a.Reason = false, fmt.Sprintf("%.2f%% of the error budget remains, less than the %.2f%% required", st.BudgetRemainingPercent, min)
	case len(st.Alerts) > 0 && st.Alerts[0].Severity == "page":
		a.OK, a.Reason = false, "a page is firing: "+st.Alerts[0].Detail
	default:
		a.Reason = fmt.Sprintf("%.2f%% of the error budget remains (required %.2f%%)", st.BudgetRemainingPercent, min)
	}
	writeJSON(w, http.StatusOK, a)
}

func (s *Server) listAlerts(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			s.fail(w, r, badRequest("limit: want 1 to 10000"))
			return
		}
		limit = n
	}
	eps, err := s.SLOs.Alerts(r.Context(), q.Get("slo"), q.Get("open") == "true", limit)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, eps)
}
