package api

import (
	"net/http"
	"reflect"

	"github.com/prodex/prodex/internal/api/openapi"
	"github.com/prodex/prodex/internal/auth"
	"github.com/prodex/prodex/internal/duration"
	"github.com/prodex/prodex/internal/explain"
	"github.com/prodex/prodex/internal/history"
	"github.com/prodex/prodex/internal/incident"
	"github.com/prodex/prodex/internal/manifest"
	"github.com/prodex/prodex/internal/marker"
	"github.com/prodex/prodex/internal/note"
	"github.com/prodex/prodex/internal/notify"
	"github.com/prodex/prodex/internal/query"
	"github.com/prodex/prodex/internal/risk"
	"github.com/prodex/prodex/internal/rules"
	"github.com/prodex/prodex/internal/schema"
	"github.com/prodex/prodex/internal/slo"
	"github.com/prodex/prodex/internal/store"
	"github.com/prodex/prodex/internal/trace"
)

// The OpenAPI document's source: what each route reads and answers, by
// the Go types its handler decodes and encodes. The scope of each comes
// from the source (see sourceRoutes); TestOpenAPIDocument writes the
// document from this table and fails when it is not the committed one.

// Answers some handlers write as maps or wrap at run time, by the types
// they would have (their fields are held to the answers by the
// end-to-end tests, which check every answer against the document).
type (
	authAnswer struct {
		ID           string     `json:"id"`
		Scope        auth.Scope `json:"scope"`
		Name         string     `json:"name"`
		User         string     `json:"user"`
		APIKeyAccess struct {
			Events  bool `json:"events"`
			Queries bool `json:"queries"`
			Admin   bool `json:"admin"`
		} `json:"api_key_access"`
	}
	healthAnswer struct {
		Status string `json:"status"`
	}
	readyAnswer struct {
		Status string  `json:"status"` // ready or not ready
		Checks []Check `json:"checks"`
	}
	retentionAnswer struct {
		Name          string  `json:"name"`
		RetentionDays float64 `json:"retention_days"`
	}
	deletedAnswer struct {
		Deleted string `json:"deleted"`
	}
	environmentAnswer struct {
		Name string `json:"name"`
	}
	// writeWithMarkers adds the markers of the answer's interval.
	queryMarkersAnswer struct {
		QueryAnswer
		Markers []marker.Marker `json:"markers"`
	}
	statusMarkersAnswer struct {
		rules.Status
		Markers []marker.Marker `json:"markers"`
	}
	traceAnswer struct {
		*trace.Tree
		Truncated bool `json:"truncated"`
	}
	// Request bodies decoded into structs of their handler's own.
	retentionBody struct {
		RetentionDays *float64 `json:"retention_days"`
	}
	keyBody struct {
		Scope string `json:"scope"`
		Name  string `json:"name"`
		Env   string `json:"environment"`
	}
	nameBody struct {
		Name string `json:"name"`
	}
	linkBody struct {
		AlertID string `json:"alert_id"`
	}
	saveQueryBody struct {
		QueryID     string `json:"query_id"`
		Name        string `json:"name"`
		Description string `json:"description"`
	}
	renameQueryBody struct {
		Name        *string `json:"name"`
		Description *string `json:"description"`
	}
	noteTextBody struct {
		Text string `json:"text"`
	}
)

func typ[T any]() reflect.Type { return reflect.TypeFor[T]() }

// schemaNames names the schemas whose package-and-type name would say
// less (see openapi.Reflector.name).
var schemaNames = map[reflect.Type]string{
	typ[errorBody]():              "Error",
	typ[slo.SLI]():                "SLI",
	typ[rules.Change]():           "SLOChange",
	typ[statusMarkersAnswer]():    "SLOStatus",
	typ[rules.Episode]():          "Alert",
	typ[manifest.Change]():        "Change",
	typ[history.Query]():          "StoredQuery",
	typ[history.Run]():            "QueryRun",
	typ[history.Saved]():          "SavedQuery",
	typ[auth.Key]():               "Key",
	typ[auth.User]():              "User",
	typ[store.AuditEntry]():       "AuditEntry",
	typ[schema.Column]():          "Column",
	typ[Check]():                  "ReadinessCheck",
	typ[datasetJSON]():            "Dataset",
	typ[queryMarkersAnswer]():     "QueryAnswer",
	typ[traceAnswer]():            "Trace",
	typ[authAnswer]():             "KeyInfo",
	typ[healthAnswer]():           "Health",
	typ[readyAnswer]():            "Readiness",
	typ[retentionAnswer]():        "DatasetRetention",
	typ[NewKey]():                 "NewKey",
	typ[deletedAnswer]():          "Deleted",
	typ[environmentAnswer]():      "Environment",
	typ[IncidentTimeline]():       "IncidentTimeline",
	typ[incident.TimelineEntry](): "TimelineEntry",
}

