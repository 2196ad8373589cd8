package risk

import (
	"strings"
	"testing"
	"time"

	"github.com/prodex/prodex/internal/duration"
)

func testRegister() Register {
	m := func(n int) duration.Coarse { return duration.Coarse(time.Duration(n) * time.Minute) }
	return Register{
		SLO: "checkout-availability", Target: 99.9, Window: "30d", YearBudgetMinutes: 525.6,
		Risks: []Entry{
			{Rank: 1, Risk: Risk{Name: "db-failover", Status: "open", ETTD: m(5), ETTR: m(30), FrequencyPerYear: 4, ImpactPercent: 100},
				Cost:              Cost{BadMinutesPerIncident: 35, BadMinutesPerYear: 140, YearBudgetPercent: 26.64, IncidentBudgetPercent: 81, IncidentTooCostly: true},
				CumulativePercent: 26.64,
				Observed:          &Observed{Incidents: 2, TTD: m(9), TTR: m(20), ImpactPercent: 50, Suggestions: []string{"ettd to 9m"}}},
			{Rank: 2, Risk: Risk{Name: "bad-deploy", Status: "accepted", ETTD: m(2), ETTR: m(10), FrequencyPerYear: 12, ImpactPercent: 5},
				Cost: Cost{BadMinutesPerIncident: 0.6, BadMinutesPerYear: 7.2, YearBudgetPercent: 1.37}, CumulativePercent: 28.01},
		},
		TotalBadMinutesPerYear: 147.2, TotalBudgetPercent: 28.01, Achievable: true, HeadroomMinutes: 378.4,
	}
}

func TestWriteTable(t *testing.T) {
	var b strings.Builder
	if err := WriteTable(&b, testRegister()); err != nil {
		t.Fatal(err)
	}
	want := "" +
		"Risks to SLO checkout-availability (99.9% over 30d): budget 525.6 bad minutes a year\n" +
		"\n" +
		"#  RISK         STATUS    ETTD  ETTR  /YEAR  IMPACT  BAD MIN/INCIDENT  BAD MIN/YEAR  % BUDGET  CUMULATIVE  FLAGS\n" +
		"1  db-failover  open      5m    30m   4      100%    35.0              140.0         26.6%     26.6%       one incident = 81% of window budget\n" +
		"2  bad-deploy   accepted  2m    10m   12     5%      0.6               7.2           1.4%      28.0%       \n" +
		"\n" +
		"Total 147.2 bad minutes a year = 28.0% of the budget: the SLO is achievable (headroom 378.4 minutes).\n" +
		"db-failover: 2 incidents observed: TTD 9m, TTR 20m, impact 50.0%; update ettd to 9m\n"
	if b.String() != want {
		t.Errorf("register:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestWriteWhatIfTable(t *testing.T) {
	reg := testRegister()
	reg.Achievable, reg.Risks = false, reg.Risks[1:]
	reg.Risks[0].ThreatensSLO = true
	w := WhatIf{Risk: "bad-deploy", Before: Entry{Rank: 2, Cost: Cost{BadMinutesPerYear: 7.2, YearBudgetPercent: 1.37}},
		After: Entry{Rank: 1, Cost: Cost{BadMinutesPerYear: 3.6, YearBudgetPercent: 0.68}}, BadMinutesSavedPerYear: 3.6, BudgetPercentFreed: 0.69, Register: reg}
	var b strings.Builder
	if err := WriteWhatIfTable(&b, w); err != nil {
		t.Fatal(err)
	}
	head := "bad-deploy: 7.2 → 3.6 bad minutes a year (1.4% → 0.7% of the budget), rank 2 → 1\n" +
		"saves 3.6 bad minutes a year, 0.7% of the yearly budget\n\n" +
		"Risks to SLO checkout-availability"
	if !strings.HasPrefix(b.String(), head) {
		t.Errorf("what-if:\n%s\nwant it to begin:\n%s", b.String(), head)
	}
	for _, s := range []string{"THREATENS SLO\n", ": the SLO is NOT achievable with these risks (headroom"} {
		if !strings.Contains(b.String(), s) {
			t.Errorf("what-if without %q:\n%s", s, b.String())
		}
	}
}

func TestWriteIncidents(t *testing.T) {
	start := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	list := []Incident{
		{AlertID: "a1", Severity: "page", BadStart: start, Detected: start.Add(4 * time.Minute), TTD: duration.Coarse(4 * time.Minute),
			TTR: duration.Coarse(20 * time.Minute), ImpactPercent: 12.34, BadMinutes: 2.96},
		{AlertID: "a2", Severity: "ticket", BadStart: start, Detected: start.Add(time.Hour), TTD: duration.Coarse(time.Hour), Ongoing: true},
	}
	var b strings.Builder
	if err := WriteIncidents(&b, list); err != nil {
		t.Fatal(err)
	}
	local := func(t time.Time) string { return t.Local().Format(time.DateTime) }
	want := "" +
		"ALERT  SEVERITY  BAD FROM             DETECTED             TTD  TTR           IMPACT  BAD MINUTES\n" +
		"a1     page      " + local(start) + "  " + local(start.Add(4*time.Minute)) + "  4m   20m           12.3%   3.0\n" +
		"a2     ticket    " + local(start) + "  " + local(start.Add(time.Hour)) + "  1h   0m (ongoing)  0.0%    0.0\n"
	if b.String() != want {
		t.Errorf("incidents:\n%s\nwant:\n%s", b.String(), want)
	}
}
