package api

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/prodex/prodex/internal/auth"
	"github.com/prodex/prodex/internal/event"
	"github.com/prodex/prodex/internal/history"
	"github.com/prodex/prodex/internal/query"
)

// Query history: every query run is recorded with its author; a query
// has a stable id (see package history) and a permalink, /q/{id}, that
// asks exactly the same question again; queries can be saved to the
// team's collection under a name.
func (s *Server) historyRoutes(mux *routeMux) {
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
	id, err := s.history.Record(r.Context(), ds, spec, author(r), time.Since(began), rows, errText)
	if err != nil {
		s.Log.Error("recording a query run failed", "dataset", ds, "err", err)
		return ""
	}
	return id
}

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

// getStoredQuery answers a query by id, with its absolute spec: the
// permalink /q/{id} and GET /api/v1/queries/{id}.
func (s *Server) getStoredQuery(w http.ResponseWriter, r *http.Request) {
	q, err := s.history.Query(r.Context(), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, q)
}

// rerunQuery runs a stored query again, over its own absolute interval,
// and answers as POST /api/v1/query/{dataset} does.
func (s *Server) rerunQuery(w http.ResponseWriter, r *http.Request) {
	q, err := s.history.Query(r.Context(), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	spec, err := query.Parse(q.Spec)
	if err != nil {
		s.fail(w, r, fmt.Errorf("stored query %s: %v", q.ID, err))
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
			s.fail(w, r, badRequest("dataset: "+err.Error()))
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
				s.fail(w, r, badRequest(p.name+": "+err.Error()))
				return
			}
			*p.t = t
		}
	}
	if x := v.Get("limit"); x != "" {
		n, err := strconv.Atoi(x)
		if err != nil || n < 1 || n > history.MaxLimit {
			s.fail(w, r, badRequest("limit: must be a whole number from 1 to "+strconv.Itoa(history.MaxLimit)))
			return
		}
		f.Limit = n
	}
	runs, err := s.Meta.Runs(r.Context(), f)
	if err != nil {
		s.fail(w, r, err)
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
		s.fail(w, r, err)
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
	if err := readStrict(w, r, &body, "saved query"); err != nil {
		s.fail(w, r, err)
		return
	}
	saved, err := s.history.Save(r.Context(), body.QueryID, body.Name, body.Description, author(r))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, saved)
}

func (s *Server) getSavedQuery(w http.ResponseWriter, r *http.Request) {
	sq, err := s.history.Saved(r.Context(), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, sq)
}

// putSavedQuery changes a saved query's name and description; a field
// left out keeps its value. The question itself does not change: save
// the new query instead.
func (s *Server) putSavedQuery(w http.ResponseWriter, r *http.Request) {
	sq, err := s.history.Saved(r.Context(), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var body struct {
		Name        *string `json:"name"`
		Description *string `json:"description"`
	}
	if err := readStrict(w, r, &body, "saved query"); err != nil {
		s.fail(w, r, err)
		return
	}
	up, err := s.history.Rename(r.Context(), sq, body.Name, body.Description)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, up)
}

func (s *Server) deleteSavedQuery(w http.ResponseWriter, r *http.Request) {
	if err := s.history.Unsave(r.Context(), r.PathValue("id")); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
