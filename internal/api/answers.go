package api

import (
	"time"

	"github.com/prodex/prodex/internal/auth"
	"github.com/prodex/prodex/internal/incident"
	"github.com/prodex/prodex/internal/query"
)

// The answers below are the routes' own JSON where it is not a domain
// type: they are exported so that the typed client (package client)
// decodes what the handlers encode, with no copy of their fields.

// QueryAnswer is a query's answer with the id and permalink of the
// question (see package history). The server adds the markers over the
// query's interval under "markers" (see writeWithMarkers).
type QueryAnswer struct {
	*query.Result
	QueryID   string `json:"query_id,omitempty"`
	Permalink string `json:"permalink,omitempty"`
}

// GateAnswer tells a deploy pipeline whether the SLO can afford a risk.
type GateAnswer struct {
	SLO                    string   `json:"slo"`
	OK                     bool     `json:"ok"`
	Reason                 string   `json:"reason"`
	BudgetRemainingPercent float64  `json:"budget_remaining_percent"`
	MinRemainingPercent    float64  `json:"min_remaining_percent"`
	OpenAlerts             []string `json:"open_alerts"`
}

// BatchStatus is one element of a /1/batch response, as Honeycomb sends it.
// Warning, beside a 202, says what of the event was not stored (new
// fields past the dataset's column limit).
type BatchStatus struct {
	Status  int    `json:"status"`
	Error   string `json:"error,omitempty"`
	Warning string `json:"warning,omitempty"`
}

// EventAnswer is the answer to one stored event; Warning says what of it
// was not stored (new fields past the dataset's column limit).
type EventAnswer struct {
	Warning string `json:"warning,omitempty"`
}

// IncidentTimeline is an incident with its timeline, in time order.
type IncidentTimeline struct {
	Incident *incident.Incident `json:"incident"`
	Timeline []TimelineEntry    `json:"timeline"`
}

// NewKey is a key just made, with its secret, which is shown this once.
// Its fields are in the order a map encoded them before it had a type,
// so that the answer stayed the same to the byte.
type NewKey struct {
	CreatedAt   time.Time  `json:"created_at"`
	Environment string     `json:"environment"`
	ID          string     `json:"id"`
	Key         string     `json:"key"`
	Name        string     `json:"name"`
	Scope       auth.Scope `json:"scope"`
	User        string     `json:"user,omitempty"` // the person a personal key belongs to
}
