// Package storetest is the conformance suite of the event stores: the same
// cases run against the embedded DuckDB store and the ClickHouse store, so
// that a deployment gets the same answers whichever it runs. Every storage
// feature adds its cases here.
package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prodex/prodex/internal/event"
	"github.com/prodex/prodex/internal/problem"
	"github.com/prodex/prodex/internal/query"
	"github.com/prodex/prodex/internal/schema"
	"github.com/prodex/prodex/internal/store"
)

// Events is what the suite needs of a store.
type Events interface {
	Append(ctx context.Context, batches []*event.Batch) error
	Datasets() []store.Dataset
	Columns(dataset string) ([]schema.Column, error)
	SetRetention(ctx context.Context, dataset string, d time.Duration) error
	DropExpired(ctx context.Context, now time.Time) (int, error)
	Find(ctx context.Context, dataset, column string, value any, start, end time.Time, limit int) ([]event.Event, error)
	// Source is what query.Ask and explain.Ask read; a missing dataset
	// is problem.ErrNotFound.
	store.Source
}

// Config is what a case asks of a new store.
type Config struct {
	MaxColumns int           // 0: the store's default
	Retention  time.Duration // default retention of new datasets; 0: the store's
	// Reopen, when set, asks to close that store (made by the same
	// opener) and open what it holds again, as a restart would.
	Reopen Events
}

// Opener returns a new, empty store; it is closed by t.Cleanup.
type Opener func(t *testing.T, cfg Config) Events

// Run runs every case against stores made by open; br, when given, breaks
// a dataset for the cases about failures staying with their dataset.
func Run(t *testing.T, open Opener, br ...Breaker) {
	var breaker Breaker
	if len(br) > 0 {
		breaker = br[0]
	}
	cases := []struct {
		name string
		f    func(*testing.T, Opener)
	}{
		{"DynamicColumns", dynamicColumns},
		{"Reopen", reopen},
		{"TypePromotion", typePromotion},
		{"HostileNames", hostileNames},
		{"Find", find},
		{"ControlBytes", controlBytes},
		{"Retention", retention},
		{"ColumnLimit", columnLimit},
		{"WideCommit", wideCommit},
		{"Aggregates", aggregates},
		{"Percentiles", percentiles},
		{"SampleRates", sampleRates},
		{"Breakdowns", breakdowns},
		{"Filters", filters},
		{"Heatmap", heatmap},
		{"Series", series},
		{"SLOEvents", sloEvents},
		{"ExplainFilter", explainFilter},
		{"ExplainHeatmap", explainHeatmap},
		{"ExplainRare", explainRare},
		{"ExplainSLO", explainSLO},
		{"ExplainColumnLimit", explainColumnLimit},
		{"SLOCounts", sloCounts},
		{"HugeSampleRates", hugeSampleRates},
		{"IntegerSums", integerSums},
		{"RetentionIsolation", func(t *testing.T, open Opener) { retentionIsolation(t, open, breaker) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.f(t, open) })
	}
}

// t0 is the start of each case's hour of events.
var t0 = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

func ev(at time.Duration, sr int64, fields map[string]any) event.Event {
	return event.Event{Time: t0.Add(at), SampleRate: sr, Fields: fields}
}

// put appends events and fails on any rejection.
func put(t *testing.T, st Events, ds string, evs ...event.Event) {
	t.Helper()
	b := &event.Batch{Dataset: ds, Events: evs, Errs: make([]error, len(evs))}
	if err := st.Append(context.Background(), []*event.Batch{b}); err != nil {
		t.Fatal(err)
	}
	for i, err := range b.Errs {
		if err != nil {
			t.Fatalf("event %d rejected: %v", i, err)
		}
	}
}

// ask runs a query spec (JSON) over [t0, t0+1h).
func ask(t *testing.T, st Events, ds, spec string) *query.Result {
	t.Helper()
	s, err := query.Parse([]byte(spec))
	if err != nil {
		t.Fatalf("spec %s: %v", spec, err)
	}
	if s.StartTime == 0 && s.TimeRange == 0 {
		s.StartTime, s.EndTime = t0.Unix(), t0.Add(time.Hour).Unix()
	}
	if err := s.Resolve(t0.Add(time.Hour)); err != nil {
		t.Fatalf("spec %s: %v", spec, err)
	}
	res, err := query.Ask(context.Background(), st, ds, s)
	if err != nil {
		t.Fatalf("query %s: %v", spec, err)
	}
	return res
}

