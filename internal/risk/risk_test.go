package risk

import (
	"math"
	"math/rand"
	"reflect"
	"testing"
	"time"

	"github.com/prodex/prodex/internal/duration"
	"github.com/prodex/prodex/internal/slo"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9*math.Max(1, math.Abs(b)) }

var month = Budget{Target: 99.9, Window: 30 * 24 * time.Hour}

// The worked numbers of the SRE Workbook's risk analysis.
func TestBudgetAndCost(t *testing.T) {
	if w, y := month.WindowMinutes(), month.YearMinutes(); !near(w, 43.2) || !near(y, 525.6) {
		t.Errorf("99.9%% budget: %v per 30 days, %v per year; want 43.2 and 525.6", w, y)
	}
	for _, c := range []struct {
		name                          string
		r                             Risk
		b                             Budget
		perIncident, perYear, yearPct float64
		incidentPct                   float64
		tooCostly, threatens          bool
	}{
		{"issue example", Risk{ETTD: duration.Coarse(30 * time.Minute), ETTR: duration.Coarse(60 * time.Minute), FrequencyPerYear: 4, ImpactPercent: 50},
			month, 45, 180, 100 * 180 / 525.6, 100 * 45 / 43.2, true, false},
		{"rare total outage", Risk{ETTD: duration.Coarse(5 * time.Minute), ETTR: duration.Coarse(4 * time.Hour), FrequencyPerYear: 0.5, ImpactPercent: 100},
			month, 245, 122.5, 100 * 122.5 / 525.6, 100 * 245 / 43.2, true, false},
		{"frequent small blip", Risk{ETTD: duration.Coarse(2 * time.Minute), ETTR: duration.Coarse(3 * time.Minute), FrequencyPerYear: 365, ImpactPercent: 40},
			month, 2, 730, 100 * 730 / 525.6, 100 * 2 / 43.2, false, true},
		{"99 % over 7 days", Risk{ETTD: duration.Coarse(10 * time.Minute), ETTR: duration.Coarse(20 * time.Minute), FrequencyPerYear: 12, ImpactPercent: 10},
			Budget{Target: 99, Window: 7 * 24 * time.Hour}, 3, 36, 100 * 36 / 5256.0, 100 * 3 / 100.8, false, false},
		{"fixed costs nothing", Risk{ETTD: duration.Coarse(30 * time.Minute), ETTR: duration.Coarse(60 * time.Minute), FrequencyPerYear: 4, ImpactPercent: 50, Status: Fixed},
			month, 45, 0, 0, 100 * 45 / 43.2, false, false},
	} {
		got := Assess(c.r, c.b, DefaultThresholds)
		if !near(got.BadMinutesPerIncident, c.perIncident) || !near(got.BadMinutesPerYear, c.perYear) || !near(got.YearBudgetPercent, c.yearPct) ||
			!near(got.IncidentBudgetPercent, c.incidentPct) || got.IncidentTooCostly != c.tooCostly || got.ThreatensSLO != c.threatens {
			t.Errorf("%s: %+v", c.name, got)
		}
	}
	// The example is 34 % of the yearly budget.
	if p := Assess(Risk{ETTD: duration.Coarse(30 * time.Minute), ETTR: duration.Coarse(time.Hour), FrequencyPerYear: 4, ImpactPercent: 50}, month, DefaultThresholds).YearBudgetPercent; math.Round(p) != 34 {
		t.Errorf("issue example: %.1f%%", p)
	}
}

func TestRegisterStack(t *testing.T) {
	risks := []Risk{
		{Name: "db-failover", ETTD: duration.Coarse(30 * time.Minute), ETTR: duration.Coarse(time.Hour), FrequencyPerYear: 4, ImpactPercent: 50},         // 180
		{Name: "bad-deploy", ETTD: duration.Coarse(10 * time.Minute), ETTR: duration.Coarse(20 * time.Minute), FrequencyPerYear: 12, ImpactPercent: 100}, // 360
		{Name: "cert-expiry", ETTD: duration.Coarse(time.Hour), ETTR: duration.Coarse(time.Hour), FrequencyPerYear: 1, ImpactPercent: 100, Status: Fixed},
	}
	reg := Rank("checkout", "30d", month, DefaultThresholds, risks)
	if reg.Risks[0].Risk.Name != "bad-deploy" || reg.Risks[1].Risk.Name != "db-failover" || reg.Risks[2].Risk.Name != "cert-expiry" {
		t.Fatalf("order: %+v", reg.Risks)
	}
	if !near(reg.TotalBadMinutesPerYear, 540) || reg.Achievable || !near(reg.HeadroomMinutes, 525.6-540) || !near(reg.Risks[1].CumulativePercent, 100*540/525.6) {
		t.Errorf("stack: total %v achievable %v headroom %v", reg.TotalBadMinutesPerYear, reg.Achievable, reg.HeadroomMinutes)
	}
}

