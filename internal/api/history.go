package api

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/prodex/prodex/internal/auth"
	"github.com/prodex/prodex/internal/event"
	"github.com/prodex/prodex/internal/history"
	"github.com/prodex/prodex/internal/query"
	"github.com/prodex/prodex/internal/store"
)

// Query history: every query run is recorded with its author; a query
// has a stable id (see package history) and a permalink, /q/{id}, that
// asks exactly the same question again; queries can be saved to the
// team's collection under a name.
func (s *Server) historyRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /q/{id}", s.permalink(s.with(auth.Query, s.getStoredQuery)))
	mux.HandleFunc("GET /api/v1/queries/{id}", s.with(auth.Query, s.getStoredQuery))
	mux.HandleFunc("POST /api/v1/queries/{id}/run", s.with(auth.Query, s.rerunQuery))
	mux.HandleFunc("GET /api/v1/history", s.with(auth.Query, s.getHistory))
	mux.HandleFunc("GET /api/v1/saved-queries", s.with(auth.Query, s.listSavedQueries))
	mux.HandleFunc("POST /api/v1/saved-queries", s.with(auth.Edit, s.postSavedQuery))
	mux.HandleFunc("GET /api/v1/saved-queries/{id}", s.with(auth.Query, s.getSavedQuery))
	mux.HandleFunc("PUT /api/v1/saved-queries/{id}", s.with(auth.Edit, s.putSavedQuery))
	mux.HandleFunc("DELETE /api/v1/saved-queries/{id}", s.with(auth.Edit, s.deleteSavedQuery))
}

// recordRun keeps a run of spec (resolved) on dataset ds in the history:
// rows answer rows, or errText when it failed. It returns the query's id,
// or "" when the run could not be recorded (the answer then carries no
// permalink, rather than one that does not resolve).
func (s *Server) recordRun(r *http.Request, ds string, spec *query.Spec, began time.Time, rows int, errText string) string {
	took := time.Since(began)
	now := s.Now()
	q, err := history.NewQuery(ds, spec, now)
	if err == nil {
		// The run is recorded even when the client has gone away.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 5*time.Second)
		defer cancel()
		err = s.Meta.RecordRun(ctx, q, history.Run{ID: history.NewID(), QueryID: q.ID, Dataset: ds, Author: author(r),
			RanAt: now.UTC(), DurationMS: float64(took.Microseconds()) / 1000, Rows: rows, Error: errText})
	}
	if err != nil {
		s.Log.Error("recording a query run failed", "dataset", ds, "err", err)
		return ""
	}
	return q.ID
}

// storedQuery finds the query the {id} path value names; it answers the
// request itself when it cannot.
func (s *Server) storedQuery(w http.ResponseWriter, r *http.Request) (history.Query, bool) {
	id := r.PathValue("id")
	if !history.ValidID(id) {
		writeError(w, http.StatusNotFound, "query "+strconv.Quote(id)+" does not exist (an id is 16 hex characters)")
		return history.Query{}, false
	}
	q, err := s.Meta.StoredQuery(r.Context(), id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, "query "+id+" does not exist")
		return q, false
	case err != nil:
		writeError(w, http.StatusInternalServerError, err.Error())
		return q, false
	}
	return q, true
}

// getStoredQuery answers a query by id, with its absolute spec: the
// permalink /q/{id} and GET /api/v1/queries/{id}.
// permalink sends a browser opening /q/{id} to the web UI's view of the
// query; other clients get the query as JSON.
func (s *Server) permalink(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.Header.Get("Accept"), "text/html") {
			http.Redirect(w, r, "/#/q/"+url.PathEscape(r.PathValue("id")), http.StatusSeeOther)
			return
		}
		h(w, r)
	}
}

func (s *Server) getStoredQuery(w http.ResponseWriter, r *http.Request) {
	if q, ok := s.storedQuery(w, r); ok {
		writeJSON(w, http.StatusOK, q)
	}
}

// rerunQuery runs a stored query again, over its own absolute interval,
// and answers as POST /api/v1/query/{dataset} does.
func (s *Server) rerunQuery(w http.ResponseWriter, r *http.Request) {
	q, ok := s.storedQuery(w, r)
	if !ok {
		return
	}
	spec, err := query.Parse(q.Spec)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "stored query "+q.ID+": "+err.Error())
		return
	}
	s.answerQuery(w, r, q.Dataset, spec)
}

