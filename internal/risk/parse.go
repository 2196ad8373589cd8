package risk

import (
	"fmt"

	"github.com/prodex/prodex/internal/duration"
	"github.com/prodex/prodex/internal/manifest"
)

// doc is a prodex/v1 Risk document.
type doc struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name        string            `json:"name"`
		Labels      map[string]string `json:"labels"`      // accepted, not kept
		Annotations map[string]string `json:"annotations"` // accepted, not kept
	} `json:"metadata"`
	Spec struct {
		SLO                 string          `json:"slo"`
		Description         string          `json:"description"`
		ETTD                duration.Coarse `json:"ettd"`
		ETTR                duration.Coarse `json:"ettr"`
		FrequencyPerYear    float64         `json:"frequency_per_year"`
		TimeBetweenFailures duration.Coarse `json:"time_between_failures"`
		ImpactPercent       float64         `json:"impact_percent"`
		Owner               string          `json:"owner"`
		Status              string          `json:"status"`
		Links               []Link          `json:"links"`
		Incidents           []string        `json:"incidents"`
	} `json:"spec"`
}

// FromDoc reads one prodex/v1 Risk document, validated; errors name the
// document and the field.
func FromDoc(d manifest.Doc) (Risk, error) {
	switch {
	case d.APIVersion != "prodex/v1":
		return Risk{}, d.Errorf(false, fmt.Errorf("apiVersion: %s is not supported (want prodex/v1)", manifest.Quote(d.APIVersion)))
	case d.Kind != "Risk":
		return Risk{}, fmt.Errorf("document %d (%s): kind: %s is not supported (want Risk)", d.N, d.APIVersion, manifest.Quote(d.Kind))
	}
	var x doc
	if err := manifest.DecodeStrict(d.JSON, &x); err != nil {
		return Risk{}, d.Errorf(true, err)
	}
	sp := x.Spec
	r := Risk{Name: x.Metadata.Name, SLO: sp.SLO, Description: sp.Description, ETTD: sp.ETTD, ETTR: sp.ETTR,
		FrequencyPerYear: sp.FrequencyPerYear, TimeBetweenFailures: sp.TimeBetweenFailures, ImpactPercent: sp.ImpactPercent,
		Owner: sp.Owner, Status: sp.Status, Links: sp.Links, Incidents: sp.Incidents}
	if err := r.Normalize(); err != nil {
		return Risk{}, d.Errorf(true, specPath(err))
	}
	return r, nil
}

// specPath prefixes a validation error's field with its place in the
// document.
func specPath(err error) error {
	msg := err.Error()
	if len(msg) > 5 && msg[:5] == "name:" {
		return fmt.Errorf("metadata.%s", msg)
	}
	return fmt.Errorf("spec.%s", msg)
}
