package note

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/prodex/prodex/internal/problem"
)

// Store keeps notes as JSON documents by id (the metadata store).
type Store interface {
	PutNote(ctx context.Context, id string, body []byte) error
	DeleteNote(ctx context.Context, id string) error
	Notes(ctx context.Context) (map[string][]byte, error)
}

// Target tells whether the thing of one target type with this id exists.
type Target func(ctx context.Context, id string) (bool, error)

// Writer is who writes or changes a note: the author's name, the owner a
// note records (see Note.Owner), the person of a personal key ("" for a
// team key), and whether they administer the environment.
type Writer struct {
	Author, Owner, User string
	Admin               bool
}

// Book keeps the notes: it checks what they are attached to, renders them
// and lets only their writers (or an admin) change them.
type Book struct {
	Store Store
	// Targets tells, per target type, whether a target exists.
	Targets map[string]Target
	Now     func() time.Time
}

// List reads the notes of one target (every note when targetType is "",
// every note on that type when targetID is ""), oldest first.
func (b *Book) List(ctx context.Context, targetType, targetID string) ([]Note, error) {
	docs, err := b.Store.Notes(ctx)
	if err != nil {
		return nil, err
	}
	out := []Note{}
	for id, body := range docs {
		var n Note
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

// Write adds a note to a target that exists; the server sets its id,
// author, owner, HTML and times.
func (b *Book) Write(ctx context.Context, n Note, w Writer) (Note, error) {
	if n.ID != "" || n.Author != "" || n.Owner != "" || n.HTML != "" || !n.CreatedAt.IsZero() || !n.UpdatedAt.IsZero() {
		return Note{}, problem.New(problem.Invalid, "id, author, owner, html, created_at, updated_at: set by the server")
	}
	if err := n.Check(); err != nil {
		return Note{}, problem.Wrap(problem.Invalid, err)
	}
	exists, ok := b.Targets[n.TargetType]
	if !ok {
		return Note{}, fmt.Errorf("notes on %q are not supported", n.TargetType)
	}
	found, err := exists(ctx, n.TargetID)
	switch {
	case err != nil:
		return Note{}, err
	case !found:
		return Note{}, problem.Errorf(problem.Invalid, "target_id: no %s %q", n.TargetType, n.TargetID)
	}
	now := b.Now().UTC()
	n.ID, n.Author, n.Owner, n.CreatedAt, n.UpdatedAt = newID("note-"), w.Author, w.Owner, now, now
	return b.put(ctx, n)
}

func newID(prefix string) string {
	var r [6]byte
	rand.Read(r[:])
	return prefix + hex.EncodeToString(r[:])
}

// put renders and stores a note.
func (b *Book) put(ctx context.Context, n Note) (Note, error) {
	html, err := Render(n.Text)
	if err != nil {
		return Note{}, problem.New(problem.Invalid, "text: "+err.Error())
	}
	n.HTML = html
	body, _ := json.Marshal(n)
	if err := b.Store.PutNote(ctx, n.ID, body); err != nil {
		return Note{}, err
	}
	return n, nil
}

// mine finds a note that w may change: only its writer or an admin may.
func (b *Book) mine(ctx context.Context, id string, w Writer) (Note, error) {
	all, err := b.List(ctx, "", "")
	if err != nil {
		return Note{}, err
	}
	for _, n := range all {
		if n.ID != id {
			continue
		}
		mine := n.Owner == w.Owner
		if n.Owner == "" { // written before notes had owners: its person only
			mine = w.User != "" && w.User == n.Author
		}
		if !mine && !w.Admin {
			return Note{}, problem.New(problem.Forbidden, "only the note's author ("+n.Author+") or an admin may change it")
		}
		return n, nil
	}
	return Note{}, problem.New(problem.NotFound, "note "+id+" does not exist")
}

// Edit gives a note new text.
func (b *Book) Edit(ctx context.Context, id, text string, w Writer) (Note, error) {
	n, err := b.mine(ctx, id, w)
	if err != nil {
		return Note{}, err
	}
	n.Text, n.UpdatedAt = text, b.Now().UTC()
	if err := n.Check(); err != nil {
		return Note{}, problem.Wrap(problem.Invalid, err)
	}
	return b.put(ctx, n)
}

// Delete removes a note.
func (b *Book) Delete(ctx context.Context, id string, w Writer) error {
	n, err := b.mine(ctx, id, w)
	if err != nil {
		return err
	}
	return b.Store.DeleteNote(ctx, n.ID)
}
