package otlp

import (
	"fmt"
	"math/rand/v2"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// SyntheticTraces makes n spans of the kind an instrumented service emits,
// for benchmarks: 5 services, traces of 10 spans, 12 span attributes
// (http, db and user fields, random ids) and 3 resource attributes, start
// times over the 10 minutes before now.
func SyntheticTraces(rng *rand.Rand, now time.Time, n int) ptrace.Traces {
	td := ptrace.NewTraces()
	services := []string{"frontend", "checkout", "payments", "catalog", "auth"}
	routes := []string{"/", "/cart", "/checkout", "/product/{id}", "/login"}
	for s, svc := range services {
		rs := td.ResourceSpans().AppendEmpty()
		ra := rs.Resource().Attributes()
		ra.PutStr("service.name", svc)
		ra.PutStr("service.version", fmt.Sprintf("1.%d.%d", s, rng.IntN(5)))
		ra.PutStr("host.name", fmt.Sprintf("host-%d", rng.IntN(20)))
		ss := rs.ScopeSpans().AppendEmpty()
		ss.Scope().SetName("bench/" + svc)
		var trace pcommon.TraceID
		var parent pcommon.SpanID
		for i := 0; i < n/len(services); i++ {
			if i%10 == 0 {
				for k := range trace {
					trace[k] = byte(rng.IntN(256))
				}
				parent = pcommon.SpanID{}
			}
			sp := ss.Spans().AppendEmpty()
			var id pcommon.SpanID
			for k := range id {
				id[k] = byte(rng.IntN(256))
			}
			sp.SetTraceID(trace)
			sp.SetSpanID(id)
			sp.SetParentSpanID(parent)
			if i%10 == 0 {
				parent = id
			}
			sp.SetName(routes[rng.IntN(len(routes))])
			sp.SetKind(ptrace.SpanKindServer)
			st := now.Add(-time.Duration(rng.IntN(600)) * time.Second)
			sp.SetStartTimestamp(pcommon.NewTimestampFromTime(st))
			sp.SetEndTimestamp(pcommon.NewTimestampFromTime(st.Add(time.Duration(rng.ExpFloat64()*50e6) * time.Nanosecond)))
			a := sp.Attributes()
			a.PutStr("http.request.method", []string{"GET", "POST"}[rng.IntN(2)])
			a.PutStr("http.route", routes[rng.IntN(len(routes))])
			a.PutInt("http.response.status_code", int64([]int{200, 200, 200, 201, 404, 500}[rng.IntN(6)]))
			a.PutStr("url.path", fmt.Sprintf("/product/%d", rng.IntN(10000)))
			a.PutStr("user.id", fmt.Sprintf("u-%d", rng.IntN(100000)))
			a.PutStr("db.system", "postgresql")
			a.PutStr("db.statement", "SELECT * FROM orders WHERE id = $1")
			a.PutInt("db.rows", int64(rng.IntN(100)))
			a.PutDouble("cart.value", rng.Float64()*200)
			a.PutBool("cache.hit", rng.IntN(2) == 0)
			a.PutStr("region", []string{"eu-west-1", "us-east-1", "ap-south-1"}[rng.IntN(3)])
			a.PutInt("build.id", int64(4500+rng.IntN(20)))
			if rng.IntN(50) == 0 {
				sp.Status().SetCode(ptrace.StatusCodeError)
			}
		}
	}
	return td
}
