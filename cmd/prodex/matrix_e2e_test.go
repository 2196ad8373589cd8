package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// Scopes a route may need, besides the key scopes ingest, query, edit and
// admin: anyKey is any valid key (s.with("", …)), public no key at all.
const (
	anyKey = "any key"
	public = "public"
)

// matrixRoute is one route of the API: what it needs, and a request that
// is valid enough to get past authentication (and, for a permitted key of
// the default environment, to succeed).
type matrixRoute struct {
	pattern  string // as registered: "METHOD /path"
	scope    string // ingest, query, edit, admin, anyKey or public
	rootOnly bool   // keys of the default environment only
	path     string
	body     any // JSON-encoded; json.RawMessage as is
	// fresh, when set, makes each request's path and body for key k: a
	// route that deletes (or creates something unique, or changes what
	// only its author may) gets a fixture of its own, so that no case
	// depends on the ones before it.
	fresh func(k matrixKey) (string, any)
	// also lists codes besides 1xx–3xx that a permitted request of the
	// default environment may answer.
	also []int
}

// matrixKey is one way of presenting credentials.
type matrixKey struct {
	name string
	set  func(r *http.Request)
	// scope is what the key acts with; "" when it does not authenticate.
	scope string
	// env is the key's environment ("" the default one).
	env string
	// session: the key signed in to the UI and its session's cookie is
	// presented, which ingest and OTLP ignore.
	session bool
	// cookieOnly: the session cookie comes alone, without the X-Prodex-UI
	// header; no write may be made so.
	cookieOnly bool
}

// cookieless are the routes that ignore the UI's session cookie: event
// ingest and OTLP take a key in a header only.
var cookieless = map[string]bool{"POST /1/events/{dataset}": true, "POST /1/batch/{dataset}": true, "POST /v1/traces": true, "POST /v1/logs": true}

// matrixGrants is what each key scope may do, written out here rather than
// taken from package auth so that a loosened rule there fails this test.
var matrixGrants = map[string][]string{
	"ingest": {"ingest", anyKey},
	"query":  {"query", anyKey},
	"edit":   {"edit", "query", "ingest", anyKey},
	"admin":  {"admin", "edit", "query", "ingest", anyKey},
}

func grants(scope, need string) bool {
	for _, g := range matrixGrants[scope] {
		if g == need {
			return true
		}
	}
	return false
}

// sourceRoute is a route as internal/api registers it.
type sourceRoute struct {
	scope    string
	rootOnly bool
	where    string
}

var (
	routeLineRE  = regexp.MustCompile(`\b\w+\.Handle(?:Func)?\("([^"]+)",\s*(.*)$`)
	routeScopeRE = regexp.MustCompile(`s\.with\((?:auth\.(\w+)|"")`)
)

// sourceRoutes reads every route registration in internal/api: its scope
// (s.with(auth.X, …), s.with("", …) for any key, s.withOTLP for ingest,
// none for public) and whether s.rootOnly wraps it.
func sourceRoutes(t *testing.T) map[string]sourceRoute {
	t.Helper()
	files, err := filepath.Glob("../../internal/api/*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("no sources in internal/api: %v", err)
	}
	out := map[string]sourceRoute{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(src), "\n") {
			m := routeLineRE.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			r := sourceRoute{scope: public, rootOnly: strings.Contains(m[2], "s.rootOnly("), where: fmt.Sprintf("%s:%d", filepath.Base(f), i+1)}
			switch sm := routeScopeRE.FindStringSubmatch(m[2]); {
			case sm != nil && sm[1] == "":
				r.scope = anyKey
			case sm != nil:
				r.scope = strings.ToLower(sm[1])
			case strings.Contains(m[2], "s.withOTLP("):
				r.scope = "ingest"
			}
			if prev, dup := out[m[1]]; dup {
				t.Errorf("route %q registered twice: %s and %s", m[1], prev.where, r.where)
			}
			out[m[1]] = r
		}
	}
	return out
}

