package explain_test

import (
	"context"
	"fmt"
	"math"
	"math/rand"
	"testing"
	"time"

	"github.com/prodex/prodex/internal/event"
	"github.com/prodex/prodex/internal/explain"
	"github.com/prodex/prodex/internal/problem"
	"github.com/prodex/prodex/internal/query"
	"github.com/prodex/prodex/internal/slo"
	"github.com/prodex/prodex/internal/store/duckdb"
)

var now = time.Now().UTC().Truncate(time.Minute)

// incident: build 4512 on host db-3 is slow; errors come from region eu.
func incident(t *testing.T) (*duckdb.Store, []event.Event) {
	st, err := duckdb.Open(t.TempDir(), duckdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	r := rand.New(rand.NewSource(4))
	var evs []event.Event
	for i := 0; i < 6000; i++ {
		build := int64(4500 + r.Intn(20))
		host := fmt.Sprintf("db-%d", 1+r.Intn(5))
		region := []string{"us", "us", "eu", "ap"}[r.Intn(4)]
		d := 10 + r.Float64()*290
		if build == 4512 && host == "db-3" {
			d = 800 + r.Float64()*4000
		}
		code := int64(200)
		if region == "eu" && r.Intn(3) == 0 {
			code = 503
		}
		evs = append(evs, event.Event{Time: now.Add(-time.Duration(r.Intn(3000)) * time.Second), SampleRate: int64(1 + r.Intn(3)),
			Fields: map[string]any{"build_id": build, "host": host, "region": region, "duration_ms": d, "status_code": code, "user": fmt.Sprintf("u%d", r.Intn(500))}})
	}
	b := &event.Batch{Dataset: "shop", Events: evs}
	if err := st.Append(context.Background(), []*event.Batch{b}); err != nil {
		t.Fatal(err)
	}
	return st, evs
}

func run(t *testing.T, st *duckdb.Store, r *explain.Request, slos func(string) (slo.SLO, bool)) *explain.Answer {
	t.Helper()
	cat, err := st.Catalog("shop")
	if err != nil {
		t.Fatal(err)
	}
	a, err := explain.Run(context.Background(), st.DB(), cat, r, now.Add(time.Minute), slos)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func column(a *explain.Answer, name string) (int, explain.Column) {
	for i, c := range a.Columns {
		if c.Column == name {
			return i, c
		}
	}
	return -1, explain.Column{}
}

func TestHeatmapRegionPointsAtBuildAndHost(t *testing.T) {
	st, evs := incident(t)
	a := run(t, st, &explain.Request{TimeRange: 3600, Selection: explain.Selection{Heatmap: &explain.Heatmap{Column: "duration_ms", Min: 800, Max: 5000}}}, nil)
	if len(a.Columns) != 6 {
		t.Fatalf("%d columns, want every column", len(a.Columns))
	}
	// The selection's own column first, then build_id and host, each led
	// by the planted value.
	for i, want := range []struct{ col, value string }{{"build_id", "4512"}, {"host", "db-3"}} {
		pos, c := column(a, want.col)
		if pos != i+1 || c.Values[0].Value != want.value || c.Values[0].SelectionShare != 1 {
			t.Errorf("%s at %d: %+v", want.col, pos, c)
		}
	}
	if a.Columns[0].Column != "duration_ms" {
		t.Errorf("first column %s", a.Columns[0].Column)
	}
	// 500 user ids in a selection of ~100 events: noise, not a signal.
	if _, c := column(a, "user"); c.Score > 0.3 {
		t.Errorf("user scores %v on sampling noise", c.Score)
	}
	// The score is the total variation distance, weighted by sample rate.
	sel, base := map[string]float64{}, map[string]float64{}
	var ns, nb float64
	for _, e := range evs {
		w := float64(e.SampleRate)
		if e.Fields["duration_ms"].(float64) >= 800 {
			sel[e.Fields["region"].(string)] += w
			ns += w
		} else {
			base[e.Fields["region"].(string)] += w
			nb += w
		}
	}
	tvd := 0.0
	for _, v := range []string{"us", "eu", "ap"} {
		tvd += math.Abs(sel[v]/ns - base[v]/nb)
	}
	tvd /= 2
	if _, c := column(a, "region"); math.Abs(c.Score-tvd) > 1e-9 {
		t.Errorf("region score %v, want %v", c.Score, tvd)
	}
	if a.SelectionCount != int64(ns) || a.BaselineCount != int64(nb) {
		t.Errorf("counts %d/%d, want %v/%v", a.SelectionCount, a.BaselineCount, ns, nb)
	}
}

func TestSLOBadEventsPointAtRegion(t *testing.T) {
	st, _ := incident(t)
	slos := func(name string) (slo.SLO, bool) {
		return slo.SLO{Name: name, Dataset: "shop", SLI: slo.SLI{Good: "status_code < 500"}}, name == "shop-availability"
	}
	a := run(t, st, &explain.Request{TimeRange: 3600, Selection: explain.Selection{SLO: "shop-availability"}}, slos)
	// status_code is the SLI itself; region is what explains it.
	if a.Columns[0].Column != "status_code" || a.Columns[1].Column != "region" || a.Columns[1].Values[0].Value != "eu" {
		t.Errorf("ranking %v then %v", a.Columns[0].Column, a.Columns[1])
	}
	// Filters as the selection, with a base filter.
	a = run(t, st, &explain.Request{TimeRange: 3600, Filters: []query.Filter{{Column: "region", Op: "!=", Value: "ap"}},
		Selection: explain.Selection{Filters: []query.Filter{{Column: "status_code", Op: ">=", Value: float64(500)}}}}, nil)
	if a.Columns[1].Column != "region" {
		t.Errorf("filter selection ranking: %v", a.Columns[1])
	}
}

func TestRequestErrors(t *testing.T) {
	st, _ := incident(t)
	cat, _ := st.Catalog("shop")
	for _, r := range []*explain.Request{
		{TimeRange: 3600},
		{TimeRange: 3600, Selection: explain.Selection{SLO: "x", Heatmap: &explain.Heatmap{Column: "duration_ms"}}},
		{TimeRange: 3600, Selection: explain.Selection{Heatmap: &explain.Heatmap{Column: "host", Min: 1, Max: 2}}},
		{TimeRange: 3600, Selection: explain.Selection{Heatmap: &explain.Heatmap{Column: "duration_ms", Min: 5, Max: 2}}},
		{TimeRange: 3600, Selection: explain.Selection{Filters: []query.Filter{{Column: "nope", Op: "=", Value: "x"}}}},
		{TimeRange: 3600, Selection: explain.Selection{SLO: "missing"}},
		{TimeRange: 1e18, Selection: explain.Selection{Filters: []query.Filter{{Column: "host", Op: "=", Value: "db-3"}}}},
		{TimeRange: 3600, Selection: explain.Selection{Heatmap: &explain.Heatmap{Column: "duration_ms", Min: 1, Max: 2, StartTime: -1 << 62, EndTime: 1 << 62}}},
	} {
		// Each is the request's fault, a refusal the API answers 400;
		// any other error is the server's (a 500 with a request id).
		_, err := explain.Run(context.Background(), st.DB(), cat, r, now, func(string) (slo.SLO, bool) { return slo.SLO{}, false })
		if err == nil || !problem.Is(err, problem.Invalid) {
			t.Errorf("%+v: %v, want a problem.Invalid refusal", r.Selection, err)
		}
	}
}
