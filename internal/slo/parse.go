package slo

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/prodex/prodex/internal/manifest"
	"github.com/prodex/prodex/internal/notify"
)

// prodexDoc is a prodex/v1 SLO document, in the Kubernetes shape.
type prodexDoc struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name        string            `json:"name"`
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"` // accepted, not kept
	} `json:"metadata"`
	Spec struct {
		Dataset     string          `json:"dataset"`
		Description string          `json:"description"`
		Runbook     string          `json:"runbook"`
		Target      float64         `json:"target"`
		Window      Window          `json:"window"`
		SLI         SLI             `json:"sli"`
		Notify      []notify.Target `json:"notify"`
		Alerts      Alerts          `json:"alerts"`
	} `json:"spec"`
}

// openSLODoc is an OpenSLO v1 SLO. Fields typed any are part of OpenSLO
// but not supported: present, they are rejected with a reason.
type openSLODoc struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name        string                  `json:"name"`
		DisplayName string                  `json:"displayName"`
		Labels      map[string]openSLOLabel `json:"labels"`
		Annotations map[string]string       `json:"annotations"` // accepted, not kept
	} `json:"metadata"`
	Spec struct {
		Description     string `json:"description"`
		Service         string `json:"service"`
		BudgetingMethod string `json:"budgetingMethod"`
		TimeWindow      []struct {
			Duration  string `json:"duration"`
			IsRolling bool   `json:"isRolling"`
			Calendar  *struct {
				StartTime string `json:"startTime"`
				TimeZone  string `json:"timeZone"`
			} `json:"calendar"`
		} `json:"timeWindow"`
		Indicator *struct {
			Metadata struct {
				Name        string                  `json:"name"`
				DisplayName string                  `json:"displayName"`
				Labels      map[string]openSLOLabel `json:"labels"`
				Annotations map[string]string       `json:"annotations"`
			} `json:"metadata"`
			Spec struct {
				RatioMetric *struct {
					Counter bool         `json:"counter"`
					Good    *openSLOPart `json:"good"`
					Total   *openSLOPart `json:"total"`
					Bad     any          `json:"bad"`
					Raw     any          `json:"raw"`
					RawType any          `json:"rawType"`
				} `json:"ratioMetric"`
				ThresholdMetric any `json:"thresholdMetric"`
			} `json:"spec"`
		} `json:"indicator"`
		IndicatorRef any `json:"indicatorRef"`
		Objectives   []struct {
			DisplayName     string   `json:"displayName"`
			Target          *float64 `json:"target"`
			TargetPercent   *float64 `json:"targetPercent"`
			Op              any      `json:"op"`
			Value           any      `json:"value"`
			TimeSliceTarget any      `json:"timeSliceTarget"`
			TimeSliceWindow any      `json:"timeSliceWindow"`
		} `json:"objectives"`
		AlertPolicies any `json:"alertPolicies"`
	} `json:"spec"`
}

type openSLOPart struct {
	MetricSource struct {
		MetricSourceRef any    `json:"metricSourceRef"`
		Type            string `json:"type"`
		Spec            struct {
			Dataset string `json:"dataset"`
			Query   string `json:"query"`
		} `json:"spec"`
	} `json:"metricSource"`
}

// openSLOLabel is an OpenSLO label value: a string or a list of them
// (kept joined by commas).
type openSLOLabel string

func (l *openSLOLabel) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*l = openSLOLabel(s)
		return nil
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return errors.New("want a string or a list of strings")
	}
	*l = openSLOLabel(strings.Join(list, ","))
	return nil
}

// Parse reads SLOs as code: a YAML stream of documents separated by
// "---" lines (a JSON document is YAML too), each a prodex/v1 or an
// OpenSLO v1 SLO. Every SLO is validated, and names must be unique.
// Errors name the document (counting from 1, skipping empty ones) and
// the field.
func Parse(data []byte) ([]SLO, error) {
	docs, err := manifest.Split(data)
	if err != nil {
		return nil, err
	}
	var out []SLO
	defined := map[string]int{}
	for _, d := range docs {
		s, err := FromDoc(d)
		if err != nil {
			return nil, err
		}
		if prev, ok := defined[s.Name]; ok {
			return nil, d.Errorf(true, fmt.Errorf("metadata.name: %q is already defined by document %d", s.Name, prev))
		}
		defined[s.Name] = d.N
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, errors.New("no SLO documents found")
	}
	return out, nil
}

