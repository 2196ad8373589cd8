package query

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"
)

// Canonical is the spec as a query is stored and identified (package
// history): resolved at now (so the interval is absolute and the defaults
// are filled in), without time_range, with the spellings the engine treats
// alike made one. It does not change spec.
func (spec *Spec) Canonical(now time.Time) (json.RawMessage, error) {
	c := *spec
	c.Calculations = append([]Calculation(nil), spec.Calculations...)
	c.Orders = append([]Order(nil), spec.Orders...)
	c.Havings = append([]Having(nil), spec.Havings...)
	// Resolve is idempotent: a spec already resolved keeps its interval.
	if err := c.Resolve(now); err != nil {
		return nil, err
	}
	c.TimeRange = 0
	c.StartTime, c.EndTime = c.Start.Unix(), c.End.Unix()
	c.FilterCombination = combination(c.FilterCombination)
	for i := range c.Calculations {
		c.Calculations[i].FilterCombination = combination(c.Calculations[i].FilterCombination)
	}
	for i := range c.Orders {
		o := &c.Orders[i]
		o.Op = strings.ToUpper(o.Op)
		switch strings.ToLower(o.Order) {
		case "descending", "desc":
			o.Order = "descending"
		default:
			o.Order = "ascending"
		}
	}
	for i := range c.Havings {
		c.Havings[i].CalculateOp = strings.ToUpper(c.Havings[i].CalculateOp)
	}
	return marshal(c)
}

// combination spells a filter combination one way: "" for AND (the
// default), OR otherwise.
func combination(fc string) string {
	if strings.EqualFold(fc, "OR") {
		return "OR"
	}
	return ""
}

// marshal encodes without HTML escaping, so that the stored text of a
// filter like "status_code >= 500" can be searched as it is written.
func marshal(v any) (json.RawMessage, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return json.RawMessage(bytes.TrimRight(b.Bytes(), "\n")), nil
}
