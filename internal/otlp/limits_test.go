package otlp

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/prodex/prodex/internal/event"
	"github.com/prodex/prodex/internal/ingest"
)

// guardSink lets requests in through a real guard and keeps what it is
// given.
type guardSink struct {
	g      *ingest.Guard
	admits atomic.Int64
	mu     sync.Mutex
	got    []*event.Batch
}

func (s *guardSink) Admit(ctx context.Context) (*ingest.Ticket, error) {
	s.admits.Add(1)
	return s.g.Admit("", "k")
}

func (s *guardSink) SubmitAll(_ context.Context, bs []*event.Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, bs...)
	return nil
}

// spans is a trace export request of n spans, each with events span events
// and links links.
func spans(n, events, links int) ptraceotlp.ExportRequest {
	td := ptrace.NewTraces()
	ss := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty()
	for i := range n {
		sp := ss.Spans().AppendEmpty()
		sp.SetName("s")
		sp.SetTraceID(pcommon.TraceID{1, byte(i)})
		sp.SetSpanID(pcommon.SpanID{2, byte(i)})
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(time.Now()))
		sp.SetEndTimestamp(1) // a fixed64 besides the counted fields
		for range events {
			sp.Events().AppendEmpty().SetName("e")
		}
		for range links {
			sp.Links().AppendEmpty().SetSpanID(pcommon.SpanID{3})
		}
	}
	return ptraceotlp.NewExportRequestFromTraces(td)
}

func logs(n int) plogotlp.ExportRequest {
	ld := plog.NewLogs()
	sl := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty()
	for range n {
		lr := sl.LogRecords().AppendEmpty()
		lr.Body().SetStr("line")
		lr.SetObservedTimestamp(pcommon.NewTimestampFromTime(time.Now())) // field 11, a fixed64
	}
	return plogotlp.NewExportRequestFromLogs(ld)
}

// TestProtoEventsCount: the events of an export request are counted on
// the wire: spans with their span events and links, log records.
func TestProtoEventsCount(t *testing.T) {
	for _, tc := range []struct {
		name string
		req  interface{ MarshalProto() ([]byte, error) }
		want int
	}{
		{"spans", spans(7, 0, 0), 7},
		{"spans with events and links", spans(5, 2, 1), 20},
		{"logs", logs(9), 9},
	} {
		b, _ := tc.req.MarshalProto()
		if n := protoEvents(b, 1000); n != tc.want {
			t.Errorf("%s: %d events, want %d", tc.name, n, tc.want)
		}
		if n := protoEvents(b, 3); n != 4 {
			t.Errorf("%s: counting stops past the limit: %d, want 4", tc.name, n)
		}
	}
	if n := protoEvents([]byte{0x0a, 0xff, 0xff}, 10); n != 0 {
		t.Errorf("malformed: %d", n)
	}
}

// TestTooManyEventsIs413BeforeDecoding: an OTLP/HTTP export of more events
// than a request may carry is refused with 413 naming the limit, counted
// on the wire before it is decoded (the memory granted is too little for
// decoding it, yet the answer is about its events), and nothing is stored;
// in JSON, it is refused before it is converted.
func TestTooManyEventsIs413BeforeDecoding(t *testing.T) {
	body, _ := spans(2001, 0, 0).MarshalProto()
	sink := &guardSink{g: ingest.NewGuard(ingest.GuardOptions{DecodeMemory: int64(3 * len(body))})}
	rc := &Receiver{Sink: sink, Limits: event.Limits{MaxEvents: 2000}}
	post := func(path, ct string, body []byte) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("POST", path, bytes.NewReader(body))
		r.Header.Set("Content-Type", ct)
		if path == "/v1/logs" {
			rc.ServeLogs(w, r)
		} else {
			rc.ServeTraces(w, r)
		}
		return w
	}
	if w := post("/v1/traces", typeProto, body); w.Code != http.StatusRequestEntityTooLarge || !strings.Contains(w.Body.String(), "more than 2000 events") {
		t.Errorf("2001 spans in protobuf at a limit of 2000: %d %s", w.Code, w.Body)
	}
	sink.g = ingest.NewGuard(ingest.GuardOptions{})
	w := post("/v1/traces", typeJSON, mustJSON(t, spans(1200, 1, 0)))
	if w.Code != http.StatusRequestEntityTooLarge || !strings.Contains(w.Body.String(), "more than 2000 events") {
		t.Errorf("1200 spans of a span event each in JSON at a limit of 2000: %d %s", w.Code, w.Body)
	}
	lb, _ := logs(2001).MarshalProto()
	if w := post("/v1/logs", typeProto, lb); w.Code != http.StatusRequestEntityTooLarge || !strings.Contains(w.Body.String(), "more than 2000 events") {
		t.Errorf("2001 log records at a limit of 2000: %d %s", w.Code, w.Body)
	}
	if len(sink.got) != 0 {
		t.Errorf("stored %d batches of refused requests", len(sink.got))
	}
	if w := post("/v1/traces", typeProto, mustProto(t, spans(2000, 0, 0))); w.Code != http.StatusOK {
		t.Errorf("2000 spans at a limit of 2000: %d %s", w.Code, w.Body)
	}
	if n := sink.g.State().DecodingBytes; n != 0 {
		t.Errorf("%d bytes still held after the requests", n)
	}

	// Past the memory decoding may hold: 413 when the request alone needs
	// more, 503 with Retry-After while others hold it.
	sink.g = ingest.NewGuard(ingest.GuardOptions{DecodeMemory: 256 << 10})
	big := mustProto(t, spans(2000, 0, 0))
	if w := post("/v1/traces", typeProto, big); w.Code != http.StatusRequestEntityTooLarge || !strings.Contains(w.Body.String(), "memory") {
		t.Errorf("a request needing more than all decode memory: %d %s", w.Code, w.Body)
	}
	sink.g = ingest.NewGuard(ingest.GuardOptions{DecodeMemory: 4 << 20})
	other, _ := sink.g.Admit("", "other")
	other.Grow(4<<20 - 1000)
	if w := post("/v1/traces", typeProto, big); w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") != "1" {
		t.Errorf("while another request holds the decode memory: %d %s (Retry-After %q)", w.Code, w.Body, w.Header().Get("Retry-After"))
	}
	other.Done()
}

