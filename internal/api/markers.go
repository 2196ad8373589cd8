package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prodex/prodex/internal/auth"
	"github.com/prodex/prodex/internal/event"
	"github.com/prodex/prodex/internal/marker"
	"github.com/prodex/prodex/internal/rules"
)

// markerRoutes serves Honeycomb's Markers API. An ingest key may create
// markers, so that a deploy pipeline can mark its deploys; changing or
// removing one is an edit.
func (s *Server) markerRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /1/markers/{dataset}", s.with(auth.Ingest, s.postMarker))
	mux.HandleFunc("GET /1/markers/{dataset}", s.with(auth.Query, s.listMarkers))
	mux.HandleFunc("PUT /1/markers/{dataset}/{id}", s.with(auth.Edit, s.putMarker))
	mux.HandleFunc("DELETE /1/markers/{dataset}/{id}", s.with(auth.Edit, s.deleteMarker))
}

// markerMu serialises marker changes (read, change, write), so that an
// update never brings back a marker deleted meanwhile.
var markerMu sync.Mutex

func (s *Server) postMarker(w http.ResponseWriter, r *http.Request) {
	ds, ok := dataset(w, r)
	if !ok {
		return
	}
	var in marker.Input
	if !readStrict(w, r, &in, "marker") {
		return
	}
	now := s.Now().UTC()
	m := marker.Marker{ID: marker.NewID(), Dataset: ds, Author: author(r), CreatedAt: now, UpdatedAt: now}
	in.Apply(&m, now)
	s.saveMarker(w, r, m, http.StatusCreated)
}

// listMarkers lists a dataset's markers (the environment-wide ones under
// __all__), by start time; ?start_time= and ?end_time= (Unix seconds)
// keep those overlapping [start_time, end_time).
func (s *Server) listMarkers(w http.ResponseWriter, r *http.Request) {
	ds, ok := dataset(w, r)
	if !ok {
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
			writeError(w, http.StatusBadRequest, p+": want a positive Unix time in seconds, got "+strconv.Quote(v))
			return
		}
		bounds[i] = time.Unix(n, 0)
	}
	ms, err := s.Meta.Markers(r.Context(), []string{ds}, bounds[0], bounds[1])
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, ms)
}

func (s *Server) putMarker(w http.ResponseWriter, r *http.Request) {
	var in marker.Input
	if !readStrict(w, r, &in, "marker") {
		return
	}
	markerMu.Lock()
	defer markerMu.Unlock()
	m, ok := s.markerNamed(w, r)
	if !ok {
		return
	}
	in.Apply(&m, s.Now())
	m.Author, m.UpdatedAt = author(r), s.Now().UTC()
	s.saveMarker(w, r, m, http.StatusOK)
}

func (s *Server) deleteMarker(w http.ResponseWriter, r *http.Request) {
	markerMu.Lock()
	defer markerMu.Unlock()
	m, ok := s.markerNamed(w, r)
	if !ok {
		return
	}
	if err := s.Meta.DeleteMarker(r.Context(), m.ID); err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, m)
}

// markerNamed finds the marker the path names, among those of the path's
// dataset; it answers the request itself when it cannot.
func (s *Server) markerNamed(w http.ResponseWriter, r *http.Request) (marker.Marker, bool) {
	ds, ok := dataset(w, r)
	if !ok {
		return marker.Marker{}, false
	}
	id := r.PathValue("id")
	m, found, err := s.Meta.GetMarker(r.Context(), id)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return marker.Marker{}, false
	}
	if !found || m.Dataset != ds {
		writeError(w, http.StatusNotFound, "marker "+strconv.Quote(id)+" does not exist in dataset "+ds)
		return marker.Marker{}, false
	}
	return m, true
}

// saveMarker validates and stores a marker and answers with it.
func (s *Server) saveMarker(w http.ResponseWriter, r *http.Request, m marker.Marker, status int) {
	if err := m.Validate(); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if err := s.Meta.PutMarker(r.Context(), m); err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, status, m)
}

// markersAround returns the markers shown with an answer about dataset ds
// over [start, end): its own and the environment-wide ones.
func (s *Server) markersAround(ctx context.Context, ds string, start, end time.Time) ([]marker.Marker, error) {
	datasets := []string{marker.AllDatasets}
	if ds, err := event.NormalizeDataset(ds); err == nil && ds != marker.AllDatasets {
		datasets = append(datasets, ds)
	}
	return s.Meta.Markers(ctx, datasets, start, end)
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
	ms, err := s.markersAround(r.Context(), ds, start, end)
	if err == nil {
		var ans json.RawMessage
		if ans, err = withMarkers(v, ms); err == nil {
			writeJSON(w, http.StatusOK, ans)
			return
		}
	}
	writeError(w, http.StatusInternalServerError, "markers: "+err.Error())
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
