package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/prodex/prodex/internal/api/openapi"
	"github.com/prodex/prodex/internal/otlp"
	"github.com/prodex/prodex/internal/problem"
)

var update = flag.Bool("update", false, "rewrite openapi.json and the reference in docs/api.md from the route table")

// The reference section of docs/api.md lies between these lines.
const (
	refBegin = "<!-- The reference below is written by `go test ./internal/api -run OpenAPI -update`; do not edit it by hand. -->\n"
	refEnd   = "<!-- End of the generated reference. -->\n"
)

// sourceRoute is what the registration of a route says.
type sourceRoute struct {
	scope    string
	rootOnly bool
	otlp     bool
}

// sourceRoutes reads the registrations in this package's sources, each
// a call of mux.HandleFunc with the pattern and the wrapped handler: the scope s.with(auth.X, …) asks
// (s.with("", …) any key; s.withOTLP ingest; no s.with: public) and
// whether s.rootOnly wraps the handler.
func sourceRoutes(t *testing.T) map[string]sourceRoute {
	t.Helper()
	fset := token.NewFileSet()
	files, _ := filepath.Glob("*.go")
	out := map[string]sourceRoute{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) != 2 {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || sel.Sel.Name != "HandleFunc" && sel.Sel.Name != "Handle" {
				return true
			}
			lit, ok := call.Args[0].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			pattern, _ := strconv.Unquote(lit.Value)
			r := sourceRoute{scope: openapi.Public}
			var walk func(e ast.Expr)
			walk = func(e ast.Expr) {
				c, ok := e.(*ast.CallExpr)
				if !ok {
					return
				}
				fn, ok := c.Fun.(*ast.SelectorExpr)
				if !ok {
					return
				}
				switch fn.Sel.Name {
				case "with":
					r.scope = openapi.Any
					if s, ok := c.Args[0].(*ast.SelectorExpr); ok {
						r.scope = strings.ToLower(s.Sel.Name)
					}
				case "withOTLP":
					r.scope, r.otlp = "ingest", true
				case "rootOnly":
					r.rootOnly = true
				}
				for _, a := range c.Args {
					walk(a)
				}
			}
			walk(call.Args[1])
			if _, dup := out[pattern]; dup {
				t.Errorf("%s: %s registered twice", fset.Position(call.Pos()), pattern)
			}
			out[pattern] = r
			return true
		})
	}
	return out
}

// buildOpenAPI writes the document from the route table and the sources.
func buildOpenAPI(t *testing.T) (*openapi.Document, []byte) {
	t.Helper()
	src := sourceRoutes(t)
	routes := slices.Clone(apiRoutes)
	for i := range routes {
		s, ok := src[routes[i].Pattern]
		if !ok {
			t.Errorf("route %s is in the table but registered nowhere in the sources", routes[i].Pattern)
			continue
		}
		routes[i].Scope, routes[i].RootOnly = s.scope, s.rootOnly
		routes[i].Cookieless = s.otlp || cookieless[routes[i].Pattern]
		if s.otlp != routes[i].OTLP {
			t.Errorf("route %s: OTLP is %v in the table, %v in the source", routes[i].Pattern, routes[i].OTLP, s.otlp)
		}
	}
	r := &openapi.Reflector{Names: schemaNames, Custom: customSchemas}
	spec := openAPISpec
	spec.Error = r.Of(typ[errorBody]())
	spec.InternalError = r.Define("InternalError", openapi.Schema{"type": "object", "additionalProperties": false,
		"description": "A 500: the message names the request id, which the server logged the failure under.",
		"properties":  openapi.Schema{"error": openapi.Schema{"type": "string"}, "request_id": openapi.Schema{"type": "string"}},
		"required":    []any{"error", "request_id"}})
	spec.OTLPError = r.Define("OTLPStatus", openapi.Schema{"type": "object", "description": "A google.rpc.Status, as OTLP/HTTP answers errors (protobuf when the request was).",
		"properties": openapi.Schema{"code": openapi.Schema{"type": "integer"}, "message": openapi.Schema{"type": "string"}, "details": openapi.Schema{"type": "array"}}})
	doc, err := openapi.Build(spec, routes, r)
	if err != nil {
		t.Fatalf("building the OpenAPI document: %v", err)
	}
	// The history keeps a query's spec as raw JSON: it is a query spec.
	for _, name := range []string{"StoredQuery", "QueryRun", "SavedQuery"} {
		props, _ := doc.Components.Schemas[name]["properties"].(openapi.Schema)
		if _, ok := props["spec"]; !ok {
			t.Fatalf("schema %s has no spec to describe as a QuerySpec", name)
		}
		props["spec"] = openapi.Schema{"$ref": "#/components/schemas/QuerySpec", "description": "The query's spec, with its absolute start_time and end_time."}
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return doc, append(b, '\n')
}

// TestOpenAPIDocument: the committed openapi.json is what the route
// table and the Go types make, and a valid OpenAPI 3.1 document.
func TestOpenAPIDocument(t *testing.T) {
	_, b := buildOpenAPI(t)
	if *update {
		if err := os.WriteFile("openapi.json", b, 0o644); err != nil {
			t.Fatal(err)
		}
	} else if !bytes.Equal(b, openAPI) {
		t.Errorf("openapi.json is not what the route table and the types make: run go test ./internal/api -run OpenAPI -update, and review the difference")
	}
	if err := openapi.ValidateDocument(b); err != nil {
		t.Errorf("openapi.json is not a valid OpenAPI document: %v", err)
	}
}

// TestOpenAPIRoutes: the document has an operation for every route the
// server registers, and none for a route it does not serve.
func TestOpenAPIRoutes(t *testing.T) {
	s := &Server{OTLP: &otlp.Receiver{}}
	registered := map[string]bool{}
	for _, p := range s.routes().patterns {
		m, path := openapi.Path(p)
		registered[m+" "+path] = true
	}
	src := sourceRoutes(t)
	if len(src) != len(registered) {
		t.Errorf("the sources register %d routes, the server %d: a route is registered other than by mux.HandleFunc(\"PATTERN\", …)", len(src), len(registered))
	}
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for m := range ops {
			documented[strings.ToUpper(m)+" "+path] = true
		}
	}
	for r := range registered {
		if !documented[r] {
			t.Errorf("route %s is served but not in openapi.json: describe it in openapi_routes_test.go and run go test ./internal/api -run OpenAPI -update", r)
		}
	}
	for d := range documented {
		if !registered[d] {
			t.Errorf("openapi.json lists %s, which the server does not serve", d)
		}
	}
}

