package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"time"

	"github.com/prodex/prodex/internal/auth"
	"github.com/prodex/prodex/internal/incident"
	"github.com/prodex/prodex/internal/rules"
	"github.com/prodex/prodex/internal/slo"
)

func (s *Server) incidentRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/incidents", s.with(auth.Query, s.listIncidents))
	mux.HandleFunc("POST /api/v1/incidents", s.with(auth.Edit, s.postIncident))
	mux.HandleFunc("GET /api/v1/incidents/{id}", s.with(auth.Query, s.getIncident))
	mux.HandleFunc("PATCH /api/v1/incidents/{id}", s.with(auth.Edit, s.patchIncident))
	mux.HandleFunc("GET /api/v1/incidents/{id}/timeline", s.with(auth.Query, s.incidentTimeline))
}

// loadIncidents reads every stored incident, by id.
func (s *Server) loadIncidents(ctx context.Context) (map[string]*incident.Incident, error) {
	docs, err := s.Meta.Incidents(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]*incident.Incident, len(docs))
	for id, body := range docs {
		var inc incident.Incident
		if err := json.Unmarshal(body, &inc); err != nil {
			return nil, fmt.Errorf("stored incident %s: %w", id, err)
		}
		out[id] = &inc
	}
	return out, nil
}

func (s *Server) saveIncident(ctx context.Context, inc *incident.Incident) error {
	body, err := json.Marshal(inc)
	if err != nil {
		return err
	}
	return s.Meta.PutIncident(ctx, inc.ID, body)
}

func newID(prefix string) string {
	var b [6]byte
	rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

func (s *Server) listIncidents(w http.ResponseWriter, r *http.Request) {
	all, err := s.loadIncidents(r.Context())
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	status, sloName := r.URL.Query().Get("status"), r.URL.Query().Get("slo")
	out := []*incident.Incident{}
	for _, inc := range all {
		if (status == "" || inc.Status == status) && (sloName == "" || inc.SLO == sloName) {
			out = append(out, inc)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].DetectedAt.After(out[j].DetectedAt) })
	writeJSON(w, http.StatusOK, out)
}

// incidentNamed finds the incident the path names; it answers the request
// itself when it cannot.
func (s *Server) incidentNamed(w http.ResponseWriter, r *http.Request) (*incident.Incident, bool) {
	all, err := s.loadIncidents(r.Context())
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return nil, false
	}
	inc, ok := all[r.PathValue("id")]
	if !ok {
		writeError(w, http.StatusNotFound, "incident "+r.PathValue("id")+" does not exist")
	}
	return inc, ok
}

func (s *Server) getIncident(w http.ResponseWriter, r *http.Request) {
	if inc, ok := s.incidentNamed(w, r); ok {
		writeJSON(w, http.StatusOK, inc)
	}
}

// postIncident opens an incident by hand.
func (s *Server) postIncident(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Title      string    `json:"title"`
		Severity   string    `json:"severity"`
		SLO        string    `json:"slo"`
		Risk       string    `json:"risk"`
		Commander  string    `json:"commander"`
		Scribe     string    `json:"scribe"`
		StartedAt  time.Time `json:"started_at"`
		DetectedAt time.Time `json:"detected_at"`
	}
	if !readStrict(w, r, &body, "incident") {
		return
	}
	if body.SLO != "" {
		if _, ok := s.SLOs.Get(body.SLO); !ok {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("slo: %q does not exist", body.SLO))
			return
		}
	}
	if body.Risk != "" && !s.riskExists(r.Context(), w, body.Risk) {
		return
	}
	now := s.Now()
	if body.DetectedAt.After(now.Add(time.Minute)) {
		writeError(w, http.StatusBadRequest, "detected_at: in the future")
		return
	}
	s.incMu.Lock()
	defer s.incMu.Unlock()
	inc, err := incident.Open(newID("inc-"), body.Title, body.Severity, author(r), body.StartedAt, body.DetectedAt, now)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	inc.SLO, inc.Risk, inc.Commander, inc.Scribe = body.SLO, body.Risk, body.Commander, body.Scribe
	if err := s.saveIncident(r.Context(), inc); err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusCreated, inc)
}

// riskExists answers a 400 when the named risk does not exist.
func (s *Server) riskExists(ctx context.Context, w http.ResponseWriter, name string) bool {
	all, err := s.loadRisks(ctx)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return false
	}
	if _, ok := all[name]; !ok {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("risk: %q does not exist", name))
		return false
	}
	return true
}

