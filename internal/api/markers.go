package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/prodex/prodex/internal/auth"
	"github.com/prodex/prodex/internal/marker"
	"github.com/prodex/prodex/internal/rules"
)

// markerRoutes serves Honeycomb's Markers API. An ingest key may create
// markers, so that a deploy pipeline can mark its deploys; changing or
// removing one is an edit.
func (s *Server) markerRoutes(mux *routeMux) {
	mux.HandleFunc("POST /1/markers/{dataset}", s.with(auth.Ingest, s.postMarker))
	mux.HandleFunc("GET /1/markers/{dataset}", s.with(auth.Query, s.listMarkers))
	mux.HandleFunc("PUT /1/markers/{dataset}/{id}", s.with(auth.Edit, s.putMarker))
	mux.HandleFunc("DELETE /1/markers/{dataset}/{id}", s.with(auth.Edit, s.deleteMarker))
}

func (s *Server) postMarker(w http.ResponseWriter, r *http.Request) {
	var in marker.Input
	ds, err := dataset(r)
	if err == nil {
		err = readStrict(w, r, &in, "marker")
	}
	var m marker.Marker
	if err == nil {
		m, err = s.markers.Create(r.Context(), ds, in, author(r))
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, m)
}

// listMarkers lists a dataset's markers (the environment-wide ones under
// __all__), by start time; ?start_time= and ?end_time= (Unix seconds)
// keep those overlapping [start_time, end_time).
func (s *Server) listMarkers(w http.ResponseWriter, r *http.Request) {
	ds, err := dataset(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var bounds [2]time.Time
	for i, p := range []string{"start_time", "end_time"} {
		v := r.URL.Query().Get(p)
		if v == "" {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 || n > marker.MaxTime {
			s.fail(w, r, badRequest(p+": want a positive Unix time in seconds, got "+strconv.Quote(v)))
			return
		}
		bounds[i] = time.Unix(n, 0)
	}
	ms, err := s.Meta.Markers(r.Context(), []string{ds}, bounds[0], bounds[1])
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ms)
}

func (s *Server) putMarker(w http.ResponseWriter, r *http.Request) {
	var in marker.Input
	var ds string
	err := readStrict(w, r, &in, "marker")
	if err == nil {
		ds, err = dataset(r)
	}
	var m marker.Marker
	if err == nil {
		m, err = s.markers.Update(r.Context(), ds, r.PathValue("id"), in, author(r))
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, m)
}

func (s *Server) deleteMarker(w http.ResponseWriter, r *http.Request) {
	ds, err := dataset(r)
	var m marker.Marker
	if err == nil {
		m, err = s.markers.Delete(r.Context(), ds, r.PathValue("id"))
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, m)
}

// withMarkers is the JSON object v with a "markers" key added last, so that
// any answer (a query's result, an SLO's status) carries its markers with
// every field of its own kept where it was.
func withMarkers(v any, ms []marker.Marker) (json.RawMessage, error) {
	obj, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	list, err := json.Marshal(ms)
	if err != nil {
		return nil, err
	}
	if len(obj) < 2 || obj[0] != '{' || obj[len(obj)-1] != '}' {
		return nil, fmt.Errorf("answer of type %T is not a JSON object", v)
	}
	out := obj[:len(obj)-1]
	if len(obj) > 2 {
		out = append(out, ',')
	}
	out = append(out, `"markers":`...)
	out = append(out, list...)
	return append(out, '}'), nil
}

// writeWithMarkers answers with v, an answer about dataset ds over
// [start, end), and the markers of ds and the environment in that range.
func (s *Server) writeWithMarkers(w http.ResponseWriter, r *http.Request, ds string, start, end time.Time, v any) {
	ms, err := s.markers.Around(r.Context(), ds, start, end)
	if err == nil {
		var ans json.RawMessage
		if ans, err = withMarkers(v, ms); err == nil {
			writeJSON(w, http.StatusOK, ans)
			return
		}
	}
	s.fail(w, r, fmt.Errorf("markers: %w", err))
}

// writeSLOStatus answers with an SLO's status and the markers of its
// dataset and the environment over its window.
func (s *Server) writeSLOStatus(w http.ResponseWriter, r *http.Request, st rules.Status) {
	ds := ""
	if d, ok := s.SLOs.Get(st.SLO); ok {
		ds = d.Dataset
	}
	s.writeWithMarkers(w, r, ds, st.WindowStart, st.Now, st)
}
