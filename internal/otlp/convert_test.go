package otlp

import (
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/prodex/prodex/internal/event"
)

func TestDatasetFor(t *testing.T) {
	for in, want := range map[string]string{
		"checkout":           "checkout",
		"Checkout-API":       "checkout-api",
		"unknown_service:go": "unknown_service_go",
		"":                   "unknown_service",
		"../etc":             "_._etc",
		"-x":                 "x",
		"a b/c":              "a_b_c",
		"héllo":              "h_llo",
		string(make([]byte, 200)): string(func() []byte {
			b := make([]byte, 128)
			for i := range b {
				b[i] = '_'
			}
			return b
		}()),
	} {
		if got := DatasetFor(in); got != want {
			t.Errorf("DatasetFor(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestConvertSpan(t *testing.T) {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "api")
	rs.Resource().Attributes().PutStr("host.name", "h1")
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("lib")
	sp := ss.Spans().AppendEmpty()
	sp.SetName("GET /")
	sp.SetTraceID(pcommon.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
	sp.SetSpanID(pcommon.SpanID{1, 1, 1, 1, 1, 1, 1, 1})
	sp.SetParentSpanID(pcommon.SpanID{2, 2, 2, 2, 2, 2, 2, 2})
	start := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	sp.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
	sp.SetEndTimestamp(pcommon.NewTimestampFromTime(start.Add(1500 * time.Microsecond)))
	sp.SetKind(ptrace.SpanKindServer)
	a := sp.Attributes()
	a.PutStr("host.name", "override")
	a.PutInt("SampleRate", 10)
	a.PutEmptyBytes("blob").FromRaw([]byte{0xff, 0x00})
	a.PutEmptyMap("http").PutInt("status", 503)
	a.PutEmptySlice("list").AppendEmpty().SetStr("x")
	sp.Status().SetCode(ptrace.StatusCodeError)
	ev := sp.Events().AppendEmpty()
	ev.SetName("boom")

	c := newConverter("", event.DefaultLimits(), start)
	c.convertTraces(td)
	if c.rejected != 0 || len(c.order) != 1 || c.order[0].Dataset != "api" || len(c.order[0].Events) != 2 {
		t.Fatalf("converted: %+v rejected %d %s", c.order, c.rejected, c.firstErr)
	}
	got := c.order[0].Events[0]
	want := map[string]any{
		"name": "GET /", "service.name": "api", "host.name": "override", "library.name": "lib",
		"trace.trace_id": "0102030405060708090a0b0c0d0e0f10", "trace.span_id": "0101010101010101", "trace.parent_id": "0202020202020202",
		"duration_ms": 1.5, "span.kind": "server", "status_code": int64(2), "error": true, "blob": "/wA=", "http.status": int64(503),
		"list": `["x"]`, "span.num_events": int64(1), "span.num_links": int64(0), "meta.signal_type": "trace",
	}
	for k, v := range want {
		if got.Fields[k] != v {
			t.Errorf("%s = %#v, want %#v", k, got.Fields[k], v)
		}
	}
	if got.SampleRate != 10 || !got.Time.Equal(start) || got.Fields["SampleRate"] != nil {
		t.Errorf("sample rate %d, time %v, fields %v", got.SampleRate, got.Time, got.Fields["SampleRate"])
	}
	e := c.order[0].Events[1]
	if e.Fields["meta.annotation_type"] != "span_event" || e.Fields["trace.parent_id"] != "0101010101010101" || e.Fields["parent_name"] != "GET /" || !e.Time.Equal(start) {
		t.Errorf("span event: %+v", e)
	}
}

func TestConvertLogs(t *testing.T) {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "worker")
	recs := rl.ScopeLogs().AppendEmpty().LogRecords()
	r1 := recs.AppendEmpty()
	r1.Body().SetStr("hello")
	r1.SetSeverityNumber(plog.SeverityNumberWarn)
	obs := time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)
	r1.SetObservedTimestamp(pcommon.NewTimestampFromTime(obs))
	r2 := recs.AppendEmpty()
	r2.Body().SetEmptyMap().PutStr("msg", "structured")
	r2.SetSeverityText("INFO")

	c := newConverter("all", event.DefaultLimits(), obs.Add(time.Hour))
	c.convertLogs(ld)
	if len(c.order) != 1 || c.order[0].Dataset != "all" || len(c.order[0].Events) != 2 {
		t.Fatalf("converted: %+v", c.order)
	}
	e1, e2 := c.order[0].Events[0], c.order[0].Events[1]
	if e1.Fields["body"] != "hello" || e1.Fields["severity"] != "warn" || e1.Fields["severity_code"] != int64(13) || !e1.Time.Equal(obs) || e1.Fields["meta.signal_type"] != "log" {
		t.Errorf("log 1: %+v", e1)
	}
	if e2.Fields["msg"] != "structured" || e2.Fields["severity"] != "info" || e2.Fields["trace.trace_id"] != nil {
		t.Errorf("log 2: %+v", e2)
	}
}

// A SampleRate attribute above event.MaxSampleRate rejects its span, as
// the events API rejects the event; the other spans are stored.
func TestSampleRateAboveMaximumRejectsTheSpan(t *testing.T) {
	td := ptrace.NewTraces()
	ss := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty()
	start := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	for i, rate := range []int64{9223372036854775807, event.MaxSampleRate, event.MaxSampleRate + 1} {
		sp := ss.Spans().AppendEmpty()
		sp.SetName("s")
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(start.Add(time.Duration(i) * time.Second)))
		sp.Attributes().PutInt("SampleRate", rate)
	}
	c := newConverter("", event.DefaultLimits(), start)
	c.convertTraces(td)
	if c.rejected != 2 || len(c.order) != 1 || len(c.order[0].Events) != 1 || c.order[0].Events[0].SampleRate != event.MaxSampleRate {
		t.Fatalf("rejected %d (%s), stored %+v: want the two spans above the maximum rejected", c.rejected, c.firstErr, c.order)
	}
	if want := "invalid samplerate 9223372036854775807: must be an integer from 0 to 1000000000"; c.firstErr != want {
		t.Errorf("message %q, want %q", c.firstErr, want)
	}
}
