package storetest

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/prodex/prodex/internal/event"
	"github.com/prodex/prodex/internal/explain"
	"github.com/prodex/prodex/internal/query"
	"github.com/prodex/prodex/internal/store"
)

// hugeSampleRates: events stored with a rate of 2^63-1, as versions
// without event.MaxSampleRate took them, count as the maximum in every
// weighted aggregate, explain and SLO count, before and after a restart:
// such a dataset once answered every one of them with a conversion error.
func hugeSampleRates(t *testing.T, open Opener) {
	ctx := context.Background()
	st := open(t, Config{})
	put(t, st, "srslo",
		ev(0, math.MaxInt64, map[string]any{"status_code": int64(200), "ms": 10.0, "n": int64(3)}),
		ev(time.Second, math.MaxInt64, map[string]any{"status_code": int64(500), "ms": 20.0, "n": int64(4)}),
		ev(2*time.Second, 1, map[string]any{"status_code": int64(200), "ms": 30.0, "n": int64(5)}))
	// Each huge rate counts as 10^9: the weights are 10^9, 10^9 and 1.
	check := func(when string) {
		t.Helper()
		want(t, "aggregates "+when, rows(ask(t, st, "srslo", `{"calculations":[{"op":"COUNT"},{"op":"SUM","column":"n"},{"op":"AVG","column":"ms"},{"op":"AVG","column":"n"},{"op":"P50","column":"ms"},{"op":"P99","column":"ms"},{"op":"SUM","column":"ms"}]}`)),
			"AVG(ms)=15f AVG(n)=3.5f COUNT=2000000001(int64) P50(ms)=20f P99(ms)=20f SUM(ms)=3e+10f SUM(n)=7000000005(int64)")
		want(t, "by status "+when, rows(ask(t, st, "srslo", `{"breakdowns":["status_code"],"calculations":[{"op":"COUNT"}],"granularity":60}`)),
			"COUNT=1000000001(int64) status_code=200(int64)\nCOUNT=1000000000(int64) status_code=500(int64)")
		res := ask(t, st, "srslo", `{"calculations":[{"op":"HEATMAP","column":"ms"}]}`)
		var counts []string
		for _, b := range res.Results[0].Data["HEATMAP(ms)"].(query.Heatmap).Buckets {
			counts = append(counts, fmt.Sprint(b.Count))
		}
		want(t, "heatmap "+when, strings.Join(counts, " "), "1000000000 1000000000 1")
		a := explainRun(t, st, "srslo", &explain.Request{Selection: explain.Selection{Filters: []query.Filter{{Column: "status_code", Op: ">=", Value: float64(500)}}}})
		want(t, "explain "+when, fmt.Sprintf("%d/%d", a.SelectionCount, a.BaselineCount), "1000000000/1000000001")
	}
	check("as stored")

	c := store.Counter{Name: "api", Dataset: "srslo", Good: "status_code < 500"}
	var got tally
	cs := st.(Counts)
	cs.OnCounts(got.apply)
	if err := cs.SetCounter(ctx, c, true, got.install); err != nil {
		t.Fatalf("an SLO over the dataset: %v", err)
	}
	want(t, "SLO counts", got.String(), "m0 e2000000001 g1000000001 i0")
	put(t, st, "srslo", ev(3*time.Second, math.MaxInt64, map[string]any{"status_code": int64(503)}))
	got.await(t, "SLO counts as events arrive", "m0 e3000000001 g1000000001 i0")

	st = open(t, Config{Reopen: st})
	cs = st.(Counts)
	var again tally
	cs.OnCounts(again.apply)
	if err := cs.SetCounter(ctx, c, true, again.install); err != nil {
		t.Fatalf("the SLO after a restart: %v", err)
	}
	want(t, "SLO counts after a restart", again.String(), "m0 e3000000001 g1000000001 i0")
	want(t, "count after a restart", rows(ask(t, st, "srslo", `{"calculations":[{"op":"COUNT"}]}`)), "COUNT=3000000001(int64)")
}

