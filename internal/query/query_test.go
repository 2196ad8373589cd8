package query_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prodex/prodex/internal/event"
	"github.com/prodex/prodex/internal/query"
	"github.com/prodex/prodex/internal/store/duckdb"
)

// t0 is the start of the generated data; the queries ask for one hour.
var t0 = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

// gen makes n events over one hour. Fields are sometimes missing so that
// every op meets absent values; with sampled set, sample rates vary.
func gen(n int, sampled bool) []event.Event {
	r := rand.New(rand.NewSource(7))
	services := []string{"api", "web", "db", "batch"}
	out := make([]event.Event, n)
	for i := range out {
		f := map[string]any{
			"service":     services[r.Intn(len(services))],
			"status_code": []int64{200, 200, 200, 201, 404, 500, 503}[r.Intn(7)],
			"duration_ms": math.Round(r.ExpFloat64()*100*1000) / 1000,
			"user":        fmt.Sprintf("u%03d", r.Intn(150)),
			"ok":          r.Intn(5) != 0,
		}
		if r.Intn(4) == 0 {
			delete(f, "user")
		}
		if r.Intn(10) == 0 {
			delete(f, "duration_ms")
		}
		if r.Intn(3) == 0 {
			f["bytes"] = int64(r.Intn(5000))
		}
		sr := int64(1)
		if sampled {
			sr = []int64{1, 1, 2, 5, 10}[r.Intn(5)]
		}
		out[i] = event.Event{Time: t0.Add(time.Duration(r.Int63n(int64(time.Hour)))), SampleRate: sr, Fields: f}
	}
	return out
}

