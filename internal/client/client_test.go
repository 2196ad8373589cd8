package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prodex/prodex/internal/api"
	"github.com/prodex/prodex/internal/auth"
	"github.com/prodex/prodex/internal/duration"
	"github.com/prodex/prodex/internal/explain"
	"github.com/prodex/prodex/internal/history"
	"github.com/prodex/prodex/internal/incident"
	"github.com/prodex/prodex/internal/marker"
	"github.com/prodex/prodex/internal/note"
	"github.com/prodex/prodex/internal/query"
	"github.com/prodex/prodex/internal/risk"
	"github.com/prodex/prodex/internal/rules"
	"github.com/prodex/prodex/internal/slo"
)

// serve starts a server whose every request h answers, and a client of it.
func serve(t *testing.T, h http.HandlerFunc) *Client {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return &Client{Server: s.URL + "/", Key: "secret"}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// strict decodes a request body as the server does: unknown fields are an
// error.
func strict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

func TestErrors(t *testing.T) {
	ctx := context.Background()
	c := serve(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/v1/slos/nope/status":
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "SLO nope does not exist"})
		case "/healthz": // sent without the key
			if r.Header.Get("X-Honeycomb-Team") != "" {
				t.Errorf("health check sent a key")
			}
			w.WriteHeader(http.StatusServiceUnavailable)
		case "/api/v1/slos/proxy/status":
			w.WriteHeader(http.StatusBadGateway)
			io.WriteString(w, "  upstream went away\n")
		default:
			t.Errorf("unexpected %s %s", r.Method, r.URL)
		}
	})
	_, err := c.SLOStatus(ctx, "nope")
	var e *Error
	if !errors.As(err, &e) || e.StatusCode != 404 || err.Error() != "404 Not Found: SLO nope does not exist" {
		t.Errorf("JSON error: %#v %v", err, err)
	}
	if _, err := c.SLOStatus(ctx, "proxy"); err == nil || err.Error() != "502 Bad Gateway: upstream went away" {
		t.Errorf("plain error: %v", err)
	}
	c.Key = ""
	if _, err := c.SLOStatus(ctx, "nope"); !errors.Is(err, ErrNoKey) {
		t.Errorf("without a key: %v", err)
	}
	if err := c.Health(ctx); err == nil || !strings.HasPrefix(err.Error(), "503") {
		t.Errorf("health: %v", err)
	}
}

var (
	at  = time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC)
	ttr = duration.Coarse(15 * time.Minute)
	sli = 99.5
)

