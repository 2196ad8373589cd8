package api

import (
	"net/http"

	"github.com/prodex/prodex/internal/auth"
	"github.com/prodex/prodex/internal/note"
)

func (s *Server) noteRoutes(mux *routeMux) {
	mux.HandleFunc("GET /api/v1/notes", s.with(auth.Query, s.listNotes))
	mux.HandleFunc("POST /api/v1/notes", s.with(auth.Edit, s.postNote))
	mux.HandleFunc("PUT /api/v1/notes/{id}", s.with(auth.Edit, s.putNote))
	mux.HandleFunc("DELETE /api/v1/notes/{id}", s.with(auth.Edit, s.deleteNote))
}

func (s *Server) listNotes(w http.ResponseWriter, r *http.Request) {
	tt, id := r.URL.Query().Get("target_type"), r.URL.Query().Get("target_id")
	if tt == "" && id != "" {
		s.fail(w, r, badRequest("target_id needs target_type"))
		return
	}
	notes, err := s.notes.List(r.Context(), tt, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, notes)
}

// writer is who makes a request, as the note book judges changes.
func writer(r *http.Request) note.Writer {
	k, _ := r.Context().Value(keyCtx{}).(auth.Key)
	return note.Writer{Author: author(r), Owner: owner(r), User: k.User, Admin: k.Scope == auth.Admin}
}

func (s *Server) postNote(w http.ResponseWriter, r *http.Request) {
	var n note.Note
	if err := readStrict(w, r, &n, "note"); err != nil {
		s.fail(w, r, err)
		return
	}
	n, err := s.notes.Write(r.Context(), n, writer(r))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, n)
}

func (s *Server) putNote(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Text string `json:"text"`
	}
	if err := readStrict(w, r, &body, "note"); err != nil {
		s.fail(w, r, err)
		return
	}
	n, err := s.notes.Edit(r.Context(), r.PathValue("id"), body.Text, writer(r))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, n)
}

func (s *Server) deleteNote(w http.ResponseWriter, r *http.Request) {
	if err := s.notes.Delete(r.Context(), r.PathValue("id"), writer(r)); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"deleted": r.PathValue("id")})
}