func open(t testing.TB, ds string, evs []event.Event) *duckdb.Store {
	t.Helper()
	st, err := duckdb.Open(t.TempDir(), duckdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := appendAll(st, ds, evs); err != nil {
		t.Fatal(err)
	}
	return st
}

// appendAll writes events through the store's write path, in batches as
// the ingest writer would.
func appendAll(st *duckdb.Store, ds string, evs []event.Event) error {
	for len(evs) > 0 {
		n := min(len(evs), 50_000)
		b := &event.Batch{Dataset: ds, Events: evs[:n]}
		if err := st.Append(context.Background(), []*event.Batch{b}); err != nil {
			return err
		}
		for i, err := range b.Errs {
			if err != nil {
				return fmt.Errorf("event %d: %w", i, err)
			}
		}
		evs = evs[n:]
	}
	return nil
}

func run(t *testing.T, st *duckdb.Store, ds, spec string) (*query.Result, error) {
	t.Helper()
	s, err := query.Parse([]byte(spec))
	if err != nil {
		return nil, err
	}
	if err := s.Resolve(t0.Add(time.Hour)); err != nil {
		return nil, err
	}
	cat, err := st.Catalog(ds)
	if err != nil {
		t.Fatal(err)
	}
	p, err := query.Compile(s, cat)
	if err != nil {
		return nil, err
	}
	res, err := p.Run(context.Background(), st.DB())
	if err != nil {
		t.Fatalf("%s\n%s", err, p.SQL)
	}
	return res, nil
}

// ref is the reference: what the answer must be, computed in Go.
type ref struct{ evs []event.Event }

type pred func(event.Event) bool

func num(v any) (float64, bool) {
	switch x := v.(type) {
	case int64:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

// refFilter implements each op independently of the SQL compiler.
func refFilter(col, op string, val any) pred {
	return func(e event.Event) bool {
		v, ok := e.Fields[col]
		if op == "exists" {
			return ok
		}
		if op == "does-not-exist" {
			return !ok
		}
		neg := op == "!=" || strings.HasPrefix(op, "does-not") || op == "not-in"
		if !ok {
			return neg
		}
		s := fmt.Sprint(v)
		var m bool
		switch op {
		case "=", "!=":
			m = eq(v, val)
		case ">", ">=", "<", "<=":
			a, aok := num(v)
			b, _ := num(val)
			if !aok { // strings compare as text
				c := strings.Compare(s, val.(string))
				m = map[string]bool{">": c > 0, ">=": c >= 0, "<": c < 0, "<=": c <= 0}[op]
				break
			}
			m = map[string]bool{">": a > b, ">=": a >= b, "<": a < b, "<=": a <= b}[op]
		case "starts-with", "does-not-start-with":
			m = strings.HasPrefix(s, val.(string))
		case "ends-with", "does-not-end-with":
			m = strings.HasSuffix(s, val.(string))
		case "contains", "does-not-contain":
			m = strings.Contains(s, val.(string))
		case "in", "not-in":
			for _, x := range val.([]any) {
				m = m || eq(v, x)
			}
		}
		if neg {
			return !m
		}
		return m
	}
}

func eq(v, want any) bool {
	if a, ok := num(v); ok {
		b, ok := num(want)
		return ok && a == b
	}
	return v == want
}

type group struct {
	w      int64
	vals   []float64 // one entry per value, with weights in ws
	ws     []int64
	any    []any
	sum    float64
	sumW   int64
	dist   map[any]bool
	mn, mx float64
}

func (r ref) groups(p pred, by string, col string) map[any]*group {
	out := map[any]*group{}
	for _, e := range r.evs {
		if !p(e) {
			continue
		}
		var k any = "all"
		if by != "" {
			k = e.Fields[by]
		}
		g := out[k]
		if g == nil {
			g = &group{dist: map[any]bool{}, mn: math.Inf(1), mx: math.Inf(-1)}
			out[k] = g
		}
		g.w += e.SampleRate
		v, ok := e.Fields[col]
		if !ok {
			continue
		}
		g.dist[v] = true
		if f, ok := num(v); ok {
			g.vals = append(g.vals, f)
			g.ws = append(g.ws, e.SampleRate)
			g.sum += f * float64(e.SampleRate)
			g.sumW += e.SampleRate
			g.mn, g.mx = math.Min(g.mn, f), math.Max(g.mx, f)
		}
	}
	return out
}

// nearestRank is the smallest value whose cumulative weight reaches
// ceil(p × total weight).
func (g *group) nearestRank(perMil int) float64 {
	idx := make([]int, len(g.vals))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return g.vals[idx[a]] < g.vals[idx[b]] })
	var total int64
	for _, w := range g.ws {
		total += w
	}
	rank := (int64(perMil)*total + 999) / 1000
	var cum int64
	for _, i := range idx {
		cum += g.ws[i]
		if cum >= rank {
			return g.vals[i]
		}
	}
	return math.NaN()
}

func close(a, b float64) bool {
	return math.Abs(a-b) <= 1e-9*math.Max(1, math.Max(math.Abs(a), math.Abs(b)))
}

var percentiles = map[string]int{"P001": 1, "P01": 10, "P05": 50, "P10": 100, "P20": 200, "P25": 250, "P50": 500, "P75": 750, "P80": 800, "P90": 900, "P95": 950, "P99": 990, "P999": 999}

// TestGoldenCalculations checks every calculation, per group, weighted and
// unweighted, against the reference.
func TestGoldenCalculations(t *testing.T) {
	for _, sampled := range []bool{false, true} {
		t.Run(fmt.Sprintf("sampled=%v", sampled), func(t *testing.T) {
			evs := gen(3000, sampled)
			st := open(t, "golden", evs)
			r := ref{evs}
			calcs := []map[string]any{{"op": "COUNT"}, {"op": "SUM", "column": "duration_ms"}, {"op": "AVG", "column": "duration_ms"},
				{"op": "MIN", "column": "duration_ms"}, {"op": "MAX", "column": "duration_ms"}, {"op": "COUNT_DISTINCT", "column": "user"},
				{"op": "SUM", "column": "bytes"}}
			for p := range percentiles {
				calcs = append(calcs, map[string]any{"op": p, "column": "duration_ms"})
			}
			spec, _ := json.Marshal(map[string]any{"start_time": t0.Unix(), "end_time": t0.Add(time.Hour).Unix(), "breakdowns": []string{"service"}, "calculations": calcs})
			res, err := run(t, st, "golden", string(spec))
			if err != nil {
				t.Fatal(err)
			}
			all := func(event.Event) bool { return true }
			want := r.groups(all, "service", "duration_ms")
			users := r.groups(all, "service", "user")
			bytes := r.groups(all, "service", "bytes")
			if len(res.Results) != len(want) {
				t.Fatalf("%d groups, want %d", len(res.Results), len(want))
			}
			for i, row := range res.Results {
				d := row.Data
				g := want[d["service"]]
				if i > 0 && d["COUNT"].(int64) > res.Results[i-1].Data["COUNT"].(int64) {
					t.Errorf("results not ordered by COUNT descending")
				}
				check := func(name string, got any, w float64) {
					t.Helper()
					f, ok := num(got)
					if !ok || !close(f, w) {
						t.Errorf("%v %s = %v, want %v", d["service"], name, got, w)
					}
				}
				check("COUNT", d["COUNT"], float64(g.w))
				check("SUM(duration_ms)", d["SUM(duration_ms)"], g.sum)
				check("AVG(duration_ms)", d["AVG(duration_ms)"], g.sum/float64(g.sumW))
				check("MIN(duration_ms)", d["MIN(duration_ms)"], g.mn)
				check("MAX(duration_ms)", d["MAX(duration_ms)"], g.mx)
				check("COUNT_DISTINCT(user)", d["COUNT_DISTINCT(user)"], float64(len(users[d["service"]].dist)))
				check("SUM(bytes)", d["SUM(bytes)"], bytes[d["service"]].sum)
				if _, isInt := d["SUM(bytes)"].(int64); !isInt {
					t.Errorf("SUM of an integer column is %T", d["SUM(bytes)"])
				}
				for p, pm := range percentiles {
					check(p+"(duration_ms)", d[p+"(duration_ms)"], g.nearestRank(pm))
				}
			}
			// The series add up to the results, bucket by bucket.
			counts := map[any]int64{}
			for _, pt := range res.Series {
				counts[pt.Data["service"]] += pt.Data["COUNT"].(int64)
				if pt.Time.Before(t0) || !pt.Time.Before(t0.Add(time.Hour)) || pt.Time.Unix()%res.Granularity != 0 {
					t.Errorf("bucket %v outside the range or unaligned", pt.Time)
				}
			}
			for k, g := range want {
				if counts[k] != g.w {
					t.Errorf("series COUNT for %v = %d, want %d", k, counts[k], g.w)
				}
			}
			if res.Granularity != 60 || len(res.Series) != 60*len(want) {
				t.Errorf("granularity %d, %d points", res.Granularity, len(res.Series))
			}
		})
	}
}

// TestGoldenFilters checks every filter op (and AND/OR) by COUNT.
func TestGoldenFilters(t *testing.T) {
	evs := gen(3000, true)
	st := open(t, "filters", evs)
	r := ref{evs}
	cases := []struct {
		col, op string
		val     any
	}{
		{"status_code", "=", 200}, {"status_code", "!=", 200}, {"status_code", ">", 201}, {"status_code", ">=", 404},
		{"status_code", "<", 404}, {"status_code", "<=", 201}, {"duration_ms", ">", 150.5}, {"user", "=", "u007"},
		{"user", "!=", "u007"}, {"user", "starts-with", "u01"}, {"user", "does-not-start-with", "u01"},
		{"user", "ends-with", "7"}, {"user", "does-not-end-with", "7"}, {"user", "contains", "12"},
		{"user", "does-not-contain", "12"}, {"user", "exists", nil}, {"user", "does-not-exist", nil},
		{"bytes", "exists", nil}, {"never_seen", "does-not-exist", nil}, {"never_seen", "exists", nil},
		{"service", "in", []any{"api", "db"}}, {"service", "not-in", []any{"api", "db"}},
		{"status_code", "in", []any{500, 503}}, {"status_code", "not-in", []any{200}}, {"ok", "=", true}, {"ok", "!=", true},
		{"service", "<", "c"}, {"bytes", "<", 100},
	}
	for _, c := range cases {
		t.Run(c.col+" "+c.op, func(t *testing.T) {
			f := map[string]any{"column": c.col, "op": c.op}
			if c.val != nil {
				f["value"] = c.val
			}
			spec, _ := json.Marshal(map[string]any{"start_time": t0.Unix(), "end_time": t0.Add(time.Hour).Unix(), "filters": []any{f}})
			res, err := run(t, st, "filters", string(spec))
			if err != nil {
				t.Fatal(err)
			}
			want := int64(0)
			for _, g := range r.groups(refFilter(c.col, c.op, jsonRoundTrip(c.val)), "", "") {
				want += g.w
			}
			if got := res.Results[0].Data["COUNT"].(int64); got != want {
				t.Errorf("COUNT = %d, want %d", got, want)
			}
		})
	}
	// OR of two filters, and a calculation with its own filter.
	spec := fmt.Sprintf(`{"start_time":%d,"end_time":%d,"filter_combination":"OR",
		"filters":[{"column":"status_code","op":">=","value":500},{"column":"duration_ms","op":">","value":300}],
		"calculations":[{"op":"COUNT"},{"op":"COUNT","name":"slow","filters":[{"column":"duration_ms","op":">","value":300}]}]}`, t0.Unix(), t0.Add(time.Hour).Unix())
	res, err := run(t, st, "filters", spec)
	if err != nil {
		t.Fatal(err)
	}
	a, b := refFilter("status_code", ">=", 500.0), refFilter("duration_ms", ">", 300.0)
	var wantOr, wantSlow int64
	for _, e := range evs {
		if a(e) || b(e) {
			wantOr += e.SampleRate
		}
		if b(e) {
			wantSlow += e.SampleRate
		}
	}
	if d := res.Results[0].Data; d["COUNT"] != wantOr || d["slow"] != wantSlow {
		t.Errorf("OR: %v, want COUNT %d slow %d", d, wantOr, wantSlow)
	}
}

func jsonRoundTrip(v any) any {
	switch x := v.(type) {
	case int:
		return float64(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = jsonRoundTrip(e)
		}
		return out
	}
	return v
}

// TestOrdersHavingsLimit checks group selection.
func TestOrdersHavingsLimit(t *testing.T) {
	evs := gen(2000, true)
	st := open(t, "ohl", evs)
	want := ref{evs}.groups(func(event.Event) bool { return true }, "service", "")
	spec := fmt.Sprintf(`{"start_time":%d,"end_time":%d,"breakdowns":["service"],"calculations":[{"op":"COUNT"}],
		"orders":[{"column":"service","order":"descending"}],"havings":[{"calculate_op":"COUNT","op":">","value":0}],"limit":2}`, t0.Unix(), t0.Add(time.Hour).Unix())
	res, err := run(t, st, "ohl", spec)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Results) != 2 || res.Results[0].Data["service"] != "web" || res.Results[1].Data["service"] != "db" {
		t.Fatalf("results %v", res.Results)
	}
	for _, p := range res.Series {
		if s := p.Data["service"]; s != "web" && s != "db" {
			t.Fatalf("series has group %v outside the limit", s)
		}
	}
	threshold := want["db"].w
	spec = fmt.Sprintf(`{"start_time":%d,"end_time":%d,"breakdowns":["service"],"havings":[{"calculate_op":"COUNT","op":">=","value":%d}]}`, t0.Unix(), t0.Add(time.Hour).Unix(), threshold)
	res, err = run(t, st, "ohl", spec)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, g := range want {
		if g.w >= threshold {
			n++
		}
	}
	if len(res.Results) != n {
		t.Fatalf("having kept %d groups, want %d", len(res.Results), n)
	}
}

