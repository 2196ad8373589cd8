package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prodex/prodex/internal/event"
	"github.com/prodex/prodex/internal/problem"
)

// Every error goes through fail: refusals keep their message and get the
// status of their kind; the server's own failures answer a generic 500
// with the request's id, which the log line carries with the detail.
func TestFail(t *testing.T) {
	var logged bytes.Buffer
	s := &Server{Log: slog.New(slog.NewTextHandler(&logged, nil))}
	h := identified(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var err error
		switch r.URL.Query().Get("e") {
		case "api":
			err = &apiError{status: http.StatusServiceUnavailable, msg: "busy", retryAfter: 5}
		case "decode":
			err = &event.RequestError{Status: http.StatusUnsupportedMediaType, Msg: "unsupported"}
		case "invalid":
			err = fmt.Errorf("SLO a: %w", problem.New(problem.Invalid, "target: required"))
		case "missing":
			err = problem.New(problem.NotFound, "incident x does not exist")
		case "conflict":
			err = problem.New(problem.Conflict, "gone")
		case "forbidden":
			err = problem.New(problem.Forbidden, "not yours")
		default:
			err = errors.New("disk on fire")
		}
		s.fail(w, r, err)
	}))
	for _, c := range []struct {
		path   string
		status int
		body   string
	}{
		{"/api/v1/x?e=api", 503, `{"error":"busy"}`},
		{"/api/v1/x?e=decode", 415, `{"error":"unsupported"}`},
		{"/api/v1/x?e=invalid", 400, `{"error":"SLO a: target: required"}`},
		{"/api/v1/x?e=missing", 404, `{"error":"incident x does not exist"}`},
		{"/api/v1/x?e=conflict", 409, `{"error":"gone"}`},
		{"/api/v1/x?e=forbidden", 403, `{"error":"not yours"}`},
		{"/api/v1/x?e=other", 500, `{"error":"internal error; request id ID","request_id":"ID"}`},
		{"/1/columns/x?e=other", 500, `{"error":"internal error; request id ID"}`},
	} {
		logged.Reset()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", c.path, nil))
		id := rec.Header().Get("X-Request-Id")
		if len(id) != 16 {
			t.Errorf("%s: X-Request-Id %q", c.path, id)
		}
		want := strings.ReplaceAll(c.body, "ID", id)
		if got := strings.TrimSpace(rec.Body.String()); rec.Code != c.status || got != want {
			t.Errorf("%s: %d %s, want %d %s", c.path, rec.Code, got, c.status, want)
		}
		if c.status == 503 && rec.Header().Get("Retry-After") != "5" {
			t.Errorf("%s: Retry-After %q", c.path, rec.Header().Get("Retry-After"))
		}
		line := logged.String()
		if c.status == 500 {
			for _, part := range []string{"disk on fire", "request_id=" + id, "method=GET", "path=" + strings.Split(c.path, "?")[0]} {
				if !strings.Contains(line, part) {
					t.Errorf("%s: log %q lacks %q", c.path, line, part)
				}
			}
		} else if line != "" {
			t.Errorf("%s: a refusal is logged: %s", c.path, line)
		}
	}
}

// Every answer carries its request's id, one per request.
func TestRequestIDOnEveryAnswer(t *testing.T) {
	h := (&Server{}).Handler()
	seen := map[string]bool{}
	for _, path := range []string{"GET /healthz", "GET /nowhere", "DELETE /healthz"} {
		method, p, _ := strings.Cut(path, " ")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, p, nil))
		id := rec.Header().Get("X-Request-Id")
		if id == "" || seen[id] {
			t.Errorf("%s: %d with X-Request-Id %q", path, rec.Code, id)
		}
		seen[id] = true
		if rec.Code >= 400 {
			var e errorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error == "" || e.RequestID != "" {
				t.Errorf("%s: %d %s", path, rec.Code, rec.Body)
			}
		}
	}
}