// rows renders a result's overall rows as JSON lines, for comparison with
// what a case expects: numbers as JSON has them, so that int64 1 and
// float64 1 differ.
func rows(res *query.Result) string {
	var out []string
	for _, r := range res.Results {
		out = append(out, render(r.Data))
	}
	return strings.Join(out, "\n")
}

func render(m map[string]any) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteString(" ")
		}
		v := m[k]
		switch x := v.(type) {
		case float64:
			fmt.Fprintf(&b, "%s=%sf", k, trimFloat(x))
		case query.Heatmap:
			j, _ := json.Marshal(x)
			fmt.Fprintf(&b, "%s=%s", k, j)
		default:
			fmt.Fprintf(&b, "%s=%v(%T)", k, v, v)
		}
	}
	return b.String()
}

// trimFloat rounds away the last bits that summation order changes.
func trimFloat(f float64) string {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return fmt.Sprint(f)
	}
	return fmt.Sprintf("%.9g", f)
}

func want(t *testing.T, what, got, expect string) {
	t.Helper()
	if got != expect {
		t.Errorf("%s:\n got: %s\nwant: %s", what, strings.ReplaceAll(got, "\n", "\n      "), strings.ReplaceAll(expect, "\n", "\n      "))
	}
}

func columnTypes(t *testing.T, st Events, ds string) string {
	t.Helper()
	cols, err := st.Columns(ds)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range cols {
		out = append(out, c.Name+":"+string(c.Type))
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

func dynamicColumns(t *testing.T, open Opener) {
	st := open(t, Config{})
	put(t, st, "web", ev(0, 1, map[string]any{"status": int64(200)}))
	put(t, st, "web", ev(time.Minute, 1, map[string]any{"status": int64(500), "path": "/a", "ok": false, "ms": 1.5}))
	put(t, st, "other", ev(0, 1, map[string]any{"x": "y"}))
	want(t, "columns", columnTypes(t, st, "web"), "ms:float ok:boolean path:string status:integer")
	var names []string
	for _, d := range st.Datasets() {
		names = append(names, fmt.Sprintf("%s/%d", d.Name, d.Columns))
	}
	want(t, "datasets", strings.Join(names, " "), "other/1 web/4")
	if _, err := st.Columns("missing"); err != problem.ErrNotFound {
		t.Errorf("columns of a missing dataset: %v, want problem.ErrNotFound", err)
	}
	want(t, "query", rows(ask(t, st, "web", `{"calculations":[{"op":"COUNT"},{"op":"MAX","column":"status"},{"op":"MIN","column":"path"}]}`)),
		"COUNT=2(int64) MAX(status)=500(int64) MIN(path)=/a(string)")
}

func reopen(t *testing.T, open Opener) {
	st := open(t, Config{})
	put(t, st, "r", ev(0, 2, map[string]any{"n": int64(1), "s": "a", "ok": true, `q"u'o\te`: 1.5}))
	put(t, st, "r", ev(time.Minute, 1, map[string]any{"n": "x"}))
	if err := st.SetRetention(context.Background(), "r", 90*24*time.Hour); err != nil {
		t.Fatal(err)
	}
	cols := columnTypes(t, st, "r")
	spec := `{"breakdowns":["n"],"calculations":[{"op":"COUNT"},{"op":"MAX","column":"q\"u'o\\te"}]}`
	before := rows(ask(t, st, "r", spec))
	st = open(t, Config{Reopen: st})
	want(t, "columns after reopening", columnTypes(t, st, "r"), cols)
	want(t, "answer after reopening", rows(ask(t, st, "r", spec)), before)
	for _, d := range st.Datasets() {
		if d.Name == "r" && d.Retention != 90*24*time.Hour {
			t.Errorf("retention after reopening: %s", d.Retention)
		}
	}
	put(t, st, "r", ev(2*time.Minute, 1, map[string]any{"n": int64(3), "s": "b"}))
	want(t, "answer after writing again", rows(ask(t, st, "r", `{"calculations":[{"op":"COUNT"},{"op":"COUNT_DISTINCT","column":"s"}]}`)),
		"COUNT=4(int64) COUNT_DISTINCT(s)=2(int64)")
}

func typePromotion(t *testing.T, open Opener) {
	st := open(t, Config{})
	// Each field is promoted once: integer → string, integer → float,
	// boolean → string; an integral float stays in an integer field.
	put(t, st, "p", ev(0, 1, map[string]any{"n": int64(1), "f": int64(1), "flag": true, "v": int64(7)}))
	put(t, st, "p", ev(time.Minute, 1, map[string]any{"n": "text", "f": 2.5, "flag": "maybe", "v": 3.0}))
	want(t, "columns", columnTypes(t, st, "p"), "f:float flag:string n:string v:integer")
	want(t, "values", rows(ask(t, st, "p", `{"breakdowns":["n","flag"],"calculations":[{"op":"SUM","column":"v"},{"op":"SUM","column":"f"}],"orders":[{"column":"n","order":"ascending"}]}`)),
		"SUM(f)=1f SUM(v)=7(int64) flag=true(string) n=1(string)\n"+
			"SUM(f)=2.5f SUM(v)=3(int64) flag=maybe(string) n=text(string)")
}

func hostileNames(t *testing.T, open Opener) {
	st := open(t, Config{})
	weird := []string{`a"b`, "a`b", `a'b`, `a\b`, "ünï.côdé", "x); DROP TABLE t; --", "Status", "status"}
	f := map[string]any{}
	for i, n := range weird {
		f[n] = int64(i)
	}
	f["s'q"] = "it's"
	put(t, st, "my-data.set_1", ev(0, 1, f))
	cols, err := st.Columns("my-data.set_1")
	if err != nil {
		t.Fatal(err)
	}
	if len(cols) != len(weird)+1 {
		t.Fatalf("%d columns, want %d: %v", len(cols), len(weird), cols)
	}
	for i, n := range weird {
		spec, _ := json.Marshal(map[string]any{
			"calculations": []any{map[string]any{"op": "SUM", "column": n}},
			"filters":      []any{map[string]any{"column": n, "op": "=", "value": i}},
		})
		want(t, n, rows(ask(t, st, "my-data.set_1", string(spec))), fmt.Sprintf("SUM(%s)=%d(int64)", n, i))
	}
	spec, _ := json.Marshal(map[string]any{
		"calculations": []any{map[string]any{"op": "COUNT"}},
		"filters":      []any{map[string]any{"column": "s'q", "op": "!=", "value": `'; DROP TABLE x; --`}},
	})
	want(t, "hostile value", rows(ask(t, st, "my-data.set_1", string(spec))), "COUNT=1(int64)")
}

func find(t *testing.T, open Opener) {
	st := open(t, Config{})
	put(t, st, "tr",
		ev(2*time.Second, 1, map[string]any{"trace.trace_id": "t1", "name": "child", "ok": true, "ms": 2.5}),
		ev(time.Second, 3, map[string]any{"trace.trace_id": "t1", "name": "root", "n": int64(4)}),
		ev(0, 1, map[string]any{"trace.trace_id": "t2", "name": "other"}))
	got, err := st.Find(context.Background(), "tr", "trace.trace_id", "t1", t0, t0.Add(time.Hour), 10)
	if err != nil {
		t.Fatal(err)
	}
	wantEvs := []event.Event{
		{Time: t0.Add(time.Second), SampleRate: 3, Fields: map[string]any{"trace.trace_id": "t1", "name": "root", "n": int64(4)}},
		{Time: t0.Add(2 * time.Second), SampleRate: 1, Fields: map[string]any{"trace.trace_id": "t1", "name": "child", "ok": true, "ms": 2.5}},
	}
	if !reflect.DeepEqual(got, wantEvs) {
		t.Errorf("find:\n got %v\nwant %v", got, wantEvs)
	}
	if got, err := st.Find(context.Background(), "tr", "no.such.field", "t1", t0, t0.Add(time.Hour), 10); err != nil || len(got) != 0 {
		t.Errorf("find on a missing field: %v, %v", got, err)
	}
	if got, _ := st.Find(context.Background(), "tr", "trace.trace_id", "t1", t0, t0.Add(time.Hour), 1); len(got) != 1 {
		t.Errorf("limit 1 gave %d events", len(got))
	}
}

// controlBytes: a string holding NUL and other control characters (valid
// UTF-8, and JSON's "\u0000") is stored whole, not cut at the NUL.
func controlBytes(t *testing.T, open Opener) {
	st := open(t, Config{})
	v := "a\x00b\x01\tc\x00"
	put(t, st, "cb", ev(0, 1, map[string]any{"s": v, "n": int64(1)}), ev(time.Second, 1, map[string]any{"s": "a", "n": int64(2)}),
		ev(2*time.Second, 1, map[string]any{"s": "", "n": int64(3)}))
	got, err := st.Find(context.Background(), "cb", "n", int64(1), t0, t0.Add(time.Hour), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Fields["s"] != v {
		t.Fatalf("stored %v, want %q", got, v)
	}
	if got, err := st.Find(context.Background(), "cb", "n", int64(3), t0, t0.Add(time.Hour), 10); err != nil || len(got) != 1 || got[0].Fields["s"] != "" {
		t.Fatalf("stored %v (%v), want the empty string", got, err)
	}
	spec, _ := json.Marshal(map[string]any{
		"calculations": []any{map[string]any{"op": "SUM", "column": "n"}},
		"filters":      []any{map[string]any{"column": "s", "op": "=", "value": v}},
	})
	want(t, "filter on a value with NUL", rows(ask(t, st, "cb", string(spec))), "SUM(n)=1(int64)")
}

func retention(t *testing.T, open Opener) {
	st := open(t, Config{Retention: 100 * 24 * time.Hour})
	now := time.Now().UTC()
	day := 24 * time.Hour
	old := event.Event{Time: now.Add(-10 * day), SampleRate: 1, Fields: map[string]any{"k": int64(1)}}
	recent := event.Event{Time: now.Add(-time.Minute), SampleRate: 1, Fields: map[string]any{"k": int64(2)}}
	b := &event.Batch{Dataset: "r", Events: []event.Event{old, recent}, Errs: make([]error, 2)}
	if err := st.Append(context.Background(), []*event.Batch{b}); err != nil || b.Errs[0] != nil || b.Errs[1] != nil {
		t.Fatalf("append: %v %v", err, b.Errs)
	}
	if err := st.SetRetention(context.Background(), "r", 5*day); err != nil {
		t.Fatal(err)
	}
	if err := st.SetRetention(context.Background(), "r", time.Minute); err == nil {
		t.Error("a retention under an hour was accepted")
	}
	if err := st.SetRetention(context.Background(), "nope", 5*day); err != problem.ErrNotFound {
		t.Errorf("retention of a missing dataset: %v", err)
	}
	for _, d := range st.Datasets() {
		if d.Name == "r" && d.Retention != 5*day {
			t.Errorf("retention %s, want 5 days", d.Retention)
		}
	}
	// A new event older than the retention is refused; the rest stored.
	b = &event.Batch{Dataset: "r", Events: []event.Event{old, recent}, Errs: make([]error, 2)}
	if err := st.Append(context.Background(), []*event.Batch{b}); err != nil {
		t.Fatal(err)
	}
	if b.Errs[0] == nil || !strings.Contains(b.Errs[0].Error(), "retention") || b.Errs[1] != nil {
		t.Errorf("errors %v: want the old event refused for retention", b.Errs)
	}
	dropped, err := st.DropExpired(context.Background(), now)
	if err != nil {
		t.Fatal(err)
	}
	if dropped < 1 {
		t.Errorf("dropped %d, want the old day", dropped)
	}
	count := func() string {
		s := fmt.Sprintf(`{"calculations":[{"op":"COUNT"}],"start_time":%d,"end_time":%d}`, now.Add(-20*day).Unix(), now.Add(time.Minute).Unix())
		return rows(ask(t, st, "r", s))
	}
	want(t, "after the drop", count(), "COUNT=2(int64)")
}

// numbers puts 0…n-1 (as field v, in a shuffled order) into dataset ds.
func numbers(t *testing.T, st Events, ds string, n int) {
	evs := make([]event.Event, n)
	for i := range evs {
		v := (i * 7919) % n // a permutation when n is not a multiple of 7919
		evs[i] = ev(time.Duration(i)*time.Millisecond, 1, map[string]any{"v": int64(v), "g": []string{"a", "b"}[v%2]})
	}
	put(t, st, ds, evs...)
}

func aggregates(t *testing.T, open Opener) {
	st := open(t, Config{})
	numbers(t, st, "n", 1000)
	put(t, st, "n", ev(time.Minute, 1, map[string]any{"g": "c", "f": 0.5}), ev(time.Minute, 1, map[string]any{"g": "c", "f": 0.25}))
	want(t, "aggregates", rows(ask(t, st, "n", `{"calculations":[{"op":"COUNT"},{"op":"SUM","column":"v"},{"op":"AVG","column":"v"},{"op":"MIN","column":"v"},{"op":"MAX","column":"v"},{"op":"COUNT_DISTINCT","column":"g"},{"op":"SUM","column":"f"},{"op":"AVG","column":"f"}]}`)),
		"AVG(f)=0.375f AVG(v)=499.5f COUNT=1002(int64) COUNT_DISTINCT(g)=3(int64) MAX(v)=999(int64) MIN(v)=0(int64) SUM(f)=0.75f SUM(v)=499500(int64)")
	want(t, "empty range", rows(ask(t, st, "n", fmt.Sprintf(`{"calculations":[{"op":"COUNT"},{"op":"AVG","column":"v"}],"start_time":%d,"end_time":%d}`, t0.Add(-2*time.Hour).Unix(), t0.Add(-time.Hour).Unix()))),
		"AVG(v)=<nil>(<nil>) COUNT=0(int64)")
}

func percentiles(t *testing.T, open Opener) {
	st := open(t, Config{})
	numbers(t, st, "p1000", 1000)
	want(t, "0…999", rows(ask(t, st, "p1000", `{"calculations":[{"op":"P001","column":"v"},{"op":"P10","column":"v"},{"op":"P50","column":"v"},{"op":"P99","column":"v"},{"op":"P999","column":"v"}]}`)),
		"P001(v)=0(int64) P10(v)=99(int64) P50(v)=499(int64) P99(v)=989(int64) P999(v)=998(int64)")
	for n, expect := range map[int]string{
		1: "P50(v)=0(int64) P99(v)=0(int64)",
		2: "P50(v)=0(int64) P99(v)=1(int64)",
		3: "P50(v)=1(int64) P99(v)=2(int64)",
	} {
		ds := fmt.Sprintf("small%d", n)
		numbers(t, st, ds, n)
		want(t, ds, rows(ask(t, st, ds, `{"calculations":[{"op":"P50","column":"v"},{"op":"P99","column":"v"}]}`)), expect)
	}
}

func sampleRates(t *testing.T, open Opener) {
	st := open(t, Config{})
	put(t, st, "s",
		ev(0, 1, map[string]any{"ms": int64(10), "k": "a"}),
		ev(time.Second, 3, map[string]any{"ms": int64(20), "k": "a"}),
		ev(2*time.Second, 6, map[string]any{"ms": int64(40), "k": "b"}),
		ev(3*time.Second, 10, map[string]any{"k": "b"}))
	want(t, "weighted", rows(ask(t, st, "s", `{"calculations":[{"op":"COUNT"},{"op":"SUM","column":"ms"},{"op":"AVG","column":"ms"},{"op":"P50","column":"ms"},{"op":"P90","column":"ms"},{"op":"COUNT_DISTINCT","column":"k"}]}`)),
		"AVG(ms)=31f COUNT=20(int64) COUNT_DISTINCT(k)=2(int64) P50(ms)=40(int64) P90(ms)=40(int64) SUM(ms)=310(int64)")
	want(t, "weighted by group", rows(ask(t, st, "s", `{"breakdowns":["k"],"calculations":[{"op":"COUNT"},{"op":"P50","column":"ms"}]}`)),
		"COUNT=16(int64) P50(ms)=40(int64) k=b(string)\nCOUNT=4(int64) P50(ms)=20(int64) k=a(string)")
}

func breakdowns(t *testing.T, open Opener) {
	st := open(t, Config{})
	var evs []event.Event
	for i := range 30 {
		f := map[string]any{"svc": []string{"api", "web", "db"}[i%3], "code": int64([]int{200, 500}[i%2])}
		if i%5 == 0 {
			delete(f, "svc")
		}
		evs = append(evs, ev(time.Duration(i)*time.Minute, 1, f))
	}
	put(t, st, "b", evs...)
	want(t, "by svc", rows(ask(t, st, "b", `{"breakdowns":["svc"],"calculations":[{"op":"COUNT"}]}`)),
		"COUNT=8(int64) svc=api(string)\nCOUNT=8(int64) svc=db(string)\nCOUNT=8(int64) svc=web(string)\nCOUNT=6(int64) svc=<nil>(<nil>)")
	want(t, "two, ordered and limited", rows(ask(t, st, "b", `{"breakdowns":["svc","code"],"calculations":[{"op":"COUNT"}],"orders":[{"column":"svc","order":"descending"},{"column":"code","order":"ascending"}],"limit":3}`)),
		"COUNT=4(int64) code=200(int64) svc=web(string)\nCOUNT=4(int64) code=500(int64) svc=web(string)\nCOUNT=4(int64) code=200(int64) svc=db(string)")
	want(t, "having", rows(ask(t, st, "b", `{"breakdowns":["svc"],"calculations":[{"op":"COUNT"}],"havings":[{"calculate_op":"COUNT","op":"<","value":7}]}`)),
		"COUNT=6(int64) svc=<nil>(<nil>)")
}

func filters(t *testing.T, open Opener) {
	st := open(t, Config{})
	put(t, st, "f",
		ev(0, 1, map[string]any{"path": "/api/users", "code": int64(200), "ms": 12.5, "ok": true}),
		ev(time.Second, 1, map[string]any{"path": "/api/orders", "code": int64(500), "ms": 250.0, "ok": false}),
		ev(2*time.Second, 1, map[string]any{"path": "/health", "code": int64(200)}),
		ev(3*time.Second, 1, map[string]any{"code": int64(404), "ms": 3.0}))
	cases := map[string]string{
		`{"column":"code","op":"=","value":200}`:                    "2",
		`{"column":"code","op":"!=","value":200}`:                   "2",
		`{"column":"code","op":">=","value":"404"}`:                 "2",
		`{"column":"ms","op":"<","value":100}`:                      "2",
		`{"column":"path","op":"starts-with","value":"/api"}`:       "2",
		`{"column":"path","op":"does-not-start-with","value":"/a"}`: "2",
		`{"column":"path","op":"ends-with","value":"s"}`:            "2",
		`{"column":"path","op":"does-not-end-with","value":"s"}`:    "2",
		`{"column":"path","op":"contains","value":"ORD"}`:           "0",
		`{"column":"path","op":"contains","value":"ord"}`:           "1",
		`{"column":"path","op":"does-not-contain","value":"api"}`:   "2",
		`{"column":"ms","op":"exists"}`:                             "3",
		`{"column":"ms","op":"does-not-exist"}`:                     "1",
		`{"column":"nope","op":"does-not-exist"}`:                   "4",
		`{"column":"code","op":"in","value":[404,500]}`:             "2",
		`{"column":"code","op":"not-in","value":[404,500]}`:         "2",
		`{"column":"ok","op":"=","value":true}`:                     "1",
		`{"column":"ok","op":"!=","value":true}`:                    "3",
		`{"column":"code","op":"contains","value":"0"}`:             "4",
	}
	for f, n := range cases {
		want(t, f, rows(ask(t, st, "f", `{"calculations":[{"op":"COUNT"}],"filters":[`+f+`]}`)), "COUNT="+n+"(int64)")
	}
	want(t, "or", rows(ask(t, st, "f", `{"calculations":[{"op":"COUNT"}],"filter_combination":"OR","filters":[{"column":"code","op":"=","value":404},{"column":"ok","op":"=","value":false}]}`)), "COUNT=2(int64)")
	want(t, "calculation filter", rows(ask(t, st, "f", `{"calculations":[{"op":"COUNT"},{"op":"COUNT","name":"errors","filters":[{"column":"code","op":">=","value":400}]},{"op":"AVG","column":"ms","filters":[{"column":"code","op":"=","value":200}]}]}`)),
		"AVG(ms)=12.5f COUNT=4(int64) errors=2(int64)")
}

func heatmap(t *testing.T, open Opener) {
	st := open(t, Config{})
	put(t, st, "h",
		ev(0, 1, map[string]any{"ms": 1.0}), ev(0, 1, map[string]any{"ms": 1.1}), ev(0, 2, map[string]any{"ms": 100.0}),
		ev(0, 1, map[string]any{"ms": 0.0}), ev(0, 1, map[string]any{"ms": -3.0}), ev(0, 1, map[string]any{}))
	want(t, "heatmap", rows(ask(t, st, "h", `{"calculations":[{"op":"HEATMAP","column":"ms"}]}`)),
		`HEATMAP(ms)={"buckets":[{"min":-3.363585661014858,"max":-2.82842712474619,"count":1},{"min":0,"max":0,"count":1},{"min":1,"max":1.189207115002721,"count":2},{"min":90.50966799187808,"max":107.63474115247546,"count":2}]}`)
}

func series(t *testing.T, open Opener) {
	st := open(t, Config{})
	var evs []event.Event
	for i := range 6 {
		evs = append(evs, ev(time.Duration(i)*10*time.Minute, 1, map[string]any{"svc": []string{"a", "b"}[i%2], "bytes": int64(i * 100)}))
	}
	put(t, st, "ts", evs...)
	// Both groups count 3: the tie goes to the first name, a (bytes 0,
	// 200, 400 at 0, 20 and 40 minutes).
	res := ask(t, st, "ts", `{"breakdowns":["svc"],"calculations":[{"op":"COUNT"},{"op":"RATE_SUM","column":"bytes"}],"granularity":300,"limit":1}`)
	want(t, "overall", rows(res), "COUNT=3(int64) RATE_SUM(bytes)=400f svc=a(string)")
	var pts []string
	for _, p := range res.Series {
		pts = append(pts, p.Time.Sub(t0).String()+" "+render(p.Data))
	}
	want(t, "series", strings.Join(pts, "\n"),
		"0s COUNT=1(int64) RATE_SUM(bytes)=<nil>(<nil>) svc=a(string)\n"+
			"20m0s COUNT=1(int64) RATE_SUM(bytes)=200f svc=a(string)\n"+
			"40m0s COUNT=1(int64) RATE_SUM(bytes)=200f svc=a(string)")
}

// sloEvents: a query keeps an SLO's eligible, bad or good events, the SLI
// evaluated by the store's engine.
func sloEvents(t *testing.T, open Opener) {
	st := open(t, Config{})
	put(t, st, "slo",
		ev(0, 1, map[string]any{"path": "/api/a", "code": int64(200), "ms": 120.0}),
		ev(time.Second, 2, map[string]any{"path": "/api/b", "code": int64(503), "ms": 20.0}),
		ev(2*time.Second, 1, map[string]any{"path": "/api/c", "code": int64(200), "ms": 450.0}),
		ev(3*time.Second, 1, map[string]any{"path": "/health", "code": int64(500)}),
		ev(4*time.Second, 1, map[string]any{"path": "/api/d", "ms": 10.0}))
	for events, expect := range map[string]string{
		// Eligible: /api paths with a code (the SLI cannot be evaluated
		// on the last event, which has none): weight 1 + 2 + 1.
		"eligible": "COUNT=4(int64)",
		"bad":      "COUNT=3(int64)", // the 503 (weight 2) and the slow one
		"good":     "COUNT=1(int64)",
	} {
		s, err := query.Parse([]byte(`{"calculations":[{"op":"COUNT"}],"slo":{"name":"api","events":"` + events + `"}}`))
		if err != nil {
			t.Fatal(err)
		}
		s.SLO.Eligible, s.SLO.Good = `path.startsWith("/api")`, "code < 500 && ms < 300.0"
		s.StartTime, s.EndTime = t0.Unix(), t0.Add(time.Hour).Unix()
		if err := s.Resolve(t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		res, err := query.Ask(context.Background(), st, "slo", s)
		if err != nil {
			t.Fatal(err)
		}
		want(t, events, rows(res), expect)
	}
}