// TestHeatmapAndRates checks HEATMAP buckets and RATE_* differences.
func TestHeatmapAndRates(t *testing.T) {
	var evs []event.Event
	for m := 0; m < 10; m++ {
		for k := 0; k < 5; k++ {
			evs = append(evs, event.Event{Time: t0.Add(time.Duration(m)*time.Minute + time.Duration(k)*time.Second), SampleRate: 2,
				Fields: map[string]any{"counter": int64(100*m + k), "d": float64(k)}})
		}
	}
	st := open(t, "hm", evs)
	spec := fmt.Sprintf(`{"start_time":%d,"end_time":%d,"granularity":60,"calculations":[{"op":"HEATMAP","column":"d"},{"op":"RATE_MAX","column":"counter"}]}`, t0.Unix(), t0.Add(10*time.Minute).Unix())
	res, err := run(t, st, "hm", spec)
	if err != nil {
		t.Fatal(err)
	}
	h := res.Results[0].Data["HEATMAP(d)"].(query.Heatmap)
	// d = 0,1,2,3,4 ten times each with weight 2.
	var total int64
	for _, b := range h.Buckets {
		total += b.Count
		for v := 0.0; v <= 4; v++ {
			if (v >= b.Min && v < b.Max) || (v == 0 && b.Max == 0) {
				if b.Count != 20 {
					t.Errorf("bucket [%v,%v) count %d, want 20", b.Min, b.Max, b.Count)
				}
			}
		}
	}
	if total != 100 || len(h.Buckets) != 5 {
		t.Errorf("heatmap %+v", h)
	}
	if got := res.Results[0].Data["RATE_MAX(counter)"]; got != 900.0 {
		t.Errorf("RATE_MAX overall = %v, want 900", got)
	}
	for i, p := range res.Series {
		want := any(100.0)
		if i == 0 {
			want = nil
		}
		if p.Data["RATE_MAX(counter)"] != want {
			t.Errorf("bucket %d RATE_MAX = %v, want %v", i, p.Data["RATE_MAX(counter)"], want)
		}
	}
}