// FromDoc reads one SLO document, validated; errors name the document.
func FromDoc(doc manifest.Doc) (SLO, error) {
	switch api := doc.APIVersion; {
	case api != "prodex/v1" && api != "openslo/v1":
		return SLO{}, doc.Errorf(false, fmt.Errorf("apiVersion: %s is not supported (want prodex/v1 or openslo/v1)", manifest.Quote(api)))
	case doc.Kind != "SLO":
		return SLO{}, fmt.Errorf("document %d (%s): kind: %s is not supported (want SLO)", doc.N, api, manifest.Quote(doc.Kind))
	}
	s, err := fromDoc(doc)
	if err != nil {
		return SLO{}, doc.Errorf(true, err)
	}
	return s, nil
}

func fromDoc(doc manifest.Doc) (s SLO, err error) {
	api, js := doc.APIVersion, doc.JSON
	if api == "prodex/v1" {
		var d prodexDoc
		if err = manifest.DecodeStrict(js, &d); err == nil {
			sp := d.Spec
			s = SLO{Name: d.Metadata.Name, Dataset: sp.Dataset, Description: sp.Description, Tags: d.Metadata.Labels,
				Runbook: sp.Runbook, Target: sp.Target, Window: sp.Window, SLI: sp.SLI, Notify: sp.Notify, Alerts: sp.Alerts}
		}
	} else {
		var d openSLODoc
		if err = manifest.DecodeStrict(js, &d); err == nil {
			s, err = fromOpenSLO(&d)
		}
	}
	if err == nil {
		err = s.Validate()
	}
	if err != nil {
		return SLO{}, err
	}
	return s, nil
}

