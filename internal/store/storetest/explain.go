package storetest

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prodex/prodex/internal/event"
	"github.com/prodex/prodex/internal/explain"
	"github.com/prodex/prodex/internal/problem"
	"github.com/prodex/prodex/internal/query"
	"github.com/prodex/prodex/internal/slo"
)

// explainEvents: build 4512 on host db-3 fails (code 500); ms is slow
// there. Region and cached are absent from some events; sample rates
// weigh every share.
//
//	#  min sr build host ms   code region cached
//	1  1   2  4512  db-3 1000 500  -      false
//	2  40  1  4512  db-3 800  500  eu     -
//	3  2   1  4511  db-1 100  500  us     -
//	4  3   3  4511  db-1 0    200  us     true
//	5  4   2  4511  db-2 200  200  eu     true
//	6  5   1  4512  db-2 400  200  -      -
//	7  6   2  4510  db-3 600  200  us     -
func explainEvents(t *testing.T, st Events) {
	row := func(min time.Duration, sr, build int64, host string, ms float64, code int64, region string, cached any) map[string]any {
		f := map[string]any{"build": build, "host": host, "ms": ms, "code": code}
		if region != "" {
			f["region"] = region
		}
		if cached != nil {
			f["cached"] = cached
		}
		return f
	}
	put(t, st, "x",
		ev(time.Minute, 2, row(1, 2, 4512, "db-3", 1000, 500, "", false)),
		ev(40*time.Minute, 1, row(40, 1, 4512, "db-3", 800, 500, "eu", nil)),
		ev(2*time.Minute, 1, row(2, 1, 4511, "db-1", 100, 500, "us", nil)),
		ev(3*time.Minute, 3, row(3, 3, 4511, "db-1", 0, 200, "us", true)),
		ev(4*time.Minute, 2, row(4, 2, 4511, "db-2", 200, 200, "eu", true)),
		ev(5*time.Minute, 1, row(5, 1, 4512, "db-2", 400, 200, "", nil)),
		ev(6*time.Minute, 2, row(6, 2, 4510, "db-3", 600, 200, "us", nil)))
}

// explainAnswer renders an answer: the populations, then a line per
// column in rank order with its score and its values (selection and
// baseline shares and counts), and the filter that follows a value up.
func explainAnswer(a *explain.Answer) string {
	var b strings.Builder
	fmt.Fprintf(&b, "selection %d baseline %d sampled %v", a.SelectionCount, a.BaselineCount, a.Sampled)
	for _, c := range a.Columns {
		fmt.Fprintf(&b, "\n%s:%s %s", c.Column, c.Type, trimFloat(c.Score))
		for _, v := range c.Values {
			fmt.Fprintf(&b, " | %v %s/%s %d/%d", v.Value, trimFloat(v.SelectionShare), trimFloat(v.BaselineShare), v.SelectionCount, v.BaselineCount)
			if f := v.Filter; f != nil {
				fmt.Fprintf(&b, " [%s %v(%T)]", f.Op, f.Value, f.Value)
			}
		}
		if g := c.GroupBy; g == nil || len(g.Breakdowns) != 1 || g.Breakdowns[0] != c.Column {
			fmt.Fprintf(&b, " (follow-up %+v)", g)
		}
	}
	return b.String()
}

func explainRun(t *testing.T, st Events, ds string, r *explain.Request) *explain.Answer {
	t.Helper()
	if r.StartTime == 0 && r.TimeRange == 0 {
		r.StartTime, r.EndTime = t0.Unix(), t0.Add(time.Hour).Unix()
	}
	a, err := explain.Ask(context.Background(), st, ds, r, t0.Add(time.Hour), func(string) (slo.SLO, bool) { return slo.SLO{}, false })
	if err != nil {
		t.Fatalf("explain %+v: %v", r.Selection, err)
	}
	return a
}

