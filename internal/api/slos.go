package api

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/prodex/prodex/internal/auth"
	"github.com/prodex/prodex/internal/manifest"
	"github.com/prodex/prodex/internal/risk"
	"github.com/prodex/prodex/internal/rules"
	"github.com/prodex/prodex/internal/slo"
)

const maxDefinitionBytes = 4 << 20

func (s *Server) sloRoutes(mux *http.ServeMux) {
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
		writeError(w, http.StatusNotFound, "SLO "+r.PathValue("name")+" does not exist")
		return
	}
	writeJSON(w, http.StatusOK, d)
}

// readSLO decodes one SLO as JSON, rejecting unknown fields.
func readSLO(w http.ResponseWriter, r *http.Request) (slo.SLO, bool) {
	var d slo.SLO
	ok := readStrict(w, r, &d, "SLO")
	return d, ok
}

func (s *Server) postSLO(w http.ResponseWriter, r *http.Request) {
	d, ok := readSLO(w, r)
	if !ok {
		return
	}
	s.applyOne(w, r, d, http.StatusCreated)
}

func (s *Server) putSLO(w http.ResponseWriter, r *http.Request) {
	d, ok := readSLO(w, r)
	if !ok {
		return
	}
	if nameFromPath(w, r, &d.Name) {
		s.applyOne(w, r, d, http.StatusOK)
	}
}

// nameFromPath gives a definition PUT without a name the URL's, and
// refuses (answering 400) one whose name differs.
func nameFromPath(w http.ResponseWriter, r *http.Request, name *string) bool {
	if *name == "" {
		*name = r.PathValue("name")
	}
	if *name != r.PathValue("name") {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("name: %q does not match the URL's %q", *name, r.PathValue("name")))
		return false
	}
	return true
}

func (s *Server) applyOne(w http.ResponseWriter, r *http.Request, d slo.SLO, created int) {
	ch, err := s.SLOs.Apply(r.Context(), d, r.URL.Query().Get("dry_run") == "true")
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	status := http.StatusOK
	if ch.Action == "created" {
		status = created
	}
	writeJSON(w, status, ch)
}

// apply takes SLOs and risks as code (YAML or JSON documents: prodex/v1
// SLO or Risk, OpenSLO v1 SLO). Every document is checked before any is
// applied, so a bad file changes nothing; SLOs are applied before the
// risks that may name them.
func (s *Server) apply(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxDefinitionBytes))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "definitions larger than 4 MiB")
		return
	}
	docs, err := manifest.Split(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	var defs []slo.SLO
	var risks []risk.Risk
	defined := map[string]int{}
	for _, d := range docs {
		var name string
		switch d.Kind {
		case "Risk":
			rk, err := risk.FromDoc(d)
			if err != nil {
				writeError(w, http.StatusBadRequest, err.Error())
				return
			}
			risks, name = append(risks, rk), "Risk/"+rk.Name
		case "SLO":
			def, err := slo.FromDoc(d)
			if err != nil {
				writeError(w, http.StatusBadRequest, err.Error())
				return
			}
			defs, name = append(defs, def), "SLO/"+def.Name
		default:
			writeError(w, http.StatusBadRequest, d.Errorf(false, fmt.Errorf("kind: %s is not supported (want SLO or Risk)", manifest.Quote(d.Kind))).Error())
			return
		}
		if prev, ok := defined[name]; ok {
			writeError(w, http.StatusBadRequest, d.Errorf(true, fmt.Errorf("metadata.name: %q is already defined by document %d", d.Name, prev)).Error())
			return
		}
		defined[name] = d.N
	}
	if len(docs) == 0 {
		writeError(w, http.StatusBadRequest, "no SLO or Risk documents found")
		return
	}
	dry := r.URL.Query().Get("dry_run") == "true"
	for _, d := range defs {
		if _, err := s.SLOs.Apply(r.Context(), d, true); err != nil {
			writeError(w, http.StatusBadRequest, "SLO "+d.Name+": "+err.Error())
			return
		}
	}
	for i := range risks {
		if defined["SLO/"+risks[i].SLO] > 0 {
			continue // defined in this file: checked above
		}
		if err := s.checkRisk(&risks[i]); err != nil {
			writeError(w, http.StatusBadRequest, "Risk "+risks[i].Name+": "+err.Error())
			return
		}
	}
	out := []rules.Change{}
	for _, d := range defs {
		ch, err := s.SLOs.Apply(r.Context(), d, dry)
		if err != nil {
			writeError(w, http.StatusInternalServerError, "SLO "+d.Name+": "+err.Error())
			return
		}
		ch.Kind = "SLO"
		out = append(out, ch)
	}
	for _, rk := range risks {
		ch, err := s.saveRisk(r.Context(), rk, dry)
		if dry && err != nil && defined["SLO/"+rk.SLO] > 0 {
			// Its SLO is only being created by this dry run.
			ch, err = rules.Change{Name: rk.Name, Action: "created"}, nil
		}
		if err != nil {
			writeError(w, http.StatusInternalServerError, "Risk "+rk.Name+": "+err.Error())
			return
		}
		ch.Kind = "Risk"
		out = append(out, ch)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) deleteSLO(w http.ResponseWriter, r *http.Request) {
	err := s.SLOs.Delete(r.Context(), r.PathValue("name"))
	switch {
	case errors.Is(err, rules.ErrNotFound):
		writeError(w, http.StatusNotFound, "SLO "+r.PathValue("name")+" does not exist")
	case err != nil:
		writeError(w, http.StatusInternalServerError, err.Error())
	default:
		writeJSON(w, http.StatusOK, map[string]string{"deleted": r.PathValue("name")})
	}
}

func (s *Server) sloStatus(w http.ResponseWriter, r *http.Request) {
	st, err := s.SLOs.Status(r.PathValue("name"))
	if err != nil {
		writeError(w, http.StatusNotFound, "SLO "+r.PathValue("name")+" does not exist")
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
		if err != nil || f < 0 || f > 100 {
			writeError(w, http.StatusBadRequest, "min_remaining: want a percentage between 0 and 100")
			return
		}
		min = f
	}
	st, err := s.SLOs.Status(r.PathValue("name"))
	if err != nil {
		writeError(w, http.StatusNotFound, "SLO "+r.PathValue("name")+" does not exist")
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
			writeError(w, http.StatusBadRequest, "limit: want 1 to 10000")
			return
		}
		limit = n
	}
	eps, err := s.SLOs.Alerts(r.Context(), q.Get("slo"), q.Get("open") == "true", limit)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, eps)
}