// TestInvalidSpecs checks that each error names the field at fault.
func TestInvalidSpecs(t *testing.T) {
	st := open(t, "bad", gen(10, false))
	cases := []struct{ spec, field string }{
		{`{"calculations":[{"op":"P98","column":"duration_ms"}]}`, "calculations[0].op"},
		{`{"calculations":[{"op":"SUM"}]}`, "calculations[0].column"},
		{`{"calculations":[{"op":"SUM","column":"user"}]}`, "calculations[0].column"},
		{`{"calculations":[{"op":"AVG","column":"nope"}]}`, "calculations[0].column"},
		{`{"calculations":[{"op":"HEATMAP","column":"duration_ms"}],"havings":[{"calculate_op":"HEATMAP","column":"duration_ms","op":">","value":1}]}`, "havings[0].calculate_op"},
		{`{"time_range":3600,"granularity":1}`, "granularity"},
		{`{"time_range":3600,"granularity":361}`, "granularity"},
		{`{"filters":[{"column":"user","op":"like","value":"x"}]}`, "filters[0].op"},
		{`{"filters":[{"column":"status_code","op":"=","value":"abc"}]}`, "filters[0].value"},
		{`{"filters":[{"column":"service","op":"in","value":"api"}]}`, "filters[0].value"},
		{`{"breakdowns":["nope"]}`, "breakdowns[0]"},
		{`{"orders":[{"op":"COUNT_DISTINCT","column":"user"}]}`, "orders[0]"},
		{`{"limit":100000}`, "limit"},
		{`{"calculation":[]}`, "calculation"},
		{`{"filter_combination":"XOR"}`, "filter_combination"},
		{`{"calculations":[{"op":"COUNT"},{"op":"COUNT"}]}`, "calculations[1]"},
	}
	for _, c := range cases {
		_, err := run(t, st, "bad", c.spec)
		qe, ok := err.(*query.Error)
		if !ok || qe.Field != c.field {
			t.Errorf("%s: error %v, want one naming %s", c.spec, err, c.field)
		}
	}
}

