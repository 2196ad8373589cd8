package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prodex/prodex/internal/query"
)

// A query cancelled to give memory back says so with a 503 a client may
// retry; one that ran out of time says that with a 504.
func TestStoppedQueryAnswers(t *testing.T) {
	s := &Server{QueryTimeout: time.Hour, Running: &query.Running{}}
	r := httptest.NewRequest("POST", "/api/v1/query/ds", nil)

	ctx, cancel := s.classContext(r, query.Class{Heavy: true}) // a heavy query: cancelled first
	if !s.Running.CancelOldest() {
		t.Fatal("the query was not tracked")
	}
	<-ctx.Done()
	w := httptest.NewRecorder()
	s.fail(w, r, s.stopped(ctx, "query"))
	cancel()
	var body struct{ Error string }
	json.Unmarshal(w.Body.Bytes(), &body)
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" || !strings.Contains(body.Error, "memory ceiling") {
		t.Errorf("cancelled for memory: %d %q (Retry-After %q)", w.Code, body.Error, w.Header().Get("Retry-After"))
	}
	if s.Running.Len() != 0 {
		t.Errorf("%d queries still tracked", s.Running.Len())
	}

	s.QueryTimeout = time.Nanosecond
	ctx, cancel = s.queryContext(r)
	defer cancel()
	<-ctx.Done()
	w = httptest.NewRecorder()
	s.fail(w, r, s.stopped(ctx, "explain"))
	json.Unmarshal(w.Body.Bytes(), &body)
	if w.Code != http.StatusGatewayTimeout || !strings.Contains(body.Error, "explain exceeded its time limit") {
		t.Errorf("timed out: %d %q", w.Code, body.Error)
	}
}
