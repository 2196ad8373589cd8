// Package otlp receives OpenTelemetry traces and logs (OTLP over HTTP and
// gRPC, decoded by the Collector's pdata packages) and turns them into wide
// events, following the field names Honeycomb gives OpenTelemetry data so
// that queries and SLIs written for one work on the other:
//
//   - a span is an event timed at its start with name, service.name,
//     trace.trace_id, trace.span_id, trace.parent_id (absent on a root
//     span), duration_ms, span.kind, status_code (the OTel status: 0 unset,
//     1 ok, 2 error), status_message, error (true when the status is an
//     error), span.num_events, span.num_links, library.name and
//     library.version, and its resource and span attributes under their
//     OTel names (span attributes win over resource ones);
//   - a span event is an event with meta.annotation_type "span_event",
//     trace.parent_id the span's id and parent_name the span's name;
//   - a span link is an event with meta.annotation_type "link" and
//     trace.link.trace_id, trace.link.span_id;
//   - a log record is an event with body, severity (the text, lower case),
//     severity_code, and trace.trace_id / trace.parent_id when it was
//     emitted inside a span.
//
// Every event carries meta.signal_type ("trace" or "log"). Events go to the
// dataset named after service.name (characters a dataset name cannot hold
// become '_'; no service name gives "unknown_service"), or all to one
// dataset when configured. A SampleRate or sampleRate integer attribute is
// taken as the event's sample rate, as Honeycomb does; one above
// event.MaxSampleRate rejects its span or record, as the events API does.
package otlp

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/prodex/prodex/internal/event"
)

// converter builds the batches of one request.
type converter struct {
	dataset  string // "" : one per service
	lim      event.Limits
	now      time.Time
	batches  map[string]*event.Batch
	order    []*event.Batch
	rejected int64
	firstErr string
	// held is the memory of the events made and not yet told to
	// lim.Memory; err, its refusal, ends the conversion.
	held int64
	err  error
}

// heldStep is how much memory the converter holds before it tells
// lim.Memory.
const heldStep = 256 << 10

// flush tells lim.Memory of the events made since it was last told, and
// returns its refusal, if any.
func (c *converter) flush() error {
	if c.err == nil && c.held > 0 && c.lim.Memory != nil {
		c.err = c.lim.Memory.Grow(c.held)
	}
	c.held = 0
	return c.err
}

func newConverter(dataset string, lim event.Limits, now time.Time) *converter {
	return &converter{dataset: dataset, lim: lim, now: now, batches: map[string]*event.Batch{}}
}

