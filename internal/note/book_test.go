package note

import (
	"context"
	"testing"
	"time"

	"github.com/prodex/prodex/internal/problem"
)

type docs map[string][]byte

func (d docs) PutNote(_ context.Context, id string, body []byte) error {
	d[id] = body
	return nil
}
func (d docs) DeleteNote(_ context.Context, id string) error    { delete(d, id); return nil }
func (d docs) Notes(context.Context) (map[string][]byte, error) { return d, nil }

// A note goes only on a target that exists; only its writer or an admin
// may change it.
func TestBookWritersAndTargets(t *testing.T) {
	ctx := context.Background()
	b := &Book{Store: docs{}, Now: time.Now, Targets: map[string]Target{
		"slo": func(_ context.Context, id string) (bool, error) { return id == "checkout", nil },
	}}
	alice := Writer{Author: "alice", Owner: "user:alice", User: "alice"}
	bob := Writer{Author: "bob", Owner: "user:bob", User: "bob"}
	admin := Writer{Author: "ops", Owner: "key:k1", Admin: true}
	for _, c := range []struct {
		n    Note
		kind problem.Kind
		msg  string
	}{
		{Note{TargetType: "slo", TargetID: "search", Text: "x"}, problem.Invalid, `target_id: no slo "search"`},
		{Note{TargetType: "slo", TargetID: "checkout", Text: "x", Author: "mallory"}, problem.Invalid, "id, author, owner, html, created_at, updated_at: set by the server"},
		{Note{TargetType: "dashboard", TargetID: "d", Text: "x"}, problem.Invalid, `target_type: "dashboard" is not one of slo, query, marker, incident`},
		{Note{TargetType: "marker", TargetID: "m1", Text: "x"}, problem.Internal, `notes on "marker" are not supported`},
	} {
		if _, err := b.Write(ctx, c.n, alice); problem.KindOf(err) != c.kind || err.Error() != c.msg {
			t.Errorf("%+v: %v", c.n, err)
		}
	}
	n, err := b.Write(ctx, Note{TargetType: "slo", TargetID: "checkout", Text: "**slow** since v42"}, alice)
	if err != nil || n.Author != "alice" || n.Owner != "user:alice" || n.HTML != "<p><strong>slow</strong> since v42</p>\n" {
		t.Fatalf("%+v, %v", n, err)
	}
	if _, err := b.Edit(ctx, n.ID, "mine now", bob); !problem.Is(err, problem.Forbidden) || err.Error() != "only the note's author (alice) or an admin may change it" {
		t.Errorf("bob edits alice's note: %v", err)
	}
	if e, err := b.Edit(ctx, n.ID, "fixed by v43", alice); err != nil || e.Text != "fixed by v43" || e.CreatedAt != n.CreatedAt {
		t.Errorf("alice edits her note: %+v, %v", e, err)
	}
	if err := b.Delete(ctx, n.ID, admin); err != nil {
		t.Errorf("an admin deletes it: %v", err)
	}
	if err := b.Delete(ctx, n.ID, admin); !problem.Is(err, problem.NotFound) || err.Error() != "note "+n.ID+" does not exist" {
		t.Errorf("deleted twice: %v", err)
	}
}
