package client

import (
	"context"
	"fmt"
	"net/url"

	"github.com/prodex/prodex/internal/risk"
)

// RiskRegister ranks an SLO's risks against its error budget; a zero
// threshold is the server's default.
func (c *Client) RiskRegister(ctx context.Context, sloName string, th risk.Thresholds) (risk.Register, error) {
	return decode[risk.Register](c.RiskReport(ctx, sloName, th, "json"))
}

// RiskReport is the register as the server writes it in format: json,
// markdown or csv.
func (c *Client) RiskReport(ctx context.Context, sloName string, th risk.Thresholds, format string) ([]byte, error) {
	v := thresholds(th)
	v.Set("format", format)
	return c.do(ctx, "GET", withQuery("/api/v1/slos/"+esc(sloName)+"/risks", v), nil)
}

// thresholds are the query parameters of the thresholds set.
func thresholds(th risk.Thresholds) url.Values {
	v := url.Values{}
	if th.IncidentPercent > 0 {
		v.Set("incident_threshold", fmt.Sprint(th.IncidentPercent))
	}
	if th.ThreatPercent > 0 {
		v.Set("threat_threshold", fmt.Sprint(th.ThreatPercent))
	}
	return v
}

// Risks lists the risks, of one SLO when sloName is not empty.
func (c *Client) Risks(ctx context.Context, sloName string) ([]risk.Risk, error) {
	var list []risk.Risk
	return list, c.call(ctx, "GET", withQuery("/api/v1/risks", url.Values{"slo": {sloName}}), nil, &list)
}

// Risk is one risk.
func (c *Client) Risk(ctx context.Context, name string) (risk.Risk, error) {
	return decode[risk.Risk](c.RiskJSON(ctx, name))
}

// RiskJSON is a risk as the server wrote it.
func (c *Client) RiskJSON(ctx context.Context, name string) ([]byte, error) {
	return c.do(ctx, "GET", "/api/v1/risks/"+esc(name), nil)
}

// DeleteRisk deletes a risk.
func (c *Client) DeleteRisk(ctx context.Context, name string) error {
	return c.call(ctx, "DELETE", "/api/v1/risks/"+esc(name), nil, nil)
}

// WhatIf is the register with one risk's estimates changed; nothing is
// saved.
func (c *Client) WhatIf(ctx context.Context, name string, ch risk.Change, th risk.Thresholds) (risk.WhatIf, error) {
	var w risk.WhatIf
	return w, c.call(ctx, "POST", withQuery("/api/v1/risks/"+esc(name)+"/what-if", thresholds(th)), ch, &w)
}

// LinkIncident records that an alert episode was this risk happening.
func (c *Client) LinkIncident(ctx context.Context, name, alertID string) (risk.Risk, error) {
	var r risk.Risk
	return r, c.call(ctx, "POST", "/api/v1/risks/"+esc(name)+"/incidents", map[string]string{"alert_id": alertID}, &r)
}
