package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	otellog "go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	grpcstatus "google.golang.org/grpc/status"
)

// traceAnswer is the part of GET /api/v1/traces/{id} the tests read.
type traceAnswer struct {
	TraceID      string      `json:"trace_id"`
	SpanCount    int         `json:"span_count"`
	Services     []string    `json:"services"`
	Roots        []traceSpan `json:"roots"`
	CriticalPath []string    `json:"critical_path"`
}

type traceSpan struct {
	SpanID      string         `json:"span_id"`
	Name        string         `json:"name"`
	Service     string         `json:"service"`
	Dataset     string         `json:"dataset"`
	DurationMS  float64        `json:"duration_ms"`
	Error       bool           `json:"error"`
	Critical    bool           `json:"critical"`
	Fields      map[string]any `json:"fields"`
	Annotations []struct {
		Type   string         `json:"type"`
		Name   string         `json:"name"`
		Fields map[string]any `json:"fields"`
	} `json:"annotations"`
	Children []traceSpan `json:"children"`
}

// TestOTLPGoSDK sends one trace across two services through the
// OpenTelemetry Go SDK's exporters — checkout over OTLP/HTTP protobuf with
// gzip, payments over OTLP/gRPC — and a log record inside a span through
// the OTLP/HTTP log exporter, then reads back the events, the trace tree,
// a root-span query and an SLI over spans.
func TestOTLPGoSDK(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	key := newKey(t, data, "admin")
	s := startOTLPServer(t, data)
	defer s.stop()
	ctx := context.Background()
	headers := map[string]string{"x-honeycomb-team": key}

	hexp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpoint(s.otlpHTTP), otlptracehttp.WithInsecure(),
		otlptracehttp.WithHeaders(headers), otlptracehttp.WithCompression(otlptracehttp.GzipCompression))
	if err != nil {
		t.Fatal(err)
	}
	gexp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(s.otlpGRPC), otlptracegrpc.WithInsecure(),
		otlptracegrpc.WithHeaders(headers), otlptracegrpc.WithCompressor("gzip"))
	if err != nil {
		t.Fatal(err)
	}
	lexp, err := otlploghttp.New(ctx, otlploghttp.WithEndpoint(s.otlpHTTP), otlploghttp.WithInsecure(), otlploghttp.WithHeaders(headers))
	if err != nil {
		t.Fatal(err)
	}
	res := func(service string) *resource.Resource {
		return resource.NewSchemaless(attribute.String("service.name", service), attribute.String("deployment.environment", "test"))
	}
	checkout := sdktrace.NewTracerProvider(sdktrace.WithSyncer(hexp), sdktrace.WithResource(res("checkout")))
	payments := sdktrace.NewTracerProvider(sdktrace.WithSyncer(gexp), sdktrace.WithResource(res("payments")))
	logs := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewSimpleProcessor(lexp)), sdklog.WithResource(res("payments")))

	tr := checkout.Tracer("shop/checkout", trace.WithInstrumentationVersion("1.2.0"))
	rctx, root := tr.Start(ctx, "POST /checkout", trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.Int("http.status_code", 200), attribute.String("user.id", "u-42"), attribute.StringSlice("tags", []string{"a", "b"})))
	_, db := tr.Start(rctx, "SELECT orders", trace.WithSpanKind(trace.SpanKindClient))
	db.AddEvent("retry", trace.WithAttributes(attribute.Int("attempt", 2)))
	time.Sleep(20 * time.Millisecond)
	db.End()
	pctx, pay := payments.Tracer("shop/payments").Start(rctx, "charge card", trace.WithSpanKind(trace.SpanKindServer),
		trace.WithLinks(trace.Link{SpanContext: db.SpanContext(), Attributes: []attribute.KeyValue{attribute.String("why", "same order")}}))
	var rec otellog.Record
	rec.SetBody(attribute.StringValue("card declined by issuer"))
	rec.SetSeverity(otellog.SeverityError)
	rec.SetSeverityText("ERROR")
	rec.AddAttributes(attribute.String("order.id", "o-1"))
	rec.SetTimestamp(time.Now())
	logs.Logger("shop/payments").Emit(pctx, rec)
	time.Sleep(30 * time.Millisecond)
	pay.SetStatus(codes.Error, "card declined")
	pay.End()
	root.End()
	for _, p := range []interface{ Shutdown(context.Context) error }{checkout, payments, logs} {
		if err := p.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
	}
	traceID := root.SpanContext().TraceID().String()

	// The trace tree, across both services' datasets.
	var tree traceAnswer
	if code := call(t, "GET", s.url+"/api/v1/traces/"+traceID, key, nil, &tree); code != 200 {
		t.Fatalf("trace: %d %+v", code, tree)
	}
	if tree.SpanCount != 3 || strings.Join(tree.Services, ",") != "checkout,payments" || len(tree.Roots) != 1 {
		t.Fatalf("trace: %+v", tree)
	}
	r := tree.Roots[0]
	if r.Name != "POST /checkout" || r.Dataset != "checkout" || len(r.Children) != 2 || !r.Critical {
		t.Fatalf("root: %+v", r)
	}
	want := map[string]any{"span.kind": "server", "library.name": "shop/checkout", "library.version": "1.2.0",
		"deployment.environment": "test", "user.id": "u-42", "tags": `["a","b"]`, "status_code": float64(0),
		"http.status_code": float64(200), "trace.trace_id": traceID, "meta.signal_type": "trace", "error": false}
	for k, v := range want {
		if r.Fields[k] != v {
			t.Errorf("root field %s = %#v, want %#v", k, r.Fields[k], v)
		}
	}
	if _, ok := r.Fields["trace.parent_id"]; ok {
		t.Errorf("root span has a trace.parent_id")
	}
	dbSpan, paySpan := r.Children[0], r.Children[1]
	if dbSpan.Name != "SELECT orders" || dbSpan.DurationMS < 20 || len(dbSpan.Annotations) != 1 || dbSpan.Annotations[0].Type != "span_event" ||
		dbSpan.Annotations[0].Name != "retry" || dbSpan.Annotations[0].Fields["attempt"] != float64(2) {
		t.Errorf("db span: %+v", dbSpan)
	}
	if paySpan.Name != "charge card" || paySpan.Dataset != "payments" || !paySpan.Error || paySpan.Fields["status_message"] != "card declined" ||
		paySpan.Fields["status_code"] != float64(2) {
		t.Errorf("payments span: %+v", paySpan)
	}
	kinds := map[string]bool{}
	for _, a := range paySpan.Annotations {
		kinds[a.Type] = true
		switch a.Type {
		case "link":
			if a.Fields["trace.link.span_id"] != dbSpan.SpanID || a.Fields["why"] != "same order" {
				t.Errorf("link: %+v", a)
			}
		case "log":
			if a.Fields["body"] != "card declined by issuer" || a.Fields["severity"] != "error" || a.Fields["severity_code"] != float64(17) || a.Fields["order.id"] != "o-1" {
				t.Errorf("log: %+v", a)
			}
		}
	}
	if !kinds["link"] || !kinds["log"] {
		t.Errorf("payments span annotations: %+v", paySpan.Annotations)
	}
	// The root waited for the payment, which started after the query.
	if got := strings.Join(tree.CriticalPath, ","); got != strings.Join([]string{r.SpanID, paySpan.SpanID, dbSpan.SpanID}, ",") {
		t.Errorf("critical path %s", got)
	}

	// Root spans by query: trace.parent_id does-not-exist.
	q := runQuery(t, s, key, "checkout", map[string]any{"time_range": 3600, "calculations": []map[string]any{{"op": "COUNT"}},
		"filters": []map[string]any{{"column": "trace.parent_id", "op": "does-not-exist"}, {"column": "meta.annotation_type", "op": "does-not-exist"}}})
	if len(q.Results) != 1 || q.Results[0].Data["COUNT"] != float64(1) {
		t.Errorf("root spans: %+v", q.Results)
	}

	// An SLI over spans, unchanged: root spans of checkout no slower than
	// the one sent (its duration is the SDK's, longer on a busy machine).
	slo := map[string]any{"dataset": "checkout", "target": 99, "window": "7d",
		"sli": map[string]any{"eligible": "!has(trace.parent_id) && !has(meta.annotation_type)", "good": fmt.Sprintf("duration_ms <= %v", r.DurationMS)}}
	if code := call(t, "PUT", s.url+"/api/v1/slos/checkout-latency", key, slo, nil); code/100 != 2 {
		t.Fatalf("define SLO: %d", code)
	}
	var st struct {
		Eligible, Good int64
		Error          string
	}
	code := call(t, "GET", s.url+"/api/v1/slos/checkout-latency/status", key, nil, &st)
	if code != 200 || st.Eligible != 1 || st.Good != 1 {
		t.Errorf("SLO over spans: %d %+v", code, st)
	}
}