// explainFilter: the failing events (code ≥ 500: #1–3, weight 4) against
// the rest (#4–7, weight 8). Worked out by hand:
//   - code: 500 holds the whole selection, 200 the whole baseline: 1;
//   - ms: range 0…1000 in 20 bins of 50 (1000 falls in the last), no bin
//     in common: 1. Ties go to the value's text, so bin "12" before "2";
//   - build: 4512 is 3/4 of the selection and 1/8 of the baseline; the
//     differences .625, .375 (4511) and .25 (4510) halve to .625;
//   - cached: false .5/0, absent .5/.375, true 0/.625: .625;
//   - host: db-3 .75/.25, db-2 0/.375, db-1 .25/.375: .5;
//   - region: absent .5/.125, us .25/.625, eu .25/.25: .375, us before
//     absent on a tie.
func explainFilter(t *testing.T, open Opener) {
	st := open(t, Config{})
	explainEvents(t, st)
	a := explainRun(t, st, "x", &explain.Request{Selection: explain.Selection{Filters: []query.Filter{{Column: "code", Op: ">=", Value: float64(500)}}}})
	want(t, "filter selection", explainAnswer(a), strings.Join([]string{
		"selection 4 baseline 8 sampled false",
		"code:integer 1 | 200 0/1 0/8 [= 200(int64)] | 500 1/0 4/0 [= 500(int64)]",
		"ms:float 1 | 950 – 1000 0.5/0 2/0 | 0 – 50 0/0.375 0/3 | 600 – 650 0/0.25 0/2 | 800 – 850 0.25/0 1/0 | 100 – 150 0.25/0 1/0",
		"build:integer 0.625 | 4512 0.75/0.125 3/1 [= 4512(int64)] | 4511 0.25/0.625 1/5 [= 4511(int64)] | 4510 0/0.25 0/2 [= 4510(int64)]",
		"cached:boolean 0.625 | true 0/0.625 0/5 [= true(bool)] | false 0.5/0 2/0 [= false(bool)] | (absent) 0.5/0.375 2/3 [does-not-exist <nil>(<nil>)]",
		"host:string 0.5 | db-3 0.75/0.25 3/2 [= db-3(string)] | db-2 0/0.375 0/3 [= db-2(string)] | db-1 0.25/0.375 1/3 [= db-1(string)]",
		"region:string 0.375 | us 0.25/0.625 1/5 [= us(string)] | (absent) 0.5/0.125 2/1 [does-not-exist <nil>(<nil>)] | eu 0.25/0.25 1/2 [= eu(string)]",
	}, "\n"))
	// A base filter narrows both populations: without db-1 the selection
	// is #1–2 (weight 3, all build 4512), the baseline #5–7
	// (weight 5, 4512 a fifth of it).
	a = explainRun(t, st, "x", &explain.Request{Values: 1, Filters: []query.Filter{{Column: "host", Op: "!=", Value: "db-1"}},
		Selection: explain.Selection{Filters: []query.Filter{{Column: "code", Op: "=", Value: float64(500)}}}})
	_, c := explainColumn(a, "build")
	want(t, "base filter", fmt.Sprintf("%d/%d %v %v", a.SelectionCount, a.BaselineCount, c.Score, c.Values[0].Value), "3/5 0.8 4512")
	if _, err := explain.Ask(context.Background(), st, "missing", &explain.Request{TimeRange: 3600}, t0, nil); !errors.Is(err, problem.ErrNotFound) {
		t.Errorf("explain of a missing dataset: %v, want problem.ErrNotFound", err)
	}
}

