package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/prodex/prodex/internal/api"
	"github.com/prodex/prodex/internal/api/openapi"
)

// holdToContract checks every answer the tests get from a server against
// the API's OpenAPI document: it wraps http.DefaultTransport, which every
// client of these tests uses (http.Get, call, and the clients of their
// own, which set no Transport). An answer to a documented route must have
// a status the route lists, with a body of its schema; one under /api/v1/
// or /1/ to no route must be a JSON error. The function it returns, called
// after the run, prints what did not hold and fails the run then.
func holdToContract() (report func(code int) int) {
	c, err := openapi.NewChecker(api.OpenAPI(), "/api/v1/", "/1/")
	if err != nil {
		fmt.Fprintln(os.Stderr, "reading the OpenAPI document:", err)
		os.Exit(1)
	}
	http.DefaultTransport = c.Transport(http.DefaultTransport)
	return func(code int) int {
		n, bad := c.Report()
		fmt.Fprintf(os.Stderr, "openapi: %d answers checked against internal/api/openapi.json, %d did not hold\n", n, len(bad))
		for _, v := range bad {
			fmt.Fprintln(os.Stderr, "  "+v)
		}
		if len(bad) > 0 && code == 0 {
			code = 1
		}
		return code
	}
}

// documentedScope is what the OpenAPI document says a route needs.
type documentedScope struct {
	scope    string
	rootOnly bool
}

// openAPIScopes reads each operation's scope from the document, by the
// mux pattern it was registered under.
func openAPIScopes(t *testing.T) map[string]documentedScope {
	t.Helper()
	var doc struct {
		Paths map[string]map[string]struct {
			Scope    string `json:"x-prodex-scope"`
			RootOnly bool   `json:"x-prodex-root-only"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(api.OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	out := map[string]documentedScope{}
	for path, ops := range doc.Paths {
		switch {
		case path == "/":
			path = "/{$}"
		case strings.HasSuffix(path, "/{path}"):
			path = strings.TrimSuffix(path, "{path}")
		}
		for m, op := range ops {
			out[strings.ToUpper(m)+" "+path] = documentedScope{op.Scope, op.RootOnly}
		}
	}
	return out
}
