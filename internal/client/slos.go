package client

import (
	"bytes"
	"context"
	"net/url"

	"github.com/prodex/prodex/internal/api"
	"github.com/prodex/prodex/internal/risk"
	"github.com/prodex/prodex/internal/rules"
	"github.com/prodex/prodex/internal/slo"
)

// SLOs lists the SLOs' definitions.
func (c *Client) SLOs(ctx context.Context) ([]slo.SLO, error) {
	var defs []slo.SLO
	return defs, c.call(ctx, "GET", "/api/v1/slos", nil, &defs)
}

// SLO is an SLO's definition.
func (c *Client) SLO(ctx context.Context, name string) (slo.SLO, error) {
	return decode[slo.SLO](c.SLOJSON(ctx, name))
}

// SLOJSON is an SLO's definition as the server wrote it.
func (c *Client) SLOJSON(ctx context.Context, name string) ([]byte, error) {
	return c.do(ctx, "GET", "/api/v1/slos/"+esc(name), nil)
}

// PutSLO creates or replaces the SLO d names.
func (c *Client) PutSLO(ctx context.Context, d slo.SLO) (rules.Change, error) {
	var ch rules.Change
	return ch, c.call(ctx, "PUT", "/api/v1/slos/"+esc(d.Name), d, &ch)
}

// DeleteSLO deletes an SLO and its counts.
func (c *Client) DeleteSLO(ctx context.Context, name string) error {
	return c.call(ctx, "DELETE", "/api/v1/slos/"+esc(name), nil, nil)
}

// SLOStatus is an SLO's SLI, error budget, burn rates and open alerts.
func (c *Client) SLOStatus(ctx context.Context, name string) (rules.Status, error) {
	return decode[rules.Status](c.SLOStatusJSON(ctx, name))
}

// SLOStatusJSON is SLOStatus' answer as the server wrote it, markers
// included.
func (c *Client) SLOStatusJSON(ctx context.Context, name string) ([]byte, error) {
	return c.do(ctx, "GET", "/api/v1/slos/"+esc(name)+"/status", nil)
}

// SLOIncidents are an SLO's alert episodes measured as incidents.
func (c *Client) SLOIncidents(ctx context.Context, name string) ([]risk.Incident, error) {
	var list []risk.Incident
	return list, c.call(ctx, "GET", "/api/v1/slos/"+esc(name)+"/incidents", nil, &list)
}

// Gate asks whether an SLO can afford a risky change: whether minRemaining
// percent ("25" or "25%") of its error budget is left and nothing pages.
func (c *Client) Gate(ctx context.Context, name, minRemaining string) (api.GateAnswer, error) {
	var a api.GateAnswer
	path := withQuery("/api/v1/slos/"+esc(name)+"/gate", url.Values{"min_remaining": {minRemaining}})
	return a, c.call(ctx, "GET", path, nil, &a)
}

// Apply creates or updates the SLOs and risks of YAML (or JSON) documents,
// or with dryRun only tells what would change.
func (c *Client) Apply(ctx context.Context, defs []byte, dryRun bool) ([]rules.Change, error) {
	path := "/api/v1/apply"
	if dryRun {
		path += "?dry_run=true"
	}
	return decode[[]rules.Change](c.send(ctx, "POST", path, "application/yaml", bytes.NewReader(defs)))
}