// explainHeatmap: a heatmap region, ms 700…1000 over the first half
// hour, holds #1 alone (weight 2); #2 (800 at 40 min) is outside it. With
// the selection one value v, a column scores 1 − v's baseline share.
// The baseline (#2–7) weighs 10: build 4512 .2 (→ .8), host db-3 .3
// (→ .7), code 500 .2 (→ .8; 200's difference ties at .8), region absent
// .1 (→ .9), cached false 0 (→ 1), ms bin 19 0 (→ 1).
func explainHeatmap(t *testing.T, open Opener) {
	st := open(t, Config{})
	explainEvents(t, st)
	a := explainRun(t, st, "x", &explain.Request{Selection: explain.Selection{Heatmap: &explain.Heatmap{Column: "ms", Min: 700, Max: 1000,
		StartTime: t0.Unix(), EndTime: t0.Add(30 * time.Minute).Unix()}}})
	want(t, "heatmap selection", explainAnswer(a), strings.Join([]string{
		"selection 2 baseline 10 sampled false",
		"cached:boolean 1 | false 1/0 2/0 [= false(bool)] | true 0/0.5 0/5 [= true(bool)] | (absent) 0/0.5 0/5 [does-not-exist <nil>(<nil>)]",
		"ms:float 1 | 950 – 1000 1/0 2/0 | 0 – 50 0/0.3 0/3 | 600 – 650 0/0.2 0/2 | 200 – 250 0/0.2 0/2 | 800 – 850 0/0.1 0/1",
		"region:string 0.9 | (absent) 1/0.1 2/1 [does-not-exist <nil>(<nil>)] | us 0/0.6 0/6 [= us(string)] | eu 0/0.3 0/3 [= eu(string)]",
		"build:integer 0.8 | 4512 1/0.2 2/2 [= 4512(int64)] | 4511 0/0.6 0/6 [= 4511(int64)] | 4510 0/0.2 0/2 [= 4510(int64)]",
		"code:integer 0.8 | 200 0/0.8 0/8 [= 200(int64)] | 500 1/0.2 2/2 [= 500(int64)]",
		"host:string 0.7 | db-3 1/0.3 2/3 [= db-3(string)] | db-1 0/0.4 0/4 [= db-1(string)] | db-2 0/0.3 0/3 [= db-2(string)]",
	}, "\n"))
}

func explainColumn(a *explain.Answer, name string) (int, explain.Column) {
	for i, c := range a.Columns {
		if c.Column == name {
			return i, c
		}
	}
	return -1, explain.Column{}
}

// explainRare: values under 1 % of all events that hold under a tenth of
// the selection are pooled. 200 events, one a user; the selection (kind
// a) is the first 20, ten of them user vip (half the selection: kept),
// the others u10…u19 (1/20 of it each: pooled, as u20…u199 are). vip is
// .5/0 and the pool .5/1: user scores .5, vip first on the tie.
func explainRare(t *testing.T, open Opener) {
	st := open(t, Config{})
	evs := make([]event.Event, 200)
	for i := range evs {
		f := map[string]any{"kind": "b", "user": fmt.Sprintf("u%d", i)}
		if i < 20 {
			f["kind"] = "a"
		}
		if i < 10 {
			f["user"] = "vip"
		}
		evs[i] = ev(time.Duration(i)*time.Second, 1, f)
	}
	put(t, st, "rare", evs...)
	a := explainRun(t, st, "rare", &explain.Request{Selection: explain.Selection{Filters: []query.Filter{{Column: "kind", Op: "=", Value: "a"}}}})
	want(t, "rare values", explainAnswer(a), strings.Join([]string{
		"selection 20 baseline 180 sampled false",
		"kind:string 1 | a 1/0 20/0 [= a(string)] | b 0/1 0/180 [= b(string)]",
		"user:string 0.5 | vip 0.5/0 10/0 [= vip(string)] | (other values) 0.5/1 10/180",
	}, "\n"))
}

