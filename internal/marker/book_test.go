package marker

import (
	"context"
	"testing"
	"time"

	"github.com/prodex/prodex/internal/problem"
)

type memStore map[string]Marker

func (m memStore) PutMarker(_ context.Context, mk Marker) error { m[mk.ID] = mk; return nil }
func (m memStore) DeleteMarker(_ context.Context, id string) error {
	delete(m, id)
	return nil
}
func (m memStore) GetMarker(_ context.Context, id string) (Marker, bool, error) {
	mk, ok := m[id]
	return mk, ok, nil
}
func (m memStore) Markers(_ context.Context, datasets []string, _, _ time.Time) ([]Marker, error) {
	var out []Marker
	for _, mk := range m {
		for _, ds := range datasets {
			if mk.Dataset == ds {
				out = append(out, mk)
			}
		}
	}
	return out, nil
}

// A marker is changed only through its own dataset, by whoever changes it
// last; an invalid change is refused as bad input and stores nothing.
func TestBookChanges(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	b := &Book{Store: memStore{}, Now: func() time.Time { return t0 }}
	msg, typ := "v42", "deploy"
	m, err := b.Create(ctx, "checkout", Input{Message: &msg, Type: &typ}, "ci")
	if err != nil || m.StartTime != t0.Unix() || m.Author != "ci" {
		t.Fatalf("create: %+v, %v", m, err)
	}
	if _, err := b.Update(ctx, "search", m.ID, Input{}, "bob"); !problem.Is(err, problem.NotFound) || err.Error() != `marker "`+m.ID+`" does not exist in dataset search` {
		t.Errorf("through another dataset: %v", err)
	}
	bad := "red"
	if _, err := b.Update(ctx, "checkout", m.ID, Input{Color: &bad}, "bob"); !problem.Is(err, problem.Invalid) {
		t.Errorf("bad color: %v", err)
	}
	if got, _, _ := b.Store.GetMarker(ctx, m.ID); got.Color != "" || got.Author != "ci" {
		t.Errorf("a refused change was stored: %+v", got)
	}
	msg = "v43"
	if up, err := b.Update(ctx, "checkout", m.ID, Input{Message: &msg}, "bob"); err != nil || up.Message != "v43" || up.Author != "bob" || up.Type != "deploy" {
		t.Errorf("update: %+v, %v", up, err)
	}
	if _, err := b.Create(ctx, AllDatasets, Input{Message: &msg}, "ops"); err != nil {
		t.Fatal(err)
	}
	if around, err := b.Around(ctx, "checkout", t0, t0.Add(time.Hour)); err != nil || len(around) != 2 {
		t.Errorf("around: %d markers, %v", len(around), err)
	}
	if _, err := b.Delete(ctx, "checkout", m.ID); err != nil {
		t.Fatal(err)
	}
	if ok, err := b.Exists(ctx, m.ID); ok || err != nil {
		t.Errorf("deleted, yet exists: %v", err)
	}
}