// customSchemas describes the types that write their own JSON, and the
// string types whose values are a fixed set.
var customSchemas = map[reflect.Type]openapi.Named{
	typ[duration.Duration](): {Schema: openapi.Schema{"type": "string", "description": "A duration: Go's units (90s, 30m, 1h30m) or whole days and weeks (3d, 2w).",
		"examples": []any{"5m", "1h30m", "3d"}}},
	typ[duration.Coarse](): {Schema: openapi.Schema{"type": "string", "description": "A duration read as Go's units (30m, 1h30m) or whole days and weeks (2d, 2w), and written by Prodex in the one unit it is whole in (2d, 36h, 90m), otherwise to the second (3m12s).",
		"examples": []any{"30m", "1h30m", "2d"}}},
	typ[slo.Window](): {Schema: openapi.Schema{"type": "string", "description": "An SLO's window: whole days (30d, 4w) or calendar-month.",
		"examples": []any{"30d", "calendar-month"}}},
	// Written by encoding/json, but described by hand: its fields say how
	// secrets are redacted.
	typ[notify.Target](): {Name: "NotifyTarget", Schema: openapi.Schema{"type": "object", "additionalProperties": false, "required": []string{"type"},
		"description": "Where an SLO's notifications go. Its secrets are write-only: every read shows each one redacted, as " + redactedForm +
			"; a definition applied with a redacted form where a secret goes keeps the secret it stands for (a form that stands for none the SLO holds is a 400).",
		"properties": openapi.Schema{
			"type": openapi.Schema{"type": "string", "enum": []any{"webhook", "slack", "pagerduty"}},
			"url": openapi.Schema{"type": "string", "description": "The receiver's URL. A Slack or webhook URL is a secret (it carries the credential), read redacted; " +
				"PagerDuty's defaults to " + notify.PagerDutyURL + " and is read as it is."},
			"secret":      openapi.Schema{"type": "string", "description": "A webhook's HMAC-SHA256 key, which signs the body in X-Prodex-Signature; read redacted."},
			"routing_key": openapi.Schema{"type": "string", "description": "PagerDuty's integration key (required for pagerduty); read redacted."},
		}}},
	typ[auth.Scope]():   {Name: "Scope", Schema: enum("What a key may do: admin everything, edit ingest, query and write shared objects.", auth.Ingest, auth.Query, auth.Edit, auth.Admin)},
	typ[auth.Role]():    {Name: "Role", Schema: enum("A person's role: the scope of their keys.", auth.Viewer, auth.Editor, auth.RoleAdmin)},
	typ[slo.Severity](): {Name: "Severity", Schema: enum("How an alert notifies.", slo.Page, slo.Ticket)},
	typ[schema.Type]():  {Name: "ColumnType", Schema: enum("A column's type.", schema.Integer, schema.Float, schema.String, schema.Boolean)},
}

// redactedForm says how a read shows a secret (notify.Redact).
const redactedForm = `"…" and its last four characters ("…abcd"; "…" alone for a secret shorter than 12 characters)`

func enum[S ~string](desc string, values ...S) openapi.Schema {
	var vs []any
	for _, v := range values {
		vs = append(vs, string(v))
	}
	return openapi.Schema{"type": "string", "enum": vs, "description": desc}
}

// openAPISpec is what the document says besides its routes.
var openAPISpec = openapi.Spec{
	Info: openapi.Info{Title: "Prodex API", Version: "v1",
		Description: "Prodex's HTTP API: Honeycomb's events, columns, auth and markers API under /1/, Prodex's own under /api/v1/, " +
			"OTLP/HTTP, health and the web UI. docs/api.md tells the API in prose. Every answer carries X-Request-Id; every error is " +
			"{\"error\": \"…\"}, and a 500 outside /1/ also gives its request_id, under which the server logged the detail."},
	Tags: []openapi.Tag{
		{Name: "events", Description: "Honeycomb-compatible ingest, columns and key check."},
		{Name: "query", Description: "Queries, explain and traces."},
		{Name: "datasets"},
		{Name: "slos", Description: "SLOs, their status, alerts and definitions as code."},
		{Name: "risks", Description: "The risk register of an SLO."},
		{Name: "markers", Description: "Honeycomb's Markers API."},
		{Name: "history", Description: "Query history, permalinks and saved queries."},
		{Name: "incidents"},
		{Name: "notes"},
		{Name: "admin", Description: "Keys, people, environments and the audit log."},
		{Name: "otlp", Description: "OpenTelemetry over HTTP."},
		{Name: "operations", Description: "Health, readiness, metrics and this document."},
		{Name: "ui", Description: "The web UI."},
	},
	PathParams: map[string]string{
		"dataset":  "A dataset: letters, digits, '.', '-' and '_'; __all__ for markers of every dataset.",
		"name":     "The name of the SLO, risk or person.",
		"id":       "The id of the key, query, saved query, marker, incident or note.",
		"trace_id": "The trace id (trace.trace_id).",
		"path":     "An asset's path.",
	},
	Security: map[string]openapi.SecurityScheme{
		"honeycombTeam": {Type: "apiKey", In: "header", Name: "X-Honeycomb-Team",
			Description: "An API key, as Honeycomb's clients send it (the server may name one more header for OTLP senders, --key-header). " +
				"The roles a route lists are the scope it needs: admin may do everything, edit ingest and query too."},
		"bearer": {Type: "http", Scheme: "bearer", Description: "An API key as Authorization: Bearer KEY."},
		"session": {Type: "apiKey", In: "cookie", Name: sessionCookie,
			Description: "The web UI's session (GET /?key=KEY signs in and sets it): the id of a session the server keeps, never the key. It acts as its key does, " +
				"and ends when unused for --session-idle (12h), at --session-lifetime (7 days) after sign-in, at GET /signout and with its key or user. " +
				"A request that changes anything with it alone must carry the " + uiHeader + " header; event ingest and OTLP ignore it."},
	},
	Headers: map[string]openapi.Header{
		"X-Request-Id": {Description: "The request's id, under which the server logs about it.", Required: true, Schema: openapi.Schema{"type": "string"}},
		"Retry-After":  {Description: "Seconds to wait before sending again.", Required: true, Schema: openapi.Schema{"type": "integer"}},
		"Location":     {Description: "Where to go.", Required: true, Schema: openapi.Schema{"type": "string"}},
		"Allow":        {Description: "The methods the path takes.", Schema: openapi.Schema{"type": "string"}},
	},
	RequestID: "X-Request-Id",
}