// integerSums: SUM and AVG of an integer column are exact while the total
// fits an int64, whatever the partial sums and weighted products, and a
// float64 beyond; a float total past ±1.8e308 is null, not an error.
func integerSums(t *testing.T, open Opener) {
	st := open(t, Config{})
	const m = event.MaxSampleRate
	put(t, st, "big", // unweighted: the total is 2^64 - 2
		ev(0, 1, map[string]any{"n": int64(math.MaxInt64), "f": 1.7e308}),
		ev(time.Second, 1, map[string]any{"n": int64(math.MaxInt64), "f": 1.7e308}))
	want(t, "past int64", rows(ask(t, st, "big", `{"calculations":[{"op":"SUM","column":"n"},{"op":"SUM","column":"f"},{"op":"MAX","column":"f"}]}`)),
		"MAX(f)=1.7e+308f SUM(f)=<nil>(<nil>) SUM(n)=1.84467441e+19f")

	put(t, st, "fits", // 4·10^18 + 5·10^18 - 3: exact, though no float64 holds it
		ev(0, m, map[string]any{"n": int64(4_000_000_000)}),
		ev(time.Second, m, map[string]any{"n": int64(5_000_000_000)}),
		ev(2*time.Second, 1, map[string]any{"n": int64(-3)}))
	want(t, "weighted, fits", rows(ask(t, st, "fits", `{"calculations":[{"op":"SUM","column":"n"}]}`)), "SUM(n)=8999999999999999997(int64)")

	put(t, st, "cancel", // each product is past int64; their total is -10^9
		ev(0, m, map[string]any{"n": int64(math.MaxInt64)}),
		ev(time.Second, m, map[string]any{"n": int64(math.MinInt64)}))
	want(t, "weighted products past int64", rows(ask(t, st, "cancel", `{"calculations":[{"op":"SUM","column":"n"},{"op":"AVG","column":"n"}]}`)),
		"AVG(n)=-0.5f SUM(n)=-1000000000(int64)")

	put(t, st, "huge", // 2 × (2^63-1) × 10^9
		ev(0, m, map[string]any{"n": int64(math.MaxInt64)}),
		ev(time.Second, m, map[string]any{"n": int64(math.MaxInt64)}))
	want(t, "weighted past int64", rows(ask(t, st, "huge", `{"calculations":[{"op":"SUM","column":"n"},{"op":"AVG","column":"n"},{"op":"COUNT"}]}`)),
		"AVG(n)=9.22337204e+18f COUNT=2000000000(int64) SUM(n)=1.84467441e+28f")
}

// Breaker is what a store's conformance test offers to make one dataset
// fail as the store meets it (a segment that cannot be counted or
// dropped), so that a case can check the failure stays with the dataset.
type Breaker interface {
	Break(t *testing.T, st Events, dataset string)
}

// retentionIsolation: the retention sweep drops what expired in every
// dataset even when one dataset fails; with a Breaker, one does.
func retentionIsolation(t *testing.T, open Opener, br Breaker) {
	ctx := context.Background()
	st := open(t, Config{Retention: 100 * 24 * time.Hour})
	now := time.Now().UTC()
	day := 24 * time.Hour
	for _, ds := range []string{"a", "broken", "z"} {
		put(t, st, ds,
			event.Event{Time: now.Add(-10 * day), SampleRate: 1, Fields: map[string]any{"k": int64(1)}},
			event.Event{Time: now.Add(-time.Minute), SampleRate: math.MaxInt64, Fields: map[string]any{"k": int64(2)}})
		if err := st.SetRetention(ctx, ds, 5*day); err != nil {
			t.Fatal(err)
		}
		if err := st.(Counts).SetCounter(ctx, store.Counter{Name: "slo_" + ds, Dataset: ds, Good: "k < 2"}, true, nil); err != nil {
			t.Fatal(err)
		}
	}
	if br != nil {
		br.Break(t, st, "broken")
	}
	if _, err := st.DropExpired(ctx, now); err != nil {
		t.Logf("sweep: %v", err) // the broken dataset may say so
	}
	count := func(ds string) string {
		s := fmt.Sprintf(`{"calculations":[{"op":"COUNT"}],"start_time":%d,"end_time":%d}`, now.Add(-20*day).Unix(), now.Add(time.Minute).Unix())
		return rows(ask(t, st, ds, s))
	}
	for _, ds := range []string{"a", "z"} {
		want(t, "dataset "+ds+" after the sweep", count(ds), "COUNT=1000000000(int64)")
	}
	if br == nil {
		want(t, "dataset broken after the sweep", count("broken"), "COUNT=1000000000(int64)")
	}
}
