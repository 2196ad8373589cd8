package client

import (
	"context"
	"net/url"

	"github.com/prodex/prodex/internal/api"
	"github.com/prodex/prodex/internal/incident"
	"github.com/prodex/prodex/internal/marker"
	"github.com/prodex/prodex/internal/note"
)

// OpenIncident opens an incident by hand with what a person sets of inc:
// title, severity, SLO, risk, commander, scribe, and the start and
// detection times when they are not zero.
func (c *Client) OpenIncident(ctx context.Context, inc incident.Incident) (incident.Incident, error) {
	body := map[string]any{"title": inc.Title, "severity": inc.Severity, "slo": inc.SLO, "risk": inc.Risk,
		"commander": inc.Commander, "scribe": inc.Scribe}
	if !inc.StartedAt.IsZero() {
		body["started_at"] = inc.StartedAt
	}
	if !inc.DetectedAt.IsZero() {
		body["detected_at"] = inc.DetectedAt
	}
	var out incident.Incident
	return out, c.call(ctx, "POST", "/api/v1/incidents", body, &out)
}

// Incidents lists incidents, newest first: those in status when it is not
// empty.
func (c *Client) Incidents(ctx context.Context, status string) ([]incident.Incident, error) {
	var list []incident.Incident
	return list, c.call(ctx, "GET", withQuery("/api/v1/incidents", url.Values{"status": {status}}), nil, &list)
}

// IncidentTimeline is an incident with everything that happened in it.
func (c *Client) IncidentTimeline(ctx context.Context, id string) (api.IncidentTimeline, error) {
	var t api.IncidentTimeline
	return t, c.call(ctx, "GET", "/api/v1/incidents/"+esc(id)+"/timeline", nil, &t)
}

// UpdateIncident changes an incident; the change goes in its timeline.
func (c *Client) UpdateIncident(ctx context.Context, id string, ch incident.Change) (incident.Incident, error) {
	var inc incident.Incident
	return inc, c.call(ctx, "PATCH", "/api/v1/incidents/"+esc(id), ch, &inc)
}

// AddNote adds a Markdown note on something: an slo, query, marker or
// incident, by its name or id.
func (c *Client) AddNote(ctx context.Context, targetType, targetID, text string) (note.Note, error) {
	var n note.Note
	body := map[string]string{"target_type": targetType, "target_id": targetID, "text": text}
	return n, c.call(ctx, "POST", "/api/v1/notes", body, &n)
}

// Notes lists the notes on something, oldest first.
func (c *Client) Notes(ctx context.Context, targetType, targetID string) ([]note.Note, error) {
	var list []note.Note
	path := withQuery("/api/v1/notes", url.Values{"target_type": {targetType}, "target_id": {targetID}})
	return list, c.call(ctx, "GET", path, nil, &list)
}

// CreateMarker marks something on a dataset's graphs (marker.AllDatasets:
// every dataset's).
func (c *Client) CreateMarker(ctx context.Context, dataset string, in marker.Input) (marker.Marker, error) {
	var m marker.Marker
	return m, c.call(ctx, "POST", "/1/markers/"+esc(dataset), in, &m)
}

// Markers lists a dataset's markers by start time.
func (c *Client) Markers(ctx context.Context, dataset string) ([]marker.Marker, error) {
	var list []marker.Marker
	return list, c.call(ctx, "GET", "/1/markers/"+esc(dataset), nil, &list)
}

// DeleteMarker deletes a marker and answers what it was.
func (c *Client) DeleteMarker(ctx context.Context, dataset, id string) (marker.Marker, error) {
	var m marker.Marker
	return m, c.call(ctx, "DELETE", "/1/markers/"+esc(dataset)+"/"+esc(id), nil, &m)
}