// TestCalls checks each method's request (method, path, query, and a body
// the server's strict decoding accepts) and that the answer the handler
// encodes decodes into the value it was.
func TestCalls(t *testing.T) {
	ctx := context.Background()
	result := &query.Result{Series: []query.Point{{Time: at, Data: map[string]any{"COUNT": 3.0}}}, Results: []query.Row{{Data: map[string]any{"COUNT": 3.0, "service": "api"}}},
		StartTime: at.Unix(), EndTime: at.Unix() + 3600, Granularity: 60}
	qa := api.QueryAnswer{Result: result, QueryID: "3fa2b1c4d5e6f708", Permalink: "/q/3fa2b1c4d5e6f708"}
	spec := &query.Spec{Calculations: []query.Calculation{{Op: "P99", Column: "duration_ms"}}, Filters: []query.Filter{{Column: "status_code", Op: ">=", Value: int64(500)}}, TimeRange: 3600}
	checkSpec := func(t *testing.T, body []byte) {
		s, err := query.Parse(body)
		if err != nil || s.Calculations[0].Column != "duration_ms" || s.TimeRange != 3600 {
			t.Errorf("spec %s: %v", body, err)
		}
	}
	inc := incident.Incident{ID: "inc-1", Title: "checkout slow", Severity: "sev2", Status: "investigating", TTD: duration.Coarse(5 * time.Minute), TTR: &ttr,
		DetectedAt: at, StartedAt: at.Add(-5 * time.Minute), CreatedAt: at, UpdatedAt: at, Events: []incident.Event{}}
	reg := risk.Register{SLO: "checkout", Target: 99.9, Window: "30d", Risks: []risk.Entry{{Rank: 1, Risk: risk.Risk{Name: "db", SLO: "checkout", ETTD: duration.Coarse(20 * time.Minute), Status: "open"}}}}
	st := rules.Status{Status: slo.Status{SLO: "checkout", Target: 99.9, Window: "30d", SLI: &sli, BurnRate: map[string]float64{"5m": 2}, WindowStart: at, Now: at}, Invalid: 2, Alerts: []*rules.Episode{{ID: "a1", Severity: slo.Page, StartedAt: at}}}
	status := "mitigated"
	for _, tc := range []struct {
		name   string
		call   func(c *Client) (any, error)
		target string // method and request URI
		body   func(t *testing.T, body []byte)
		answer any
	}{
		{"Query", func(c *Client) (any, error) { return c.Query(ctx, "checkout", spec) }, "POST /api/v1/query/checkout", checkSpec, qa},
		{"RunStoredQuery", func(c *Client) (any, error) { return c.RunStoredQuery(ctx, "3fa2b1c4d5e6f708") }, "POST /api/v1/queries/3fa2b1c4d5e6f708/run", nil, qa},
		{"StoredQuery", func(c *Client) (any, error) { return c.StoredQuery(ctx, "3fa2") }, "GET /api/v1/queries/3fa2", nil,
			history.Query{ID: "3fa2", Dataset: "checkout", Spec: json.RawMessage(`{"time_range":60}`), CreatedAt: at}},
		{"Explain", func(c *Client) (any, error) {
			return c.Explain(ctx, "shop", &explain.Request{TimeRange: 900, Selection: explain.Selection{SLO: "checkout-latency"}})
		}, "POST /api/v1/explain/shop", func(t *testing.T, body []byte) {
			if r, err := explain.Parse(body); err != nil || r.Selection.SLO != "checkout-latency" {
				t.Errorf("explain request %s: %v", body, err)
			}
		}, explain.Answer{SelectionCount: 5, BaselineCount: 95, Columns: []explain.Column{{Column: "build_id", Score: 0.8, Values: []explain.ValueShare{{Value: "4512", SelectionShare: 0.7, BaselineShare: 0.1}}}}}},
		{"History", func(c *Client) (any, error) {
			return c.History(ctx, history.RunFilter{Author: "alice", Text: "p99", Since: at, Limit: 20})
		}, "GET /api/v1/history?author=alice&limit=20&q=p99&since=1795507200", nil, []history.Run{{ID: "r1", QueryID: "q1", Author: "alice", Spec: json.RawMessage(`{}`), RanAt: at, Rows: 3}}},
		{"SavedQueries", func(c *Client) (any, error) { return c.SavedQueries(ctx, "slow checkout") }, "GET /api/v1/saved-queries?q=slow+checkout", nil,
			[]history.Saved{{ID: "s1", Name: "slow", QueryID: "q1", Spec: json.RawMessage(`{}`), CreatedAt: at, UpdatedAt: at}}},
		{"SaveQuery", func(c *Client) (any, error) { return c.SaveQuery(ctx, "q1", "slow", "p99 by build") }, "POST /api/v1/saved-queries", func(t *testing.T, body []byte) {
			var b struct {
				QueryID           string `json:"query_id"`
				Name, Description string
			}
			if err := strict(body, &b); err != nil || b.QueryID != "q1" || b.Description != "p99 by build" {
				t.Errorf("save %s: %v", body, err)
			}
		}, history.Saved{ID: "s1", Name: "slow", QueryID: "q1", Spec: json.RawMessage(`{}`), CreatedAt: at, UpdatedAt: at}},
		{"SLOs", func(c *Client) (any, error) { return c.SLOs(ctx) }, "GET /api/v1/slos", nil,
			[]slo.SLO{{Name: "checkout", Dataset: "shop", Target: 99.9, Window: slo.Window{Days: 30}, SLI: slo.SLI{Good: "status_code < 500"}}}},
		{"PutSLO", func(c *Client) (any, error) {
			return c.PutSLO(ctx, slo.SLO{Name: "bench-00", Dataset: "bench", Target: 99.9, Window: slo.Window{Days: 30}, SLI: slo.SLI{Good: "status_code < 500"}})
		}, "PUT /api/v1/slos/bench-00", func(t *testing.T, body []byte) {
			var d slo.SLO
			if err := strict(body, &d); err != nil || d.Window.Days != 30 || d.SLI.Good != "status_code < 500" {
				t.Errorf("SLO %s: %v", body, err)
			}
		}, rules.Change{Name: "bench-00", Action: "created"}},
		{"SLOStatus", func(c *Client) (any, error) { return c.SLOStatus(ctx, "checkout") }, "GET /api/v1/slos/checkout/status", nil, st},
		{"SLOIncidents", func(c *Client) (any, error) { return c.SLOIncidents(ctx, "checkout") }, "GET /api/v1/slos/checkout/incidents", nil,
			[]risk.Incident{{AlertID: "a1", BadStart: at, Detected: at, TTD: duration.Coarse(3 * time.Minute), Ongoing: true}}},
		{"Gate", func(c *Client) (any, error) { return c.Gate(ctx, "checkout", "25%") }, "GET /api/v1/slos/checkout/gate?min_remaining=25%25", nil,
			api.GateAnswer{SLO: "checkout", OK: true, Reason: "enough", OpenAlerts: []string{}}},
		{"Apply", func(c *Client) (any, error) { return c.Apply(ctx, []byte("kind: SLO\n"), true) }, "POST /api/v1/apply?dry_run=true", func(t *testing.T, body []byte) {
			if string(body) != "kind: SLO\n" {
				t.Errorf("apply sent %q", body)
			}
		}, []rules.Change{{Kind: "SLO", Name: "checkout", Action: "updated", Diff: []string{"target: 99.5 → 99.9"}}}},
		{"RiskRegister", func(c *Client) (any, error) {
			return c.RiskRegister(ctx, "checkout", risk.Thresholds{IncidentPercent: 10})
		}, "GET /api/v1/slos/checkout/risks?format=json&incident_threshold=10", nil, reg},
		{"Risks", func(c *Client) (any, error) { return c.Risks(ctx, "") }, "GET /api/v1/risks?slo=", nil, []risk.Risk{reg.Risks[0].Risk}},
		{"WhatIf", func(c *Client) (any, error) {
			return c.WhatIf(ctx, "db", risk.Change{ETTR: &ttr, Status: &status}, risk.Thresholds{ThreatPercent: 50})
		}, "POST /api/v1/risks/db/what-if?threat_threshold=50", func(t *testing.T, body []byte) {
			var ch risk.Change
			if err := strict(body, &ch); err != nil || *ch.ETTR != ttr || ch.ETTD != nil || *ch.Status != "mitigated" {
				t.Errorf("what-if %s: %v", body, err)
			}
		}, risk.WhatIf{Risk: "db", Register: reg}},
		{"LinkIncident", func(c *Client) (any, error) { return c.LinkIncident(ctx, "db", "a1") }, "POST /api/v1/risks/db/incidents", nil, reg.Risks[0].Risk},
		{"OpenIncident", func(c *Client) (any, error) {
			return c.OpenIncident(ctx, incident.Incident{Title: "checkout slow", Commander: "alice"})
		}, "POST /api/v1/incidents", func(t *testing.T, body []byte) {
			var b struct {
				Title, Severity, SLO, Risk, Commander, Scribe string
				StartedAt                                     time.Time `json:"started_at"`
				DetectedAt                                    time.Time `json:"detected_at"`
			}
			if err := strict(body, &b); err != nil || b.Title != "checkout slow" || b.Commander != "alice" || strings.Contains(string(body), "_at") {
				t.Errorf("incident %s: %v", body, err)
			}
		}, inc},
		{"Incidents", func(c *Client) (any, error) { return c.Incidents(ctx, "investigating") }, "GET /api/v1/incidents?status=investigating", nil, []incident.Incident{inc}},
		{"IncidentTimeline", func(c *Client) (any, error) { return c.IncidentTimeline(ctx, "inc-1") }, "GET /api/v1/incidents/inc-1/timeline", nil,
			api.IncidentTimeline{Incident: &inc, Timeline: []api.TimelineEntry{{Time: at, Kind: "opened", Author: "alice", Text: "opened"}}}},
		{"UpdateIncident", func(c *Client) (any, error) {
			return c.UpdateIncident(ctx, "inc-1", incident.Change{Status: &status, Postmortem: &incident.Postmortem{Summary: "bad build", FollowUps: []incident.FollowUp{{Title: "canary", Risk: "db"}}}})
		}, "PATCH /api/v1/incidents/inc-1", func(t *testing.T, body []byte) {
			var ch incident.Change
			if err := strict(body, &ch); err != nil || *ch.Status != "mitigated" || ch.Postmortem.FollowUps[0].Risk != "db" {
				t.Errorf("incident change %s: %v", body, err)
			}
		}, inc},
		{"AddNote", func(c *Client) (any, error) { return c.AddNote(ctx, "incident", "inc-1", "*rolled back*") }, "POST /api/v1/notes", func(t *testing.T, body []byte) {
			var n note.Note
			if err := strict(body, &n); err != nil || n.TargetType != "incident" || n.TargetID != "inc-1" || n.Text != "*rolled back*" {
				t.Errorf("note %s: %v", body, err)
			}
		}, note.Note{ID: "note-1", TargetType: "incident", TargetID: "inc-1", Text: "*rolled back*", CreatedAt: at, UpdatedAt: at}},
		{"Notes", func(c *Client) (any, error) { return c.Notes(ctx, "slo", "checkout") }, "GET /api/v1/notes?target_id=checkout&target_type=slo", nil,
			[]note.Note{{ID: "note-1", CreatedAt: at, UpdatedAt: at}}},
		{"CreateMarker", func(c *Client) (any, error) {
			typ, msg, start := "deploy", "v1.2.3", at.Unix()
			return c.CreateMarker(ctx, marker.AllDatasets, marker.Input{Type: &typ, Message: &msg, StartTime: &start})
		}, "POST /1/markers/__all__", func(t *testing.T, body []byte) {
			var in marker.Input
			if err := strict(body, &in); err != nil || *in.Type != "deploy" || in.URL != nil || *in.StartTime != at.Unix() {
				t.Errorf("marker %s: %v", body, err)
			}
		}, marker.Marker{ID: "m1", Dataset: marker.AllDatasets, StartTime: at.Unix(), Type: "deploy", Message: "v1.2.3", CreatedAt: at, UpdatedAt: at}},
		{"Markers", func(c *Client) (any, error) { return c.Markers(ctx, "checkout") }, "GET /1/markers/checkout", nil, []marker.Marker{{ID: "m1", CreatedAt: at, UpdatedAt: at}}},
		{"CreateKey", func(c *Client) (any, error) { return c.CreateKey(ctx, "staging", auth.Ingest, "ci") }, "POST /api/v1/keys", func(t *testing.T, body []byte) {
			var b struct {
				Scope, Name string
				Env         string `json:"environment"`
			}
			if err := strict(body, &b); err != nil || b.Scope != "ingest" || b.Env != "staging" {
				t.Errorf("key %s: %v", body, err)
			}
		}, api.NewKey{ID: "k1", Scope: auth.Ingest, Name: "ci", Environment: "staging", CreatedAt: at, Key: "s3cret"}},
		{"Keys", func(c *Client) (any, error) { return c.Keys(ctx) }, "GET /api/v1/keys", nil, []auth.Key{{ID: "k1", Scope: auth.Admin, Created: at}}},
		{"Users", func(c *Client) (any, error) { return c.Users(ctx) }, "GET /api/v1/users", nil, []auth.User{{Name: "alice", Role: "editor", Created: at}}},
		{"SetUser", func(c *Client) (any, error) {
			role := auth.Viewer
			return c.SetUser(ctx, auth.UserChange{Name: "bob", Role: &role})
		}, "PUT /api/v1/users/bob", func(t *testing.T, body []byte) {
			// Only what changes: the email and environment are kept.
			if string(body) != `{"role":"viewer"}` {
				t.Errorf("user %s", body)
			}
		}, auth.User{Name: "bob", Role: "viewer", Created: at}},
		{"CreateUserKey", func(c *Client) (any, error) { return c.CreateUserKey(ctx, "bob", "laptop") }, "POST /api/v1/users/bob/keys", nil,
			api.NewKey{ID: "k2", Scope: auth.Query, Name: "laptop", User: "bob", CreatedAt: at, Key: "s3cret"}},
		{"Environments", func(c *Client) (any, error) { return c.Environments(ctx) }, "GET /api/v1/environments", nil, []string{"staging"}},
		{"Batch", func(c *Client) (any, error) {
			ev, err := NewEvent(at, map[string]any{"service": "api"})
			if err != nil {
				return nil, err
			}
			return c.Batch(ctx, "shop", []Event{ev, {Data: json.RawMessage(`{}`)}})
		}, "POST /1/batch/shop", func(t *testing.T, body []byte) {
			if string(body) != `[{"time":"2026-11-24T08:00:00Z","data":{"service":"api"}},{"data":{}}]` {
				t.Errorf("batch %s", body)
			}
		}, []api.BatchStatus{{Status: 202}, {Status: 400, Error: "bad"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := serve(t, func(w http.ResponseWriter, r *http.Request) {
				if got := r.Method + " " + r.URL.RequestURI(); got != tc.target {
					t.Errorf("request %s, want %s", got, tc.target)
				}
				if r.Header.Get("X-Honeycomb-Team") != "secret" {
					t.Errorf("no key sent")
				}
				body, _ := io.ReadAll(r.Body)
				if tc.body != nil {
					tc.body(t, body)
				}
				writeJSON(w, http.StatusOK, tc.answer)
			})
			got, err := tc.call(c)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.answer) {
				t.Errorf("answer\n got %#v\nwant %#v", got, tc.answer)
			}
		})
	}
}

