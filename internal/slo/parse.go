package slo

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"sigs.k8s.io/yaml"
)

// prodexDoc is a prodex/v1 SLO document, in the Kubernetes shape.
type prodexDoc struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name        string            `json:"name"`
		Labels      map[string]string `json:"labels,omitempty"`
		Annotations map[string]string `json:"annotations,omitempty"`
	} `json:"metadata"`
	Spec struct {
		Dataset     string   `json:"dataset"`
		Description string   `json:"description,omitempty"`
		Runbook     string   `json:"runbook,omitempty"`
		Target      float64  `json:"target"`
		Window      Window   `json:"window"`
		SLI         SLI      `json:"sli"`
		Notify      []Notify `json:"notify,omitempty"`
		Alerts      Alerts   `json:"alerts,omitempty"`
	} `json:"spec"`
}

// openSLODoc is the part of an OpenSLO v1 SLO that Prodex supports.
type openSLODoc struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name        string            `json:"name"`
		DisplayName string            `json:"displayName,omitempty"`
		Labels      map[string]any    `json:"labels,omitempty"`
		Annotations map[string]string `json:"annotations,omitempty"`
	} `json:"metadata"`
	Spec struct {
		Description     string `json:"description,omitempty"`
		Service         string `json:"service,omitempty"`
		BudgetingMethod string `json:"budgetingMethod"`
		TimeWindow      []struct {
			Duration  string `json:"duration"`
			IsRolling bool   `json:"isRolling"`
			Calendar  *struct {
				StartTime string `json:"startTime,omitempty"`
				TimeZone  string `json:"timeZone,omitempty"`
			} `json:"calendar,omitempty"`
		} `json:"timeWindow"`
		Indicator *struct {
			Metadata struct {
				Name string `json:"name,omitempty"`
			} `json:"metadata"`
			Spec struct {
				RatioMetric *struct {
					Counter bool         `json:"counter,omitempty"`
					Good    *openSLOPart `json:"good"`
					Total   *openSLOPart `json:"total"`
				} `json:"ratioMetric"`
			} `json:"spec"`
		} `json:"indicator"`
		Objectives []struct {
			DisplayName string   `json:"displayName,omitempty"`
			Target      *float64 `json:"target"`
		} `json:"objectives"`
	} `json:"spec"`
}

type openSLOPart struct {
	MetricSource struct {
		Type string `json:"type"`
		Spec struct {
			Dataset string `json:"dataset"`
			Query   string `json:"query"`
		} `json:"spec"`
	} `json:"metricSource"`
}

var docSep = regexp.MustCompile(`(?m)^---[ \t]*$`)

// Parse reads SLOs as code: a YAML stream (or JSON) of prodex/v1 and
// OpenSLO v1 SLO documents. Every SLO is validated; errors name the
// document and the field.
func Parse(data []byte) ([]SLO, error) {
	var out []SLO
	seen := map[string]bool{}
	n := 0
	for _, part := range docSep.Split(string(data), -1) {
		if strings.TrimSpace(stripComments(part)) == "" {
			continue
		}
		n++
		s, err := parseDoc([]byte(part))
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", n, err)
		}
		if seen[s.Name] {
			return nil, fmt.Errorf("document %d: SLO %q is defined twice", n, s.Name)
		}
		seen[s.Name] = true
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, errors.New("no SLO documents found")
	}
	return out, nil
}

