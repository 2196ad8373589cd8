package otlp

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/prodex/prodex/internal/event"
	"github.com/prodex/prodex/internal/ingest"
)

// Sink stores converted events: durable when it returns nil, with per-event
// rejections in each batch's Errs. The ingest writer is one.
type Sink interface {
	SubmitAll(ctx context.Context, bs []*event.Batch) error
	// Admit is asked before a body is read; see ingest.Writer.Admit.
	Admit() (release func(), err error)
}

// Receiver accepts OTLP exports and stores them through Sink, with the same
// limits as the events API.
type Receiver struct {
	Sink   Sink
	Limits event.Limits
	// Dataset, when set, receives every span and log record; otherwise
	// each service has its own dataset.
	Dataset string
	// Now is the clock (tests may replace it).
	Now func() time.Time
}

// exportError is a request the receiver refuses as a whole.
type exportError struct {
	http       int
	grpc       codes.Code
	msg        string
	retryAfter int // seconds; 0: not retryable
}

func (e *exportError) Error() string { return e.msg }

func (rc *Receiver) now() time.Time {
	if rc.Now != nil {
		return rc.Now()
	}
	return time.Now()
}

// store converts and submits; it returns the number of rejected items and
// why, or an *exportError when nothing was accepted.
func (rc *Receiver) store(ctx context.Context, c *converter, what string) (int64, string, error) {
	if len(c.order) > 0 {
		if err := rc.Sink.SubmitAll(ctx, c.order); err != nil {
			return 0, "", refusal(err)
		}
		c.storeRejected()
	}
	return c.rejected, c.summary(what), nil
}

// refusal turns a writer's refusal into the OTLP error: every one is
// retryable, so the client keeps the data and sends it again. A full disk
// is a 503 here, not the events API's 507, because OTLP clients retry only
// 429, 502, 503 and 504.
func refusal(err error) *exportError {
	status, after := ingest.Refusal(err)
	msg := err.Error()
	if !errors.Is(err, ingest.ErrBusy) && !errors.Is(err, ingest.ErrTooManyRequests) && !errors.Is(err, ingest.ErrMemory) &&
		!errors.Is(err, ingest.ErrDiskFull) && !errors.Is(err, ingest.ErrClosed) {
		msg = "not stored: " + msg
	}
	if status != http.StatusTooManyRequests {
		status = http.StatusServiceUnavailable
	}
	return &exportError{status, codes.Unavailable, msg, after}
}

// ExportTraces stores a trace export request.
func (rc *Receiver) ExportTraces(ctx context.Context, req ptraceotlp.ExportRequest) (ptraceotlp.ExportResponse, error) {
	c := newConverter(rc.Dataset, rc.Limits, rc.now())
	c.convertTraces(req.Traces())
	rejected, msg, err := rc.store(ctx, c, "spans and span events")
	resp := ptraceotlp.NewExportResponse()
	if err == nil && rejected > 0 {
		resp.PartialSuccess().SetRejectedSpans(rejected)
		resp.PartialSuccess().SetErrorMessage(msg)
	}
	return resp, err
}

// ExportLogs stores a log export request.
func (rc *Receiver) ExportLogs(ctx context.Context, req plogotlp.ExportRequest) (plogotlp.ExportResponse, error) {
	c := newConverter(rc.Dataset, rc.Limits, rc.now())
	c.convertLogs(req.Logs())
	rejected, msg, err := rc.store(ctx, c, "log records")
	resp := plogotlp.NewExportResponse()
	if err == nil && rejected > 0 {
		resp.PartialSuccess().SetRejectedLogRecords(rejected)
		resp.PartialSuccess().SetErrorMessage(msg)
	}
	return resp, err
}

// message is what both request and response types of a signal can do.
type message interface {
	UnmarshalProto([]byte) error
	UnmarshalJSON([]byte) error
	MarshalProto() ([]byte, error)
	MarshalJSON() ([]byte, error)
}

// ServeTraces is the OTLP/HTTP handler for POST /v1/traces.
func (rc *Receiver) ServeTraces(w http.ResponseWriter, r *http.Request) {
	req := ptraceotlp.NewExportRequest()
	rc.serveHTTP(w, r, req, func(ctx context.Context) (message, error) { return rc.ExportTraces(ctx, req) })
}

