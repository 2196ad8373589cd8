package api

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/prodex/prodex/internal/auth"
)

func (s *Server) userRoutes(mux *routeMux) {
	mux.HandleFunc("GET /api/v1/users", s.with(auth.Admin, s.rootOnly(s.listUsers)))
	mux.HandleFunc("PUT /api/v1/users/{name}", s.with(auth.Admin, s.rootOnly(s.putUser)))
	mux.HandleFunc("DELETE /api/v1/users/{name}", s.with(auth.Admin, s.rootOnly(s.deleteUser)))
	mux.HandleFunc("POST /api/v1/users/{name}/keys", s.with(auth.Admin, s.rootOnly(s.postUserKey)))
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.Keys.Users())
}

// putUser creates or changes a user: {"role": "viewer|editor|admin",
// "email": …, "environment": …}; fields left out keep their values. A
// change applies to the user's keys at once.
func (s *Server) putUser(w http.ResponseWriter, r *http.Request) {
	var c auth.UserChange
	err := readStrict(w, r, &c, "user")
	if err == nil {
		err = nameFromPath(r, &c.Name)
	}
	if err == nil && c.Env != nil {
		err = s.envExists(*c.Env)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	u, created, err := s.Keys.ChangeUser(r.Context(), c)
	switch {
	case err != nil:
		s.fail(w, r, badRequest(err.Error()))
	case created:
		writeJSON(w, http.StatusCreated, u)
	default:
		writeJSON(w, http.StatusOK, u)
	}
}

func (s *Server) deleteUser(w http.ResponseWriter, r *http.Request) {
	err := s.Keys.DeleteUser(r.Context(), r.PathValue("name"))
	switch {
	case errors.Is(err, auth.ErrNoUser):
		s.fail(w, r, httpError(http.StatusNotFound, err.Error()))
		return
	case err != nil:
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"deleted": r.PathValue("name")})
}

// postUserKey makes a personal key for a user: {"name": "laptop"}.
func (s *Server) postUserKey(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Name string `json:"name"`
	}
	if err := readStrict(w, r, &body, "key"); err != nil {
		s.fail(w, r, err)
		return
	}
	secret, k, err := s.Keys.CreateFor(r.Context(), r.PathValue("name"), body.Name)
	switch {
	case errors.Is(err, auth.ErrNoUser):
		s.fail(w, r, httpError(http.StatusNotFound, err.Error()))
		return
	case err != nil:
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, NewKey{ID: k.ID, Scope: k.Scope, Name: k.Name, User: k.User, Environment: k.Env, CreatedAt: k.Created, Key: secret})
}

// getAudit answers GET /api/v1/audit?author=&since=&limit=: every write
// made through the API, newest first, with its author.
func (s *Server) getAudit(w http.ResponseWriter, r *http.Request) {
	limit := 100
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			s.fail(w, r, badRequest("limit: want 1 to 10000"))
			return
		}
		limit = n
	}
	var since time.Time
	if v := r.URL.Query().Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			s.fail(w, r, badRequest("since: want RFC 3339 time, got "+strconv.Quote(v)))
			return
		}
		since = t
	}
	out, err := s.Meta.AuditLog(r.Context(), r.URL.Query().Get("author"), since, limit)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// rootOnly keeps keys, people and environments to the default
// environment's admins: an environment's admin administers its data only.
func (s *Server) rootOnly(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.Env != "" || s.Envs == nil {
			s.fail(w, r, httpError(http.StatusForbidden, "this needs a key of the default environment: keys, people and environments are managed there, and metrics describe every environment"))
			return
		}
		h(w, r)
	}
}

func (s *Server) getEnvs(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.Envs.List())
}

// postEnv creates an environment: {"name": "staging"}.
func (s *Server) postEnv(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Name string `json:"name"`
	}
	if err := readStrict(w, r, &body, "environment"); err != nil {
		s.fail(w, r, err)
		return
	}
	if body.Name == "" {
		s.fail(w, r, badRequest("name: required"))
		return
	}
	if err := auth.CheckEnv(body.Name); err != nil {
		s.fail(w, r, badRequest("name: "+err.Error()))
		return
	}
	for _, e := range s.Envs.List() {
		if e == body.Name {
			s.fail(w, r, httpError(http.StatusConflict, "environment "+body.Name+" exists"))
			return
		}
	}
	if err := s.Envs.Create(r.Context(), body.Name); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]string{"name": body.Name})
}

// envExists refuses (a 400) an env that is neither "" nor an environment.
func (s *Server) envExists(env string) error {
	if env == "" {
		return nil
	}
	for _, e := range s.Envs.List() {
		if e == env {
			return nil
		}
	}
	return badRequest("environment: " + env + " does not exist")
}
