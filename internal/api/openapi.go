package api

import (
	_ "embed"
	"net/http"
)

// openAPI is the API's OpenAPI 3.1 document. It is written, not by hand,
// by TestOpenAPIDocument from the route table in openapi_routes_test.go
// and the Go types the handlers read and write:
//
//	go test ./internal/api -run OpenAPI -update
//
//go:embed openapi.json
var openAPI []byte

// OpenAPI is the API's OpenAPI 3.1 document, as JSON.
func OpenAPI() []byte { return openAPI }

// getOpenAPI serves the document. It needs no key: it describes the API
// and holds nothing of anyone's, and code generators fetch it unattended.
func getOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(openAPI)
}

// routeMux is the API's ServeMux, remembering the pattern of every route
// registered on it, so that a test can hold the OpenAPI document to the
// routes the server really serves.
type routeMux struct {
	*http.ServeMux
	patterns []string
}

func newRouteMux() *routeMux { return &routeMux{ServeMux: http.NewServeMux()} }

func (m *routeMux) HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request)) {
	m.patterns = append(m.patterns, pattern)
	m.ServeMux.HandleFunc(pattern, h)
}

func (m *routeMux) Handle(pattern string, h http.Handler) {
	m.patterns = append(m.patterns, pattern)
	m.ServeMux.Handle(pattern, h)
}
