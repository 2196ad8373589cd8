package main

// The bounds one ingest request is held to: its events, its decompressed
// size and the memory its decoding holds (a compression bomb of many small
// events must not take the server's memory), and the pace its body must
// keep (slow senders must not take every other tenant's slots).

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/vmihailenco/msgpack/v5"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	_ "google.golang.org/grpc/encoding/gzip"
	"google.golang.org/grpc/metadata"
	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/prodex/prodex/internal/api"
)

// bombEvents is how many events the reported compression bomb held.
const bombEvents = 1_014_751

// bombJSON is the reported body: a batch of bombEvents small events, 52 MB
// of JSON that gzip makes 2.5 MB.
func bombJSON() []byte {
	var b bytes.Buffer
	b.WriteByte('[')
	for i := range bombEvents {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"data":{"service":"api","status":200,"i":%d}}`, i)
	}
	b.WriteByte(']')
	return b.Bytes()
}

// bombMsgpack is the same batch in msgpack, zstd compressed (libhoney-go's
// encoding).
func bombMsgpack(t *testing.T) []byte {
	evs := make([]map[string]any, bombEvents)
	for i := range evs {
		evs[i] = map[string]any{"data": map[string]any{"service": "api", "status": 200, "i": i}}
	}
	raw, err := msgpack.Marshal(evs)
	if err != nil {
		t.Fatal(err)
	}
	enc, _ := zstd.NewWriter(nil)
	return enc.EncodeAll(raw, nil)
}

// bombSpans is an OTLP trace export request of bombEvents spans in
// protobuf, written on the wire directly (a decoded one would take the
// test a gigabyte).
func bombSpans() []byte {
	var spans []byte
	now := uint64(time.Now().UnixNano())
	for i := range bombEvents {
		var sp []byte
		sp = protowire.AppendTag(sp, 1, protowire.BytesType)
		sp = protowire.AppendBytes(sp, fmt.Appendf(nil, "%016x", i)[:16])
		sp = protowire.AppendTag(sp, 2, protowire.BytesType)
		sp = protowire.AppendBytes(sp, fmt.Appendf(nil, "%08x", i)[:8])
		sp = protowire.AppendTag(sp, 5, protowire.BytesType)
		sp = protowire.AppendString(sp, "GET /")
		sp = protowire.AppendTag(sp, 7, protowire.Fixed64Type)
		sp = protowire.AppendFixed64(sp, now)
		spans = protowire.AppendTag(spans, 2, protowire.BytesType)
		spans = protowire.AppendBytes(spans, sp)
	}
	var attr []byte // service.name = "bomb"
	attr = protowire.AppendTag(attr, 1, protowire.BytesType)
	attr = protowire.AppendString(attr, "service.name")
	attr = protowire.AppendTag(attr, 2, protowire.BytesType)
	attr = protowire.AppendBytes(attr, protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), "bomb"))
	var res []byte
	res = protowire.AppendTag(res, 1, protowire.BytesType)
	res = protowire.AppendBytes(res, protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), attr))
	res = protowire.AppendTag(res, 2, protowire.BytesType)
	res = protowire.AppendBytes(res, spans)
	return protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), res)
}

// peakRSS is a process's resident high-water mark (VmHWM), in bytes.
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	t.Fatalf("no VmHWM in /proc/%d/status", pid)
	return 0
}

// TestCompressionBombOfSmallEventsIs413 sends the reported bomb — 1,014,751
// events in a 2.5 MB gzip body, under the 64 MiB decompressed limit — as
// JSON, as msgpack, and as an OTLP export over HTTP and gRPC: each is
// refused with 413 (gRPC: RESOURCE_EXHAUSTED) naming the per-request
// event limit, nothing of it is stored, and the server's resident memory
// stays far below the 3.3 GB one such request took when it was decoded
// whole.
func TestCompressionBombOfSmallEventsIs413(t *testing.T) {
	data := t.TempDir()
	key := newKey(t, data, "admin")
	s := startOTLPServer(t, data)
	defer s.stop()
	spans := bombSpans()
	type ask struct {
		name, url, ctype, enc string
		body                  []byte
	}
	for _, a := range []ask{
		{"JSON gzip", s.url + "/1/batch/bomb", "application/json", "gzip", gzipped(bombJSON())},
		{"msgpack zstd", s.url + "/1/batch/bomb", "application/msgpack", "zstd", bombMsgpack(t)},
		{"OTLP/HTTP protobuf gzip", "http://" + s.otlpHTTP + "/v1/traces", "application/x-protobuf", "gzip", gzipped(spans)},
	} {
		code, body := rawPost(t, a.url, map[string]string{"X-Honeycomb-Team": key, "Content-Type": a.ctype, "Content-Encoding": a.enc}, a.body)
		if code != http.StatusRequestEntityTooLarge || !strings.Contains(body, "more than 50000 events") {
			t.Errorf("%s (%d bytes sent): %d %s, want 413 naming the 50000-event limit", a.name, len(a.body), code, clipText(body))
		}
		if a.ctype == "application/json" {
			var e map[string]any
			if json.Unmarshal([]byte(body), &e) != nil || e["error"] == nil {
				t.Errorf("%s: the answer is not a JSON error: %s", a.name, clipText(body))
			}
		}
	}
	cc, err := grpc.NewClient(s.otlpGRPC, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	req := ptraceotlp.NewExportRequest()
	if err := req.UnmarshalProto(spans); err != nil {
		t.Fatal(err)
	}
	spans = nil
	ctx := metadata.AppendToOutgoingContext(context.Background(), "x-honeycomb-team", key)
	_, err = ptraceotlp.NewGRPCClient(cc).Export(ctx, req, grpc.UseCompressor("gzip"))
	if st := grpcstatus.Convert(err); st.Code() != grpccodes.ResourceExhausted || !strings.Contains(st.Message(), "more than 50000 events") {
		t.Errorf("OTLP/gRPC: %v, want RESOURCE_EXHAUSTED naming the 50000-event limit", err)
	}

	var datasets []map[string]any
	if code := call(t, "GET", s.url+"/api/v1/datasets", key, nil, &datasets); code != 200 || len(datasets) != 0 {
		t.Errorf("after the refused bombs: %d, datasets %v, want none", code, datasets)
	}
	peak := peakRSS(t, s.cmd.Process.Pid)
	t.Logf("server peak RSS %d MB", peak>>20)
	if peak > 1<<30 {
		t.Errorf("server peak RSS %d MB: a refused request took memory as if it were decoded whole", peak>>20)
	}
}

// wideBatch is a gzip JSON batch of n events of 40 fields, about 1.3 KB of
// JSON and 4 KB of decoded memory each.
func wideBatch(n, seed int) []byte {
	var b bytes.Buffer
	b.WriteByte('[')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"data":{`)
		for f := range 40 {
			if f > 0 {
				b.WriteByte(',')
			}
			if f%2 == 0 {
				fmt.Fprintf(&b, `"field_%02d":"value-%d-%d"`, f, seed, i%97)
			} else {
				fmt.Fprintf(&b, `"field_%02d":%d`, f, i*f+seed)
			}
		}
		b.WriteString(`}}`)
	}
	b.WriteByte(']')
	return gzipped(b.Bytes())
}

