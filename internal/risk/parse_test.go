package risk

import (
	"strings"
	"testing"
	"time"

	"github.com/prodex/prodex/internal/duration"
	"github.com/prodex/prodex/internal/manifest"
)

func parseOne(t *testing.T, text string) (Risk, error) {
	t.Helper()
	docs, err := manifest.Split([]byte(text))
	if err != nil {
		return Risk{}, err
	}
	return FromDoc(docs[0])
}

func TestParseIssueExample(t *testing.T) {
	r, err := parseOne(t, `apiVersion: prodex/v1
kind: Risk
metadata: {name: primary-db-failover}
spec: {slo: checkout-availability, ettd: 30m, ettr: 60m, frequency_per_year: 4, impact_percent: 50}
`)
	if err != nil {
		t.Fatal(err)
	}
	want := Risk{Name: "primary-db-failover", SLO: "checkout-availability", ETTD: duration.Coarse(30 * time.Minute), ETTR: duration.Coarse(time.Hour),
		FrequencyPerYear: 4, ImpactPercent: 50, Status: Open}
	if r.Name != want.Name || r.SLO != want.SLO || r.ETTD != want.ETTD || r.ETTR != want.ETTR || r.FrequencyPerYear != 4 || r.ImpactPercent != 50 || r.Status != Open {
		t.Errorf("got %+v", r)
	}
	// Time between failures instead of a frequency.
	r, err = parseOne(t, "apiVersion: prodex/v1\nkind: Risk\nmetadata: {name: r}\nspec: {slo: s, ettd: 5m, ettr: 1h, time_between_failures: 73d, impact_percent: 10}\n")
	if err != nil || r.FrequencyPerYear != 5 {
		t.Errorf("tbf: %+v %v", r, err)
	}
}

func TestParseErrors(t *testing.T) {
	base := "apiVersion: prodex/v1\nkind: Risk\nmetadata: {name: r}\nspec: {slo: s, ettd: 30m, ettr: 1h, frequency_per_year: 4, impact_percent: 50}\n"
	for _, c := range []struct{ from, to, want string }{
		{"ettd: 30m", "ettd: soon", `document 1 (prodex/v1 Risk "r"): spec.ettd: invalid duration "soon"`},
		{"impact_percent: 50", "impact_percent: 150", "spec.impact_percent: required, above 0 and at most 100"},
		{"frequency_per_year: 4", "frequency_per_year: 0", "spec.frequency_per_year: required"},
		{"slo: s, ", "", "spec.slo: required"},
		{"{name: r}", "{name: R!}", `metadata.name: "R!" must be`},
		{"impact_percent: 50", "impact_percent: 50, sev: 1", "spec.sev: unknown field"},
		{"kind: Risk", "kind: Danger", `document 1 (prodex/v1): kind: "Danger" is not supported (want Risk)`},
		{"ettr: 1h", "ettr: 1h, status: done", `spec.status: "done" is not one of`},
	} {
		_, err := parseOne(t, strings.Replace(base, c.from, c.to, 1))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s → %s: %v, want %q", c.from, c.to, err, c.want)
		}
	}
}