func quote(v any) string {
	if v == nil {
		return "(missing)"
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func fromOpenSLO(d *openSLODoc) (SLO, error) {
	sp := d.Spec
	s := SLO{Name: d.Metadata.Name, Description: sp.Description}
	for k, v := range d.Metadata.Labels {
		if s.Tags == nil {
			s.Tags = map[string]string{}
		}
		s.Tags[k] = string(v)
	}
	if sp.Service != "" {
		if s.Tags == nil {
			s.Tags = map[string]string{}
		}
		s.Tags["service"] = sp.Service
	}
	if sp.AlertPolicies != nil {
		return s, errors.New("spec.alertPolicies: not supported; configure alerts in a prodex/v1 document")
	}

	if sp.BudgetingMethod != "Occurrences" {
		return s, fmt.Errorf("spec.budgetingMethod: only Occurrences is supported, got %q", sp.BudgetingMethod)
	}

	if len(sp.TimeWindow) != 1 {
		return s, fmt.Errorf("spec.timeWindow: want exactly one window, got %d", len(sp.TimeWindow))
	}
	tw := sp.TimeWindow[0]
	if tw.IsRolling {
		w, err := ParseWindow(tw.Duration)
		if err != nil || w.CalendarMonth {
			return s, fmt.Errorf("spec.timeWindow[0].duration: %q is not a whole number of days (e.g. 28d, 30d, 4w)", tw.Duration)
		}
		if tw.Calendar != nil {
			return s, errors.New("spec.timeWindow[0].calendar: only for windows that are not rolling")
		}
		s.Window = w
	} else {
		if tw.Duration != "1M" {
			return s, fmt.Errorf("spec.timeWindow[0].duration: a calendar window must be 1M (one month), got %q", tw.Duration)
		}
		if c := tw.Calendar; c != nil {
			if c.TimeZone != "" && c.TimeZone != "UTC" && c.TimeZone != "Etc/UTC" {
				return s, fmt.Errorf("spec.timeWindow[0].calendar.timeZone: calendar months are UTC, got %q", c.TimeZone)
			}
			if c.StartTime != "" && !monthStart(c.StartTime) {
				return s, fmt.Errorf("spec.timeWindow[0].calendar.startTime: months start on the 1st at 00:00:00, got %q", c.StartTime)
			}
		}
		s.Window = Window{CalendarMonth: true}
	}

	if len(sp.Objectives) != 1 {
		return s, fmt.Errorf("spec.objectives: want exactly one objective, got %d", len(sp.Objectives))
	}
	o := sp.Objectives[0]
	switch {
	case o.Op != nil || o.Value != nil:
		return s, errors.New("spec.objectives[0]: op and value belong to threshold metrics, which are not supported")
	case o.TimeSliceTarget != nil || o.TimeSliceWindow != nil:
		return s, errors.New("spec.objectives[0]: timeSliceTarget and timeSliceWindow belong to Timeslices, which is not supported")
	case (o.Target == nil) == (o.TargetPercent == nil):
		return s, errors.New("spec.objectives[0]: want one of target (a ratio, e.g. 0.999) or targetPercent")
	case o.Target != nil && !(*o.Target > 0 && *o.Target < 1):
		return s, fmt.Errorf("spec.objectives[0].target: must be a ratio between 0 and 1 (exclusive), e.g. 0.999, got %v", *o.Target)
	case o.Target != nil:
		s.Target = percent(*o.Target)
	case !(*o.TargetPercent > 0 && *o.TargetPercent < 100):
		return s, fmt.Errorf("spec.objectives[0].targetPercent: must be between 0 and 100 (exclusive), got %v", *o.TargetPercent)
	default:
		s.Target = *o.TargetPercent
	}

	if sp.IndicatorRef != nil {
		return s, errors.New("spec.indicatorRef: not supported; define the indicator inline (spec.indicator)")
	}
	if sp.Indicator == nil {
		return s, errors.New("spec.indicator: required")
	}
	const ind = "spec.indicator.spec"
	is := sp.Indicator.Spec
	rm := is.RatioMetric
	switch {
	case is.ThresholdMetric != nil:
		return s, errors.New(ind + ".thresholdMetric: not supported; use ratioMetric with good and total")
	case rm == nil:
		return s, errors.New(ind + ".ratioMetric: required")
	case rm.Raw != nil || rm.RawType != nil:
		return s, errors.New(ind + ".ratioMetric.raw: raw ratios are not supported; use good and total")
	case rm.Bad != nil:
		return s, errors.New(ind + ".ratioMetric.bad: not supported; use good and total")
	case rm.Good == nil:
		return s, errors.New(ind + ".ratioMetric.good: required")
	case rm.Total == nil:
		return s, errors.New(ind + ".ratioMetric.total: required")
	}
	for _, p := range []struct {
		name string
		part *openSLOPart
	}{{"good", rm.Good}, {"total", rm.Total}} {
		f := ind + ".ratioMetric." + p.name + ".metricSource"
		ms := p.part.MetricSource
		switch {
		case ms.MetricSourceRef != nil:
			return s, errors.New(f + ".metricSourceRef: not supported; use type: prodex with an inline spec")
		case ms.Type != "prodex":
			return s, fmt.Errorf("%s.type: %q is not supported (want prodex)", f, ms.Type)
		case strings.TrimSpace(ms.Spec.Dataset) == "":
			return s, errors.New(f + ".spec.dataset: required")
		case strings.TrimSpace(ms.Spec.Query) == "":
			return s, errors.New(f + ".spec.query: required")
		}
	}
	if g, t := rm.Good.MetricSource.Spec.Dataset, rm.Total.MetricSource.Spec.Dataset; g != t {
		return s, fmt.Errorf("%s.ratioMetric: good and total must query the same dataset, got %q and %q", ind, g, t)
	}
	s.Dataset = rm.Good.MetricSource.Spec.Dataset
	s.SLI = SLI{Eligible: rm.Total.MetricSource.Spec.Query, Good: rm.Good.MetricSource.Spec.Query}
	return s, nil
}

// percent turns an OpenSLO ratio into a percent without float noise
// (0.999 × 100 is not exactly 99.9).
func percent(ratio float64) float64 {
	v, _ := strconv.ParseFloat(strconv.FormatFloat(ratio*100, 'g', 12, 64), 64)
	return v
}

func monthStart(s string) bool {
	for _, layout := range []string{time.DateTime, time.RFC3339, time.DateOnly} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.Day() == 1 && t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0 && t.Nanosecond() == 0
		}
	}
	return false
}