// explainSLO: an SLO's bad events against its good ones. With every event
// eligible and good being code < 500, the bad events are the filter
// selection of explainFilter (code ≥ 500), so the answer is the same one.
// The SLI on host too (db-2 not eligible) narrows both populations.
func explainSLO(t *testing.T, open Opener) {
	st := open(t, Config{})
	explainEvents(t, st)
	slos := func(name string) (slo.SLO, bool) {
		switch name {
		case "avail":
			return slo.SLO{Name: name, Dataset: "x", SLI: slo.SLI{Good: "code < 500"}}, true
		case "nodb2":
			return slo.SLO{Name: name, Dataset: "x", SLI: slo.SLI{Eligible: `host != "db-2"`, Good: "code < 500"}}, true
		}
		return slo.SLO{}, false
	}
	ask := func(r *explain.Request) *explain.Answer {
		t.Helper()
		r.StartTime, r.EndTime = t0.Unix(), t0.Add(time.Hour).Unix()
		a, err := explain.Ask(context.Background(), st, "x", r, t0.Add(time.Hour), slos)
		if err != nil {
			t.Fatalf("explain %+v: %v", r.Selection, err)
		}
		return a
	}
	bySLO := ask(&explain.Request{Selection: explain.Selection{SLO: "avail"}})
	byFilter := ask(&explain.Request{Selection: explain.Selection{Filters: []query.Filter{{Column: "code", Op: ">=", Value: float64(500)}}}})
	want(t, "SLO selection", explainAnswer(bySLO), explainAnswer(byFilter))
	// Without db-2 (#5, #6: weight 3): selection #1–3 (weight 4), baseline
	// #4 and #7 (weight 5); build 4512 is 3/4 of the selection, 0 of the
	// baseline.
	a := ask(&explain.Request{Values: 1, Selection: explain.Selection{SLO: "nodb2"}})
	_, c := explainColumn(a, "build")
	want(t, "SLO with an eligible expression", fmt.Sprintf("%d/%d %v", a.SelectionCount, a.BaselineCount, c.Values[0].Value), "4/5 4512")
}

// explainColumnLimit: explain compares at most MaxColumns columns, chosen
// by rule: the columns the request names first, then those held by the
// most events of the selection, then of the baseline, then by name; the
// answer says how many it left out. Four selection events (code 500) and
// eight baseline ones (code 200) hold: p00…p11 all of them, r00…r11 the
// selection's alone, s one of the selection's and the baseline's, and
// q00…q11 the baseline's alone. Of 38 columns, 20 are compared: code,
// p00…p11 (4 and 8 events), r00…r06 (4 and 0). Columns asked by name are
// compared, and only they.
func explainColumnLimit(t *testing.T, open Opener) {
	st := open(t, Config{})
	var evs []event.Event
	for i := range 12 {
		f := map[string]any{"code": int64(200)}
		for k := range 12 {
			f[fmt.Sprintf("p%02d", k)] = int64((i + k) % 3)
		}
		if i < 4 {
			f["code"] = int64(500)
			for k := range 12 {
				f[fmt.Sprintf("r%02d", k)] = "yes"
			}
		} else {
			for k := range 12 {
				f[fmt.Sprintf("q%02d", k)] = 1.5
			}
		}
		if i == 0 || i >= 4 {
			f["s"] = true
		}
		evs = append(evs, ev(time.Duration(i)*time.Minute, 1, f))
	}
	put(t, st, "wide", evs...)
	sel := explain.Selection{Filters: []query.Filter{{Column: "code", Op: "=", Value: float64(500)}}}
	compared := func(a *explain.Answer) string {
		var names []string
		for _, c := range a.Columns {
			names = append(names, c.Column)
		}
		sort.Strings(names)
		return fmt.Sprintf("%s; %d compared, %d left out", strings.Join(names, " "), a.ColumnsCompared, a.ColumnsLeftOut)
	}
	a := explainRun(t, st, "wide", &explain.Request{MaxColumns: 20, Selection: sel})
	want(t, "columns compared", compared(a),
		"code p00 p01 p02 p03 p04 p05 p06 p07 p08 p09 p10 p11 r00 r01 r02 r03 r04 r05 r06; 20 compared, 18 left out")
	a = explainRun(t, st, "wide", &explain.Request{MaxColumns: 20, Columns: []string{"s", "q03"}, Selection: sel})
	want(t, "columns asked", compared(a), "q03 s; 2 compared, 36 left out")
	// Under the limit, every column is compared and none left out.
	a = explainRun(t, st, "wide", &explain.Request{Selection: sel})
	if a.ColumnsCompared != 38 || a.ColumnsLeftOut != 0 {
		t.Errorf("default limit: %d compared, %d left out; want 38 and 0", a.ColumnsCompared, a.ColumnsLeftOut)
	}
}
