package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestRoutedErrors: a path served under other methods is a 405 naming
// them, an unknown path a 404, both as JSON; redirects still happen.
func TestRoutedErrors(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/query/{dataset}", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) })
	mux.HandleFunc("GET /api/v1/slos", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) })
	mux.HandleFunc("POST /api/v1/slos", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(201) })
	h := routed(mux, func(w http.ResponseWriter, r *http.Request, status int, allow string) {
		writeError(w, status, "miss "+allow)
	})
	for _, c := range []struct {
		method, path string
		status       int
		allow        string
	}{
		{"POST", "/api/v1/query/checkout", 200, ""},
		{"GET", "/api/v1/query/checkout", 405, "POST"},
		{"DELETE", "/api/v1/slos", 405, "GET, HEAD, POST"},
		{"GET", "/nowhere", 404, ""},
		{"GET", "/api/v1//slos", 307, ""}, // the mux cleans the path
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(c.method, c.path, nil))
		if rec.Code != c.status || rec.Header().Get("Allow") != c.allow {
			t.Errorf("%s %s: %d allow %q, want %d %q", c.method, c.path, rec.Code, rec.Header().Get("Allow"), c.status, c.allow)
		}
		if c.status >= 400 {
			var e struct{ Error string }
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error == "" {
				t.Errorf("%s %s: body %q is not a JSON error", c.method, c.path, rec.Body.String())
			}
		}
	}
}