// TestNoAnswer: the calls that answer nothing of use send what they should.
func TestNoAnswer(t *testing.T) {
	ctx := context.Background()
	var got []string
	c := serve(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got = append(got, strings.TrimSpace(r.Method+" "+r.URL.RequestURI()+" "+string(body)))
		w.WriteHeader(http.StatusNoContent)
	})
	for _, err := range []error{c.DeleteSLO(ctx, "a b"), c.DeleteRisk(ctx, "db"), c.DeleteSavedQuery(ctx, "s1"), c.RevokeKey(ctx, "k1"),
		c.DeleteUser(ctx, "bob"), c.CreateEnvironment(ctx, "staging")} {
		if err != nil {
			t.Error(err)
		}
	}
	want := []string{"DELETE /api/v1/slos/a%20b", "DELETE /api/v1/risks/db", "DELETE /api/v1/saved-queries/s1", "DELETE /api/v1/keys/k1",
		"DELETE /api/v1/users/bob", `POST /api/v1/environments {"name":"staging"}`}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("requests\n got %q\nwant %q", got, want)
	}
}

// TestJSONAsWritten: the JSON methods give the answer's bytes untouched,
// fields the types do not have and integers beyond float64 included.
func TestJSONAsWritten(t *testing.T) {
	ctx := context.Background()
	answer := `{"series":[],"results":[{"data":{"MAX(ts_ns)":1795507200000000123}}],"query_id":"q1","markers":[{"id":"m1"}]}` + "\n"
	c := serve(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, answer) })
	for name, get := range map[string]func() ([]byte, error){
		"QueryJSON":          func() ([]byte, error) { return c.QueryJSON(ctx, "x", &query.Spec{}) },
		"RunStoredQueryJSON": func() ([]byte, error) { return c.RunStoredQueryJSON(ctx, "q1") },
		"SLOStatusJSON":      func() ([]byte, error) { return c.SLOStatusJSON(ctx, "x") },
		"RiskReport":         func() ([]byte, error) { return c.RiskReport(ctx, "x", risk.Thresholds{}, "csv") },
	} {
		if b, err := get(); err != nil || string(b) != answer {
			t.Errorf("%s: %q, %v", name, b, err)
		}
	}
}