// TestOpenAPIMarkdown: docs/api.md's reference section is the
// document's.
func TestOpenAPIMarkdown(t *testing.T) {
	doc, _ := buildOpenAPI(t)
	const path = "../../docs/api.md"
	md, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ref := refBegin + "\n" + openapi.Markdown(doc) + "\n" + refEnd
	before, rest, found := strings.Cut(string(md), refBegin)
	_, after, _ := strings.Cut(rest, refEnd)
	if !found {
		t.Fatalf("docs/api.md has no line %q to put the reference after", strings.TrimSpace(refBegin))
	}
	if got := before + ref + after; got != string(md) {
		if !*update {
			t.Fatalf("docs/api.md's reference is not the document's: run go test ./internal/api -run OpenAPI -update")
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestOpenAPIServed: GET /api/v1/openapi.json answers the document to
// anyone, and what it answers holds to it.
func TestOpenAPIServed(t *testing.T) {
	c, err := openapi.NewChecker(openAPI, "/api/v1/", "/1/")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer((&Server{}).Handler())
	defer srv.Close()
	client := &http.Client{Transport: c.Transport(http.DefaultTransport)}
	resp, err := client.Get(srv.URL + "/api/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	if resp.StatusCode != 200 || !bytes.Equal(buf.Bytes(), openAPI) || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("GET /api/v1/openapi.json: %d %s, %d bytes; want 200 and the document", resp.StatusCode, resp.Header.Get("Content-Type"), buf.Len())
	}
	for _, p := range []string{"/healthz", "/readyz", "/api/v1/nowhere"} {
		if resp, err := client.Get(srv.URL + p); err == nil {
			resp.Body.Close()
		}
	}
	if n, bad := c.Report(); n != 4 || len(bad) > 0 {
		t.Errorf("%d answers checked, want 4; violations:\n%s", n, strings.Join(bad, "\n"))
	}
}

// TestOpenAPIErrorShapes: the answers of s.fail, which the end-to-end
// tests rarely provoke (a 500 above all), hold to the document: the
// API's error, a 500's request id outside /1/ and none under it.
func TestOpenAPIErrorShapes(t *testing.T) {
	c, err := openapi.NewChecker(openAPI, "/api/v1/", "/1/")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, e := range []struct {
		method, path string
		err          error
	}{
		{"GET", "/api/v1/slos", errors.New("disk on fire")},
		{"GET", "/1/columns/checkout", errors.New("disk on fire")},
		{"POST", "/1/batch/checkout", &apiError{status: 503, msg: "busy", retryAfter: 5}},
		{"GET", "/api/v1/incidents/x", problem.New(problem.NotFound, "incident x does not exist")},
		{"POST", "/api/v1/risks/r/what-if", problem.New(problem.Conflict, "gone")},
		{"DELETE", "/api/v1/notes/n", problem.New(problem.Forbidden, "not yours")},
		{"POST", "/api/v1/query/checkout", badRequest("time_range: must be positive")},
	} {
		h := identified(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.fail(w, r, e.err) }))
		req := httptest.NewRequest(e.method, e.path, nil)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		c.Check(req, rec.Result(), rec.Body.Bytes())
	}
	if n, bad := c.Report(); n != 7 || len(bad) > 0 {
		t.Errorf("%d answers checked, want 7; violations:\n%s", n, strings.Join(bad, "\n"))
	}
}