// DatasetFor is the dataset a service's telemetry goes to when each service
// has its own.
func DatasetFor(service string) string {
	var b strings.Builder
	for _, r := range service {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	name := strings.TrimLeft(strings.ReplaceAll(b.String(), "..", "_."), ".-")
	if len(name) > event.MaxDatasetName {
		name = name[:event.MaxDatasetName]
	}
	if name == "" {
		return "unknown_service"
	}
	return strings.ToLower(name)
}

// add turns fields into an event of the resource's dataset, or counts it
// rejected.
func (c *converter) add(service string, t time.Time, fields map[string]any) {
	rate := int64(1)
	for _, k := range []string{"SampleRate", "sampleRate"} {
		if v, ok := fields[k].(int64); ok {
			delete(fields, k)
			if v >= 1 {
				rate = v
			}
		}
	}
	ev, err := event.FromFlat(fields, t, rate, c.lim, c.now)
	if err != nil {
		c.reject(err.Error())
		return
	}
	ds := c.dataset
	if ds == "" {
		ds = DatasetFor(service)
	}
	b := c.batches[ds]
	if b == nil {
		b = &event.Batch{Dataset: ds}
		c.batches[ds] = b
		c.order = append(c.order, b)
	}
	b.Events = append(b.Events, ev)
	if c.lim.Memory != nil {
		if c.held += event.Footprint(ev); c.held >= heldStep {
			c.flush()
		}
	}
}

func (c *converter) reject(msg string) {
	if c.rejected == 0 {
		c.firstErr = msg
	}
	c.rejected++
}

// storeRejected counts the events the store refused (b.Errs).
func (c *converter) storeRejected() {
	for _, b := range c.order {
		for _, err := range b.Errs {
			if err != nil {
				c.reject(err.Error())
			}
		}
	}
}

// putAttrs copies OTel attributes into fields, flat: a map's members
// become dotted names (as nested JSON objects do in the events API), an
// array its JSON text, bytes base64 text (as in OTLP/JSON).
func putAttrs(fields map[string]any, prefix string, attrs pcommon.Map) {
	attrs.Range(func(k string, v pcommon.Value) bool {
		name := k
		if prefix != "" {
			name = prefix + "." + k
		}
		switch v.Type() {
		case pcommon.ValueTypeMap:
			putAttrs(fields, name, v.Map())
		case pcommon.ValueTypeSlice:
			if text, err := json.Marshal(value(v)); err == nil {
				fields[name] = string(text)
			}
		case pcommon.ValueTypeEmpty:
		default:
			fields[name] = value(v)
		}
		return true
	})
}

// value is v as a Go value: scalars as the event types, maps and arrays
// nested (for JSON text).
func value(v pcommon.Value) any {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return v.Str()
	case pcommon.ValueTypeInt:
		return v.Int()
	case pcommon.ValueTypeDouble:
		return v.Double()
	case pcommon.ValueTypeBool:
		return v.Bool()
	case pcommon.ValueTypeBytes:
		return base64.StdEncoding.EncodeToString(v.Bytes().AsRaw())
	case pcommon.ValueTypeMap:
		m := make(map[string]any, v.Map().Len())
		v.Map().Range(func(k string, x pcommon.Value) bool {
			m[k] = value(x)
			return true
		})
		return m
	case pcommon.ValueTypeSlice:
		s := v.Slice()
		out := make([]any, s.Len())
		for i := range out {
			out[i] = value(s.At(i))
		}
		return out
	}
	return nil
}

func timeOf(ts pcommon.Timestamp) time.Time {
	if ts == 0 {
		return time.Time{} // the receive time
	}
	return ts.AsTime()
}

// resourceFields are the fields every event of a resource and scope
// starts with.
func resourceFields(res pcommon.Resource, scope pcommon.InstrumentationScope, signal string) (map[string]any, string) {
	f := map[string]any{}
	putAttrs(f, "", res.Attributes())
	service, _ := f["service.name"].(string)
	if scope.Name() != "" {
		f["library.name"] = scope.Name()
	}
	if scope.Version() != "" {
		f["library.version"] = scope.Version()
	}
	f["meta.signal_type"] = signal
	return f, service
}

func clone(m map[string]any) map[string]any {
	out := make(map[string]any, len(m)+16)
	for k, v := range m {
		out[k] = v
	}
	return out
}

// convertTraces turns every span, span event and link into events.
func (c *converter) convertTraces(td ptrace.Traces) {
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		sss := rs.ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			ss := sss.At(j)
			base, service := resourceFields(rs.Resource(), ss.Scope(), "trace")
			spans := ss.Spans()
			for k := 0; k < spans.Len() && c.err == nil; k++ {
				c.span(base, service, spans.At(k))
			}
		}
	}
}