// TestConcurrentLargeRequestsAreRefusedAtTheCeiling sends twelve requests
// of 30,000 wide events at once to a server with a 1 GB memory ceiling:
// the memory their decoding holds is counted against it as it grows, so
// that those past a quarter of the ceiling are refused with 503 and
// Retry-After (and stored nothing) rather than all admitted, and the
// server's resident memory stays under the ceiling and a tenth.
func TestConcurrentLargeRequestsAreRefusedAtTheCeiling(t *testing.T) {
	data := t.TempDir()
	key := newKey(t, data, "admin")
	s := startServer(t, data, "--memory-ceiling", "1GB")
	defer s.stop()
	const senders, events = 12, 30_000
	bodies := make([][]byte, senders)
	for i := range bodies {
		bodies[i] = wideBatch(events, i)
	}
	type answer struct {
		code       int
		retryAfter string
		body       string
	}
	answers := make([]answer, senders)
	var wg sync.WaitGroup
	for i := range senders {
		wg.Go(func() {
			req, _ := http.NewRequest("POST", s.url+"/1/batch/wide", bytes.NewReader(bodies[i]))
			req.Header.Set("X-Honeycomb-Team", key)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Content-Encoding", "gzip")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			var b bytes.Buffer
			b.ReadFrom(resp.Body)
			answers[i] = answer{resp.StatusCode, resp.Header.Get("Retry-After"), b.String()}
		})
	}
	wg.Wait()
	peak := peakRSS(t, s.cmd.Process.Pid)
	if peak > 1_100_000_000 {
		t.Errorf("server peak RSS %d MB, over the 1 GB ceiling and a tenth", peak>>20)
	}
	stored, refused := 0, 0
	for i, a := range answers {
		switch {
		case a.code == 200:
			stored++
		case a.code == 503 && a.retryAfter != "" && strings.Contains(a.body, "memory"):
			refused++
		default:
			t.Errorf("request %d: %d (Retry-After %q) %s", i, a.code, a.retryAfter, clipText(a.body))
		}
	}
	if refused == 0 {
		t.Errorf("all %d requests of %d wide events were admitted at once under a 1 GB ceiling", stored, events)
	}
	// The memory comes back: a request alone is taken.
	if code, body := rawPost(t, s.url+"/1/batch/wide", map[string]string{"X-Honeycomb-Team": key, "Content-Type": "application/json", "Content-Encoding": "gzip"}, bodies[0]); code != 200 {
		t.Errorf("a request alone after the others: %d %s", code, clipText(body))
	} else {
		stored++
	}
	var q api.QueryAnswer
	code := call(t, "POST", s.url+"/api/v1/query/wide", key, map[string]any{"time_range": 3600, "calculations": []map[string]any{{"op": "COUNT"}}}, &q)
	if n := float64(0); code != 200 || q.Result == nil || len(q.Results) != 1 || q.Results[0].Data["COUNT"] != float64(stored*events) {
		if q.Result != nil && len(q.Results) == 1 {
			n, _ = q.Results[0].Data["COUNT"].(float64)
		}
		t.Errorf("stored %v events (%d), want the %d of the %d requests answered 200", n, code, stored*events, stored)
	}
	t.Logf("%d stored (one alone after the others), %d refused with 503; server peak RSS %d MB during the burst", stored, refused, peak>>20)
}

