package api

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/prodex/prodex/internal/auth"
	"github.com/prodex/prodex/internal/problem"
	"github.com/prodex/prodex/internal/risk"
)

func (s *Server) riskRoutes(mux *routeMux) {
	mux.HandleFunc("GET /api/v1/risks", s.with(auth.Query, s.listRisks))
	mux.HandleFunc("POST /api/v1/risks", s.with(auth.Edit, s.postRisk))
	mux.HandleFunc("GET /api/v1/risks/{name}", s.with(auth.Query, s.getRisk))
	mux.HandleFunc("PUT /api/v1/risks/{name}", s.with(auth.Edit, s.putRisk))
	mux.HandleFunc("DELETE /api/v1/risks/{name}", s.with(auth.Edit, s.deleteRisk))
	mux.HandleFunc("POST /api/v1/risks/{name}/what-if", s.with(auth.Query, s.whatIf))
	mux.HandleFunc("POST /api/v1/risks/{name}/incidents", s.with(auth.Edit, s.linkIncident))
	mux.HandleFunc("GET /api/v1/slos/{name}/risks", s.with(auth.Query, s.riskReport))
	mux.HandleFunc("GET /api/v1/slos/{name}/incidents", s.with(auth.Query, s.sloIncidents))
}

func (s *Server) listRisks(w http.ResponseWriter, r *http.Request) {
	out, err := s.risks.List(r.Context(), r.URL.Query().Get("slo"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getRisk(w http.ResponseWriter, r *http.Request) {
	rk, err := s.risks.Get(r.Context(), r.PathValue("name"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rk)
}

// readStrict decodes a JSON body into v, rejecting unknown fields and
// bodies over maxDefinitionBytes; its error, a 400, names what.
func readStrict(w http.ResponseWriter, r *http.Request, v any, what string) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxDefinitionBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest("invalid " + what + ": " + strings.TrimPrefix(err.Error(), "json: "))
	}
	return nil
}

func (s *Server) postRisk(w http.ResponseWriter, r *http.Request) {
	var rk risk.Risk
	if err := readStrict(w, r, &rk, "risk"); err != nil {
		s.fail(w, r, err)
		return
	}
	s.saveRisk(w, r, rk, http.StatusCreated)
}

func (s *Server) putRisk(w http.ResponseWriter, r *http.Request) {
	var rk risk.Risk
	err := readStrict(w, r, &rk, "risk")
	if err == nil {
		err = nameFromPath(r, &rk.Name)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.saveRisk(w, r, rk, http.StatusOK)
}

// saveRisk saves a risk and answers what changed: created (with status
// created), updated or unchanged.
func (s *Server) saveRisk(w http.ResponseWriter, r *http.Request, rk risk.Risk, created int) {
	ch, err := s.risks.Save(r.Context(), rk, r.URL.Query().Get("dry_run") == "true")
	switch {
	case err != nil:
		s.fail(w, r, err)
	case ch.Action == "created":
		writeJSON(w, created, ch)
	default:
		writeJSON(w, http.StatusOK, ch)
	}
}

func (s *Server) deleteRisk(w http.ResponseWriter, r *http.Request) {
	if err := s.risks.Delete(r.Context(), r.PathValue("name")); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"deleted": r.PathValue("name")})
}

// thresholds reads ?incident_threshold= and ?threat_threshold= (percent).
func thresholds(r *http.Request) (risk.Thresholds, error) {
	th := risk.DefaultThresholds
	for name, p := range map[string]*float64{"incident_threshold": &th.IncidentPercent, "threat_threshold": &th.ThreatPercent} {
		if v := r.URL.Query().Get(name); v != "" {
			f, err := strconv.ParseFloat(strings.TrimSuffix(v, "%"), 64)
			if err != nil || !(f > 0) || f > 1000 {
				return th, badRequest(fmt.Sprintf("%s: want a percentage above 0, got %q", name, v))
			}
			*p = f
		}
	}
	return th, nil
}

// riskReport answers GET /api/v1/slos/{name}/risks: the ranked register
// as JSON, or ?format=markdown or csv for a planning meeting.
func (s *Server) riskReport(w http.ResponseWriter, r *http.Request) {
	th, err := thresholds(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	reg, err := s.risks.Register(r.Context(), r.PathValue("name"), th)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	switch f := r.URL.Query().Get("format"); f {
	case "", "json":
		writeJSON(w, http.StatusOK, reg)
	case "markdown", "md":
		w.Header().Set("Content-Type", "text/markdown; charset=utf-8")
		w.Write([]byte(risk.Markdown(reg)))
	case "csv":
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="risks-`+reg.SLO+`.csv"`)
		var buf bytes.Buffer
		cw := csv.NewWriter(&buf)
		cw.WriteAll(risk.CSV(reg))
		w.Write(buf.Bytes())
	default:
		s.fail(w, r, badRequest(fmt.Sprintf("format: %q is not one of json, markdown, csv", f)))
	}
}

// whatIf answers POST /api/v1/risks/{name}/what-if: the register with one
// risk's estimates changed, nothing saved.
func (s *Server) whatIf(w http.ResponseWriter, r *http.Request) {
	var ch risk.Change
	err := readStrict(w, r, &ch, "what-if")
	var th risk.Thresholds
	if err == nil {
		th, err = thresholds(r)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out, err := s.risks.WhatIf(r.Context(), r.PathValue("name"), th, ch)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) sloIncidents(w http.ResponseWriter, r *http.Request) {
	limit := 100
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			s.fail(w, r, badRequest("limit: want 1 to 1000"))
			return
		}
		limit = n
	}
	out, err := s.SLOs.Incidents(r.Context(), r.PathValue("name"), limit)
	switch {
	case errors.Is(err, problem.ErrNotFound):
		s.fail(w, r, httpError(http.StatusNotFound, "SLO "+r.PathValue("name")+" does not exist"))
	case err != nil:
		s.fail(w, r, err)
	default:
		writeJSON(w, http.StatusOK, out)
	}
}

// linkIncident answers POST /api/v1/risks/{name}/incidents
// {"alert_id": …}: the alert episode was this risk happening.
func (s *Server) linkIncident(w http.ResponseWriter, r *http.Request) {
	var body struct {
		AlertID string `json:"alert_id"`
	}
	if err := readStrict(w, r, &body, "link"); err != nil {
		s.fail(w, r, err)
		return
	}
	rk, err := s.risks.Link(r.Context(), r.PathValue("name"), body.AlertID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rk)
}