func mustProto(t *testing.T, m interface{ MarshalProto() ([]byte, error) }) []byte {
	b, err := m.MarshalProto()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustJSON(t *testing.T, m interface{ MarshalJSON() ([]byte, error) }) []byte {
	b, err := m.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// grpcServer serves rc over gRPC on loopback, with o's bounds.
func grpcServer(t *testing.T, rc *Receiver, o GRPCOptions) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewGRPCServer(func(context.Context, string) (*Receiver, string, error) { return rc, "k", nil }, nil, o)
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
	return ln.Addr().String()
}

// TestGRPCTooManyEventsIsResourceExhausted: over gRPC, too many events is
// RESOURCE_EXHAUSTED naming the limit; a request within it is stored.
func TestGRPCTooManyEventsIsResourceExhausted(t *testing.T) {
	sink := &guardSink{g: ingest.NewGuard(ingest.GuardOptions{})}
	addr := grpcServer(t, &Receiver{Sink: sink, Limits: event.Limits{MaxEvents: 100}}, GRPCOptions{})
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	_, err = ptraceotlp.NewGRPCClient(cc).Export(context.Background(), spans(101, 0, 0))
	if st := status.Convert(err); st.Code() != codes.ResourceExhausted || !strings.Contains(st.Message(), "more than 100 events") {
		t.Errorf("101 spans: %v", err)
	}
	_, err = plogotlp.NewGRPCClient(cc).Export(context.Background(), logs(101))
	if st := status.Convert(err); st.Code() != codes.ResourceExhausted {
		t.Errorf("101 log records: %v", err)
	}
	resp, err := ptraceotlp.NewGRPCClient(cc).Export(context.Background(), spans(100, 0, 0))
	if err != nil || resp.PartialSuccess().RejectedSpans() != 0 || len(sink.got) != 1 || len(sink.got[0].Events) != 100 {
		t.Errorf("100 spans: %v, %d batches stored", err, len(sink.got))
	}
	if _, err := plogotlp.NewGRPCClient(cc).Export(context.Background(), logs(3)); err != nil {
		t.Errorf("3 log records: %v", err)
	}
}

// stallConn passes the first left bytes written and then stalls every
// write until the test ends: a sender whose message stops arriving.
type stallConn struct {
	net.Conn
	mu    sync.Mutex
	left  int
	stall chan struct{}
}

func (c *stallConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	n := min(len(b), c.left)
	c.left -= n
	c.mu.Unlock()
	if n > 0 {
		if _, err := c.Conn.Write(b[:n]); err != nil {
			return 0, err
		}
	}
	if n < len(b) {
		<-c.stall
		return n, net.ErrClosed
	}
	return n, nil
}

// TestGRPCSlowMessageIsCancelled: a stream whose message stops arriving
// holds no slot of the requests in flight, and is cancelled once the
// receive timeout has passed.
func TestGRPCSlowMessageIsCancelled(t *testing.T) {
	sink := &guardSink{g: ingest.NewGuard(ingest.GuardOptions{})}
	addr := grpcServer(t, &Receiver{Sink: sink}, GRPCOptions{RecvTimeout: 300 * time.Millisecond})
	stall := make(chan struct{})
	defer close(stall)
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, a string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, "tcp", a)
			return &stallConn{Conn: c, left: 32 << 10, stall: stall}, err
		}))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	began := time.Now()
	_, err = ptraceotlp.NewGRPCClient(cc).Export(ctx, spans(20_000, 0, 0)) // ~1 MB: most of it stalls
	took := time.Since(began)
	if code := status.Code(err); code != codes.Canceled && code != codes.DeadlineExceeded || took > 10*time.Second {
		t.Errorf("a stalled message: %v after %v, want it cancelled after the 300ms receive timeout", err, took)
	}
	if n := sink.admits.Load(); n != 0 {
		t.Errorf("the stalled stream was let in %d times: it held a slot", n)
	}
	t.Logf("stalled message answered %v after %v", status.Code(err), took)
}
