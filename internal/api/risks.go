package api

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/prodex/prodex/internal/auth"
	"github.com/prodex/prodex/internal/lookup"
	"github.com/prodex/prodex/internal/risk"
	"github.com/prodex/prodex/internal/rules"
)

func (s *Server) riskRoutes(mux *http.ServeMux) {
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

// loadRisks reads every stored risk, by name.
func (s *Server) loadRisks(ctx context.Context) (map[string]risk.Risk, error) {
	docs, err := s.Meta.Risks(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]risk.Risk, len(docs))
	for name, body := range docs {
		var r risk.Risk
		if err := json.Unmarshal(body, &r); err != nil {
			return nil, fmt.Errorf("stored risk %s: %w", name, err)
		}
		out[name] = r
	}
	return out, nil
}

// risksOf lists an SLO's risks (every risk when slo is ""), by name.
func risksOf(all map[string]risk.Risk, slo string) []risk.Risk {
	out := []risk.Risk{}
	for _, r := range all {
		if slo == "" || r.SLO == slo {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (s *Server) listRisks(w http.ResponseWriter, r *http.Request) {
	all, err := s.loadRisks(r.Context())
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, risksOf(all, r.URL.Query().Get("slo")))
}

func (s *Server) getRisk(w http.ResponseWriter, r *http.Request) {
	rk, _, ok := s.riskNamed(w, r)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, rk)
}

// riskNamed finds the risk the path names, among all stored risks; it
// answers the request itself when it cannot.
func (s *Server) riskNamed(w http.ResponseWriter, r *http.Request) (risk.Risk, map[string]risk.Risk, bool) {
	all, err := s.loadRisks(r.Context())
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return risk.Risk{}, nil, false
	}
	rk, ok := all[r.PathValue("name")]
	if !ok {
		writeError(w, http.StatusNotFound, "risk "+r.PathValue("name")+" does not exist")
	}
	return rk, all, ok
}

// readRisk decodes one risk as JSON, rejecting unknown fields.
func readRisk(w http.ResponseWriter, r *http.Request) (risk.Risk, bool) {
	var rk risk.Risk
	ok := readStrict(w, r, &rk, "risk")
	return rk, ok
}

// readStrict decodes a JSON body into v, rejecting unknown fields and
// bodies over maxDefinitionBytes; it answers a 400 naming what itself.
func readStrict(w http.ResponseWriter, r *http.Request, v any, what string) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxDefinitionBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "invalid "+what+": "+strings.TrimPrefix(err.Error(), "json: "))
		return false
	}
	return true
}

func (s *Server) postRisk(w http.ResponseWriter, r *http.Request) {
	rk, ok := readRisk(w, r)
	if ok {
		s.saveRiskAnswer(w, r, rk, http.StatusCreated)
	}
}

func (s *Server) putRisk(w http.ResponseWriter, r *http.Request) {
	rk, ok := readRisk(w, r)
	if !ok {
		return
	}
	if nameFromPath(w, r, &rk.Name) {
		s.saveRiskAnswer(w, r, rk, http.StatusOK)
	}
}

func (s *Server) saveRiskAnswer(w http.ResponseWriter, r *http.Request, rk risk.Risk, created int) {
	ch, err := s.saveRisk(r.Context(), rk, r.URL.Query().Get("dry_run") == "true")
	var ce *checkError
	switch {
	case errors.As(err, &ce):
		writeError(w, http.StatusBadRequest, err.Error())
	case err != nil:
		writeError(w, http.StatusInternalServerError, err.Error())
	case ch.Action == "created":
		writeJSON(w, created, ch)
	default:
		writeJSON(w, http.StatusOK, ch)
	}
}

// checkError is a definition that is refused (a 400), as opposed to a
// failure to store it.
type checkError struct{ msg string }

func (e *checkError) Error() string { return e.msg }

// checkRisk validates a risk and that its SLO exists.
func (s *Server) checkRisk(rk *risk.Risk) error {
	if err := rk.Normalize(); err != nil {
		return &checkError{err.Error()}
	}
	if _, ok := s.SLOs.Get(rk.SLO); !ok {
		return &checkError{fmt.Sprintf("slo: %q does not exist", rk.SLO)}
	}
	return nil
}

// saveRisk creates or updates a risk and says what changed, as SLO apply
// does.
func (s *Server) saveRisk(ctx context.Context, rk risk.Risk, dry bool) (rules.Change, error) {
	if err := s.checkRisk(&rk); err != nil {
		return rules.Change{}, err
	}
	all, err := s.loadRisks(ctx)
	if err != nil {
		return rules.Change{}, err
	}
	ch := rules.Change{Name: rk.Name, Action: "created"}
	if old, ok := all[rk.Name]; ok {
		ch.Diff = diffJSON(old, rk)
		ch.Action = "updated"
		if len(ch.Diff) == 0 {
			ch.Action = "unchanged"
		}
	}
	if dry || ch.Action == "unchanged" {
		return ch, nil
	}
	body, _ := json.Marshal(rk)
	return ch, s.Meta.PutRisk(ctx, rk.Name, body)
}

// diffJSON lists the top-level fields that differ between a and b, as
// "field: old → new".
func diffJSON(a, b any) []string {
	var ma, mb map[string]any
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	json.Unmarshal(ja, &ma)
	json.Unmarshal(jb, &mb)
	keys := map[string]bool{}
	for k := range ma {
		keys[k] = true
	}
	for k := range mb {
		keys[k] = true
	}
	var out []string
	for k := range keys {
		if !reflect.DeepEqual(ma[k], mb[k]) {
			va, _ := json.Marshal(ma[k])
			vb, _ := json.Marshal(mb[k])
			out = append(out, fmt.Sprintf("%s: %s → %s", k, va, vb))
		}
	}
	sort.Strings(out)
	return out
}