// TestOTLPErrors: what OTLP/HTTP specifies for bad requests, and that
// nothing already accepted is lost.
func TestOTLPErrors(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	key := newKey(t, data, "admin")
	queryKey := newKey(t, data, "query")
	s := startOTLPServer(t, data)
	defer s.stop()
	post := func(url, key, ctype, enc string, body []byte) (int, string) {
		return rawPost(t, url, map[string]string{"X-Honeycomb-Team": key, "Content-Type": ctype, "Content-Encoding": enc}, body)
	}
	good := []byte(`{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"svc"}}]},` +
		`"scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"ok",` +
		fmt.Sprintf(`"startTimeUnixNano":"%d","endTimeUnixNano":"%d","kind":2}]}]}]}`, time.Now().UnixNano(), time.Now().UnixNano()+5e6))
	for _, url := range []string{"http://" + s.otlpHTTP + "/v1/traces", s.url + "/v1/traces"} {
		if code, body := post(url, key, "application/json", "", good); code != 200 {
			t.Fatalf("%s: %d %s", url, code, body)
		}
	}
	cases := []struct {
		name, url, key, ctype, enc string
		body                       []byte
		code                       int
		msg                        string
	}{
		{"malformed protobuf", "/v1/traces", key, "application/x-protobuf", "", []byte{0x0a, 0xff, 0xff, 0xff}, 400, ""},
		{"malformed JSON", "/v1/logs", key, "application/json", "", []byte(`{"resourceLogs":[{`), 400, "invalid OTLP json body"},
		{"wrong content type", "/v1/traces", key, "text/plain", "", good, 415, "unsupported Content-Type"},
		{"bad gzip", "/v1/traces", key, "application/json", "gzip", good, 400, "gzip"},
		{"unknown encoding", "/v1/traces", key, "application/json", "br", good, 415, "Content-Encoding"},
		{"oversized once decompressed", "/v1/traces", key, "application/x-protobuf", "gzip", gzipped(make([]byte, 65<<20)), 413, ""},
		{"no key", "/v1/traces", "", "application/json", "", good, 401, "API key"},
		{"query-only key", "/v1/traces", queryKey, "application/json", "", good, 403, "scope"},
		{"wrong path", "/v1/metrics", key, "application/json", "", good, 404, "no route"},
	}
	for _, c := range cases {
		code, body := post("http://"+s.otlpHTTP+c.url, c.key, c.ctype, c.enc, c.body)
		if code != c.code || !strings.Contains(body, c.msg) {
			t.Errorf("%s: %d %s, want %d with %q", c.name, code, clipText(body), c.code, c.msg)
		}
	}
	// The two good requests are stored, whatever came after.
	q := runQuery(t, s, key, "svc", map[string]any{"time_range": 3600, "calculations": []map[string]any{{"op": "COUNT"}}})
	if len(q.Results) != 1 || q.Results[0].Data["COUNT"] != float64(2) {
		t.Errorf("stored: %+v", q.Results)
	}

	// gRPC: no key is Unauthenticated, a query key PermissionDenied.
	cc, err := grpc.NewClient(s.otlpGRPC, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	req := ptraceotlp.NewExportRequest()
	if err := req.UnmarshalJSON(good); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]grpccodes.Code{"": grpccodes.Unauthenticated, queryKey: grpccodes.PermissionDenied, key: grpccodes.OK} {
		ctx := metadata.AppendToOutgoingContext(context.Background(), "x-honeycomb-team", k)
		if _, err := ptraceotlp.NewGRPCClient(cc).Export(ctx, req); grpcstatus.Code(err) != want {
			t.Errorf("gRPC with key %q: %v, want %v", k, err, want)
		}
	}

	// A span over the field limit is rejected alone: partial success.
	wide := `{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60d","spanId":"eee19b7ec3c1b175","name":"wide","attributes":[`
	for i := 0; i < 2100; i++ {
		if i > 0 {
			wide += ","
		}
		wide += fmt.Sprintf(`{"key":"a%d","value":{"intValue":"%d"}}`, i, i)
	}
	wide += `]},{"traceId":"5b8efff798038103d269b633813fc60d","spanId":"eee19b7ec3c1b176","name":"narrow"}]}]}]}`
	code, body := post("http://"+s.otlpHTTP+"/v1/traces", key, "application/json", "", []byte(wide))
	if code != 200 || !strings.Contains(body, `"rejectedSpans":"1"`) || !strings.Contains(body, "fields") {
		t.Errorf("partial success: %d %s", code, clipText(body))
	}
}

// rawPost posts body with headers (empty values left out) and returns the
// status and body of the answer.
func rawPost(t *testing.T, url string, headers map[string]string, body []byte) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
	for k, v := range headers {
		if v != "" {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}

func clipText(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}

// gzipped compresses a request body as clients do before sending it.
func gzipped(body []byte) []byte {
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write(body)
	w.Close()
	return gz.Bytes()
}