// Property: the cost, and so the rank, never falls when frequency,
// impact, ETTD or ETTR grow.
func TestRankMonotone(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	random := func(name string) Risk {
		return Risk{Name: name, ETTD: duration.Coarse(time.Duration(1+rng.Intn(120)) * time.Minute), ETTR: duration.Coarse(time.Duration(1+rng.Intn(600)) * time.Minute),
			FrequencyPerYear: 0.1 + rng.Float64()*50, ImpactPercent: 1 + rng.Float64()*99}
	}
	rankOf := func(risks []Risk, name string) (int, float64) {
		for _, e := range Rank("s", "30d", month, DefaultThresholds, risks).Risks {
			if e.Risk.Name == name {
				return e.Rank, e.BadMinutesPerYear
			}
		}
		t.Fatal("lost", name)
		return 0, 0
	}
	for i := 0; i < 500; i++ {
		risks := []Risk{random("a"), random("b"), random("c"), random("d")}
		k := rng.Intn(len(risks))
		rank, cost := rankOf(risks, risks[k].Name)
		grown := append([]Risk(nil), risks...)
		r := &grown[k]
		switch i % 4 {
		case 0:
			r.FrequencyPerYear *= 1 + rng.Float64()
		case 1:
			r.ImpactPercent = math.Min(100, r.ImpactPercent*(1+rng.Float64()))
		case 2:
			r.ETTD += duration.Coarse(time.Duration(1+rng.Intn(60)) * time.Minute)
		case 3:
			r.ETTR += duration.Coarse(time.Duration(1+rng.Intn(60)) * time.Minute)
		}
		rank2, cost2 := rankOf(grown, r.Name)
		if cost2 < cost || rank2 > rank {
			t.Fatalf("growing %s's estimate %d: cost %v→%v, rank %d→%d", r.Name, i%4, cost, cost2, rank, rank2)
		}
	}
}

func TestWhatIfDoesNotMutate(t *testing.T) {
	risks := []Risk{
		{Name: "db-failover", SLO: "s", ETTD: duration.Coarse(30 * time.Minute), ETTR: duration.Coarse(time.Hour), FrequencyPerYear: 4, ImpactPercent: 50, Status: Open, Links: []Link{{URL: "https://x"}}},
		{Name: "bad-deploy", SLO: "s", ETTD: duration.Coarse(10 * time.Minute), ETTR: duration.Coarse(20 * time.Minute), FrequencyPerYear: 12, ImpactPercent: 100, Status: Open},
	}
	keep := make([]Risk, len(risks))
	copy(keep, risks)
	keep[0].Links = append([]Link(nil), risks[0].Links...)
	ettd := duration.Coarse(5 * time.Minute)
	w, err := Try("s", "30d", month, DefaultThresholds, risks, "db-failover", Change{ETTD: &ettd})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(risks, keep) {
		t.Errorf("what-if changed the risks: %+v", risks)
	}
	// 30+60 → 5+60 minutes at 50 % four times a year: 180 → 130.
	if !near(w.Before.BadMinutesPerYear, 180) || !near(w.After.BadMinutesPerYear, 130) || !near(w.BadMinutesSavedPerYear, 50) || !near(w.BudgetPercentFreed, 100*50/525.6) {
		t.Errorf("what-if: %+v", w)
	}
	if _, err := Try("s", "30d", month, DefaultThresholds, risks, "nope", Change{}); err == nil {
		t.Error("what-if on a missing risk: no error")
	}
	bad := -1.0
	if _, err := Try("s", "30d", month, DefaultThresholds, risks, "db-failover", Change{FrequencyPerYear: &bad}); err == nil {
		t.Error("what-if with a negative frequency: no error")
	}
}

// minutes is a Source over per-minute (eligible, bad) counts from t0.
type minutes struct {
	t0     time.Time
	counts [][2]int64
}

func (m minutes) Sum(from, to time.Time) slo.Counts {
	var c slo.Counts
	for i, x := range m.counts {
		at := m.t0.Add(time.Duration(i) * time.Minute)
		if !at.Before(from) && at.Before(to) {
			c.Eligible += x[0]
			c.Good += x[0] - x[1]
		}
	}
	return c
}

func TestMeasure(t *testing.T) {
	t0 := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	// 100 events a minute; minutes 5-9 half bad; the page fires at 8:30.
	src := minutes{t0: t0}
	for i := 0; i < 20; i++ {
		bad := int64(0)
		if i >= 5 && i <= 9 {
			bad = 50
		}
		src.counts = append(src.counts, [2]int64{100, bad})
	}
	in := Measure("a1", "s", "page", t0.Add(8*time.Minute+30*time.Second), nil, 0.001, src, t0.Add(19*time.Minute))
	if !in.BadStart.Equal(t0.Add(5*time.Minute)) || in.BadEnd == nil || !in.BadEnd.Equal(t0.Add(10*time.Minute)) ||
		in.TTD != duration.Coarse(3*time.Minute+30*time.Second) || in.TTR != duration.Coarse(90*time.Second) || !near(in.ImpactPercent, 50) || !near(in.BadMinutes, 2.5) || in.Ongoing {
		t.Errorf("measured %+v", in)
	}
	// Still burning at now: ongoing, no end.
	in = Measure("a2", "s", "page", t0.Add(8*time.Minute+30*time.Second), nil, 0.001, src, t0.Add(9*time.Minute+10*time.Second))
	if !in.Ongoing || in.BadEnd != nil {
		t.Errorf("ongoing: %+v", in)
	}
	o := Observe(Risk{ETTD: duration.Coarse(30 * time.Minute), ETTR: duration.Coarse(90 * time.Second), ImpactPercent: 50}, []Incident{
		Measure("a1", "s", "page", t0.Add(8*time.Minute+30*time.Second), nil, 0.001, src, t0.Add(19*time.Minute))})
	if o == nil || o.Incidents != 1 || o.TTD != duration.Coarse(4*time.Minute) || len(o.Suggestions) != 1 {
		t.Errorf("observed: %+v", o)
	}
}