// ServeLogs is the OTLP/HTTP handler for POST /v1/logs.
func (rc *Receiver) ServeLogs(w http.ResponseWriter, r *http.Request) {
	req := plogotlp.NewExportRequest()
	rc.serveHTTP(w, r, req, func(ctx context.Context) (message, error) { return rc.ExportLogs(ctx, req) })
}

const (
	typeProto = "application/x-protobuf"
	typeJSON  = "application/json"
)

// serveHTTP decodes req as the request's content type says, runs export and
// answers as OTLP/HTTP specifies: the response in the request's encoding,
// errors as a google.rpc.Status with 400, 413, 415, 429 or 503, the last two
// with Retry-After.
func (rc *Receiver) serveHTTP(w http.ResponseWriter, r *http.Request, req message, export func(context.Context) (message, error)) {
	ct := mediaType(r.Header.Get("Content-Type"))
	if ct != typeProto && ct != typeJSON {
		WriteHTTPError(w, r, http.StatusUnsupportedMediaType, "unsupported Content-Type "+strconv.Quote(r.Header.Get("Content-Type"))+": use application/x-protobuf or application/json")
		return
	}
	release, err := rc.Sink.Admit()
	if err != nil {
		ee := refusal(err)
		w.Header().Set("Retry-After", strconv.Itoa(ee.retryAfter))
		WriteHTTPError(w, r, ee.http, ee.msg)
		return
	}
	defer release()
	err = event.ReadBody(r.Body, r.Header.Get("Content-Encoding"), rc.Limits, func(body []byte) error {
		if ct == typeJSON {
			return req.UnmarshalJSON(body)
		}
		return req.UnmarshalProto(body)
	})
	if err != nil {
		var re *event.RequestError
		if errors.As(err, &re) {
			WriteHTTPError(w, r, re.Status, re.Msg)
		} else {
			WriteHTTPError(w, r, http.StatusBadRequest, "invalid OTLP "+strings.TrimPrefix(ct, "application/")+" body: "+err.Error())
		}
		return
	}
	resp, err := export(r.Context())
	if err != nil {
		var ee *exportError
		if !errors.As(err, &ee) {
			ee = &exportError{http: http.StatusInternalServerError, msg: err.Error()}
		}
		if ee.retryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(ee.retryAfter))
		}
		WriteHTTPError(w, r, ee.http, ee.msg)
		return
	}
	var body []byte
	if ct == typeJSON {
		body, err = resp.MarshalJSON()
	} else {
		body, err = resp.MarshalProto()
	}
	if err != nil {
		WriteHTTPError(w, r, http.StatusInternalServerError, err.Error())
		return
	}
	w.Header().Set("Content-Type", ct)
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}

func mediaType(ct string) string {
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	return strings.ToLower(strings.TrimSpace(ct))
}

// WriteHTTPError answers an OTLP/HTTP request with a google.rpc.Status in
// the request's encoding (JSON unless it sent protobuf).
func WriteHTTPError(w http.ResponseWriter, r *http.Request, code int, msg string) {
	st := &status.Status{Code: int32(grpcCode(code)), Message: msg}
	var body []byte
	ct := typeJSON
	if mediaType(r.Header.Get("Content-Type")) == typeProto {
		ct = typeProto
		body, _ = proto.Marshal(st)
	} else {
		body, _ = protojson.Marshal(st)
	}
	w.Header().Set("Content-Type", ct)
	w.WriteHeader(code)
	w.Write(body)
}

// grpcCode is the gRPC code that stands for an HTTP status in a Status body.
func grpcCode(httpStatus int) codes.Code {
	switch httpStatus {
	case http.StatusBadRequest, http.StatusUnsupportedMediaType:
		return codes.InvalidArgument
	case http.StatusUnauthorized:
		return codes.Unauthenticated
	case http.StatusForbidden:
		return codes.PermissionDenied
	case http.StatusRequestEntityTooLarge:
		return codes.ResourceExhausted
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		return codes.Unavailable
	case http.StatusNotFound:
		return codes.NotFound
	case http.StatusMethodNotAllowed:
		return codes.Unimplemented
	}
	return codes.Internal
}
