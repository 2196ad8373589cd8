package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"sort"
	"time"

	"github.com/prodex/prodex/internal/auth"
	"github.com/prodex/prodex/internal/store"
)

func (s *Server) getColumns(w http.ResponseWriter, r *http.Request) {
	ds, ok := dataset(w, r)
	if !ok {
		return
	}
	cols, err := s.Events.Columns(ds)
	if !storeOK(w, ds, err) {
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
	ds, ok := dataset(w, r)
	if !ok {
		return
	}
	var body struct {
		RetentionDays *float64 `json:"retention_days"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		writeError(w, http.StatusBadRequest, "invalid body: "+err.Error())
		return
	}
	if body.RetentionDays == nil {
		writeError(w, http.StatusBadRequest, "retention_days is required")
		return
	}
	err := s.Events.SetRetention(r.Context(), ds, time.Duration(*body.RetentionDays*24*float64(time.Hour)))
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, "dataset "+ds+" does not exist")
	case err != nil:
		writeError(w, http.StatusBadRequest, "retention_days: "+err.Error())
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
		writeError(w, http.StatusBadRequest, "invalid body: "+err.Error())
		return
	}
	scope, err := auth.ParseScope(body.Scope)
	if err != nil {
		writeError(w, http.StatusBadRequest, "scope: "+err.Error())
		return
	}
	if !s.envExists(w, body.Env) {
		return
	}
	secret, k, err := s.Keys.CreateIn(r.Context(), body.Env, scope, body.Name)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusCreated, NewKey{ID: k.ID, Scope: k.Scope, Name: k.Name, Environment: k.Env, CreatedAt: k.Created, Key: secret})
}

func (s *Server) deleteKey(w http.ResponseWriter, r *http.Request) {
	if err := s.Keys.Revoke(r.Context(), r.PathValue("id")); err != nil {
		writeError(w, http.StatusNotFound, err.Error())
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// storeOK answers a store error: 404 for a dataset that does not exist,
// 500 otherwise. It reports whether err was nil.
func storeOK(w http.ResponseWriter, ds string, err error) bool {
	switch {
	case err == nil:
		return true
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, "dataset "+ds+" does not exist")
	default:
		writeError(w, http.StatusInternalServerError, err.Error())
	}
	return false
}
