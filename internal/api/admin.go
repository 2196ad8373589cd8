package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"time"

	"github.com/prodex/prodex/internal/auth"
	"github.com/prodex/prodex/internal/problem"
	"github.com/prodex/prodex/internal/schema"
	"github.com/prodex/prodex/internal/store"
)

func (s *Server) getColumns(w http.ResponseWriter, r *http.Request) {
	ds, err := dataset(r)
	var cols []schema.Column
	if err == nil {
		cols, err = s.Events.Columns(ds)
		err = storeError(ds, err)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, cols)
}

type datasetJSON struct {
	Name          string    `json:"name"`
	Created       time.Time `json:"created_at"`
	RetentionDays float64   `json:"retention_days"`
	Columns       int       `json:"columns"`
}

func (s *Server) getDatasets(w http.ResponseWriter, r *http.Request) {
	out := []datasetJSON{}
	for _, d := range s.Events.Datasets() {
		out = append(out, datasetJSON{d.Name, d.Created, d.Retention.Hours() / 24, d.Columns})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) putDataset(w http.ResponseWriter, r *http.Request) {
	ds, err := dataset(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var body struct {
		RetentionDays *float64 `json:"retention_days"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		s.fail(w, r, badRequest("invalid body: "+err.Error()))
		return
	}
	days := body.RetentionDays
	switch {
	case days == nil:
		s.fail(w, r, badRequest("retention_days is required"))
		return
	case !(*days >= store.MinRetention.Hours()/24 && *days <= store.MaxRetention.Hours()/24):
		// Checked in days, before a duration of nanoseconds can overflow.
		s.fail(w, r, badRequest(fmt.Sprintf("retention_days: must be between %.4g (1 hour) and %.0f (100 years), got %v",
			store.MinRetention.Hours()/24, store.MaxRetention.Hours()/24, *days)))
		return
	}
	err = s.Events.SetRetention(r.Context(), ds, time.Duration(*days*24*float64(time.Hour)))
	switch {
	case errors.Is(err, problem.ErrNotFound):
		s.fail(w, r, storeError(ds, err))
	case err != nil:
		s.fail(w, r, err) // a refusal says why; the store's own failure is a 500
	default:
		writeJSON(w, http.StatusOK, map[string]any{"name": ds, "retention_days": *body.RetentionDays})
	}
}

func (s *Server) getKeys(w http.ResponseWriter, r *http.Request) {
	keys := s.Keys.List()
	sort.Slice(keys, func(i, j int) bool { return keys[i].Created.Before(keys[j].Created) })
	writeJSON(w, http.StatusOK, keys)
}

func (s *Server) postKey(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Scope string `json:"scope"`
		Name  string `json:"name"`
		Env   string `json:"environment"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		s.fail(w, r, badRequest("invalid body: "+err.Error()))
		return
	}
	scope, err := auth.ParseScope(body.Scope)
	if err != nil {
		s.fail(w, r, badRequest("scope: "+err.Error()))
		return
	}
	if err := s.envExists(body.Env); err != nil {
		s.fail(w, r, err)
		return
	}
	secret, k, err := s.Keys.CreateIn(r.Context(), body.Env, scope, body.Name)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, NewKey{ID: k.ID, Scope: k.Scope, Name: k.Name, Environment: k.Env, CreatedAt: k.Created, Key: secret})
}

func (s *Server) deleteKey(w http.ResponseWriter, r *http.Request) {
	if err := s.Keys.Revoke(r.Context(), r.PathValue("id")); err != nil {
		s.fail(w, r, httpError(http.StatusNotFound, err.Error()))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// storeError is the answer to an event store's error about dataset ds:
// a 404 when the dataset does not exist, else err itself (nil stays nil).
func storeError(ds string, err error) error {
	if errors.Is(err, problem.ErrNotFound) {
		return httpError(http.StatusNotFound, "dataset "+ds+" does not exist")
	}
	return err
}
