package main

import (
	"encoding/csv"
	"math"
	"strings"
	"testing"
	"time"
)

// TestRiskRegisterLearnsFromIncident: risks applied as code are ranked
// against the SLO's budget; an alert episode on test data is measured as
// an incident (bad start, detection, burn end), linked to a risk, and its
// time to detect and repair appear in the register beside the estimates.
func TestRiskRegisterLearnsFromIncident(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	key := newKey(t, data, "admin")
	s := startServer(t, data, "--eval-interval", "500ms")
	defer s.stop()
	out := applySLO(t, s, key, `apiVersion: prodex/v1
kind: SLO
metadata: {name: checkout-availability}
spec: {dataset: checkout, target: 99.9, window: 30d, sli: {good: status_code < 500}}
---
apiVersion: prodex/v1
kind: Risk
metadata: {name: primary-db-failover}
spec: {slo: checkout-availability, ettd: 30m, ettr: 60m, frequency_per_year: 4, impact_percent: 50}
---
apiVersion: prodex/v1
kind: Risk
metadata: {name: bad-deploy}
spec:
  slo: checkout-availability
  description: "a release | that breaks <b>checkout</b>"
  owner: "=HYPERLINK(\"http://x\")"
  ettd: 10m
  ettr: 20m
  frequency_per_year: 12
  impact_percent: 100
  links: [{title: runbook, url: "https://runbooks.example/deploy"}]
`)
	for _, want := range []string{"slo/checkout-availability created", "risk/primary-db-failover created", "risk/bad-deploy created"} {
		if !strings.Contains(out, want) {
			t.Fatalf("apply said %q, want %q", out, want)
		}
	}
	type entry struct {
		Rank int
		Risk struct {
			Name string
			ETTD string
		}
		PerYear  float64 `json:"bad_minutes_per_year"`
		Percent  float64 `json:"year_budget_percent"`
		Observed *struct {
			Incidents   int
			TTD, TTR    string
			Impact      float64 `json:"impact_percent"`
			Suggestions []string
		}
	}
	var reg struct {
		YearBudget float64 `json:"year_budget_minutes"`
		Total      float64 `json:"total_bad_minutes_per_year"`
		Achievable bool
		Risks      []entry
	}
	call(t, "GET", s.url+"/api/v1/slos/checkout-availability/risks", key, nil, &reg)
	if math.Abs(reg.YearBudget-525.6) > 1e-6 || reg.Total != 540 || reg.Achievable || len(reg.Risks) != 2 ||
		reg.Risks[0].Risk.Name != "bad-deploy" || reg.Risks[1].PerYear != 180 || math.Round(reg.Risks[1].Percent) != 34 {
		t.Fatalf("register: %+v", reg)
	}

	// Refused definitions name the field.
	for _, c := range []struct {
		body map[string]any
		want string
	}{
		{map[string]any{"slo": "nope", "ettd": "5m", "ettr": "5m", "frequency_per_year": 1, "impact_percent": 1}, `slo: "nope" does not exist`},
		{map[string]any{"slo": "checkout-availability", "ettd": "soon", "ettr": "5m", "frequency_per_year": 1, "impact_percent": 1}, "invalid duration"},
		{map[string]any{"slo": "checkout-availability", "ettd": "5m", "ettr": "5m", "frequency_per_year": 1, "impact_percent": 0}, "impact_percent"},
	} {
		var e struct{ Error string }
		if code := call(t, "PUT", s.url+"/api/v1/risks/x", key, c.body, &e); code != 400 || !strings.Contains(e.Error, c.want) {
			t.Errorf("PUT %v: %d %q, want 400 %q", c.body, code, e.Error, c.want)
		}
	}

	// Exports for a planning meeting: markup and formulas stay text.
	md, err := prodexCLI(t, nil, "risk", "report", "--slo", "checkout-availability", "--format", "markdown", "--server", s.url, "--key", key)
	if err != nil || !strings.Contains(md, "| 1 | bad\\-deploy |") || strings.Contains(md, "<b>") || !strings.Contains(md, "not achievable") {
		t.Errorf("markdown: %v\n%s", err, md)
	}
	csvText, err := prodexCLI(t, nil, "risk", "report", "--slo", "checkout-availability", "--format", "csv", "--server", s.url, "--key", key)
	rows, cerr := csv.NewReader(strings.NewReader(csvText)).ReadAll()
	if err != nil || cerr != nil || len(rows) != 3 || rows[1][1] != "bad-deploy" || rows[1][4] != `'=HYPERLINK("http://x")` {
		t.Errorf("csv: %v %v\n%s", err, cerr, csvText)
	}

	// What-if: a faster alert, nothing saved.
	wi, err := prodexCLI(t, nil, "risk", "what-if", "primary-db-failover", "--ettd", "5m", "--server", s.url, "--key", key)
	if err != nil || !strings.Contains(wi, "180.0 → 130.0 bad minutes a year") || !strings.Contains(wi, "saves 50.0 bad minutes a year") {
		t.Errorf("what-if: %v\n%s", err, wi)
	}
	var stored struct{ ETTD string }
	call(t, "GET", s.url+"/api/v1/risks/primary-db-failover", key, nil, &stored)
	if stored.ETTD != "30m" {
		t.Errorf("what-if changed the stored risk: ettd %s", stored.ETTD)
	}

	// An incident: good traffic, then four minutes at 50 % errors up to
	// now, which pages.
	now := time.Now()
	sendEvents(t, s, key, "checkout", 3000, 0, now.Add(-6*time.Minute), 25*time.Minute)
	sendEvents(t, s, key, "checkout", 2000, 2, now, 4*time.Minute)
	var alertID string
	for deadline := time.Now().Add(15 * time.Second); alertID == "" && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		var alerts []struct{ ID, Severity string }
		call(t, "GET", s.url+"/api/v1/alerts?slo=checkout-availability", key, nil, &alerts)
		for _, a := range alerts {
			if a.Severity == "page" {
				alertID = a.ID
			}
		}
	}
	if alertID == "" {
		t.Fatal("no page")
	}
	// The burn stops: the next minute is good.
	time.Sleep(time.Until(time.Now().Truncate(time.Minute).Add(time.Minute + time.Second)))
	sendEvents(t, s, key, "checkout", 500, 0, time.Now(), 0)
	time.Sleep(1500 * time.Millisecond) // counted
	var incidents []struct {
		AlertID  string `json:"alert_id"`
		Severity string
		BadStart time.Time `json:"bad_start"`
		Detected time.Time
		BadEnd   *time.Time `json:"bad_end"`
		TTD, TTR string
		Impact   float64 `json:"impact_percent"`
	}
	call(t, "GET", s.url+"/api/v1/slos/checkout-availability/incidents", key, nil, &incidents)
	var inc *struct {
		AlertID  string `json:"alert_id"`
		Severity string
		BadStart time.Time `json:"bad_start"`
		Detected time.Time
		BadEnd   *time.Time `json:"bad_end"`
		TTD, TTR string
		Impact   float64 `json:"impact_percent"`
	}
	for i := range incidents {
		if incidents[i].AlertID == alertID {
			inc = &incidents[i]
		}
	}
	if inc == nil || inc.BadEnd == nil {
		t.Fatalf("incidents: %+v", incidents)
	}
	ttd := inc.Detected.Sub(inc.BadStart)
	// The bad period ends on a minute; a page detected within the second
	// after it (slow under CI's load: 21:11:00.3 against 21:11:00) has a
	// TTR of 0, which the server reports, not a negative one.
	ttr := max(inc.BadEnd.Sub(inc.Detected), 0)
	if ttd < 3*time.Minute || ttd > 6*time.Minute || inc.Detected.After(inc.BadEnd.Add(time.Minute)) || ttr > 2*time.Minute || inc.Impact < 40 || inc.Impact > 55 {
		t.Errorf("incident: bad from %s, detected %s, ended %s (TTD %s, TTR %s), impact %.1f%%", inc.BadStart, inc.Detected, inc.BadEnd, inc.TTD, inc.TTR, inc.Impact)
	}
	t.Logf("measured: TTD %s, TTR %s, impact %.1f%%", inc.TTD, inc.TTR, inc.Impact)

	// Linked to the risk, the register shows observed against estimated.
	if out, err := prodexCLI(t, nil, "risk", "link", "primary-db-failover", alertID, "--server", s.url, "--key", key); err != nil {
		t.Fatalf("link: %v %s", err, out)
	}
	call(t, "GET", s.url+"/api/v1/slos/checkout-availability/risks", key, nil, &reg)
	o := reg.Risks[1].Observed
	if reg.Risks[1].Risk.Name != "primary-db-failover" || o == nil || o.Incidents != 1 || o.TTD != inc.TTD && o.TTD == "" || len(o.Suggestions) == 0 ||
		!strings.HasPrefix(o.Suggestions[0], "ettd: 30m estimated") {
		t.Errorf("observed: %+v", o)
	}
	table, err := prodexCLI(t, nil, "risk", "report", "--slo", "checkout-availability", "--server", s.url, "--key", key)
	if err != nil || !strings.Contains(table, "primary-db-failover: 1 incidents observed") {
		t.Errorf("report: %v\n%s", err, table)
	}
	var e struct{ Error string }
	if code := call(t, "GET", s.url+"/api/v1/slos/checkout-availability/risks?format=pdf", key, nil, &e); code != 400 || !strings.Contains(e.Error, "format") {
		t.Errorf("format=pdf: %d %s", code, e.Error)
	}
	if code := call(t, "GET", s.url+"/api/v1/slos/nope/risks", key, nil, &e); code != 404 {
		t.Errorf("risks of a missing SLO: %d %s", code, e.Error)
	}
}