func (c *converter) span(base map[string]any, service string, sp ptrace.Span) {
	f := clone(base)
	putAttrs(f, "", sp.Attributes())
	traceID, spanID := sp.TraceID().String(), sp.SpanID().String()
	f["name"] = sp.Name()
	f["trace.trace_id"] = traceID
	f["trace.span_id"] = spanID
	if !sp.ParentSpanID().IsEmpty() {
		f["trace.parent_id"] = sp.ParentSpanID().String()
	} else {
		delete(f, "trace.parent_id")
	}
	start, end := sp.StartTimestamp(), sp.EndTimestamp()
	dur := 0.0
	if end > start {
		dur = float64(end-start) / 1e6
	}
	f["duration_ms"] = dur
	f["span.kind"] = kindName(sp.Kind())
	f["status_code"] = int64(sp.Status().Code())
	if msg := sp.Status().Message(); msg != "" {
		f["status_message"] = msg
	}
	f["error"] = sp.Status().Code() == ptrace.StatusCodeError
	f["span.num_events"] = int64(sp.Events().Len())
	f["span.num_links"] = int64(sp.Links().Len())
	if ts := sp.TraceState().AsRaw(); ts != "" {
		f["trace.trace_state"] = ts
	}
	c.add(service, timeOf(start), f)

	evs := sp.Events()
	for i := 0; i < evs.Len(); i++ {
		e := evs.At(i)
		g := clone(base)
		putAttrs(g, "", e.Attributes())
		g["name"] = e.Name()
		g["trace.trace_id"] = traceID
		g["trace.parent_id"] = spanID
		g["parent_name"] = sp.Name()
		g["meta.annotation_type"] = "span_event"
		t := timeOf(e.Timestamp())
		if t.IsZero() {
			t = timeOf(start)
		}
		c.add(service, t, g)
	}
	links := sp.Links()
	for i := 0; i < links.Len(); i++ {
		l := links.At(i)
		g := clone(base)
		putAttrs(g, "", l.Attributes())
		g["trace.trace_id"] = traceID
		g["trace.parent_id"] = spanID
		g["trace.link.trace_id"] = l.TraceID().String()
		g["trace.link.span_id"] = l.SpanID().String()
		g["parent_name"] = sp.Name()
		g["meta.annotation_type"] = "link"
		c.add(service, timeOf(start), g)
	}
}

func kindName(k ptrace.SpanKind) string {
	switch k {
	case ptrace.SpanKindServer:
		return "server"
	case ptrace.SpanKindClient:
		return "client"
	case ptrace.SpanKindProducer:
		return "producer"
	case ptrace.SpanKindConsumer:
		return "consumer"
	case ptrace.SpanKindInternal:
		return "internal"
	}
	return "unspecified"
}

// convertLogs turns every log record into an event.
func (c *converter) convertLogs(ld plog.Logs) {
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		rl := rls.At(i)
		sls := rl.ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			sl := sls.At(j)
			base, service := resourceFields(rl.Resource(), sl.Scope(), "log")
			recs := sl.LogRecords()
			for k := 0; k < recs.Len() && c.err == nil; k++ {
				c.log(base, service, recs.At(k))
			}
		}
	}
}

func (c *converter) log(base map[string]any, service string, lr plog.LogRecord) {
	f := clone(base)
	putAttrs(f, "", lr.Attributes())
	switch body := lr.Body(); body.Type() {
	case pcommon.ValueTypeEmpty:
	case pcommon.ValueTypeMap:
		// A structured body's fields become the event's, as with a
		// JSON log line.
		putAttrs(f, "", body.Map())
	case pcommon.ValueTypeSlice:
		if text, err := json.Marshal(value(body)); err == nil {
			f["body"] = string(text)
		}
	default:
		f["body"] = value(body)
	}
	if s := lr.SeverityText(); s != "" {
		f["severity"] = strings.ToLower(s)
	} else if lr.SeverityNumber() != plog.SeverityNumberUnspecified {
		f["severity"] = strings.ToLower(lr.SeverityNumber().String())
	}
	f["severity_code"] = int64(lr.SeverityNumber())
	if name := lr.EventName(); name != "" {
		f["name"] = name
	}
	if !lr.TraceID().IsEmpty() {
		f["trace.trace_id"] = lr.TraceID().String()
	}
	if !lr.SpanID().IsEmpty() {
		f["trace.parent_id"] = lr.SpanID().String()
	}
	if fl := uint32(lr.Flags()); fl != 0 {
		f["flags"] = int64(fl)
	}
	t := timeOf(lr.Timestamp())
	if t.IsZero() {
		t = timeOf(lr.ObservedTimestamp())
	}
	c.add(service, t, f)
}

// summary describes the rejected items for a partial success.
func (c *converter) summary(what string) string {
	if c.rejected == 0 {
		return ""
	}
	return fmt.Sprintf("%d %s rejected; first: %s", c.rejected, what, c.firstErr)
}