// Helpers that keep the table short.
func ok(status int, t reflect.Type, desc string) openapi.Answer {
	return openapi.Answer{Status: status, Type: t, Description: desc}
}

func refused(status int, desc string) openapi.Answer {
	a := openapi.Answer{Status: status, Description: desc}
	switch status {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable, http.StatusInsufficientStorage:
		a.Headers = []string{"Retry-After"}
	}
	return a
}

func jsonBody[T any](name string, required ...string) *openapi.Body {
	return &openapi.Body{Type: typ[T](), Name: name, Required: required}
}

func param(name, desc string) openapi.Param { return openapi.Param{Name: name, Description: desc} }

func intParam(name, desc string) openapi.Param {
	return openapi.Param{Name: name, Description: desc, Schema: openapi.Schema{"type": "integer"}}
}

var dryRun = openapi.Param{Name: "dry_run", Description: "true: check and answer what would change, changing nothing.", Schema: openapi.Schema{"type": "boolean"}}

// Answers many routes share.
var (
	badDataset   = refused(400, "The dataset name, or the request, is invalid.")
	noDataset    = refused(404, "The dataset does not exist.")
	tooLarge     = refused(413, "The body is larger than the route takes.")
	invalid      = refused(400, "The request is invalid; the error says where.")
	notFound     = refused(404, "It does not exist.")
	conflict     = refused(409, "It conflicts with what exists.")
	queryMemory  = refused(503, "The query was cancelled to give memory back at the memory ceiling, or needed more than the database's memory limit (--memory-limit); Retry-After says when a retry may pass.")
	queryTimeout = refused(504, "The query ran out of time (--query-timeout).")
	ingestErrors = []openapi.Answer{
		refused(408, "The body arrived too slowly (--body-timeout, --min-body-rate)."),
		refused(413, "The body, an event or the events of the request are more than the limits (--max-request-bytes, --max-request-events), or decoding it would need more memory than the server gives decoding (--decode-memory)."),
		refused(415, "The Content-Type or Content-Encoding is not one the server reads."),
		refused(429, "Too many ingest requests at once, from the server, the environment or the key (--max-inflight, --max-inflight-per-env, --max-inflight-per-key); send again later."),
		refused(503, "The server is short of memory (--memory-ceiling, --decode-memory), shutting down, or could not store the events; send again later."),
		refused(507, "The disk is short of free space; send again later."),
	}
	eventBody = map[string]openapi.Schema{
		"application/json":    {"type": "object", "description": "The event's fields."},
		"application/msgpack": {"type": "string", "format": "binary"},
	}
	batchBody = map[string]openapi.Schema{
		"application/json": {"type": "array", "items": openapi.Schema{"type": "object", "properties": openapi.Schema{
			"data":       openapi.Schema{"type": "object", "description": "The event's fields."},
			"time":       openapi.Schema{"type": "string", "description": "RFC 3339 time of the event (default: when received)."},
			"samplerate": openapi.Schema{"type": "integer", "description": "One event stands for this many (default 1)."},
		}, "required": []any{"data"}}},
		"application/msgpack": {"type": "string", "format": "binary"},
	}
	otlpJSON    = openapi.Schema{"type": "object", "description": "An OTLP export request, as OTLP/JSON."}
	otlpAnswers = []openapi.Answer{
		{Status: 200, Description: "Stored; partialSuccess counts what was rejected.", Content: map[string]openapi.Schema{
			"application/json":       {"type": "object", "properties": openapi.Schema{"partialSuccess": openapi.Schema{"type": "object"}}},
			"application/x-protobuf": {"type": "string", "format": "binary"}}},
		refused(400, "The body is not a valid OTLP export request."),
		refused(408, "The body arrived too slowly (--body-timeout, --min-body-rate)."),
		refused(413, "The body or its spans, span events, links and log records are more than the limits (--max-request-bytes, --max-request-events), or decoding it would need more memory than the server gives decoding (--decode-memory)."),
		refused(415, "The Content-Type is neither application/x-protobuf nor application/json."),
		refused(429, "Too many ingest requests at once, from the server, the environment or the key; send again later."),
		refused(503, "The server cannot store the data now, or is short of memory; send again later."),
	}
)

