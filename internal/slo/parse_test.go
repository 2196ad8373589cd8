package slo

import (
	"strings"
	"testing"
	"time"

	"github.com/prodex/prodex/internal/duration"
	"github.com/prodex/prodex/internal/notify"
)

// issueExample must parse exactly as written.
const issueExample = `apiVersion: prodex/v1
kind: SLO
metadata: {name: checkout-availability}
spec:
  dataset: checkout
  description: Checkout requests succeed
  target: 99.9
  window: 30d
  sli:
    good: status_code < 500
  notify:
    - {type: webhook, url: "http://127.0.0.1:9999/hook"}
`

const fullExample = `apiVersion: prodex/v1
kind: SLO
metadata:
  name: search-latency
  labels: {team: search, tier: "1"}
  annotations: {owner: "@search"}
spec:
  dataset: search
  runbook: https://wiki.example.com/search
  target: 99.5
  window: calendar-month
  sli:
    eligible: 'endpoint == "/search"'
    good: duration_ms < 300
  notify:
    - {type: pagerduty, routing_key: abc}
  alerts:
    min_events: 50
    burn_rates:
      - {severity: page, long_window: 1h, short_window: 5m, burn_rate: 10}
    exhaustion_page: 1d
    exhaustion_ticket: 1w
    budget_rules:
      - {severity: ticket, percent: 20, within: 1d}
`

const openSLOExample = `# imported from OpenSLO
apiVersion: openslo/v1
kind: SLO
metadata:
  name: search-availability
  displayName: Search availability
  labels: {team: search, regions: [eu, us]}
spec:
  description: Searches succeed
  service: search
  budgetingMethod: Occurrences
  timeWindow:
    - duration: 28d
      isRolling: true
  objectives:
    - displayName: good
      target: 0.999
  indicator:
    metadata: {name: search-availability}
    spec:
      ratioMetric:
        counter: true
        good:
          metricSource: {type: prodex, spec: {dataset: search, query: "status_code < 500"}}
        total:
          metricSource: {type: prodex, spec: {dataset: search, query: 'endpoint == "/search"'}}
`

func TestParse(t *testing.T) {
	slos, err := Parse([]byte("---\n" + issueExample + "---\n# comment only\n---\n" + fullExample + "...\n---\n" + openSLOExample))
	if err != nil {
		t.Fatal(err)
	}
	if len(slos) != 3 {
		t.Fatalf("%d SLOs", len(slos))
	}
	a, b, c := slos[0], slos[1], slos[2]
	if a.Name != "checkout-availability" || a.Dataset != "checkout" || a.Description != "Checkout requests succeed" || a.Target != 99.9 ||
		a.Window != (Window{Days: 30}) || a.SLI != (SLI{Good: "status_code < 500"}) ||
		len(a.Notify) != 1 || a.Notify[0] != (notify.Target{Type: "webhook", URL: "http://127.0.0.1:9999/hook"}) || a.Tags != nil {
		t.Errorf("prodex/v1: %+v", a)
	}
	al := b.Alerts
	if b.Tags["team"] != "search" || b.Tags["tier"] != "1" || !b.Window.CalendarMonth || b.Runbook != "https://wiki.example.com/search" ||
		b.SLI.Eligible != `endpoint == "/search"` || b.Notify[0].RoutingKey != "abc" || al.MinEvents != 50 ||
		al.BurnRates[0] != (BurnRule{Page, duration.Duration(time.Hour), duration.Duration(5 * time.Minute), 10}) ||
		al.ExhaustionPage != duration.Duration(day) || al.ExhaustionTicket != duration.Duration(7*day) ||
		al.BudgetRules[0] != (BudgetRule{Ticket, 20, duration.Duration(day)}) {
		t.Errorf("full prodex/v1: %+v", b)
	}
	if c.Name != "search-availability" || c.Dataset != "search" || c.Target != 99.9 || c.Window != (Window{Days: 28}) ||
		c.SLI.Good != "status_code < 500" || c.SLI.Eligible != `endpoint == "/search"` || c.Description != "Searches succeed" ||
		c.Tags["service"] != "search" || c.Tags["team"] != "search" || c.Tags["regions"] != "eu,us" {
		t.Errorf("openslo/v1: %+v", c)
	}
}