func TestSendLines(t *testing.T) {
	var bodies []string
	c := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/1/batch/logs" {
			t.Errorf("sent to %s", r.URL.Path)
		}
		body, _ := io.ReadAll(r.Body)
		bodies = append(bodies, string(body))
		var evs []Event
		json.Unmarshal(body, &evs)
		out := make([]api.BatchStatus, len(evs))
		for i, ev := range evs {
			out[i].Status = 202
			if strings.Contains(string(ev.Data), "refuse") {
				out[i] = api.BatchStatus{Status: 400, Error: "refused"}
			}
		}
		writeJSON(w, http.StatusOK, out)
	})
	in := strings.NewReader(`{"a":1,"at":"2026-11-24T08:00:00Z"}

not json
{"b":2,"at":1795507200}
{"refuse":true}
{"c":3}
`)
	var rejects []string
	sent, rejected, err := c.SendLines(context.Background(), "logs", in, 2, "at", func(line int, reason string) {
		rejects = append(rejects, fmt.Sprintf("%s @%d", strings.SplitN(reason, ":", 2)[0], line))
	})
	if err != nil || sent != 3 || rejected != 2 {
		t.Fatalf("sent %d, rejected %d, %v", sent, rejected, err)
	}
	if want := []string{"not a JSON object @3", "refused @5"}; !reflect.DeepEqual(rejects, want) {
		t.Errorf("rejects %q, want %q", rejects, want)
	}
	want := []string{`[{"time":"2026-11-24T08:00:00Z","data":{"a":1}},{"time":1795507200,"data":{"b":2}}]`, `[{"data":{"refuse":true}},{"data":{"c":3}}]`}
	if !reflect.DeepEqual(bodies, want) {
		t.Errorf("requests\n got %q\nwant %q", bodies, want)
	}

	c.Server = "http://127.0.0.1:1" // nothing listens
	if _, _, err := c.SendLines(context.Background(), "logs", strings.NewReader("{}\n{}\n"), 5, "", nil); err == nil || !strings.HasPrefix(err.Error(), "lines 1-2 not sent: ") {
		t.Errorf("unreachable server: %v", err)
	}
}
