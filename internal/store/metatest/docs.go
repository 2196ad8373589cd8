package metatest

import (
	"context"
	"testing"
)

// docKind is one kind of named document; del is nil for incidents, which
// are never deleted.
type docKind struct {
	name string
	put  func(context.Context, string, []byte) error
	del  func(context.Context, string) error
	list func(context.Context) (map[string][]byte, error)
}

func docKinds(s Store) []docKind {
	return []docKind{
		{"SLO", s.PutSLO, s.DeleteSLO, s.SLOs},
		{"Risk", s.PutRisk, s.DeleteRisk, s.Risks},
		{"Note", s.PutNote, s.DeleteNote, s.Notes},
		{"Incident", s.PutIncident, nil, s.Incidents},
	}
}

func listDocs(t *testing.T, k docKind) map[string]string {
	t.Helper()
	docs, err := k.list(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for name, body := range docs {
		out[name] = string(body)
	}
	return out
}

func sameDocs(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %q, want %q", what, got, want)
		return
	}
	for name, body := range want {
		if b, ok := got[name]; !ok || b != body {
			t.Errorf("%s: %q, want %q", what, got, want)
			return
		}
	}
}

// testDocuments: documents are stored, replaced and deleted by name, and
// read back byte for byte: the store does not interpret them, so neither
// JSON's spacing and key order nor bytes that are not JSON change.
func testDocuments(t *testing.T, s Store) {
	ctx := context.Background()
	spaced := `{ "z": 1,  "a" : [ ], "é": "\u00e9"	}`
	opaque := "not JSON \x00 at all\n"
	for _, k := range docKinds(s) {
		t.Run(k.name, func(t *testing.T) {
			sameDocs(t, "empty store", listDocs(t, k), map[string]string{})
			for name, body := range map[string]string{"one": `{"v":1}`, hostile: spaced, "opaque": opaque, "empty": ""} {
				if err := k.put(ctx, name, []byte(body)); err != nil {
					t.Fatalf("put %q: %v", name, err)
				}
			}
			want := map[string]string{"one": `{"v":1}`, hostile: spaced, "opaque": opaque, "empty": ""}
			sameDocs(t, "after put", listDocs(t, k), want)

			if err := k.put(ctx, "one", []byte(`{"v":2}`)); err != nil {
				t.Fatal(err)
			}
			want["one"] = `{"v":2}`
			sameDocs(t, "after replace", listDocs(t, k), want)

			if k.del == nil {
				return
			}
			if err := k.del(ctx, "one"); err != nil {
				t.Fatal(err)
			}
			delete(want, "one")
			sameDocs(t, "after delete", listDocs(t, k), want)
			for _, name := range []string{"one", "never-there"} {
				if err := k.del(ctx, name); err != nil {
					t.Errorf("deleting %q, which is not there: %v", name, err)
				}
			}
			if err := k.del(ctx, hostile); err != nil {
				t.Fatal(err)
			}
			delete(want, hostile)
			sameDocs(t, "after deleting the hostile name", listDocs(t, k), want)
		})
	}
}

// testDocumentKindsApart: each kind has its own names: an SLO and a note
// of the same name are two documents, and deleting one leaves the other.
func testDocumentKindsApart(t *testing.T, s Store) {
	ctx := context.Background()
	kinds := docKinds(s)
	for _, k := range kinds {
		if err := k.put(ctx, "same", []byte(k.name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteSLO(ctx, "same"); err != nil {
		t.Fatal(err)
	}
	for _, k := range kinds {
		want := map[string]string{"same": k.name}
		if k.name == "SLO" {
			want = map[string]string{}
		}
		sameDocs(t, k.name, listDocs(t, k), want)
	}
}
