package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"time"

	"github.com/prodex/prodex/internal/auth"
	"github.com/prodex/prodex/internal/incident"
	"github.com/prodex/prodex/internal/note"
)

func (s *Server) noteRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/notes", s.with(auth.Query, s.listNotes))
	mux.HandleFunc("POST /api/v1/notes", s.with(auth.Edit, s.postNote))
	mux.HandleFunc("PUT /api/v1/notes/{id}", s.with(auth.Edit, s.putNote))
	mux.HandleFunc("DELETE /api/v1/notes/{id}", s.with(auth.Edit, s.deleteNote))
}

// loadNotes reads the notes of one target (every note when targetType is
// ""), oldest first.
func (s *Server) loadNotes(ctx context.Context, targetType, targetID string) ([]note.Note, error) {
	docs, err := s.Meta.Notes(ctx)
	if err != nil {
		return nil, err
	}
	out := []note.Note{}
	for id, body := range docs {
		var n note.Note
		if err := json.Unmarshal(body, &n); err != nil {
			return nil, fmt.Errorf("stored note %s: %w", id, err)
		}
		if targetType == "" || n.TargetType == targetType && (targetID == "" || n.TargetID == targetID) {
			out = append(out, n)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out, nil
}

func (s *Server) listNotes(w http.ResponseWriter, r *http.Request) {
	tt, id := r.URL.Query().Get("target_type"), r.URL.Query().Get("target_id")
	if tt == "" && id != "" {
		writeError(w, http.StatusBadRequest, "target_id needs target_type")
		return
	}
	notes, err := s.loadNotes(r.Context(), tt, id)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, notes)
}

// targetExists checks that what a note is attached to exists.
func (s *Server) targetExists(ctx context.Context, n note.Note) (bool, error) {
	switch n.TargetType {
	case "slo":
		_, ok := s.SLOs.Get(n.TargetID)
		return ok, nil
	case "incident":
		all, err := s.loadIncidents(ctx)
		if err != nil {
			return false, err
		}
		_, ok := all[n.TargetID]
		return ok, nil
	}
	return s.sharedExists(ctx, n.TargetType, n.TargetID)
}

func (s *Server) postNote(w http.ResponseWriter, r *http.Request) {
	var n note.Note
	if !readStrict(w, r, &n, "note") {
		return
	}
	if n.ID != "" || n.Author != "" || n.Owner != "" || n.HTML != "" || !n.CreatedAt.IsZero() || !n.UpdatedAt.IsZero() {
		writeError(w, http.StatusBadRequest, "id, author, owner, html, created_at, updated_at: set by the server")
		return
	}
	if err := n.Check(); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	ok, err := s.targetExists(r.Context(), n)
	switch {
	case err != nil:
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	case !ok:
		writeError(w, http.StatusBadRequest, fmt.Sprintf("target_id: no %s %q", n.TargetType, n.TargetID))
		return
	}
	now := s.Now().UTC()
	n.ID, n.Author, n.Owner, n.CreatedAt, n.UpdatedAt = newID("note-"), author(r), owner(r), now, now
	s.writeNote(w, r, n, http.StatusCreated)
}

// writeNote renders and stores a note and answers with it.
func (s *Server) writeNote(w http.ResponseWriter, r *http.Request, n note.Note, status int) {
	html, err := note.Render(n.Text)
	if err != nil {
		writeError(w, http.StatusBadRequest, "text: "+err.Error())
		return
	}
	n.HTML = html
	body, _ := json.Marshal(n)
	if err := s.Meta.PutNote(r.Context(), n.ID, body); err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, status, n)
}

// noteNamed finds the note the path names, which only its author or an
// admin may change; it answers the request itself when it cannot.
func (s *Server) noteNamed(w http.ResponseWriter, r *http.Request) (note.Note, bool) {
	all, err := s.loadNotes(r.Context(), "", "")
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return note.Note{}, false
	}
	for _, n := range all {
		if n.ID != r.PathValue("id") {
			continue
		}
		k, _ := r.Context().Value(keyCtx{}).(auth.Key)
		mine := n.Owner == owner(r)
		if n.Owner == "" { // written before notes had owners: its person only
			mine = k.User != "" && k.User == n.Author
		}
		if !mine && k.Scope != auth.Admin {
			writeError(w, http.StatusForbidden, "only the note's author ("+n.Author+") or an admin may change it")
			return note.Note{}, false
		}
		return n, true
	}
	writeError(w, http.StatusNotFound, "note "+r.PathValue("id")+" does not exist")
	return note.Note{}, false
}

func (s *Server) putNote(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Text string `json:"text"`
	}
	if !readStrict(w, r, &body, "note") {
		return
	}
	n, ok := s.noteNamed(w, r)
	if !ok {
		return
	}
	n.Text, n.UpdatedAt = body.Text, s.Now().UTC()
	if err := n.Check(); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	s.writeNote(w, r, n, http.StatusOK)
}

func (s *Server) deleteNote(w http.ResponseWriter, r *http.Request) {
	n, ok := s.noteNamed(w, r)
	if !ok {
		return
	}
	if err := s.Meta.DeleteNote(r.Context(), n.ID); err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"deleted": n.ID})
}

// timelineSources gathers what happened around an incident besides its
// own events: notes on it, markers in [from, to) of its SLO's dataset and
// environment-wide, and queries run meanwhile.
func (s *Server) timelineSources(ctx context.Context, inc *incident.Incident, from, to time.Time) ([]TimelineEntry, error) {
	var out []TimelineEntry
	notes, err := s.loadNotes(ctx, "incident", inc.ID)
	if err != nil {
		return nil, err
	}
	for _, n := range notes {
		out = append(out, TimelineEntry{Time: n.CreatedAt, Kind: "note", Author: n.Author, Text: n.Text, HTML: n.HTML, Ref: n.ID})
	}
	more, err := s.sharedTimeline(ctx, inc, from, to)
	return append(out, more...), err
}