func TestParseVariants(t *testing.T) {
	cases := []struct {
		name string
		doc  string
		want func(SLO) bool
	}{
		{"JSON", `{"apiVersion": "prodex/v1", "kind": "SLO",
	"metadata": {"name": "x"},
	"spec": {"dataset": "d", "target": 99, "window": "4w", "sli": {"good": "ok"}}}`,
			func(s SLO) bool { return s.Name == "x" && s.Window.Days == 28 && s.Target == 99 }},
		{"document on the marker line", "--- {apiVersion: prodex/v1, kind: SLO, metadata: {name: x}, spec: {dataset: d, target: 99, window: 7d, sli: {good: ok}}}\n",
			func(s SLO) bool { return s.Name == "x" && s.Window.Days == 7 }},
		{"OpenSLO calendar month", strings.Replace(openSLOExample, "- duration: 28d\n      isRolling: true",
			"- duration: 1M\n      isRolling: false\n      calendar: {startTime: \"2022-01-01 00:00:00\", timeZone: UTC}", 1),
			func(s SLO) bool { return s.Window == Window{CalendarMonth: true} }},
		{"OpenSLO targetPercent", strings.Replace(openSLOExample, "target: 0.999", "targetPercent: 99.95", 1),
			func(s SLO) bool { return s.Target == 99.95 }},
		{"OpenSLO 0.9999", strings.Replace(openSLOExample, "target: 0.999", "target: 0.9999", 1),
			func(s SLO) bool { return s.Target == 99.99 }},
	}
	for _, c := range cases {
		slos, err := Parse([]byte(c.doc))
		if err != nil || len(slos) != 1 || !c.want(slos[0]) {
			t.Errorf("%s: %+v, %v", c.name, slos, err)
		}
	}
}

