package manifest_test

import (
	"testing"

	"github.com/prodex/prodex/internal/manifest"
	"github.com/prodex/prodex/internal/risk"
	"github.com/prodex/prodex/internal/slo"
)

// FuzzApply: any YAML stream is split and read as SLOs and risks without a
// panic; every refusal is an error, and what is accepted is valid.
func FuzzApply(f *testing.F) {
	for _, s := range []string{
		"apiVersion: prodex/v1\nkind: SLO\nmetadata: {name: a}\nspec: {dataset: d, target: 99.9, window: 30d, sli: {good: status_code < 500}}\n",
		"apiVersion: prodex/v1\nkind: Risk\nmetadata: {name: r}\nspec: {slo: a, ettd: 30m, ettr: 1h, frequency_per_year: 4, impact_percent: 50}\n---\n# c\n...\n",
		"apiVersion: openslo/v1\nkind: SLO\nmetadata: {name: s}\nspec: {budgetingMethod: Occurrences, timeWindow: [{duration: 28d, isRolling: true}], objectives: [{target: 0.99}], indicator: {metadata: {name: i}, spec: {ratioMetric: {counter: true, good: {metricSource: {type: prodex, spec: {dataset: d, query: 'ok'}}}, total: {metricSource: {type: prodex, spec: {dataset: d, query: 'true'}}}}}}}\n",
		"- a\n- b\n", "{\"apiVersion\": 1}", "--- {a: [", "&a [*a, *a]",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		docs, err := manifest.Split([]byte(text))
		if err != nil {
			return
		}
		for _, d := range docs {
			switch d.Kind {
			case "SLO":
				if s, err := slo.FromDoc(d); err == nil {
					if err := s.Validate(); err != nil {
						t.Fatalf("accepted an invalid SLO %+v: %v", s, err)
					}
				}
			case "Risk":
				if r, err := risk.FromDoc(d); err == nil {
					if err := r.Normalize(); err != nil {
						t.Fatalf("accepted an invalid risk %+v: %v", r, err)
					}
				}
			}
		}
	})
}