// TestHostileNames stores and queries field names and values built to break
// SQL; they must come back as data.
func TestHostileNames(t *testing.T) {
	name := `x"; DROP TABLE px_datasets; --`
	val := `'); DELETE FROM px_keys; --`
	evs := []event.Event{{Time: t0.Add(time.Minute), SampleRate: 1, Fields: map[string]any{name: val}}}
	st := open(t, "hostile", evs)
	spec, _ := json.Marshal(map[string]any{"start_time": t0.Unix(), "end_time": t0.Add(time.Hour).Unix(), "breakdowns": []string{name},
		"filters": []any{map[string]any{"column": name, "op": "=", "value": val}}})
	res, err := run(t, st, "hostile", string(spec))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Results) != 1 || res.Results[0].Data[name] != val || res.Results[0].Data["COUNT"] != int64(1) {
		t.Fatalf("results %v", res.Results)
	}
}

// TestFilterWithSeveralPasses: a filter on one column with a HEATMAP and a
// weighted percentile, each a pass of its own over the filtered events.
// DuckDB once pushed the filter onto the wrong column of the second pass's
// scan, an internal error that invalidated the whole database.
func TestFilterWithSeveralPasses(t *testing.T) {
	var evs []event.Event
	for i := 0; i < 400; i++ {
		evs = append(evs, event.Event{Time: t0.Add(time.Duration(i) * time.Second), SampleRate: int64(1 + i%3),
			Fields: map[string]any{"region": []string{"eu", "us"}[i%2], "build": fmt.Sprint(4511 + i%2), "duration_ms": int64(20 + i%40)}})
	}
	st := open(t, "d", evs)
	for _, spec := range []string{
		`{"time_range":7200,"calculations":[{"op":"COUNT"},{"op":"HEATMAP","column":"duration_ms"}],"filters":[{"column":"region","op":"=","value":"eu"}]}`,
		`{"time_range":7200,"calculations":[{"op":"COUNT"},{"op":"P99","column":"duration_ms"},{"op":"HEATMAP","column":"duration_ms"}],"filters":[{"column":"build","op":"in","value":[4511]},{"column":"duration_ms","op":">","value":"25"}],"breakdowns":["region"]}`,
		`{"time_range":7200,"calculations":[{"op":"COUNT"}]}`,
	} {
		res, err := run(t, st, "d", spec)
		if err != nil {
			t.Fatalf("%s: %v", spec, err)
		}
		if len(res.Results) == 0 {
			t.Errorf("%s: no results", spec)
		}
	}
}

// TestSharedPercentilePass: weighted percentiles of one column under the
// same filter share a pass; the filter's values are bound once.
func TestSharedPercentilePass(t *testing.T) {
	st := open(t, "shared", gen(500, true))
	spec := fmt.Sprintf(`{"start_time":%d,"end_time":%d,"calculations":[
		{"op":"P50","column":"duration_ms","filters":[{"column":"service","op":"=","value":"api"}]},
		{"op":"P99","column":"duration_ms","filters":[{"column":"service","op":"=","value":"api"}]}]}`, t0.Unix(), t0.Add(time.Hour).Unix())
	res, err := run(t, st, "shared", spec)
	if err != nil {
		t.Fatal(err)
	}
	d := res.Results[0].Data
	if d["P50(duration_ms)"] == nil || d["P99(duration_ms)"].(float64) < d["P50(duration_ms)"].(float64) {
		t.Errorf("results %v", d)
	}
}
