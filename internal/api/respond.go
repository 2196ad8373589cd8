package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/prodex/prodex/internal/event"
	"github.com/prodex/prodex/internal/problem"
)

// apiError is an answer other than the one asked for, decided by the API
// itself (a malformed parameter, a body too large, a route's scope): the
// status and the message the client reads, and when to retry (seconds,
// 0 for no Retry-After).
type apiError struct {
	status     int
	msg        string
	retryAfter int
}

func (e *apiError) Error() string { return e.msg }

// httpError is a refusal with an HTTP status of its own.
func httpError(status int, msg string) error { return &apiError{status: status, msg: msg} }

// badRequest is a 400 saying msg.
func badRequest(msg string) error { return httpError(http.StatusBadRequest, msg) }

// kindStatus is the status of each kind of refusal a domain package makes.
var kindStatus = map[problem.Kind]int{
	problem.Invalid:   http.StatusBadRequest,
	problem.NotFound:  http.StatusNotFound,
	problem.Conflict:  http.StatusConflict,
	problem.Forbidden: http.StatusForbidden,
}

// errorBody is every error answer: {"error": …}, and on a 500 the id of
// the request, under which the server logged what went wrong.
type errorBody struct {
	Error     string `json:"error"`
	RequestID string `json:"request_id,omitempty"`
}

// fail answers err, the one way every handler answers an error. An
// *apiError has its own status, an *event.RequestError too, a refusal of
// package problem the status of its kind; each says its message. Anything
// else is the server's own failure: a 500 saying only "internal error"
// and the request's id, while the log gets the detail.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	var re *event.RequestError
	switch {
	case errors.As(err, &ae):
		if ae.retryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(ae.retryAfter))
		}
		writeError(w, ae.status, ae.msg)
		return
	case errors.As(err, &re):
		writeError(w, re.Status, re.Msg)
		return
	}
	if status, ok := kindStatus[problem.KindOf(err)]; ok {
		writeError(w, status, err.Error())
		return
	}
	id := requestID(w, r)
	log := s.Log
	if log == nil {
		log = slog.Default()
	}
	log.Error("request failed", "method", r.Method, "path", r.URL.Path, "request_id", id, "err", err)
	body := errorBody{Error: "internal error; request id " + id, RequestID: id}
	if strings.HasPrefix(r.URL.Path, "/1/") {
		body.RequestID = "" // Honeycomb's error shape: {"error": …} alone
	}
	writeJSON(w, http.StatusInternalServerError, body)
}

// writeError writes an error answer; only fail calls it.
func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, errorBody{Error: msg})
}

// writeJSON answers v as JSON with status. A value JSON cannot encode (a
// NaN, say) is the server's fault, answered as a 500, never a status with
// an empty body.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		slog.Error("answer not encodable as JSON", "err", err)
		status, b = http.StatusInternalServerError, []byte(`{"error":"internal error: the answer could not be encoded"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// requestIDHeader carries the id of every request in its response.
const requestIDHeader = "X-Request-Id"

type requestIDCtx struct{}

// identified gives every request an id, in its response's X-Request-Id
// header and in the log lines about it, so that a 500 a person reports
// can be found in the log.
func identified(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := newRequestID()
		w.Header().Set(requestIDHeader, id)
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDCtx{}, id)))
	})
}

// requestID is the id identified gave r, or a new one (set in the
// response) for a request that did not pass through it.
func requestID(w http.ResponseWriter, r *http.Request) string {
	if id, ok := r.Context().Value(requestIDCtx{}).(string); ok {
		return id
	}
	id := newRequestID()
	w.Header().Set(requestIDHeader, id)
	return id
}

func newRequestID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