// getHistory lists query runs, newest first:
// ?dataset=&author=&q=&since=&until=&limit=.
func (s *Server) getHistory(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	f := history.RunFilter{Author: v.Get("author"), Text: v.Get("q")}
	if ds := v.Get("dataset"); ds != "" {
		name, err := event.NormalizeDataset(ds)
		if err != nil {
			writeError(w, http.StatusBadRequest, "dataset: "+err.Error())
			return
		}
		f.Dataset = name
	}
	for _, p := range []struct {
		name string
		t    *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		if x := v.Get(p.name); x != "" {
			t, err := parseTimeParam(x)
			if err != nil {
				writeError(w, http.StatusBadRequest, p.name+": "+err.Error())
				return
			}
			*p.t = t
		}
	}
	if x := v.Get("limit"); x != "" {
		n, err := strconv.Atoi(x)
		if err != nil || n < 1 || n > history.MaxLimit {
			writeError(w, http.StatusBadRequest, "limit: must be a whole number from 1 to "+strconv.Itoa(history.MaxLimit))
			return
		}
		f.Limit = n
	}
	runs, err := s.Meta.Runs(r.Context(), f)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, runs)
}

// parseTimeParam reads RFC 3339 or Unix seconds.
func parseTimeParam(x string) (time.Time, error) {
	if n, err := strconv.ParseInt(x, 10, 64); err == nil {
		return time.Unix(n, 0).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339, x)
	if err != nil {
		return time.Time{}, errors.New("want RFC 3339 (2026-11-24T10:00:00Z) or Unix seconds, not " + strconv.Quote(x))
	}
	return t, nil
}

func (s *Server) listSavedQueries(w http.ResponseWriter, r *http.Request) {
	list, err := s.Meta.SavedQueries(r.Context(), r.URL.Query().Get("q"), 0)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, list)
}

func (s *Server) postSavedQuery(w http.ResponseWriter, r *http.Request) {
	var body struct {
		QueryID     string `json:"query_id"`
		Name        string `json:"name"`
		Description string `json:"description"`
	}
	if !readStrict(w, r, &body, "saved query") {
		return
	}
	now := s.Now().UTC()
	sq := history.Saved{ID: history.NewID(), Name: body.Name, Description: body.Description, QueryID: strings.TrimSpace(body.QueryID),
		Author: author(r), CreatedAt: now, UpdatedAt: now}
	if sq.QueryID == "" {
		writeError(w, http.StatusBadRequest, "query_id: required: the id of a query that has run (its answer's query_id)")
		return
	}
	if err := sq.Validate(); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	unknown := "query_id: no query has id " + strconv.Quote(sq.QueryID)
	if !history.ValidID(sq.QueryID) {
		writeError(w, http.StatusBadRequest, unknown)
		return
	}
	saved, err := s.Meta.CreateSavedQuery(r.Context(), sq)
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusBadRequest, unknown)
	case err != nil:
		writeError(w, http.StatusInternalServerError, err.Error())
	default:
		writeJSON(w, http.StatusCreated, saved)
	}
}

// savedQuery finds the saved query the {id} path value names; it answers
// the request itself when it cannot.
func (s *Server) savedQuery(w http.ResponseWriter, r *http.Request) (history.Saved, bool) {
	id := r.PathValue("id")
	sq, err := history.Saved{}, store.ErrNotFound
	if history.ValidID(id) {
		sq, err = s.Meta.SavedQuery(r.Context(), id)
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, "saved query "+strconv.Quote(id)+" does not exist")
		return sq, false
	case err != nil:
		writeError(w, http.StatusInternalServerError, err.Error())
		return sq, false
	}
	return sq, true
}

func (s *Server) getSavedQuery(w http.ResponseWriter, r *http.Request) {
	if sq, ok := s.savedQuery(w, r); ok {
		writeJSON(w, http.StatusOK, sq)
	}
}

// putSavedQuery changes a saved query's name and description; a field
// left out keeps its value. The question itself does not change: save
// the new query instead.
func (s *Server) putSavedQuery(w http.ResponseWriter, r *http.Request) {
	sq, ok := s.savedQuery(w, r)
	if !ok {
		return
	}
	var body struct {
		Name        *string `json:"name"`
		Description *string `json:"description"`
	}
	if !readStrict(w, r, &body, "saved query") {
		return
	}
	if body.Name == nil && body.Description == nil {
		writeError(w, http.StatusBadRequest, "name: give a name and/or a description to change")
		return
	}
	if body.Name != nil {
		sq.Name = *body.Name
	}
	if body.Description != nil {
		sq.Description = *body.Description
	}
	if err := sq.Validate(); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	up, err := s.Meta.UpdateSavedQuery(r.Context(), sq.ID, sq.Name, sq.Description, s.Now().UTC())
	switch {
	case errors.Is(err, store.ErrNotFound): // deleted meanwhile
		writeError(w, http.StatusNotFound, "saved query "+strconv.Quote(sq.ID)+" does not exist")
	case err != nil:
		writeError(w, http.StatusInternalServerError, err.Error())
	default:
		writeJSON(w, http.StatusOK, up)
	}
}

func (s *Server) deleteSavedQuery(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	err := store.ErrNotFound
	if history.ValidID(id) {
		err = s.Meta.DeleteSavedQuery(r.Context(), id)
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, "saved query "+strconv.Quote(id)+" does not exist")
	case err != nil:
		writeError(w, http.StatusInternalServerError, err.Error())
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}
