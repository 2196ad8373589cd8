package otlp

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
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
	Admit(ctx context.Context) (*ingest.Ticket, error)
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

func (rc *Receiver) limits(mem event.Memory) event.Limits {
	lim := rc.Limits
	lim.Memory = mem
	return lim
}

// Memory a decoded export request holds per byte of its encoding,
// measured on the Go heap with spans of 0 to 20 attributes: up to 5.7
// times its protobuf size, 3.2 times its JSON.
const (
	protoFactor = 6
	jsonFactor  = 4
)

// store converts and submits; it returns the number of rejected items and
// why, or an *exportError when nothing was accepted.
func (rc *Receiver) store(ctx context.Context, c *converter, what string) (int64, string, error) {
	if err := c.flush(); err != nil {
		return 0, "", decodeRefusal(err)
	}
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

// decodeRefusal is the error for a request refused while it was decoded:
// too large (413, not retryable: the client must send less), or the
// guard's memory refused (retryable).
func decodeRefusal(err error) *exportError {
	var re *event.RequestError
	if errors.As(err, &re) {
		return &exportError{http: re.Status, grpc: grpcCode(re.Status), msg: re.Msg}
	}
	return refusal(err)
}

// admitted lets a decoded request of size bytes in protobuf in and counts
// its memory, before export converts it.
func (rc *Receiver) admitted(ctx context.Context, size int, export func(*ingest.Ticket) error) error {
	t, err := rc.Sink.Admit(ctx)
	if err != nil {
		return refusal(err)
	}
	defer t.Done()
	if err := t.Grow(protoFactor * int64(size)); err != nil {
		return decodeRefusal(err)
	}
	return export(t)
}

// ExportTraces stores a decoded trace export request: it is let in as an
// HTTP one is (ctx names the key, see ingest.WithKey), its size counted,
// then converted.
func (rc *Receiver) ExportTraces(ctx context.Context, req ptraceotlp.ExportRequest) (resp ptraceotlp.ExportResponse, err error) {
	resp = ptraceotlp.NewExportResponse()
	err = rc.admitted(ctx, (&ptrace.ProtoMarshaler{}).TracesSize(req.Traces()), func(t *ingest.Ticket) error {
		resp, err = rc.exportTraces(ctx, req, t)
		return err
	})
	return resp, err
}

// exportTraces stores a trace export request already let in.
func (rc *Receiver) exportTraces(ctx context.Context, req ptraceotlp.ExportRequest, mem event.Memory) (ptraceotlp.ExportResponse, error) {
	resp := ptraceotlp.NewExportResponse()
	lim := rc.limits(mem).WithDefaults()
	if n := traceEvents(req.Traces(), lim.MaxEvents); n > lim.MaxEvents {
		return resp, decodeRefusal(event.TooManyEvents(lim.MaxEvents))
	}
	c := newConverter(rc.Dataset, lim, rc.now())
	c.convertTraces(req.Traces())
	rejected, msg, err := rc.store(ctx, c, "spans and span events")
	if err == nil && rejected > 0 {
		resp.PartialSuccess().SetRejectedSpans(rejected)
		resp.PartialSuccess().SetErrorMessage(msg)
	}
	return resp, err
}

// ExportLogs stores a decoded log export request, as ExportTraces does.
func (rc *Receiver) ExportLogs(ctx context.Context, req plogotlp.ExportRequest) (resp plogotlp.ExportResponse, err error) {
	resp = plogotlp.NewExportResponse()
	err = rc.admitted(ctx, (&plog.ProtoMarshaler{}).LogsSize(req.Logs()), func(t *ingest.Ticket) error {
		resp, err = rc.exportLogs(ctx, req, t)
		return err
	})
	return resp, err
}

// exportLogs stores a log export request already let in.
func (rc *Receiver) exportLogs(ctx context.Context, req plogotlp.ExportRequest, mem event.Memory) (plogotlp.ExportResponse, error) {
	resp := plogotlp.NewExportResponse()
	lim := rc.limits(mem).WithDefaults()
	if n := req.Logs().LogRecordCount(); n > lim.MaxEvents {
		return resp, decodeRefusal(event.TooManyEvents(lim.MaxEvents))
	}
	c := newConverter(rc.Dataset, lim, rc.now())
	c.convertLogs(req.Logs())
	rejected, msg, err := rc.store(ctx, c, "log records")
	if err == nil && rejected > 0 {
		resp.PartialSuccess().SetRejectedLogRecords(rejected)
		resp.PartialSuccess().SetErrorMessage(msg)
	}
	return resp, err
}

// traceEvents counts the events a trace export makes (spans, span events
// and links), up to just past max.
func traceEvents(td ptrace.Traces, max int) int {
	n := 0
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len() && n <= max; i++ {
		sss := rss.At(i).ScopeSpans()
		for j := 0; j < sss.Len() && n <= max; j++ {
			spans := sss.At(j).Spans()
			for k := 0; k < spans.Len() && n <= max; k++ {
				sp := spans.At(k)
				n += 1 + sp.Events().Len() + sp.Links().Len()
			}
		}
	}
	return n
}

// message is what both request and response types of a signal can do.
type message interface {
	UnmarshalProto([]byte) error
	UnmarshalJSON([]byte) error
	MarshalProto() ([]byte, error)
	MarshalJSON() ([]byte, error)
}

// ServeTraces is the OTLP/HTTP handler for POST /v1/traces. Its request's
// context names the key (see ingest.WithKey).
func (rc *Receiver) ServeTraces(w http.ResponseWriter, r *http.Request) {
	req := ptraceotlp.NewExportRequest()
	rc.serveHTTP(w, r, req, func(ctx context.Context, mem event.Memory) (message, error) { return rc.exportTraces(ctx, req, mem) })
}

// ServeLogs is the OTLP/HTTP handler for POST /v1/logs.
func (rc *Receiver) ServeLogs(w http.ResponseWriter, r *http.Request) {
	req := plogotlp.NewExportRequest()
	rc.serveHTTP(w, r, req, func(ctx context.Context, mem event.Memory) (message, error) { return rc.exportLogs(ctx, req, mem) })
}

const (
	typeProto = "application/x-protobuf"
	typeJSON  = "application/json"
)

// serveHTTP decodes req as the request's content type says, runs export and
// answers as OTLP/HTTP specifies: the response in the request's encoding,
// errors as a google.rpc.Status with 400, 408, 413, 415, 429 or 503, the
// last two with Retry-After.
func (rc *Receiver) serveHTTP(w http.ResponseWriter, r *http.Request, req message, export func(context.Context, event.Memory) (message, error)) {
	ct := mediaType(r.Header.Get("Content-Type"))
	if ct != typeProto && ct != typeJSON {
		WriteHTTPError(w, r, http.StatusUnsupportedMediaType, "unsupported Content-Type "+strconv.Quote(r.Header.Get("Content-Type"))+": use application/x-protobuf or application/json")
		return
	}
	t, err := rc.Sink.Admit(r.Context())
	if err != nil {
		writeExportError(w, r, refusal(err))
		return
	}
	defer t.Done()
	err = event.ReadBody(r.Body, r.Header.Get("Content-Encoding"), rc.limits(t), func(body []byte) error {
		return rc.decode(t, body, ct, req)
	})
	if err != nil {
		writeExportError(w, r, decodeRefusal(err))
		return
	}
	resp, err := export(r.Context(), t)
	if err != nil {
		writeExportError(w, r, err)
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

// decode decodes an export request's body of type ct into req, once the
// memory it will take is counted and, in protobuf, its events counted on
// the wire.
func (rc *Receiver) decode(t *ingest.Ticket, body []byte, ct string, req message) error {
	factor, unmarshal := protoFactor, req.UnmarshalProto
	if ct == typeJSON {
		factor, unmarshal = jsonFactor, req.UnmarshalJSON
	} else if max := rc.Limits.WithDefaults().MaxEvents; protoEvents(body, max) > max {
		return event.TooManyEvents(max)
	}
	if err := t.Grow(int64(factor * len(body))); err != nil {
		return err
	}
	if err := unmarshal(body); err != nil {
		return &event.RequestError{Status: http.StatusBadRequest, Msg: "invalid OTLP " + strings.TrimPrefix(ct, "application/") + " body: " + err.Error()}
	}
	return nil
}

// Signals, as the gRPC services name them.
const (
	signalTraces = "traces"
	signalLogs   = "logs"
)

// exportProto stores an export request of signal received whole in
// protobuf (over gRPC), as an OTLP/HTTP one: let in, counted, decoded,
// converted and stored. It returns the response in protobuf.
func (rc *Receiver) exportProto(ctx context.Context, signal string, body []byte) ([]byte, error) {
	t, err := rc.Sink.Admit(ctx)
	if err != nil {
		return nil, refusal(err)
	}
	defer t.Done()
	if err := t.Grow(int64(len(body))); err != nil {
		return nil, decodeRefusal(err)
	}
	var resp message
	if signal == signalLogs {
		req := plogotlp.NewExportRequest()
		if err := rc.decode(t, body, typeProto, req); err != nil {
			return nil, decodeRefusal(err)
		}
		resp, err = rc.exportLogs(ctx, req, t)
	} else {
		req := ptraceotlp.NewExportRequest()
		if err := rc.decode(t, body, typeProto, req); err != nil {
			return nil, decodeRefusal(err)
		}
		resp, err = rc.exportTraces(ctx, req, t)
	}
	if err != nil {
		return nil, err
	}
	return resp.MarshalProto()
}

// writeExportError answers a refused export, with Retry-After when a retry
// may pass.
func writeExportError(w http.ResponseWriter, r *http.Request, err error) {
	var ee *exportError
	if !errors.As(err, &ee) {
		ee = &exportError{http: http.StatusInternalServerError, msg: err.Error()}
	}
	if ee.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(ee.retryAfter))
	}
	WriteHTTPError(w, r, ee.http, ee.msg)
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
	case http.StatusRequestTimeout:
		return codes.DeadlineExceeded
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		return codes.Unavailable
	case http.StatusNotFound:
		return codes.NotFound
	case http.StatusMethodNotAllowed:
		return codes.Unimplemented
	}
	return codes.Internal
}