// slowBody opens a connection and sends an ingest request whose headers
// promise a 100 MB body, then only "[": it returns the connection, to read
// the answer from.
func slowBody(t *testing.T, addr, path, key string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: %s\r\nX-Honeycomb-Team: %s\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n\r\n[", path, addr, key)
	return c
}

// TestSlowBodiesDoNotStarveOtherTenants opens 64 connections with one
// ingest key that promise a 100 MB body and send "[" and then nothing (the
// reported attack, which made every other ingest answer 429 for as long as
// it lasted): while they hang, a batch with another key, one into another
// environment, and OTLP over HTTP (both listeners) and gRPC succeed; the
// key's own next request gets 429 naming its share; and every slow sender
// gets 408 and its slot back within the body's grace.
func TestSlowBodiesDoNotStarveOtherTenants(t *testing.T) {
	data := t.TempDir()
	admin := newKey(t, data, "admin")
	s := startOTLPServer(t, data)
	defer s.stop()
	mkKey := func(env string) string {
		var k struct{ Key string }
		if code := call(t, "POST", s.url+"/api/v1/keys", admin, map[string]any{"scope": "ingest", "environment": env}, &k); code != 201 {
			t.Fatalf("create key in %q: %d", env, code)
		}
		return k.Key
	}
	if code := call(t, "POST", s.url+"/api/v1/environments", admin, map[string]any{"name": "staging"}, nil); code/100 != 2 {
		t.Fatalf("create environment: %d", code)
	}
	slowKey, otherKey, stagingKey := mkKey(""), mkKey(""), mkKey("staging")

	began := time.Now()
	var conns []net.Conn
	for range 64 {
		conns = append(conns, slowBody(t, s.addr, "/1/batch/slow", slowKey))
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	// Every slow request the key's share lets in is in once the server
	// counts 32 in flight; then the key's next one is refused.
	for time.Since(began) < 3*time.Second && scrape(t, s, admin)["prodex_ingest_requests_in_flight"] < 32 {
		time.Sleep(20 * time.Millisecond)
	}
	one := []byte(`[{"data":{"ok":true}}]`)
	headers := func(key string) map[string]string {
		return map[string]string{"X-Honeycomb-Team": key, "Content-Type": "application/json"}
	}
	code, refusal := rawPost(t, s.url+"/1/batch/slow", headers(slowKey), one)
	if code != 429 || !strings.Contains(refusal, "this API key has 32 ingest requests in flight") {
		t.Errorf("the slow key's own request: %d %s, want 429 naming its share of 32", code, clipText(refusal))
	}

	if code, body := rawPost(t, s.url+"/1/batch/fast", headers(otherKey), one); code != 200 {
		t.Errorf("another key's batch while the slow bodies hang: %d %s", code, clipText(body))
	}
	if code, body := rawPost(t, s.url+"/1/batch/fast", headers(stagingKey), one); code != 200 {
		t.Errorf("another environment's batch while the slow bodies hang: %d %s", code, clipText(body))
	}
	span := []byte(`{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"fast"}}]},` +
		`"scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"ok"}]}]}]}`)
	for _, url := range []string{s.url + "/v1/traces", "http://" + s.otlpHTTP + "/v1/traces"} {
		if code, body := rawPost(t, url, map[string]string{"X-Honeycomb-Team": otherKey, "Content-Type": "application/json"}, span); code != 200 {
			t.Errorf("OTLP/HTTP %s while the slow bodies hang: %d %s", url, code, clipText(body))
		}
	}
	cc, err := grpc.NewClient(s.otlpGRPC, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	req := ptraceotlp.NewExportRequest()
	if err := req.UnmarshalJSON(span); err != nil {
		t.Fatal(err)
	}
	if _, err := ptraceotlp.NewGRPCClient(cc).Export(metadata.AppendToOutgoingContext(context.Background(), "x-honeycomb-team", otherKey), req); err != nil {
		t.Errorf("OTLP/gRPC while the slow bodies hang: %v", err)
	}

	// The slow senders that got in are answered 408 once the grace has
	// passed; the others were refused at once with 429.
	timedOut, refused := 0, 0
	for i, c := range conns {
		c.SetReadDeadline(began.Add(20 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Errorf("slow sender %d: no answer: %v", i, err)
			continue
		}
		var e map[string]any
		json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		msg, _ := e["error"].(string)
		switch {
		case resp.StatusCode == 408 && strings.Contains(msg, "arrived too slowly") && strings.Contains(msg, "64 KiB/s"):
			timedOut++
		case resp.StatusCode == 429:
			refused++
		default:
			t.Errorf("slow sender %d: %d %v, want 408 naming the pace or 429", i, resp.StatusCode, e)
		}
	}
	took := time.Since(began)
	t.Logf("%d slow senders got 408, %d got 429, all answered in %v", timedOut, refused, took)
	if timedOut != 32 || took > 15*time.Second {
		t.Errorf("%d slow senders got 408 within %v, want the 32 the key's share let in, within the 5 s grace", timedOut, took)
	}
	// Their slots are back: the slow key sends again.
	if code, body := rawPost(t, s.url+"/1/batch/slow", headers(slowKey), one); code != 200 {
		t.Errorf("the slow key after its senders were answered: %d %s", code, clipText(body))
	}
}