func (s *Server) deleteRisk(w http.ResponseWriter, r *http.Request) {
	if _, _, ok := s.riskNamed(w, r); !ok {
		return
	}
	if err := s.Meta.DeleteRisk(r.Context(), r.PathValue("name")); err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
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
				return th, fmt.Errorf("%s: want a percentage above 0, got %q", name, v)
			}
			*p = f
		}
	}
	return th, nil
}

// register ranks an SLO's risks, with what their linked incidents measured.
func (s *Server) register(ctx context.Context, sloName string, th risk.Thresholds) (risk.Register, int, error) {
	def, ok := s.SLOs.Get(sloName)
	if !ok {
		return risk.Register{}, http.StatusNotFound, fmt.Errorf("SLO %s does not exist", sloName)
	}
	all, err := s.loadRisks(ctx)
	if err != nil {
		return risk.Register{}, http.StatusInternalServerError, err
	}
	b := risk.Budget{Target: def.Target, Window: def.Window.Length(s.Now())}
	reg := risk.Rank(def.Name, def.Window.String(), b, th, risksOf(all, sloName))
	incidents, err := s.SLOs.Incidents(ctx, sloName, 1000)
	if err != nil {
		return risk.Register{}, http.StatusInternalServerError, err
	}
	byID := map[string]risk.Incident{}
	for _, in := range incidents {
		byID[in.AlertID] = in
	}
	worked, err := s.loadIncidents(ctx)
	if err != nil {
		return risk.Register{}, http.StatusInternalServerError, err
	}
	for i := range reg.Risks {
		var linked []risk.Incident
		for _, id := range reg.Risks[i].Risk.Incidents {
			if in, ok := byID[id]; ok {
				linked = append(linked, in)
			}
		}
		// Incidents the team worked and tied to this risk: their
		// detection and mitigation times, and the impact their alert
		// measured when one opened them.
		for _, inc := range worked {
			if inc.Risk != reg.Risks[i].Risk.Name || inc.AlertID != "" && slices.Contains(reg.Risks[i].Risk.Incidents, inc.AlertID) {
				continue // not this risk's, or its alert already counted
			}
			impact := -1.0
			if m, ok := byID[inc.AlertID]; ok && inc.AlertID != "" {
				impact = m.ImpactPercent
			}
			linked = append(linked, inc.Measured(impact))
		}
		reg.Risks[i].Observed = risk.Observe(reg.Risks[i].Risk, linked)
	}
	return reg, http.StatusOK, nil
}

// riskReport answers GET /api/v1/slos/{name}/risks: the ranked register
// as JSON, or ?format=markdown or csv for a planning meeting.
func (s *Server) riskReport(w http.ResponseWriter, r *http.Request) {
	th, err := thresholds(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	reg, code, err := s.register(r.Context(), r.PathValue("name"), th)
	if err != nil {
		writeError(w, code, err.Error())
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
		writeError(w, http.StatusBadRequest, fmt.Sprintf("format: %q is not one of json, markdown, csv", f))
	}
}

// whatIf answers POST /api/v1/risks/{name}/what-if: the register with one
// risk's estimates changed, nothing saved.
func (s *Server) whatIf(w http.ResponseWriter, r *http.Request) {
	var ch risk.Change
	if !readStrict(w, r, &ch, "what-if") {
		return
	}
	th, err := thresholds(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	rk, all, ok := s.riskNamed(w, r)
	if !ok {
		return
	}
	def, ok := s.SLOs.Get(rk.SLO)
	if !ok {
		writeError(w, http.StatusConflict, "the risk's SLO "+rk.SLO+" no longer exists")
		return
	}
	b := risk.Budget{Target: def.Target, Window: def.Window.Length(s.Now())}
	out, err := risk.Try(def.Name, def.Window.String(), b, th, risksOf(all, rk.SLO), rk.Name, ch)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) sloIncidents(w http.ResponseWriter, r *http.Request) {
	limit := 100
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			writeError(w, http.StatusBadRequest, "limit: want 1 to 1000")
			return
		}
		limit = n
	}
	out, err := s.SLOs.Incidents(r.Context(), r.PathValue("name"), limit)
	switch {
	case errors.Is(err, lookup.ErrNotFound):
		writeError(w, http.StatusNotFound, "SLO "+r.PathValue("name")+" does not exist")
	case err != nil:
		writeError(w, http.StatusInternalServerError, err.Error())
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
	if !readStrict(w, r, &body, "link") {
		return
	}
	if body.AlertID == "" {
		writeError(w, http.StatusBadRequest, `alert_id: required, as in {"alert_id": "…"}`)
		return
	}
	rk, _, ok := s.riskNamed(w, r)
	if !ok {
		return
	}
	incidents, err := s.SLOs.Incidents(r.Context(), rk.SLO, 1000)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	found := false
	for _, in := range incidents {
		found = found || in.AlertID == body.AlertID
	}
	if !found {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("alert_id: %q is not an alert of SLO %s", body.AlertID, rk.SLO))
		return
	}
	for _, id := range rk.Incidents {
		if id == body.AlertID {
			writeJSON(w, http.StatusOK, rk)
			return
		}
	}
	rk.Incidents = append(rk.Incidents, body.AlertID)
	if _, err := s.saveRisk(r.Context(), rk, false); err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, rk)
}
