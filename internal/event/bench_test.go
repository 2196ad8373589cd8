package event

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// benchBody is a gzip JSON batch of n events of 20 fields: strings, ints,
// floats and booleans.
func benchBody(b *testing.B, n int) []byte {
	var sb strings.Builder
	sb.WriteByte('[')
	for i := range n {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"time":"2025-06-01T11:%02d:%02d.%03dZ","samplerate":1,"data":{`, i/60%60, i%60, i)
		fmt.Fprintf(&sb, `"service.name":"api","name":"GET /users/:id","trace.trace_id":"%032x","trace.span_id":"%016x",`, i*7919, i)
		fmt.Fprintf(&sb, `"http.method":"GET","http.route":"/users/:id","http.url":"https://example.com/users/%d?q=%d",`, i, i*3)
		fmt.Fprintf(&sb, `"http.status_code":%d,"duration_ms":%d.%03d,"db.rows":%d,"db.duration_ms":%d.5,`, 200+i%3*100, i%500, i%1000, i%97, i%40)
		fmt.Fprintf(&sb, `"user.id":%d,"cache.hit":%t,"error":%t,"retry":%d,"sample.ratio":0.%d,`, 100000+i, i%2 == 0, i%10 == 0, i%3, i%10)
		fmt.Fprintf(&sb, `"host.name":"web-%d","region":"eu-west-1","build.version":"1.%d.0","meta.json":false}}`, i%8, i%20)
	}
	sb.WriteByte(']')
	return gzipBytes(b, []byte(sb.String()))
}

func BenchmarkDecodeBatchGzip(b *testing.B) {
	const events = 500
	body := benchBody(b, events)
	items, err := DecodeBatch(bytes.NewReader(body), "application/json", "gzip", Limits{}, testNow)
	if err != nil || len(items) != events || items[0].Err != nil || len(items[0].Event.Fields) != 20 {
		b.Fatalf("bad benchmark body: %v %d %+v", err, len(items), items[0])
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := DecodeBatch(bytes.NewReader(body), "application/json", "gzip", Limits{}, testNow); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(events*b.N)/b.Elapsed().Seconds(), "events/s")
}
