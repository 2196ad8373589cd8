package openapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"
)

type inner struct {
	A string `json:"a"`
	B int    `json:"b,omitempty"`
}

type outer struct {
	inner
	C  []string          `json:"c"`
	D  *time.Time        `json:"d,omitempty"`
	E  map[string]int    `json:"e"`
	F  string            `json:"-"`
	G  json.RawMessage   `json:"g"`
	H  *inner            `json:"h"`
	I  int64             `json:"i,string"`
	j  string            //nolint:unused // unexported: not written
	A2 string            `json:"a"` // shallower than inner.A: wins
	K  map[string]string `json:"k,omitempty"`
}

type selfJSON struct{ n int }

func (selfJSON) MarshalJSON() ([]byte, error) { return []byte(`"x"`), nil }

// TestReflectorFollowsEncodingJSON: the schema of a struct is the object
// encoding/json writes.
func TestReflectorFollowsEncodingJSON(t *testing.T) {
	r := &Reflector{}
	ref := r.Of(reflect.TypeFor[outer]())
	if ref["$ref"] != "#/components/schemas/OpenapiOuter" {
		t.Fatalf("ref %v", ref)
	}
	s := r.Defs()["OpenapiOuter"]
	props := s["properties"].(Schema)
	var names []string
	for n := range props {
		names = append(names, n)
	}
	if len(props) != 9 {
		t.Errorf("properties %v, want a b c d e g h i k", names)
	}
	if props["a"].(Schema)["type"] != "string" || props["b"].(Schema)["type"] != "integer" {
		t.Errorf("a or b: %v %v", props["a"], props["b"])
	}
	if got := props["c"].(Schema)["type"]; !reflect.DeepEqual(got, []any{"array", "null"}) {
		t.Errorf("c (a slice, no omitempty) is %v, want array or null", got)
	}
	if got := props["d"].(Schema)["type"]; got != "string" {
		t.Errorf("d (an omitempty *time.Time) is %v, want a string", got)
	}
	if _, ok := props["h"].(Schema)["anyOf"]; !ok {
		t.Errorf("h (a pointer to a struct) is %v, want its reference or null", props["h"])
	}
	if props["i"].(Schema)["type"] != "string" {
		t.Errorf("i (,string) is %v", props["i"])
	}
	if got, want := s["required"], []string{"a", "c", "e", "g", "h", "i"}; !reflect.DeepEqual(got, want) {
		t.Errorf("required %v, want %v", got, want)
	}
	if r.Err() != nil {
		t.Errorf("unexpected error: %v", r.Err())
	}

	r.Of(reflect.TypeFor[struct {
		X selfJSON `json:"x"`
	}]())
	if err := r.Err(); err == nil || !strings.Contains(err.Error(), "selfJSON") {
		t.Errorf("a type with its own MarshalJSON and no schema gave %v, want an error naming it", err)
	}
}

// TestCheckerCatchesWhatDoesNotHold: an answer of the wrong shape, of an
// undocumented status, or to no route under a prefix is reported.
func TestCheckerCatchesWhatDoesNotHold(t *testing.T) {
	r := &Reflector{}
	spec := Spec{Info: Info{Title: "t", Version: "1"}, RequestID: "X-Request-Id",
		Headers: map[string]Header{"X-Request-Id": {Description: "id", Schema: Schema{"type": "string"}}},
		Error:   Schema{"type": "object"}, InternalError: Schema{"type": "object"}, OTLPError: Schema{"type": "object"},
		PathParams: map[string]string{"id": "the id"}}
	doc, err := Build(spec, []Route{{Pattern: "GET /api/things/{id}", ID: "getThing", Summary: "A thing", Scope: Public,
		Answers: []Answer{{Status: 200, Type: reflect.TypeFor[inner]()}}}}, r)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(doc)
	c, err := NewChecker(b, "/api/")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Request-Id", "1")
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/api/things/good":
			w.Write([]byte(`{"a": "x", "b": 2}`))
		case "/api/things/extra":
			w.Write([]byte(`{"a": "x", "z": 1}`))
		case "/api/things/missing":
			w.Write([]byte(`{"b": 1}`))
		case "/api/things/teapot":
			w.WriteHeader(418)
			w.Write([]byte(`{}`))
		default:
			w.WriteHeader(404)
			w.Write([]byte(`{"error": "no route"}`))
		}
	}))
	defer srv.Close()
	client := &http.Client{Transport: c.Transport(http.DefaultTransport)}
	for _, p := range []string{"good", "extra", "missing", "teapot"} {
		resp, err := client.Get(srv.URL + "/api/things/" + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	for _, p := range []string{"/api/nowhere", "/elsewhere"} {
		resp, _ := client.Get(srv.URL + p)
		resp.Body.Close()
	}
	n, bad := c.Report()
	if n != 5 {
		t.Errorf("%d answers checked, want 5 (not /elsewhere)", n)
	}
	if len(bad) != 3 {
		t.Fatalf("violations %d, want 3 (extra, missing, teapot):\n%s", len(bad), strings.Join(bad, "\n"))
	}
	for i, p := range []string{"extra", "missing", "teapot"} {
		if !strings.Contains(bad[i], "/api/things/"+p) {
			t.Errorf("violation %d is %s, want one about %s", i, bad[i], p)
		}
	}
}
