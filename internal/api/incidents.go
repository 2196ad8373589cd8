package api

import (
	"net/http"

	"github.com/prodex/prodex/internal/auth"
	"github.com/prodex/prodex/internal/incident"
)

func (s *Server) incidentRoutes(mux *routeMux) {
	mux.HandleFunc("GET /api/v1/incidents", s.with(auth.Query, s.listIncidents))
	mux.HandleFunc("POST /api/v1/incidents", s.with(auth.Edit, s.postIncident))
	mux.HandleFunc("GET /api/v1/incidents/{id}", s.with(auth.Query, s.getIncident))
	mux.HandleFunc("PATCH /api/v1/incidents/{id}", s.with(auth.Edit, s.patchIncident))
	mux.HandleFunc("GET /api/v1/incidents/{id}/timeline", s.with(auth.Query, s.incidentTimeline))
}

// TimelineEntry is one line of an incident's timeline (package incident's,
// named here too as the API answers it).
type TimelineEntry = incident.TimelineEntry

func (s *Server) listIncidents(w http.ResponseWriter, r *http.Request) {
	out, err := s.incidents.List(r.Context(), r.URL.Query().Get("status"), r.URL.Query().Get("slo"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getIncident(w http.ResponseWriter, r *http.Request) {
	inc, err := s.incidents.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, inc)
}

// postIncident opens an incident by hand.
func (s *Server) postIncident(w http.ResponseWriter, r *http.Request) {
	var d incident.Declaration
	if err := readStrict(w, r, &d, "incident"); err != nil {
		s.fail(w, r, err)
		return
	}
	inc, err := s.incidents.Declare(r.Context(), d, author(r))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, inc)
}

// patchIncident changes status, roles, severity, title, risk, times or
// the postmortem; each change is recorded in the incident's events.
func (s *Server) patchIncident(w http.ResponseWriter, r *http.Request) {
	var ch incident.Change
	if err := readStrict(w, r, &ch, "incident change"); err != nil {
		s.fail(w, r, err)
		return
	}
	inc, err := s.incidents.Update(r.Context(), r.PathValue("id"), ch, author(r))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, inc)
}

// incidentTimeline answers an incident with its timeline.
func (s *Server) incidentTimeline(w http.ResponseWriter, r *http.Request) {
	inc, entries, err := s.incidents.Timeline(r.Context(), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, IncidentTimeline{Incident: inc, Timeline: entries})
}