func TestParseErrors(t *testing.T) {
	prodex := func(old, new string) string { return strings.Replace(issueExample, old, new, 1) }
	openslo := func(old, new string) string { return strings.Replace(openSLOExample, old, new, 1) }
	const (
		p1 = `document 1 (prodex/v1 SLO "checkout-availability"): `
		o1 = `document 1 (openslo/v1 SLO "search-availability"): `
	)
	cases := []struct {
		doc, want string
	}{
		{"", "no SLO documents found"},
		{"# nothing\n---\n", "no SLO documents found"},
		{prodex("target: 99.9", "target: 100"), p1 + "spec.target: must be between 0 and 100 (exclusive), got 100"},
		{prodex("target: 99.9", `target: "99.9"`), p1 + "spec.target: want a number, got a string"},
		{prodex("window: 30d", "window: 36h"), p1 + `spec.window: invalid window "36h"`},
		{prodex("good: status_code < 500", "eligible: x"), p1 + "spec.sli.good: required"},
		{prodex("type: webhook", "type: carrier-pigeon"), p1 + `spec.notify[0].type: "carrier-pigeon" is not webhook, slack or pagerduty`},
		{prodex("description:", "descripton:"), p1 + "spec.descripton: unknown field (want one of dataset, description,"},
		{prodex("Description:", "description:"), ""}, // sanity: no change
		{prodex("dataset:", "Dataset:"), p1 + "spec.Dataset: unknown field"},
		{prodex(`url: "http`, `urls: "http`), p1 + "spec.notify[0].urls: unknown field"},
		{issueExample + "  alerts: {burn_rates: [{severity: page, long_window: 1h, short_window: 5m, burn_rate: 14.4, extra: 1}]}\n",
			p1 + "spec.alerts.burn_rates[0].extra: unknown field"},
		{issueExample + "  alerts: {exhaustion_page: soon}\n", p1 + `spec.alerts.exhaustion_page: invalid duration "soon"`},
		{issueExample + "  alerts: {min_events: 1.5}\n", p1 + "spec.alerts.min_events: want an integer, got 1.5"},
		{issueExample + "  dataset: again\n", `document 1: invalid YAML: unmarshal errors:`},
		{prodex("kind: SLO", "kind: Alert"), `document 1 (prodex/v1): kind: "Alert" is not supported (want SLO)`},
		{prodex("apiVersion: prodex/v1\n", ""), `document 1: apiVersion: (missing) is not supported`},
		{prodex("prodex/v1", "prodex/v9"), `document 1: apiVersion: "prodex/v9" is not supported (want prodex/v1 or openslo/v1)`},
		{prodex("{name: checkout-availability}", "{name: Checkout}"), `document 1 (prodex/v1 SLO "Checkout"): metadata.name: "Checkout" must be`},
		{prodex("{name: checkout-availability}", "{}"), `document 1 (prodex/v1 SLO): metadata.name: required`},
		{"- a\n- b\n", "document 1: want a mapping"},
		{issueExample + "---\n" + issueExample, `document 2 (prodex/v1 SLO "checkout-availability"): metadata.name: "checkout-availability" is already defined by document 1`},
		{issueExample + "---\nkind: SLO\nspec: [\n", "document 2: invalid YAML: line 15: did not find expected node content"},
		{openSLOExample + "---\n" + openslo("Occurrences", "Timeslices"), `document 2 (openslo/v1 SLO "search-availability"): spec.budgetingMethod: only Occurrences is supported`},
		{openslo("  budgetingMethod: Occurrences\n", ""), o1 + "spec.budgetingMethod: only Occurrences is supported"},
		{openslo("ratioMetric:", "thresholdMetric:"), o1 + "spec.indicator.spec.thresholdMetric: not supported"},
		{openslo("counter: true", "rawType: success\n        raw: {metricSource: {type: prodex, spec: {dataset: search, query: x}}}"), o1 + "spec.indicator.spec.ratioMetric.raw: raw ratios are not supported"},
		{openslo("good:\n", "bad:\n"), o1 + "spec.indicator.spec.ratioMetric.bad: not supported"},
		{openslo("type: prodex, spec: {dataset: search, query: \"status_code < 500\"}", "type: Prometheus, spec: {query: up}"),
			o1 + `spec.indicator.spec.ratioMetric.good.metricSource.type: "Prometheus" is not supported (want prodex)`},
		{openslo("type: prodex, spec: {dataset: search, query: \"status_code < 500\"}", "metricSourceRef: prom"),
			o1 + "spec.indicator.spec.ratioMetric.good.metricSource.metricSourceRef: not supported"},
		{openslo("dataset: search, query: \"status_code", "dataset: other, query: \"status_code"),
			o1 + `spec.indicator.spec.ratioMetric: good and total must query the same dataset, got "other" and "search"`},
		{openslo("query: \"status_code < 500\"", `query: ""`), o1 + "spec.indicator.spec.ratioMetric.good.metricSource.spec.query: required"},
		{openslo("target: 0.999", "target: 99.9"), o1 + "spec.objectives[0].target: must be a ratio between 0 and 1 (exclusive), e.g. 0.999, got 99.9"},
		{openslo("    - displayName: good\n      target: 0.999\n", "    - target: 0.999\n    - target: 0.99\n"), o1 + "spec.objectives: want exactly one objective, got 2"},
		{openslo("target: 0.999", "target: 0.999\n      timeSliceTarget: 0.95"), o1 + "spec.objectives[0]: timeSliceTarget and timeSliceWindow belong to Timeslices"},
		{openslo("target: 0.999", "target: 0.999\n      op: lte\n      value: 200"), o1 + "spec.objectives[0]: op and value belong to threshold metrics"},
		{openslo("isRolling: true", "isRolling: false"), o1 + `spec.timeWindow[0].duration: a calendar window must be 1M (one month), got "28d"`},
		{openslo("duration: 28d", "duration: 1M"), o1 + `spec.timeWindow[0].duration: "1M" is not a whole number of days`},
		{openslo("- duration: 28d\n      isRolling: true", "- duration: 1M\n      calendar: {timeZone: Europe/Paris}"), o1 + `spec.timeWindow[0].calendar.timeZone: calendar months are UTC`},
		{openslo("- duration: 28d\n      isRolling: true", "- duration: 1M\n      calendar: {startTime: \"2022-01-15 00:00:00\"}"), o1 + `spec.timeWindow[0].calendar.startTime: months start on the 1st`},
		{openslo("  indicator:\n", "  indicatorRef: search-availability\n  indicator:\n"), o1 + "spec.indicatorRef: not supported"},
		{openslo("  service: search\n", "  service: search\n  alertPolicies: [fast-burn]\n"), o1 + "spec.alertPolicies: not supported"},
		{openslo("  service: search\n", "  service: search\n  budgetAdjustments: []\n"), o1 + "spec.budgetAdjustments: unknown field"},
		{openslo("kind: SLO", "kind: Service"), `document 1 (openslo/v1): kind: "Service" is not supported (want SLO)`},
		{openslo("labels: {team: search, regions: [eu, us]}", "labels: {team: {a: b}}"), o1 + "metadata.labels.team: want a string or a list of strings"},
	}
	for _, c := range cases {
		_, err := Parse([]byte(c.doc))
		switch {
		case c.want == "" && err != nil:
			t.Errorf("unexpected error %v", err)
		case c.want != "" && (err == nil || !strings.HasPrefix(err.Error(), c.want)):
			t.Errorf("error %v\n  want one starting %q", err, c.want)
		}
	}
}