// patchIncident changes status, roles, severity, title, risk, times or
// the postmortem; each change is recorded in the incident's events.
func (s *Server) patchIncident(w http.ResponseWriter, r *http.Request) {
	var ch incident.Change
	if !readStrict(w, r, &ch, "incident change") {
		return
	}
	if ch.Risk != nil && *ch.Risk != "" && !s.riskExists(r.Context(), w, *ch.Risk) {
		return
	}
	if ch.Postmortem != nil {
		for _, f := range ch.Postmortem.FollowUps {
			if f.Risk != "" && !s.riskExists(r.Context(), w, f.Risk) {
				return
			}
		}
	}
	s.incMu.Lock()
	defer s.incMu.Unlock()
	inc, ok := s.incidentNamed(w, r)
	if !ok {
		return
	}
	if err := inc.Apply(ch, author(r), s.Now()); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if err := s.saveIncident(r.Context(), inc); err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, inc)
}

// OnAlert opens an incident when an SLO pages, once per alert episode
// (the incident's id follows from the alert's), and records in it when
// the alert resolves.
func (s *Server) OnAlert(ep rules.Episode) {
	if ep.Severity != slo.Page {
		return
	}
	s.defaults()
	ctx := context.Background()
	s.incMu.Lock()
	defer s.incMu.Unlock()
	h := sha256.Sum256([]byte(ep.ID))
	id := "inc-" + hex.EncodeToString(h[:6])
	all, err := s.loadIncidents(ctx)
	if err != nil {
		s.Log.Error("incident for alert: loading incidents failed", "alert", ep.ID, "err", err)
		return
	}
	inc, exists := all[id]
	now := s.Now()
	switch {
	case !exists && ep.State == "firing":
		started := ep.StartedAt
		if m, err := s.SLOs.Measure(ep); err == nil {
			started = m.BadStart
		}
		inc, err = incident.Open(id, fmt.Sprintf("SLO %s is burning its error budget", ep.SLO), "sev2", "prodex", started, ep.StartedAt, now)
		if err != nil {
			s.Log.Error("incident for alert", "alert", ep.ID, "err", err)
			return
		}
		inc.SLO, inc.AlertID = ep.SLO, ep.ID
		inc.Record("alert", "prodex", "page fired: "+ep.Detail, ep.StartedAt)
	case exists && ep.State == "resolved" && ep.ResolvedAt != nil:
		inc.Record("alert", "prodex", "page resolved: the burn rates are back under the thresholds", *ep.ResolvedAt)
	default:
		return
	}
	if err := s.saveIncident(ctx, inc); err != nil {
		s.Log.Error("saving incident for alert failed", "alert", ep.ID, "err", err)
	}
}

// ReconcileIncidents opens the incidents of pages that are firing but have
// none (the server stopped between the two).
func (s *Server) ReconcileIncidents(ctx context.Context) error {
	eps, err := s.SLOs.Alerts(ctx, "", true, 1000)
	if err != nil {
		return err
	}
	for _, ep := range eps {
		s.OnAlert(ep)
	}
	return nil
}

// TimelineEntry is one line of an incident's timeline.
type TimelineEntry struct {
	Time   time.Time `json:"time"`
	Kind   string    `json:"kind"` // opened, status, role, alert, marker, note, query, …
	Author string    `json:"author,omitempty"`
	Text   string    `json:"text"`
	Ref    string    `json:"ref,omitempty"` // the id of the marker, note or query
	HTML   string    `json:"html,omitempty"`
}

// incidentTimeline gathers, in time order, the incident's own events, the
// alert that opened it, markers in its interval (its SLO's dataset and
// environment-wide), notes on it and queries run while it was open.
func (s *Server) incidentTimeline(w http.ResponseWriter, r *http.Request) {
	inc, ok := s.incidentNamed(w, r)
	if !ok {
		return
	}
	entries, err := s.timeline(r.Context(), inc)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, IncidentTimeline{Incident: inc, Timeline: entries})
}

func (s *Server) timeline(ctx context.Context, inc *incident.Incident) ([]TimelineEntry, error) {
	out := []TimelineEntry{}
	for _, e := range inc.Events {
		out = append(out, TimelineEntry{Time: e.Time, Kind: e.Kind, Author: e.Author, Text: e.Text})
	}
	from := inc.StartedAt.Add(-30 * time.Minute)
	to := s.Now()
	if inc.ResolvedAt != nil {
		to = *inc.ResolvedAt
	}
	more, err := s.timelineSources(ctx, inc, from, to)
	if err != nil {
		return nil, err
	}
	out = append(out, more...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out, nil
}