// apiRoutes describes every route the API serves.
var apiRoutes = []openapi.Route{
	// Honeycomb's events API.
	{Pattern: "POST /1/events/{dataset}", ID: "sendEvent", Tag: "events", Summary: "Send one event",
		Description: "The body is the event's data; its time and sample rate come in headers.",
		Params: []openapi.Param{{Name: "X-Honeycomb-Event-Time", In: "header", Description: "The event's time: RFC 3339 or Unix seconds."},
			{Name: "X-Honeycomb-Samplerate", In: "header", Description: "One event stands for this many.", Schema: openapi.Schema{"type": "integer"}}},
		Body:    &openapi.Body{Content: eventBody},
		Answers: append([]openapi.Answer{ok(200, typ[EventAnswer](), "Stored; a warning names the new fields left out at the dataset's column limit."), refused(400, "The dataset or the event is invalid.")}, ingestErrors...)},
	{Pattern: "POST /1/batch/{dataset}", ID: "sendBatch", Tag: "events", Summary: "Send a batch of events",
		Description: "Each event is stored or refused on its own: the answer has one status per event, in order.",
		Body:        &openapi.Body{Content: batchBody},
		Answers:     append([]openapi.Answer{ok(200, typ[[]BatchStatus](), "One status per event: 202 stored (with a warning naming the new fields left out at the dataset's column limit), 400 refused with the error."), badDataset}, ingestErrors...)},
	{Pattern: "GET /1/columns/{dataset}", ID: "listColumns", Tag: "events", Summary: "List a dataset's columns",
		Answers: []openapi.Answer{ok(200, typ[[]schema.Column](), "The columns."), badDataset, noDataset}},
	{Pattern: "GET /1/auth", ID: "checkKey", Tag: "events", Summary: "Tell the key's id, name and scope",
		Answers: []openapi.Answer{ok(200, typ[authAnswer](), "The key.")}},

	// Queries, explain, datasets and traces.
	{Pattern: "POST /api/v1/query/{dataset}", ID: "runQuery", Tag: "query", Summary: "Run a query",
		Description: "Honeycomb's query spec; the answer gives the query's id and permalink, and the markers of its interval.",
		Body:        jsonBody[query.Spec](""),
		Answers:     []openapi.Answer{ok(200, typ[queryMarkersAnswer](), "The answer."), invalid, noDataset, tooLarge, queryMemory, queryTimeout}},
	{Pattern: "POST /api/v1/explain/{dataset}", ID: "explain", Tag: "query", Summary: "Explain a selection of events against its baseline",
		Body: jsonBody[explain.Request]("", "selection"),
		Answers: []openapi.Answer{ok(200, typ[explain.Answer](), "The columns that tell the selection apart, best first."), invalid, noDataset, tooLarge,
			refused(501, "The event store cannot explain."), queryMemory, queryTimeout}},
	{Pattern: "GET /api/v1/datasets", ID: "listDatasets", Tag: "datasets", Summary: "List the datasets with their retention",
		Answers: []openapi.Answer{ok(200, typ[[]datasetJSON](), "The datasets.")}},
	{Pattern: "PUT /api/v1/datasets/{dataset}", ID: "setRetention", Tag: "datasets", Summary: "Set a dataset's retention",
		Body:    jsonBody[retentionBody]("DatasetSettings", "retention_days"),
		Answers: []openapi.Answer{ok(200, typ[retentionAnswer](), "The retention set."), invalid, noDataset}},
	{Pattern: "GET /api/v1/traces/{trace_id}", ID: "getTrace", Tag: "query", Summary: "A trace's span tree",
		Params: []openapi.Param{param("dataset", "Comma-separated datasets to search (default: all)."),
			intParam("start_time", "Unix seconds: the earliest span start."), intParam("end_time", "Unix seconds: the latest span start.")},
		Answers: []openapi.Answer{ok(200, typ[traceAnswer](), "The trace; truncated when a dataset held more events of it than are read."),
			invalid, refused(404, "No event has that trace id, or a dataset named does not exist."), queryMemory, queryTimeout}},

	// Keys, environments, people, audit.
	{Pattern: "GET /api/v1/keys", ID: "listKeys", Tag: "admin", Summary: "List the API keys",
		Answers: []openapi.Answer{ok(200, typ[[]auth.Key](), "Every key, oldest first, without secrets.")}},
	{Pattern: "POST /api/v1/keys", ID: "createKey", Tag: "admin", Summary: "Create a team key",
		Body:    jsonBody[keyBody]("KeyRequest", "scope"),
		Answers: []openapi.Answer{ok(201, typ[NewKey](), "The key, with its secret, shown this once."), invalid}},
	{Pattern: "DELETE /api/v1/keys/{id}", ID: "revokeKey", Tag: "admin", Summary: "Revoke a key",
		Answers: []openapi.Answer{{Status: 204, Description: "Revoked."}, notFound}},
	{Pattern: "GET /api/v1/environments", ID: "listEnvironments", Tag: "admin", Summary: "List the environments",
		Answers: []openapi.Answer{ok(200, typ[[]string](), "The named environments (not the default one).")}},
	{Pattern: "POST /api/v1/environments", ID: "createEnvironment", Tag: "admin", Summary: "Create an environment",
		Body:    jsonBody[nameBody]("EnvironmentRequest", "name"),
		Answers: []openapi.Answer{ok(201, typ[environmentAnswer](), "Created."), invalid, refused(409, "The environment exists.")}},
	{Pattern: "GET /api/v1/users", ID: "listUsers", Tag: "admin", Summary: "List the people",
		Answers: []openapi.Answer{ok(200, typ[[]auth.User](), "The people.")}},
	{Pattern: "PUT /api/v1/users/{name}", ID: "putUser", Tag: "admin", Summary: "Create or change a person",
		Description: "Fields left out keep their values (a new person needs a role). A change applies to the person's keys at once: " +
			"they act with the role, and only in the environment, the person has now.",
		Body:    jsonBody[auth.UserChange]("UserRequest"),
		Answers: []openapi.Answer{ok(201, typ[auth.User](), "Created."), ok(200, typ[auth.User](), "Changed."), invalid}},
	{Pattern: "DELETE /api/v1/users/{name}", ID: "deleteUser", Tag: "admin", Summary: "Delete a person and revoke their keys",
		Answers: []openapi.Answer{ok(200, typ[deletedAnswer](), "Deleted."), notFound}},
	{Pattern: "POST /api/v1/users/{name}/keys", ID: "createUserKey", Tag: "admin", Summary: "Create a personal key",
		Body:    jsonBody[nameBody]("UserKeyRequest"),
		Answers: []openapi.Answer{ok(201, typ[NewKey](), "The key, with its secret, shown this once."), invalid, notFound}},
	{Pattern: "GET /api/v1/audit", ID: "listAudit", Tag: "admin", Summary: "The audit log: every write made through the API, newest first",
		Params: []openapi.Param{param("author", "Only this author's."), {Name: "since", Description: "RFC 3339: only writes since.", Schema: openapi.Schema{"type": "string", "format": "date-time"}},
			intParam("limit", "At most this many (default 100, at most 10000).")},
		Answers: []openapi.Answer{ok(200, typ[[]store.AuditEntry](), "The writes."), invalid}},

	// SLOs and alerts.
	{Pattern: "GET /api/v1/slos", ID: "listSLOs", Tag: "slos", Summary: "List the SLOs",
		Answers: []openapi.Answer{ok(200, typ[[]slo.SLO](), "The SLOs.")}},
	{Pattern: "POST /api/v1/slos", ID: "createSLO", Tag: "slos", Summary: "Create or update an SLO",
		Params: []openapi.Param{dryRun}, Body: jsonBody[slo.SLO]("SLORequest", "name", "dataset", "target", "window", "sli"),
		Answers: []openapi.Answer{ok(201, typ[rules.Change](), "Created."), ok(200, typ[rules.Change](), "Updated or unchanged."), invalid}},
	{Pattern: "GET /api/v1/slos/{name}", ID: "getSLO", Tag: "slos", Summary: "An SLO's definition",
		Answers: []openapi.Answer{ok(200, typ[slo.SLO](), "The SLO."), notFound}},
	{Pattern: "PUT /api/v1/slos/{name}", ID: "putSLO", Tag: "slos", Summary: "Create or update the SLO the path names",
		Description: "A body without a name takes the path's.",
		Params:      []openapi.Param{dryRun}, Body: jsonBody[slo.SLO]("SLORequest", "name", "dataset", "target", "window", "sli"),
		Answers: []openapi.Answer{ok(200, typ[rules.Change](), "Created, updated or unchanged."), invalid}},
	{Pattern: "DELETE /api/v1/slos/{name}", ID: "deleteSLO", Tag: "slos", Summary: "Delete an SLO",
		Answers: []openapi.Answer{ok(200, typ[deletedAnswer](), "Deleted."), notFound}},
	{Pattern: "GET /api/v1/slos/{name}/status", ID: "getSLOStatus", Tag: "slos", Summary: "An SLO's budget, burn rates, alerts and markers",
		Answers: []openapi.Answer{ok(200, typ[statusMarkersAnswer](), "The status over the SLO's window."), notFound}},
	{Pattern: "GET /api/v1/slos/{name}/gate", ID: "checkSLOGate", Tag: "slos", Summary: "Whether the SLO can afford a risky change now",
		Params:  []openapi.Param{{Name: "min_remaining", Description: "The percent of the budget that must remain (0 to 100, default 0); anything else, NaN and Inf included, is a 400."}},
		Answers: []openapi.Answer{ok(200, typ[GateAnswer](), "ok tells; reason says why."), invalid, notFound}},
	{Pattern: "POST /api/v1/apply", ID: "apply", Tag: "slos", Summary: "Apply SLOs and risks as code",
		Description: "A stream of YAML or JSON documents: prodex/v1 SLO or Risk, OpenSLO v1 SLO. Every document is checked before any is applied.",
		Params:      []openapi.Param{dryRun},
		Body: &openapi.Body{Content: map[string]openapi.Schema{"application/yaml": {"type": "string"}, "application/json": {"type": "object"}},
			Description: "The documents (YAML, separated by ---, or JSON)."},
		Answers: []openapi.Answer{ok(200, typ[[]manifest.Change](), "What each document changed."), invalid, refused(413, "The definitions are larger than 4 MiB.")}},
	{Pattern: "GET /api/v1/alerts", ID: "listAlerts", Tag: "slos", Summary: "Alert episodes, newest first",
		Params: []openapi.Param{param("slo", "Only this SLO's."), {Name: "open", Description: "true: only those firing.", Schema: openapi.Schema{"type": "boolean"}},
			intParam("limit", "At most this many (default 100, at most 10000).")},
		Answers: []openapi.Answer{ok(200, typ[[]rules.Episode](), "The episodes."), invalid}},

	// Risks.
	{Pattern: "GET /api/v1/risks", ID: "listRisks", Tag: "risks", Summary: "List the risks",
		Params:  []openapi.Param{param("slo", "Only this SLO's.")},
		Answers: []openapi.Answer{ok(200, typ[[]risk.Risk](), "The risks.")}},
	{Pattern: "POST /api/v1/risks", ID: "createRisk", Tag: "risks", Summary: "Create or update a risk",
		Params: []openapi.Param{dryRun}, Body: jsonBody[risk.Risk]("RiskRequest", "name", "slo", "ettd", "ettr", "impact_percent"),
		Answers: []openapi.Answer{ok(201, typ[manifest.Change](), "Created."), ok(200, typ[manifest.Change](), "Updated or unchanged."), invalid}},
	{Pattern: "GET /api/v1/risks/{name}", ID: "getRisk", Tag: "risks", Summary: "A risk",
		Answers: []openapi.Answer{ok(200, typ[risk.Risk](), "The risk."), notFound}},
	{Pattern: "PUT /api/v1/risks/{name}", ID: "putRisk", Tag: "risks", Summary: "Create or update the risk the path names",
		Params: []openapi.Param{dryRun}, Body: jsonBody[risk.Risk]("RiskRequest", "name", "slo", "ettd", "ettr", "impact_percent"),
		Answers: []openapi.Answer{ok(200, typ[manifest.Change](), "Created, updated or unchanged."), invalid}},
	{Pattern: "DELETE /api/v1/risks/{name}", ID: "deleteRisk", Tag: "risks", Summary: "Delete a risk",
		Answers: []openapi.Answer{ok(200, typ[deletedAnswer](), "Deleted."), notFound}},
	{Pattern: "POST /api/v1/risks/{name}/what-if", ID: "riskWhatIf", Tag: "risks", Summary: "The register with one risk's estimates changed, nothing saved",
		Params: thresholdParams, Body: jsonBody[risk.Change](""),
		Answers: []openapi.Answer{ok(200, typ[risk.WhatIf](), "Before and after."), invalid, notFound, refused(409, "The risk's SLO no longer exists.")}},
	{Pattern: "POST /api/v1/risks/{name}/incidents", ID: "linkRiskIncident", Tag: "risks", Summary: "Record that an alert episode was this risk happening",
		Body:    jsonBody[linkBody]("RiskLinkRequest", "alert_id"),
		Answers: []openapi.Answer{ok(200, typ[risk.Risk](), "The risk, with the episode among its incidents."), invalid, notFound}},
	{Pattern: "GET /api/v1/slos/{name}/risks", ID: "getRiskRegister", Tag: "risks", Summary: "An SLO's risk register, costliest first",
		Params: append([]openapi.Param{{Name: "format", Description: "json (default), markdown or csv.",
			Schema: openapi.Schema{"type": "string", "enum": []any{"json", "markdown", "md", "csv"}}}}, thresholdParams...),
		Answers: []openapi.Answer{{Status: 200, Description: "The register.", Content: map[string]openapi.Schema{
			"application/json": openapi.Ref("RiskRegister"), "text/markdown": {"type": "string"}, "text/csv": {"type": "string"}}},
			invalid, notFound}},
	{Pattern: "GET /api/v1/slos/{name}/incidents", ID: "listSLOIncidents", Tag: "risks", Summary: "An SLO's incidents as its alert episodes measured them",
		Params:  []openapi.Param{intParam("limit", "At most this many (default 100, at most 1000).")},
		Answers: []openapi.Answer{ok(200, typ[[]risk.Incident](), "The incidents, newest first."), invalid, notFound}},

	// Markers.
	{Pattern: "POST /1/markers/{dataset}", ID: "createMarker", Tag: "markers", Summary: "Create a marker",
		Body:    jsonBody[marker.Input](""),
		Answers: []openapi.Answer{ok(201, typ[marker.Marker](), "The marker."), invalid}},
	{Pattern: "GET /1/markers/{dataset}", ID: "listMarkers", Tag: "markers", Summary: "A dataset's markers, by start time",
		Params: []openapi.Param{intParam("start_time", "Unix seconds: only markers overlapping [start_time, end_time)."),
			intParam("end_time", "Unix seconds.")},
		Answers: []openapi.Answer{ok(200, typ[[]marker.Marker](), "The markers."), invalid}},
	{Pattern: "PUT /1/markers/{dataset}/{id}", ID: "updateMarker", Tag: "markers", Summary: "Change a marker; fields left out are kept",
		Body:    jsonBody[marker.Input](""),
		Answers: []openapi.Answer{ok(200, typ[marker.Marker](), "The marker."), invalid, refused(404, "No such marker in the dataset.")}},
	{Pattern: "DELETE /1/markers/{dataset}/{id}", ID: "deleteMarker", Tag: "markers", Summary: "Delete a marker",
		Answers: []openapi.Answer{ok(200, typ[marker.Marker](), "The marker deleted."), invalid, refused(404, "No such marker in the dataset.")}},

	// Query history and saved queries.
	{Pattern: "GET /q/{id}", ID: "openPermalink", Tag: "history", Summary: "A query's permalink",
		Description: "A browser (Accept: text/html) is sent to the web UI's view of the query; other clients get the query.",
		Answers: []openapi.Answer{ok(200, typ[history.Query](), "The query, with its absolute spec."),
			{Status: 303, Description: "To the web UI.", Headers: []string{"Location"}}, notFound}},
	{Pattern: "GET /api/v1/queries/{id}", ID: "getStoredQuery", Tag: "history", Summary: "A query by id, with its absolute spec",
		Answers: []openapi.Answer{ok(200, typ[history.Query](), "The query."), notFound}},
	{Pattern: "POST /api/v1/queries/{id}/run", ID: "rerunQuery", Tag: "history", Summary: "Run a stored query again over its own interval",
		Answers: []openapi.Answer{ok(200, typ[queryMarkersAnswer](), "The answer, as runQuery's."), invalid, notFound, queryMemory, queryTimeout}},
	{Pattern: "GET /api/v1/history", ID: "listQueryRuns", Tag: "history", Summary: "Query runs, newest first",
		Params: []openapi.Param{param("dataset", "Only this dataset's."), param("author", "Only this author's."),
			param("q", "Text searched in the dataset, author and spec."),
			param("since", "RFC 3339 or Unix seconds: runs since."), param("until", "RFC 3339 or Unix seconds: runs before."),
			intParam("limit", "At most this many.")},
		Answers: []openapi.Answer{ok(200, typ[[]history.Run](), "The runs."), invalid}},
	{Pattern: "GET /api/v1/saved-queries", ID: "listSavedQueries", Tag: "history", Summary: "The saved queries, by name",
		Params:  []openapi.Param{param("q", "Text searched in the name and description.")},
		Answers: []openapi.Answer{ok(200, typ[[]history.Saved](), "The saved queries.")}},
	{Pattern: "POST /api/v1/saved-queries", ID: "saveQuery", Tag: "history", Summary: "Save a query that has run under a name",
		Body:    jsonBody[saveQueryBody]("SaveQueryRequest", "query_id", "name"),
		Answers: []openapi.Answer{ok(201, typ[history.Saved](), "Saved."), invalid}},
	{Pattern: "GET /api/v1/saved-queries/{id}", ID: "getSavedQuery", Tag: "history", Summary: "A saved query",
		Answers: []openapi.Answer{ok(200, typ[history.Saved](), "The saved query."), notFound}},
	{Pattern: "PUT /api/v1/saved-queries/{id}", ID: "renameSavedQuery", Tag: "history", Summary: "Change a saved query's name or description",
		Body:    jsonBody[renameQueryBody]("RenameQueryRequest"),
		Answers: []openapi.Answer{ok(200, typ[history.Saved](), "Changed."), invalid, notFound}},
	{Pattern: "DELETE /api/v1/saved-queries/{id}", ID: "deleteSavedQuery", Tag: "history", Summary: "Delete a saved query",
		Answers: []openapi.Answer{{Status: 204, Description: "Deleted."}, notFound}},

	// Incidents and notes.
	{Pattern: "GET /api/v1/incidents", ID: "listIncidents", Tag: "incidents", Summary: "List incidents, newest first",
		Params:  []openapi.Param{param("status", "Only those of this status."), param("slo", "Only this SLO's.")},
		Answers: []openapi.Answer{ok(200, typ[[]*incident.Incident](), "The incidents.")}},
	{Pattern: "POST /api/v1/incidents", ID: "declareIncident", Tag: "incidents", Summary: "Open an incident by hand",
		Body:    jsonBody[incident.Declaration]("IncidentDeclaration", "title"),
		Answers: []openapi.Answer{ok(201, typ[incident.Incident](), "The incident."), invalid}},
	{Pattern: "GET /api/v1/incidents/{id}", ID: "getIncident", Tag: "incidents", Summary: "An incident",
		Answers: []openapi.Answer{ok(200, typ[incident.Incident](), "The incident."), notFound}},
	{Pattern: "PATCH /api/v1/incidents/{id}", ID: "updateIncident", Tag: "incidents", Summary: "Change an incident",
		Description: "Status, roles, severity, title, risk, times or the postmortem; each change is recorded in the incident's events.",
		Body:        jsonBody[incident.Change](""),
		Answers:     []openapi.Answer{ok(200, typ[incident.Incident](), "The incident."), invalid, notFound}},
	{Pattern: "GET /api/v1/incidents/{id}/timeline", ID: "getIncidentTimeline", Tag: "incidents", Summary: "An incident with its timeline",
		Answers: []openapi.Answer{ok(200, typ[IncidentTimeline](), "The incident and its timeline, in time order."), notFound}},
	{Pattern: "GET /api/v1/notes", ID: "listNotes", Tag: "notes", Summary: "List notes",
		Params:  []openapi.Param{param("target_type", "slo, query, marker or incident."), param("target_id", "The target's id (needs target_type).")},
		Answers: []openapi.Answer{ok(200, typ[[]note.Note](), "The notes."), invalid}},
	{Pattern: "POST /api/v1/notes", ID: "writeNote", Tag: "notes", Summary: "Write a note on an SLO, query, marker or incident",
		Body:    jsonBody[note.Note]("NoteRequest", "target_type", "target_id", "text"),
		Answers: []openapi.Answer{ok(201, typ[note.Note](), "The note."), invalid}},
	{Pattern: "PUT /api/v1/notes/{id}", ID: "editNote", Tag: "notes", Summary: "Change a note's text",
		Body: jsonBody[noteTextBody]("NoteTextRequest", "text"),
		Answers: []openapi.Answer{ok(200, typ[note.Note](), "The note."), invalid,
			refused(403, "Only the note's writer or an admin may change it, or the key's scope does not allow this route."), notFound}},
	{Pattern: "DELETE /api/v1/notes/{id}", ID: "deleteNote", Tag: "notes", Summary: "Delete a note",
		Answers: []openapi.Answer{ok(200, typ[deletedAnswer](), "Deleted."),
			refused(403, "Only the note's writer or an admin may delete it, or the key's scope does not allow this route."), notFound}},

	// OTLP/HTTP.
	{Pattern: "POST /v1/traces", ID: "exportTraces", Tag: "otlp", Summary: "OTLP/HTTP traces", OTLP: true,
		Body:    &openapi.Body{Content: map[string]openapi.Schema{"application/x-protobuf": {"type": "string", "format": "binary"}, "application/json": otlpJSON}},
		Answers: otlpAnswers},
	{Pattern: "POST /v1/logs", ID: "exportLogs", Tag: "otlp", Summary: "OTLP/HTTP logs", OTLP: true,
		Body:    &openapi.Body{Content: map[string]openapi.Schema{"application/x-protobuf": {"type": "string", "format": "binary"}, "application/json": otlpJSON}},
		Answers: otlpAnswers},

	// Operations.
	{Pattern: "GET /healthz", ID: "health", Tag: "operations", Summary: "Liveness",
		Answers: []openapi.Answer{ok(200, typ[healthAnswer](), "The server is up.")}},
	{Pattern: "GET /readyz", ID: "readiness", Tag: "operations", Summary: "Ingest readiness, for load balancers",
		Description: "Whether this node can take events: its event stores answer and it is not shutting down. " +
			"The metadata store, the alert rules and ingest refusing for memory or disk are reported as degraded checks, which leave it ready.",
		Answers: []openapi.Answer{ok(200, typ[readyAnswer](), "Ready; degraded checks name what is wrong."),
			ok(503, typ[readyAnswer](), "Not ready: the checks say why.")}},
	{Pattern: "GET /readyz/meta", ID: "metaReadiness", Tag: "operations", Summary: "Metadata readiness",
		Description: "Whether the metadata store (keys, SLOs, alerts, history) answers and the alert rules are evaluated, " +
			"for a load balancer in front of the routes that read or change them.",
		Answers: []openapi.Answer{ok(200, typ[readyAnswer](), "Ready."),
			ok(503, typ[readyAnswer](), "Not ready: the checks say why.")}},
	{Pattern: "GET /metrics", ID: "metrics", Tag: "operations", Summary: "Prometheus metrics of every environment",
		Answers: []openapi.Answer{{Status: 200, Description: "The metrics.", Content: map[string]openapi.Schema{"text/plain": {"type": "string"}}},
			refused(404, "This server serves no metrics.")}},
	{Pattern: "GET /api/v1/openapi.json", ID: "openapi", Tag: "operations", Summary: "This document",
		Answers: []openapi.Answer{{Status: 200, Description: "The OpenAPI 3.1 document.", Content: map[string]openapi.Schema{"application/json": {"type": "object"}}}}},

	// The web UI.
	{Pattern: "GET /{$}", ID: "ui", Tag: "ui", Summary: "The web UI",
		Params: []openapi.Param{param("key", "An API key to sign in with: the server starts a session of it, whose id goes into the session cookie, and the address loses the key.")},
		Answers: []openapi.Answer{{Status: 200, Description: "The UI's page.", Content: map[string]openapi.Schema{"text/html": {"type": "string"}}},
			{Status: 303, Description: "Signed in (or not, for an invalid key or one that may not query): back to /.", Headers: []string{"Location"}},
			refused(500, "The session could not be stored.")}},
	{Pattern: "GET /ui/", ID: "uiAsset", Tag: "ui", Summary: "The web UI's scripts, styles and images",
		Answers: []openapi.Answer{{Status: 200, Description: "The asset.", Content: map[string]openapi.Schema{"*/*": {"type": "string", "format": "binary"}}},
			{Status: 404, Description: "No such asset.", Content: map[string]openapi.Schema{"text/plain": {"type": "string"}}}}},
	{Pattern: "GET /signout", ID: "signOut", Tag: "ui", Summary: "Sign out of the web UI",
		Answers: []openapi.Answer{{Status: 303, Description: "Signed out, the session ended on the server: back to /.", Headers: []string{"Location"}},
			refused(500, "The session could not be ended.")}},
}

var thresholdParams = []openapi.Param{
	{Name: "incident_threshold", Description: "Flag one incident costing more than this percent of a window's budget (default 25).", Schema: openapi.Schema{"type": "number"}},
	{Name: "threat_threshold", Description: "A risk threatens the SLO above this percent of the yearly budget (default 100).", Schema: openapi.Schema{"type": "number"}},
}
