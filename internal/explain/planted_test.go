package explain_test

import (
	"context"
	"fmt"
	"math/rand"
	"testing"
	"time"

	"github.com/prodex/prodex/internal/event"
	"github.com/prodex/prodex/internal/explain"
	"github.com/prodex/prodex/internal/query"
	"github.com/prodex/prodex/internal/store/duckdb"
)

// wide makes n events with 52 columns: strings of cardinalities from 2 to
// 1,000, integers, floats and booleans. bad decides which events fail;
// sampled gives them random sample rates.
func wide(r *rand.Rand, n int, sampled bool, bad func(map[string]any) bool) []event.Event {
	cards := []int{2, 5, 10, 50, 200, 1000}
	evs := make([]event.Event, n)
	for i := range evs {
		f := map[string]any{}
		for j := 0; j < 20; j++ {
			f[fmt.Sprintf("s%02d", j)] = fmt.Sprintf("v%d", r.Intn(cards[j%len(cards)]))
		}
		for j := 0; j < 15; j++ {
			f[fmt.Sprintf("i%02d", j)] = int64(r.Intn([]int{3, 20, 5000}[j%3]))
		}
		for j := 0; j < 10; j++ {
			f[fmt.Sprintf("f%02d", j)] = r.NormFloat64() * 100
		}
		for j := 0; j < 6; j++ {
			f[fmt.Sprintf("b%02d", j)] = r.Intn(2) == 0
		}
		code := int64(200)
		if bad(f) || r.Intn(400) == 0 {
			code = 503
		}
		f["status_code"] = code
		sr := int64(1)
		if sampled {
			sr = int64(1 + r.Intn(10))
		}
		evs[i] = event.Event{Time: now.Add(-time.Duration(r.Intn(1800)) * time.Second), SampleRate: sr, Fields: f}
	}
	return evs
}

func explainErrors(t *testing.T, evs []event.Event) *explain.Answer {
	t.Helper()
	st, err := duckdb.Open(t.TempDir(), duckdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Append(context.Background(), []*event.Batch{{Dataset: "shop", Events: evs}}); err != nil {
		t.Fatal(err)
	}
	return run(t, st, &explain.Request{TimeRange: 3600, Selection: explain.Selection{Filters: []query.Filter{{Column: "status_code", Op: ">=", Value: float64(500)}}}}, nil)
}

// top returns the columns in rank order, without the selection's own.
func top(a *explain.Answer) []string {
	var out []string
	for _, c := range a.Columns {
		if c.Column != "status_code" {
			out = append(out, c.Column)
		}
	}
	return out
}

// TestPlantedCause: errors concentrated in one value of one column (of
// several kinds and cardinalities) put that column first, for many seeds,
// with and without sample rates.
func TestPlantedCause(t *testing.T) {
	for seed := int64(1); seed <= 6; seed++ {
		r := rand.New(rand.NewSource(seed))
		col := []string{"s03", "s07", "s14", "i01", "i04", "b02"}[seed-1]
		var planted any
		switch col[0] {
		case 's':
			planted = "v1"
		case 'i':
			planted = int64(2)
		case 'b':
			planted = true
		}
		bad := func(f map[string]any) bool { return f[col] == planted && r.Intn(4) != 0 }
		for _, sampled := range []bool{false, true} {
			a := explainErrors(t, wide(r, 4000, sampled, bad))
			if got := top(a); got[0] != col {
				t.Errorf("seed %d (sampled %v): planted %s ranks after %v", seed, sampled, col, got[:3])
			}
			if len(a.Columns) != 52 {
				t.Errorf("%d columns compared, want 52", len(a.Columns))
			}
		}
	}
}

// TestPlantedConjunction: errors only where two columns take given values
// put both columns first.
func TestPlantedConjunction(t *testing.T) {
	for seed := int64(10); seed < 14; seed++ {
		r := rand.New(rand.NewSource(seed))
		bad := func(f map[string]any) bool { return f["s02"] == "v3" && f["i01"] == int64(7) }
		a := explainErrors(t, wide(r, 8000, seed%2 == 0, bad))
		got := top(a)
		if !(got[0] == "s02" && got[1] == "i01" || got[0] == "i01" && got[1] == "s02") {
			t.Errorf("seed %d: conjunction of s02 and i01 ranks %v", seed, got[:4])
		}
	}
}

// TestSampledPopulations: with populations larger than the sample, the
// planted column still ranks first and the answer says it sampled.
func TestSampledPopulations(t *testing.T) {
	defer explain.SetSampleSize(1500)()
	r := rand.New(rand.NewSource(21))
	bad := func(f map[string]any) bool { return f["s07"] == "v1" && r.Intn(4) != 0 }
	a := explainErrors(t, wide(r, 8000, true, bad))
	if !a.Sampled || top(a)[0] != "s07" {
		t.Fatalf("sampled %v, ranking %v", a.Sampled, top(a)[:3])
	}
	for _, c := range a.Columns {
		var sum float64
		for _, v := range c.Values {
			sum += v.BaselineShare
		}
		if sum > 1+1e-9 {
			t.Errorf("%s: baseline shares add up to %v", c.Column, sum)
		}
	}
}
