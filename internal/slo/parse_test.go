package slo

import (
	"strings"
	"testing"
)

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

const openSLOExample = `# imported from OpenSLO
apiVersion: openslo/v1
kind: SLO
metadata:
  name: search-latency
spec:
  description: Searches are fast
  service: search
  budgetingMethod: Occurrences
  timeWindow:
    - duration: 28d
      isRolling: true
  objectives:
    - target: 0.995
  indicator:
    metadata: {name: search-latency}
    spec:
      ratioMetric:
        counter: true
        good:
          metricSource: {type: prodex, spec: {dataset: search, query: "duration_ms < 300"}}
        total:
          metricSource: {type: prodex, spec: {dataset: search, query: 'endpoint == "/search"'}}
`

func TestParse(t *testing.T) {
	slos, err := Parse([]byte(issueExample + "---\n" + openSLOExample))
	if err != nil {
		t.Fatal(err)
	}
	if len(slos) != 2 {
		t.Fatalf("%d SLOs", len(slos))
	}
	a, b := slos[0], slos[1]
	if a.Name != "checkout-availability" || a.Dataset != "checkout" || a.Target != 99.9 || a.Window.Days != 30 ||
		a.SLI.Good != "status_code < 500" || a.SLI.Eligible != "" || len(a.Notify) != 1 || a.Notify[0].URL != "http://127.0.0.1:9999/hook" {
		t.Errorf("prodex/v1: %+v", a)
	}
	if b.Name != "search-latency" || b.Dataset != "search" || b.Target != 99.5 || b.Window.Days != 28 ||
		b.SLI.Good != "duration_ms < 300" || b.SLI.Eligible != `endpoint == "/search"` || b.Tags["service"] != "search" {
		t.Errorf("openslo/v1: %+v", b)
	}
}

func TestParseRejects(t *testing.T) {
	cases := map[string]string{
		strings.Replace(issueExample, "target: 99.9", "target: 100", 1):                       "document 1: prodex/v1 SLO \"checkout-availability\": spec.target",
		strings.Replace(issueExample, "window: 30d", "window: 36h", 1):                        "invalid window",
		strings.Replace(issueExample, "good: status_code < 500", "eligible: x", 1):            "spec.sli.good: required",
		strings.Replace(issueExample, "type: webhook", "type: carrier-pigeon", 1):             "spec.notify[0].type",
		strings.Replace(issueExample, "description:", "descripton:", 1):                       `unknown field "descripton"`,
		strings.Replace(issueExample, "kind: SLO", "kind: Alert", 1):                          `kind: "Alert" is not supported`,
		strings.Replace(issueExample, "prodex/v1", "prodex/v9", 1):                            `apiVersion: "prodex/v9"`,
		strings.Replace(issueExample, "{name: checkout-availability}", "{name: Checkout}", 1): "metadata.name",
		issueExample + "---\n" + issueExample:                                                 "defined twice",
		strings.Replace(openSLOExample, "Occurrences", "Timeslices", 1):                       "document 1: openslo/v1 SLO \"search-latency\": spec.budgetingMethod: only Occurrences",
		strings.Replace(openSLOExample, "type: prodex, spec: {dataset: search, query: \"duration_ms < 300\"}", "type: prometheus, spec: {dataset: search, query: up}", 1): "metricSource.type",
		strings.Replace(openSLOExample, "ratioMetric:", "thresholdMetric:", 1):                                                                                            `unknown field "thresholdMetric"`,
		"# nothing\n": "no SLO documents",
	}
	for doc, want := range cases {
		_, err := Parse([]byte(doc))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v, want one containing %q", err, want)
		}
	}
}
