package ui

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The assets' directories are not listed: /ui/vendor/ once answered 200
// with the names of the vendored files.
func TestAssetsListNoDirectory(t *testing.T) {
	h := Assets()
	for path, want := range map[string]int{
		"/ui/vendor/":                http.StatusNotFound,
		"/ui/vendor":                 http.StatusNotFound,
		"/ui/":                       http.StatusNotFound,
		"/ui/vendor/uPlot.min.css":   http.StatusOK,
		"/ui/app.js":                 http.StatusOK,
		"/ui/vendor/no-such-file.js": http.StatusNotFound,
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != want || strings.Contains(rec.Body.String(), "uPlot.LICENSE") {
			t.Errorf("GET %s: %d %.80q, want %d and no listing", path, rec.Code, rec.Body.String(), want)
		}
	}
}