// TestRouteScopeMatrix walks every route of the API with every kind of
// key: none, bad ones, revoked ones, each scope's team key, personal keys
// of each role, another environment's keys and the web UI's session. Each
// is refused (401 or 403, with a JSON error) exactly when its scope or
// environment does not allow the route, and otherwise gets through. The
// route table is written out here and checked against the sources, so
// that a new route or a loosened scope fails the test.
func TestRouteScopeMatrix(t *testing.T) {
	t.Parallel()
	began := time.Now()
	data := t.TempDir()
	admin := newKey(t, data, "admin")
	s := startServer(t, data)
	defer s.stop()

	client := &http.Client{Timeout: 60 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	send := func(method, path string, body any, set func(*http.Request)) (int, []byte) {
		t.Helper()
		var rd io.Reader
		switch b := body.(type) {
		case nil:
		case json.RawMessage:
			rd = bytes.NewReader(b)
		default:
			j, _ := json.Marshal(b)
			rd = bytes.NewReader(j)
		}
		r, _ := http.NewRequest(method, s.url+path, rd)
		r.Header.Set("Content-Type", "application/json")
		if set != nil {
			set(r)
		}
		resp, err := client.Do(r)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, out
	}
	header := func(key string) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set("X-Honeycomb-Team", key) }
	}
	// must makes a fixture as the default environment's admin and decodes
	// the answer's field (if any).
	must := func(method, path string, body any, field string) string {
		t.Helper()
		code, out := send(method, path, body, header(admin))
		if code/100 != 2 {
			t.Fatalf("setup %s %s: %d %s", method, path, code, clipText(string(out)))
		}
		if field == "" {
			return ""
		}
		var v map[string]any
		if err := json.Unmarshal(out, &v); err != nil {
			t.Fatalf("setup %s %s: %v", method, path, err)
		}
		str, _ := v[field].(string)
		if str == "" {
			t.Fatalf("setup %s %s: no %q in %s", method, path, field, clipText(string(out)))
		}
		return str
	}
	teamKey := func(scope, env string) string {
		t.Helper()
		return must("POST", "/api/v1/keys", map[string]any{"scope": scope, "name": "matrix " + scope, "environment": env}, "key")
	}
	personalKey := func(user, role string) string {
		t.Helper()
		must("PUT", "/api/v1/users/"+user, map[string]any{"role": role}, "")
		return must("POST", "/api/v1/users/"+user+"/keys", map[string]any{"name": "laptop"}, "key")
	}

	// Fixtures of the default environment.
	now := time.Now()
	must("POST", "/1/batch/checkout", []map[string]any{{"data": map[string]any{"status_code": 200}}, {"data": map[string]any{"status_code": 200}}}, "")
	must("POST", "/1/batch/payments", []map[string]any{{"data": map[string]any{"status_code": 200, "region": "eu"}}, {"data": map[string]any{"status_code": 500, "region": "us"}}}, "")
	must("POST", "/api/v1/apply", json.RawMessage("apiVersion: prodex/v1\nkind: SLO\nmetadata: {name: checkout-availability}\nspec: {dataset: checkout, target: 99.9, window: 30d, sli: {good: status_code < 500}}\n"+
		"---\napiVersion: prodex/v1\nkind: Risk\nmetadata: {name: db-failover}\nspec: {slo: checkout-availability, ettd: 30m, ettr: 60m, frequency_per_year: 4, impact_percent: 50}\n"), "")
	sloBody := func(name string) map[string]any {
		return map[string]any{"name": name, "dataset": "checkout", "target": 99, "window": "7d", "sli": map[string]any{"good": "status_code < 500"}}
	}
	riskBody := func(name string) map[string]any {
		return map[string]any{"name": name, "slo": "checkout-availability", "ettd": "10m", "ettr": "20m", "frequency_per_year": 2, "impact_percent": 10}
	}
	marker := must("POST", "/1/markers/checkout", map[string]any{"message": "v1", "type": "deploy"}, "id")
	incident := must("POST", "/api/v1/incidents", map[string]any{"title": "matrix incident", "slo": "checkout-availability"}, "id")
	must("POST", "/api/v1/notes", map[string]any{"target_type": "slo", "target_id": "checkout-availability", "text": "matrix note"}, "")
	queryID := must("POST", "/api/v1/query/checkout", map[string]any{"time_range": 3600}, "query_id")
	saved := must("POST", "/api/v1/saved-queries", map[string]any{"query_id": queryID, "name": "matrix query"}, "id")
	trace := "5b8efff798038103d269b633813fc60c"
	must("POST", "/v1/traces", json.RawMessage(`{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"payments"}}]},`+
		`"scopeSpans":[{"spans":[{"traceId":"`+trace+`","spanId":"eee19b7ec3c1b174","name":"span","startTimeUnixNano":"`+fmt.Sprint(now.UnixNano())+`"}]}]}]}`), "")
	must("PUT", "/api/v1/users/matrix-target", map[string]any{"role": "viewer"}, "")
	must("POST", "/api/v1/environments", map[string]any{"name": "staging"}, "")

	// noteBy writes a note as key k, or as the admin when k may not.
	noteBy := func(k matrixKey) string {
		t.Helper()
		body := map[string]any{"target_type": "slo", "target_id": "checkout-availability", "text": "victim"}
		if k.set != nil && !k.cookieOnly && k.env == "" && grants(k.scope, "edit") {
			code, out := send("POST", "/api/v1/notes", body, k.set)
			var v struct{ ID string }
			if json.Unmarshal(out, &v); code != 201 || v.ID == "" {
				t.Fatalf("setup: a note by %s: %d %s", k.name, code, clipText(string(out)))
			}
			return v.ID
		}
		return must("POST", "/api/v1/notes", body, "id")
	}

	// fresh fixtures: every call makes a new one.
	n := 0
	next := func() int { n++; return n }

	// The keys.
	ingest, query, edit := teamKey("ingest", ""), teamKey("query", ""), teamKey("edit", "")
	revoked := teamKey("admin", "")
	must("DELETE", "/api/v1/keys/"+revoked[3:11], nil, "")
	viewer, editor, adminUser := personalKey("vera", "viewer"), personalKey("eddie", "editor"), personalKey("ada", "admin")
	demoted := personalKey("dora", "admin")
	must("PUT", "/api/v1/users/dora", map[string]any{"role": "viewer"}, "")
	gone := personalKey("gus", "admin")
	must("DELETE", "/api/v1/users/gus", nil, "")
	stagingAdmin, stagingQuery := teamKey("admin", "staging"), teamKey("query", "staging")
	tampered := admin[:len(admin)-1] + map[bool]string{true: "0", false: "1"}[admin[len(admin)-1] != '0']
	uiHeader := func(r *http.Request) { r.Header.Set("X-Prodex-UI", "1") }
	// cookie presents the session of signing in to the UI with key (a new
	// one after GET /signout ended it).
	cookie := func(key string, more func(*http.Request)) func(*http.Request) {
		token := ""
		return func(r *http.Request) {
			if token == "" {
				c := signIn(t, s, key)
				if c == nil {
					t.Fatalf("signing in to the UI set no session cookie")
				}
				token = c.Value
			}
			r.AddCookie(&http.Cookie{Name: sessionCookieName, Value: token})
			if r.URL.Path == "/signout" {
				token = ""
			}
			if more != nil {
				more(r)
			}
		}
	}
	// rawCookie sends a key itself as a cookie: no session.
	rawCookie := func(name, key string) func(*http.Request) {
		return func(r *http.Request) {
			r.AddCookie(&http.Cookie{Name: name, Value: key})
			uiHeader(r)
		}
	}
	keys := []matrixKey{
		{name: "no key"},
		{name: "malformed key", set: header("not-a-key")},
		{name: "unknown key", set: header("pdx0123abcd" + strings.Repeat("0", 40))},
		{name: "admin key with a wrong secret", set: header(tampered)},
		{name: "revoked admin key", set: header(revoked)},
		{name: "deleted admin's personal key", set: header(gone)},
		{name: "ingest key", set: header(ingest), scope: "ingest"},
		{name: "query key", set: header(query), scope: "query"},
		{name: "edit key", set: header(edit), scope: "edit"},
		{name: "admin key", set: header(admin), scope: "admin"},
		{name: "admin key as Bearer", set: func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+admin) }, scope: "admin"},
		{name: "viewer's personal key", set: header(viewer), scope: "query"},
		{name: "editor's personal key", set: header(editor), scope: "edit"},
		{name: "admin's personal key", set: header(adminUser), scope: "admin"},
		{name: "personal key of an admin demoted to viewer", set: header(demoted), scope: "query"},
		{name: "other environment's admin key", set: header(stagingAdmin), scope: "admin", env: "staging"},
		{name: "other environment's query key", set: header(stagingQuery), scope: "query", env: "staging"},
		{name: "UI session (admin) with X-Prodex-UI", set: cookie(admin, uiHeader), scope: "admin", session: true},
		{name: "UI session (query) with X-Prodex-UI", set: cookie(query, uiHeader), scope: "query", session: true},
		{name: "UI session (admin) without X-Prodex-UI", set: cookie(admin, nil), scope: "admin", session: true, cookieOnly: true},
		{name: "UI session (admin) with Authorization: Basic, without X-Prodex-UI", set: cookie(admin, func(r *http.Request) { r.Header.Set("Authorization", "Basic eDp5") }),
			scope: "admin", session: true, cookieOnly: true},
		{name: "admin key itself as the session cookie", set: rawCookie(sessionCookieName, admin)},
		{name: "admin key in the cookie of earlier versions", set: rawCookie("prodex_key", admin)},
	}

	explainBody := map[string]any{"time_range": 3600, "selection": map[string]any{"filters": []map[string]any{{"column": "status_code", "op": "=", "value": 500}}}}
	routes := []matrixRoute{
		// Events and queries.
		{pattern: "POST /1/events/{dataset}", scope: "ingest", path: "/1/events/checkout", body: map[string]any{"status_code": 200}},
		{pattern: "POST /1/batch/{dataset}", scope: "ingest", path: "/1/batch/checkout", body: []map[string]any{{"data": map[string]any{"status_code": 200}}}},
		{pattern: "GET /1/columns/{dataset}", scope: "query", path: "/1/columns/checkout"},
		{pattern: "GET /1/auth", scope: anyKey, path: "/1/auth"},
		{pattern: "POST /api/v1/query/{dataset}", scope: "query", path: "/api/v1/query/checkout", body: map[string]any{"time_range": 3600, "calculations": []map[string]any{{"op": "COUNT"}}}},
		{pattern: "POST /api/v1/explain/{dataset}", scope: "query", path: "/api/v1/explain/payments", body: explainBody},
		{pattern: "GET /api/v1/datasets", scope: "query", path: "/api/v1/datasets"},
		{pattern: "PUT /api/v1/datasets/{dataset}", scope: "admin", path: "/api/v1/datasets/checkout", body: map[string]any{"retention_days": 30}},
		{pattern: "GET /api/v1/traces/{trace_id}", scope: "query", path: "/api/v1/traces/" + trace},
		{pattern: "POST /v1/traces", scope: "ingest", path: "/v1/traces", body: json.RawMessage(`{"resourceSpans":[]}`)},
		{pattern: "POST /v1/logs", scope: "ingest", path: "/v1/logs", body: json.RawMessage(`{"resourceLogs":[]}`)},
		// Keys, people, environments, audit.
		{pattern: "GET /api/v1/keys", scope: "admin", rootOnly: true, path: "/api/v1/keys"},
		{pattern: "POST /api/v1/keys", scope: "admin", rootOnly: true, path: "/api/v1/keys", body: map[string]any{"scope": "query", "name": "matrix"}},
		{pattern: "DELETE /api/v1/keys/{id}", scope: "admin", rootOnly: true, fresh: func(matrixKey) (string, any) {
			return "/api/v1/keys/" + must("POST", "/api/v1/keys", map[string]any{"scope": "ingest", "name": "victim"}, "id"), nil
		}},
		{pattern: "GET /api/v1/environments", scope: "admin", rootOnly: true, path: "/api/v1/environments"},
		{pattern: "POST /api/v1/environments", scope: "admin", rootOnly: true, fresh: func(matrixKey) (string, any) {
			return "/api/v1/environments", map[string]any{"name": fmt.Sprintf("matrix-%d", next())}
		}},
		{pattern: "GET /api/v1/users", scope: "admin", rootOnly: true, path: "/api/v1/users"},
		{pattern: "PUT /api/v1/users/{name}", scope: "admin", rootOnly: true, path: "/api/v1/users/matrix-target", body: map[string]any{"role": "editor"}},
		{pattern: "DELETE /api/v1/users/{name}", scope: "admin", rootOnly: true, fresh: func(matrixKey) (string, any) {
			name := fmt.Sprintf("victim-%d", next())
			must("PUT", "/api/v1/users/"+name, map[string]any{"role": "viewer"}, "")
			return "/api/v1/users/" + name, nil
		}},
		{pattern: "POST /api/v1/users/{name}/keys", scope: "admin", rootOnly: true, path: "/api/v1/users/matrix-target/keys", body: map[string]any{"name": "matrix"}},
		{pattern: "GET /api/v1/audit", scope: "admin", path: "/api/v1/audit?limit=5"},
		// SLOs.
		{pattern: "GET /api/v1/slos", scope: "query", path: "/api/v1/slos"},
		{pattern: "POST /api/v1/slos", scope: "admin", path: "/api/v1/slos", body: sloBody("matrix-posted")},
		{pattern: "GET /api/v1/slos/{name}", scope: "query", path: "/api/v1/slos/checkout-availability"},
		{pattern: "PUT /api/v1/slos/{name}", scope: "admin", path: "/api/v1/slos/matrix-put", body: sloBody("matrix-put")},
		{pattern: "DELETE /api/v1/slos/{name}", scope: "admin", fresh: func(matrixKey) (string, any) {
			name := fmt.Sprintf("victim-%d", next())
			must("POST", "/api/v1/slos", sloBody(name), "")
			return "/api/v1/slos/" + name, nil
		}},
		{pattern: "GET /api/v1/slos/{name}/status", scope: "query", path: "/api/v1/slos/checkout-availability/status"},
		{pattern: "GET /api/v1/slos/{name}/gate", scope: "query", path: "/api/v1/slos/checkout-availability/gate"},
		{pattern: "POST /api/v1/apply", scope: "admin", path: "/api/v1/apply", body: json.RawMessage(`{"apiVersion":"prodex/v1","kind":"Risk","metadata":{"name":"matrix-applied"},"spec":{"slo":"checkout-availability","ettd":"1m","ettr":"1m","frequency_per_year":1,"impact_percent":1}}`)},
		{pattern: "GET /api/v1/alerts", scope: "query", path: "/api/v1/alerts"},
		// Risks.
		{pattern: "GET /api/v1/risks", scope: "query", path: "/api/v1/risks"},
		{pattern: "POST /api/v1/risks", scope: "edit", path: "/api/v1/risks", body: riskBody("matrix-posted")},
		{pattern: "GET /api/v1/risks/{name}", scope: "query", path: "/api/v1/risks/db-failover"},
		{pattern: "PUT /api/v1/risks/{name}", scope: "edit", path: "/api/v1/risks/matrix-put", body: riskBody("matrix-put")},
		{pattern: "DELETE /api/v1/risks/{name}", scope: "edit", fresh: func(matrixKey) (string, any) {
			name := fmt.Sprintf("victim-%d", next())
			must("POST", "/api/v1/risks", riskBody(name), "")
			return "/api/v1/risks/" + name, nil
		}},
		{pattern: "POST /api/v1/risks/{name}/what-if", scope: "query", path: "/api/v1/risks/db-failover/what-if", body: map[string]any{"ettd": "5m"}},
		// Linking needs an alert of the SLO, which takes a real burn: the
		// handler refuses the made-up one, past authorisation.
		{pattern: "POST /api/v1/risks/{name}/incidents", scope: "edit", path: "/api/v1/risks/db-failover/incidents", body: map[string]any{"alert_id": "no-such-alert"}, also: []int{400}},
		{pattern: "GET /api/v1/slos/{name}/risks", scope: "query", path: "/api/v1/slos/checkout-availability/risks"},
		{pattern: "GET /api/v1/slos/{name}/incidents", scope: "query", path: "/api/v1/slos/checkout-availability/incidents"},
		// Markers.
		{pattern: "POST /1/markers/{dataset}", scope: "ingest", path: "/1/markers/checkout", body: map[string]any{"message": "deploy", "type": "deploy"}},
		{pattern: "GET /1/markers/{dataset}", scope: "query", path: "/1/markers/checkout"},
		{pattern: "PUT /1/markers/{dataset}/{id}", scope: "edit", path: "/1/markers/checkout/" + marker, body: map[string]any{"message": "edited"}},
		{pattern: "DELETE /1/markers/{dataset}/{id}", scope: "edit", fresh: func(matrixKey) (string, any) {
			return "/1/markers/checkout/" + must("POST", "/1/markers/checkout", map[string]any{"message": "victim"}, "id"), nil
		}},
		// Query history and saved queries.
		{pattern: "GET /q/{id}", scope: "query", path: "/q/" + queryID},
		{pattern: "GET /api/v1/queries/{id}", scope: "query", path: "/api/v1/queries/" + queryID},
		{pattern: "POST /api/v1/queries/{id}/run", scope: "query", path: "/api/v1/queries/" + queryID + "/run"},
		{pattern: "GET /api/v1/history", scope: "query", path: "/api/v1/history"},
		{pattern: "GET /api/v1/saved-queries", scope: "query", path: "/api/v1/saved-queries"},
		{pattern: "POST /api/v1/saved-queries", scope: "edit", fresh: func(matrixKey) (string, any) {
			return "/api/v1/saved-queries", map[string]any{"query_id": queryID, "name": fmt.Sprintf("matrix %d", next())}
		}},
		{pattern: "GET /api/v1/saved-queries/{id}", scope: "query", path: "/api/v1/saved-queries/" + saved},
		{pattern: "PUT /api/v1/saved-queries/{id}", scope: "edit", path: "/api/v1/saved-queries/" + saved, body: map[string]any{"description": "edited"}},
		{pattern: "DELETE /api/v1/saved-queries/{id}", scope: "edit", fresh: func(matrixKey) (string, any) {
			return "/api/v1/saved-queries/" + must("POST", "/api/v1/saved-queries", map[string]any{"query_id": queryID, "name": fmt.Sprintf("victim %d", next())}, "id"), nil
		}},
		// Incidents and notes.
		{pattern: "GET /api/v1/incidents", scope: "query", path: "/api/v1/incidents"},
		{pattern: "POST /api/v1/incidents", scope: "edit", path: "/api/v1/incidents", body: map[string]any{"title": "matrix", "slo": "checkout-availability"}},
		{pattern: "GET /api/v1/incidents/{id}", scope: "query", path: "/api/v1/incidents/" + incident},
		{pattern: "PATCH /api/v1/incidents/{id}", scope: "edit", path: "/api/v1/incidents/" + incident, body: map[string]any{"title": "matrix incident, edited"}},
		{pattern: "GET /api/v1/incidents/{id}/timeline", scope: "query", path: "/api/v1/incidents/" + incident + "/timeline"},
		{pattern: "GET /api/v1/notes", scope: "query", path: "/api/v1/notes"},
		{pattern: "POST /api/v1/notes", scope: "edit", path: "/api/v1/notes", body: map[string]any{"target_type": "incident", "target_id": incident, "text": "matrix"}},
		// Only its author or an admin may change a note: each key changes
		// one it wrote, if it may write one.
		{pattern: "PUT /api/v1/notes/{id}", scope: "edit", fresh: func(k matrixKey) (string, any) {
			return "/api/v1/notes/" + noteBy(k), map[string]any{"text": "edited"}
		}},
		{pattern: "DELETE /api/v1/notes/{id}", scope: "edit", fresh: func(k matrixKey) (string, any) {
			return "/api/v1/notes/" + noteBy(k), nil
		}},
		// Public: health and the web UI's page, assets and sign-out.
		{pattern: "GET /healthz", scope: public, path: "/healthz"},
		{pattern: "GET /readyz", scope: public, path: "/readyz"},
		{pattern: "GET /readyz/meta", scope: public, path: "/readyz/meta"},
		{pattern: "GET /metrics", scope: "query", rootOnly: true, path: "/metrics"},
		// The API's description: it holds no secret, and generators fetch it unattended.
		{pattern: "GET /api/v1/openapi.json", scope: public, path: "/api/v1/openapi.json"},
		{pattern: "GET /{$}", scope: public, path: "/"},
		{pattern: "GET /ui/", scope: public, path: "/ui/app.js"},
		{pattern: "GET /signout", scope: public, path: "/signout"},
	}

	// The table and the sources agree: every route is walked, with the
	// scope and environment rule the server applies.
	src := sourceRoutes(t)
	listed := map[string]bool{}
	for _, r := range routes {
		if listed[r.pattern] {
			t.Errorf("route %q is twice in the table", r.pattern)
		}
		listed[r.pattern] = true
		got, ok := src[r.pattern]
		switch {
		case !ok:
			t.Errorf("route %q is in the table but not registered in internal/api", r.pattern)
		case got.scope != r.scope || got.rootOnly != r.rootOnly:
			t.Errorf("route %q (%s) needs %s (root only %v) in the source; the table says %s (root only %v)",
				r.pattern, got.where, got.scope, got.rootOnly, r.scope, r.rootOnly)
		}
	}
	for p, r := range src {
		if !listed[p] {
			t.Errorf("route %q (%s, %s) is not in this test's table: add it with the scope it should need", p, r.where, r.scope)
		}
	}
	// The OpenAPI document says the same of each route.
	documented := openAPIScopes(t)
	for _, r := range routes {
		want := r.scope
		if want == anyKey {
			want = "any"
		}
		if d, ok := documented[r.pattern]; !ok || d.scope != want || d.rootOnly != r.rootOnly {
			t.Errorf("route %q: the OpenAPI document says scope %q (root only %v), this table %q (root only %v)", r.pattern, d.scope, d.rootOnly, want, r.rootOnly)
		}
	}

	// What the server must answer a key: 401, or 403 for which reason (a
	// substring of the error), or 0 for getting through.
	expected := func(r matrixRoute, k matrixKey, write bool) (want int, why string) {
		switch {
		case r.scope == public:
		case k.scope == "", k.session && cookieless[r.pattern]:
			return 401, "unknown API key"
		case k.cookieOnly && write:
			return 403, "X-Prodex-UI"
		case !grants(k.scope, r.scope):
			return 403, "scope " + k.scope
		case r.rootOnly && k.env != "":
			return 403, "default environment"
		}
		return 0, ""
	}

	// Every route with every key.
	cases := 0
	for _, r := range routes {
		method := strings.Fields(r.pattern)[0]
		write := method != "GET" && method != "HEAD"
		otlp := r.pattern == "POST /v1/traces" || r.pattern == "POST /v1/logs"
		for _, k := range keys {
			cases++
			want, why := expected(r, k, write)
			path, body := r.path, r.body
			if r.fresh != nil {
				path, body = r.fresh(k)
			}
			code, out := send(method, path, body, k.set)
			where := fmt.Sprintf("%s (%s %s) with %s", r.pattern, method, path, k.name)
			if want != 0 {
				if code != want {
					t.Errorf("%s: got %d, want %d (%s): %s", where, code, want, why, clipText(string(out)))
					continue
				}
				// The refusal is a JSON error saying why: {"error": …}, or
				// for OTLP/HTTP its Status, {"code": …, "message": …}.
				var e struct{ Error, Message string }
				json.Unmarshal(out, &e)
				msg := e.Error
				if otlp {
					msg = e.Message
				}
				if msg == "" || !strings.Contains(msg, why) {
					t.Errorf("%s: %d with body %s, want a JSON error mentioning %q", where, code, clipText(string(out)), why)
				}
				continue
			}
			switch {
			case code == 401 || code == 403:
				t.Errorf("%s: refused with %d, want it let through: %s", where, code, clipText(string(out)))
			case code >= 500:
				t.Errorf("%s: %d: %s", where, code, clipText(string(out)))
			case code >= 400 && k.env == "" && !slices.Contains(r.also, code):
				// The request is meant to be valid in the default
				// environment (the other does not hold its fixtures).
				t.Errorf("%s: got through but answered %d: %s", where, code, clipText(string(out)))
			}
		}
	}
	// HEAD reaches every GET route (net/http's mux routes it there): it
	// must be refused alike, without a body to say why.
	for _, r := range routes {
		if !strings.HasPrefix(r.pattern, "GET ") {
			continue
		}
		for _, k := range keys {
			cases++
			want, why := expected(r, k, false)
			path := r.path
			if r.fresh != nil {
				path, _ = r.fresh(k)
			}
			code, _ := send("HEAD", path, nil, k.set)
			switch {
			case want != 0 && code != want:
				t.Errorf("HEAD %s (%s) with %s: got %d, want %d (%s)", path, r.pattern, k.name, code, want, why)
			case want == 0 && (code == 401 || code == 403 || code >= 500):
				t.Errorf("HEAD %s (%s) with %s: got %d, want it let through", path, r.pattern, k.name, code)
			}
		}
	}
	t.Logf("%d routes × %d keys = %d cases (GET routes again with HEAD) in %s", len(routes), len(keys), cases, time.Since(began).Round(time.Millisecond))
}