func stripComments(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(s, "\n") {
		if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "#") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

func parseDoc(y []byte) (SLO, error) {
	js, err := yaml.YAMLToJSON(y)
	if err != nil {
		return SLO{}, fmt.Errorf("invalid YAML: %v", err)
	}
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := json.Unmarshal(js, &head); err != nil {
		return SLO{}, fmt.Errorf("want a mapping with apiVersion and kind: %v", err)
	}
	if head.Kind != "SLO" {
		return SLO{}, fmt.Errorf("kind: %q is not supported (want SLO)", head.Kind)
	}
	switch head.APIVersion {
	case "prodex/v1":
		var d prodexDoc
		if err := strict(js, &d); err != nil {
			return SLO{}, err
		}
		s := SLO{Name: d.Metadata.Name, Dataset: d.Spec.Dataset, Description: d.Spec.Description, Tags: d.Metadata.Labels,
			Runbook: d.Spec.Runbook, Target: d.Spec.Target, Window: d.Spec.Window, SLI: d.Spec.SLI, Notify: d.Spec.Notify, Alerts: d.Spec.Alerts}
		if err := s.Validate(); err != nil {
			return SLO{}, fmt.Errorf("prodex/v1 SLO %q: %w", s.Name, err)
		}
		return s, nil
	case "openslo/v1":
		var d openSLODoc
		if err := strict(js, &d); err != nil {
			return SLO{}, fmt.Errorf("openslo/v1 SLO: %w (Prodex supports occurrences SLOs with an inline ratioMetric)", err)
		}
		s, err := fromOpenSLO(d)
		if err != nil {
			return SLO{}, fmt.Errorf("openslo/v1 SLO %q: %w", d.Metadata.Name, err)
		}
		if err := s.Validate(); err != nil {
			return SLO{}, fmt.Errorf("openslo/v1 SLO %q: %w", s.Name, err)
		}
		return s, nil
	}
	return SLO{}, fmt.Errorf("apiVersion: %q is not supported (want prodex/v1 or openslo/v1)", head.APIVersion)
}

// strict decodes JSON rejecting unknown fields.
func strict(js []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		msg := strings.TrimPrefix(err.Error(), "json: ")
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			msg = fmt.Sprintf("%s: want %s", te.Field, te.Type)
		}
		return errors.New(msg)
	}
	return nil
}

func fromOpenSLO(d openSLODoc) (SLO, error) {
	sp := d.Spec
	s := SLO{Name: d.Metadata.Name, Description: sp.Description}
	if sp.Service != "" {
		s.Tags = map[string]string{"service": sp.Service}
	}
	if sp.BudgetingMethod != "Occurrences" {
		return s, fmt.Errorf("spec.budgetingMethod: only Occurrences is supported, got %q", sp.BudgetingMethod)
	}
	if len(sp.TimeWindow) != 1 {
		return s, fmt.Errorf("spec.timeWindow: want exactly one window")
	}
	tw := sp.TimeWindow[0]
	switch {
	case tw.IsRolling:
		w, err := ParseWindow(tw.Duration)
		if err != nil || w.CalendarMonth {
			return s, fmt.Errorf("spec.timeWindow[0].duration: %q is not a whole number of days", tw.Duration)
		}
		s.Window = w
	case tw.Duration == "1M" || tw.Duration == "1m":
		s.Window = Window{CalendarMonth: true}
	default:
		return s, fmt.Errorf("spec.timeWindow[0]: calendar windows other than one month (1M) are not supported")
	}
	if len(sp.Objectives) != 1 || sp.Objectives[0].Target == nil {
		return s, fmt.Errorf("spec.objectives: want exactly one objective with a target")
	}
	s.Target = *sp.Objectives[0].Target * 100
	if sp.Indicator == nil {
		return s, fmt.Errorf("spec.indicator: an inline indicator is required (indicatorRef is not supported)")
	}
	rm := sp.Indicator.Spec.RatioMetric
	if rm == nil || rm.Good == nil || rm.Total == nil {
		return s, fmt.Errorf("spec.indicator.spec.ratioMetric: good and total are required (only ratioMetric is supported)")
	}
	for _, p := range []struct {
		name string
		part *openSLOPart
	}{{"good", rm.Good}, {"total", rm.Total}} {
		if t := p.part.MetricSource.Type; !strings.EqualFold(t, "prodex") {
			return s, fmt.Errorf("spec.indicator.spec.ratioMetric.%s.metricSource.type: %q is not supported (want prodex)", p.name, t)
		}
		if p.part.MetricSource.Spec.Query == "" {
			return s, fmt.Errorf("spec.indicator.spec.ratioMetric.%s.metricSource.spec.query: required", p.name)
		}
	}
	if rm.Good.MetricSource.Spec.Dataset != rm.Total.MetricSource.Spec.Dataset {
		return s, fmt.Errorf("spec.indicator.spec.ratioMetric: good and total must use the same dataset")
	}
	s.Dataset = rm.Good.MetricSource.Spec.Dataset
	s.SLI = SLI{Eligible: rm.Total.MetricSource.Spec.Query, Good: rm.Good.MetricSource.Spec.Query}
	if strings.TrimSpace(s.SLI.Eligible) == "true" {
		s.SLI.Eligible = ""
	}
	return s, nil
}
