package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prodex/prodex/internal/history"
)

// namedKey creates a key with a name through the admin API.
func namedKey(t *testing.T, s *server, admin, scope, name string) string {
	t.Helper()
	var out struct {
		Key string `json:"key"`
	}
	if code := call(t, "POST", s.url+"/api/v1/keys", admin, map[string]string{"scope": scope, "name": name}, &out); code != 201 || out.Key == "" {
		t.Fatalf("create %s key %s: %d", scope, name, code)
	}
	return out.Key
}

// queryAnswer is a query's answer with what identifies the question.
type queryAnswer struct {
	QueryID   string          `json:"query_id"`
	Permalink string          `json:"permalink"`
	StartTime int64           `json:"start_time"`
	EndTime   int64           `json:"end_time"`
	Results   json.RawMessage `json:"results"`
	Series    json.RawMessage `json:"series"`
}

func ask(t *testing.T, s *server, key, ds string, spec any) queryAnswer {
	t.Helper()
	var a queryAnswer
	if code := call(t, "POST", s.url+"/api/v1/query/"+ds, key, spec, &a); code != 200 {
		t.Fatalf("query %v: %d", spec, code)
	}
	return a
}

func historyOf(t *testing.T, s *server, key, params string) []history.Run {
	t.Helper()
	var runs []history.Run
	if code := call(t, "GET", s.url+"/api/v1/history?"+params, key, nil, &runs); code != 200 {
		t.Fatalf("history?%s: %d", params, code)
	}
	return runs
}

var hexID = regexp.MustCompile(`^[0-9a-f]{16}$`)

// TestQueryHistory: every query answer names its question with a stable
// id and a permalink that reproduces it; the runs are in a history the
// whole team can search; queries can be saved to the team's collection
// by keys that may edit.
func TestQueryHistory(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	admin := newKey(t, data, "admin")
	s := startServer(t, data)
	defer s.stop()
	alice := namedKey(t, s, admin, "query", "alice")
	bob := namedKey(t, s, admin, "edit", "bob")
	ingest := namedKey(t, s, admin, "ingest", "ci")

	now := time.Now().UTC().Truncate(time.Minute)
	send := func(at time.Time, n int) {
		t.Helper()
		var batch []map[string]any
		for i := 0; i < n; i++ {
			batch = append(batch, map[string]any{"time": at.Add(time.Duration(i) * time.Second).Format(time.RFC3339),
				"data": map[string]any{"service": []string{"api", "web", "worker"}[i%3], "duration_ms": 10 * (i + 1), "status_code": []int{200, 503}[i%2]}})
		}
		var st []struct{ Status int }
		if code := call(t, "POST", s.url+"/1/batch/checkout", ingest, batch, &st); code != 200 || len(st) != n || st[0].Status != 202 {
			t.Fatalf("batch: %d %v", code, st)
		}
	}
	send(now.Add(-90*time.Minute), 30)

	// An answer names its question.
	start, end := now.Add(-2*time.Hour).Unix(), now.Add(-time.Hour).Unix()
	spec := map[string]any{"start_time": start, "end_time": end, "breakdowns": []string{"service"},
		"calculations": []map[string]any{{"op": "COUNT"}, {"op": "P99", "column": "duration_ms"}},
		"filters":      []map[string]any{{"column": "status_code", "op": ">=", "value": 200}}}
	first := ask(t, s, alice, "checkout", spec)
	id := first.QueryID
	if !hexID.MatchString(id) || first.Permalink != "/q/"+id {
		t.Fatalf("query_id %q, permalink %q", id, first.Permalink)
	}
	if !strings.Contains(string(first.Results), `"service":"api"`) || first.StartTime != start || first.EndTime != end {
		t.Fatalf("the answer lost its fields: %+v", first)
	}
	// The same question written differently has the same id.
	reworded := ask(t, s, alice, "checkout", json.RawMessage(fmt.Sprintf(`{"filters":[{"value":200,"op":">=","column":"status_code"}],
		"calculations":[{"op":"count"},{"column":"duration_ms","op":"p99"}],"breakdowns":["service"],"limit":1000,"time_range":%d,"end_time":%d}`, end-start, end)))
	if reworded.QueryID != id {
		t.Errorf("the same question written differently: id %s, want %s", reworded.QueryID, id)
	}
	// "The last hour" asked now is the interval it resolved to.
	rel := map[string]any{"time_range": 3600, "calculations": []map[string]any{{"op": "COUNT"}}}
	lastHour := ask(t, s, alice, "checkout", rel)
	abs := ask(t, s, alice, "checkout", map[string]any{"start_time": lastHour.StartTime, "end_time": lastHour.EndTime, "calculations": []map[string]any{{"op": "COUNT"}}})
	if lastHour.QueryID != abs.QueryID || lastHour.QueryID == id {
		t.Errorf("time_range id %s, explicit interval id %s (first question %s)", lastHour.QueryID, abs.QueryID, id)
	}

	// The permalink is the question with its absolute interval, readable by
	// anyone who may query.
	var stored struct {
		ID, Dataset string
		Spec        map[string]any
		CreatedAt   time.Time `json:"created_at"`
	}
	if code := call(t, "GET", s.url+first.Permalink, bob, nil, &stored); code != 200 || stored.ID != id || stored.Dataset != "checkout" ||
		stored.Spec["start_time"] != float64(start) || stored.Spec["end_time"] != float64(end) || stored.Spec["time_range"] != nil || stored.CreatedAt.IsZero() {
		t.Fatalf("GET %s: %d %+v", first.Permalink, code, stored)
	}
	var viaAPI map[string]any
	if code := call(t, "GET", s.url+"/api/v1/queries/"+lastHour.QueryID, alice, nil, &viaAPI); code != 200 ||
		viaAPI["spec"].(map[string]any)["start_time"] != float64(lastHour.StartTime) {
		t.Fatalf("GET /api/v1/queries/%s: %d %v", lastHour.QueryID, code, viaAPI)
	}
	// Re-running it reproduces the answer, whatever arrived since outside
	// its interval.
	send(now.Add(-10*time.Minute), 9)
	var again queryAnswer
	if code := call(t, "POST", s.url+"/api/v1/queries/"+id+"/run", bob, nil, &again); code != 200 {
		t.Fatalf("re-run: %d", code)
	}
	if again.QueryID != id || again.Permalink != first.Permalink || string(again.Results) != string(first.Results) ||
		string(again.Series) != string(first.Series) || again.StartTime != start || again.EndTime != end {
		t.Errorf("re-run answered\n%+v\nwant\n%+v", again, first)
	}
	for _, c := range []struct{ method, path string }{
		{"GET", "/q/ffffffffffffffff"}, {"GET", "/q/nope"}, {"GET", "/api/v1/queries/ffffffffffffffff"},
		{"POST", "/api/v1/queries/ffffffffffffffff/run"}, {"POST", "/api/v1/queries/..%2f..%2fetc/run"},
	} {
		var e struct{ Error string }
		if code := call(t, c.method, s.url+c.path, alice, nil, &e); code != 404 || e.Error == "" {
			t.Errorf("%s %s: %d %q, want 404", c.method, c.path, code, e.Error)
		}
	}
	var e struct{ Error string }
	if code := call(t, "GET", s.url+first.Permalink, ingest, nil, &e); code != 403 {
		t.Errorf("an ingest key read a query: %d", code)
	}

	// An invalid spec is not a run.
	for _, bad := range []map[string]any{
		{"calculations": []map[string]any{{"op": "P98", "column": "zzz_marker"}}},
		{"calculations": []map[string]any{{"op": "P99", "column": "zzz_marker"}}},
	} {
		if code := call(t, "POST", s.url+"/api/v1/query/checkout", alice, bad, &e); code != 400 {
			t.Fatalf("bad spec %v: %d", bad, code)
		}
	}

	// History: who ran what, when, newest first, for the whole team.
	runs := historyOf(t, s, bob, "author=alice")
	if len(runs) != 4 {
		t.Fatalf("alice's runs: %+v", runs)
	}
	r := runs[len(runs)-1] // her first
	if r.QueryID != id || r.Author != "alice" || r.Dataset != "checkout" || r.Rows != 3 || r.Error != "" || r.DurationMS <= 0 ||
		time.Since(r.RanAt) > time.Minute || !strings.Contains(string(r.Spec), `"start_time":`+strconv.FormatInt(start, 10)) {
		t.Errorf("first run: %+v", r)
	}
	for i := 1; i < len(runs); i++ {
		if runs[i].RanAt.After(runs[i-1].RanAt) {
			t.Errorf("not newest first: %v after %v", runs[i].RanAt, runs[i-1].RanAt)
		}
	}
	for params, want := range map[string]int{
		"":                             5,
		"author=bob":                   1,
		"author=ALICE":                 4,
		"q=ALIC":                       4, // the author, in any case
		"q=duration_ms":                3, // the spec
		"q=" + "%22op%22:%22%3E%3D%22": 3, // the spec as written: "op":">="
		"q=checkout":                   5, // the dataset
		"q=zzz_marker":                 0, // invalid specs are not runs
		"q=%25":                        0, // % is literal
		"dataset=checkout&limit=2":     2,
		"dataset=payments":             0,
		"since=" + strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10):         0,
		"until=" + time.Now().Add(-24*time.Hour).Format(time.RFC3339):              0,
		"since=" + time.Now().Add(-time.Hour).Format(time.RFC3339) + "&author=bob": 1,
	} {
		if got := historyOf(t, s, alice, params); len(got) != want {
			t.Errorf("history?%s: %d runs, want %d", params, len(got), want)
		}
	}
	if runs := historyOf(t, s, alice, "author=bob"); runs[0].QueryID != id {
		t.Errorf("bob's re-run: %+v", runs[0])
	}
	for params, field := range map[string]string{"since=yesterday": "since", "until=2026-13-01": "until", "limit=0": "limit", "limit=1001": "limit", "dataset=..x": "dataset"} {
		if code := call(t, "GET", s.url+"/api/v1/history?"+params, alice, nil, &e); code != 400 || !strings.HasPrefix(e.Error, field+": ") {
			t.Errorf("history?%s: %d %q, want a 400 naming %s", params, code, e.Error, field)
		}
	}
	if code := call(t, "GET", s.url+"/api/v1/history", ingest, nil, &e); code != 403 {
		t.Errorf("an ingest key read the history: %d", code)
	}

	// Saved queries: edit and admin keys write, query keys read.
	body := map[string]any{"query_id": id, "name": "Slow checkouts", "description": "P99 latency by service"}
	if code := call(t, "POST", s.url+"/api/v1/saved-queries", alice, body, &e); code != 403 {
		t.Errorf("a query key saved a query: %d", code)
	}
	var sq history.Saved
	if code := call(t, "POST", s.url+"/api/v1/saved-queries", bob, body, &sq); code != 201 || !hexID.MatchString(sq.ID) || sq.Name != "Slow checkouts" ||
		sq.QueryID != id || sq.Dataset != "checkout" || sq.Author != "bob" || !strings.Contains(string(sq.Spec), "duration_ms") || sq.CreatedAt.IsZero() {
		t.Fatalf("save: %d %+v", code, sq)
	}
	for _, c := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"query_id": id, "name": ""}, "name"},
		{map[string]any{"query_id": id, "name": "  "}, "name"},
		{map[string]any{"query_id": id, "name": strings.Repeat("n", 201)}, "name"},
		{map[string]any{"query_id": id, "name": "x", "description": strings.Repeat("d", 2001)}, "description"},
		{map[string]any{"name": "x"}, "query_id"},
		{map[string]any{"query_id": "ffffffffffffffff", "name": "x"}, "query_id: no query has id \"ffffffffffffffff\""},
		{map[string]any{"query_id": "'; DROP TABLE px_queries; --", "name": "x"}, "query_id"},
		{map[string]any{"query_id": id, "name": "x", "colour": "red"}, "invalid saved query: unknown field \"colour\""},
	} {
		if code := call(t, "POST", s.url+"/api/v1/saved-queries", bob, c.body, &e); code != 400 || !strings.HasPrefix(e.Error, c.field) {
			t.Errorf("save %v: %d %q, want a 400 naming %s", c.body, code, e.Error, c.field)
		}
	}
	list := func(q string) int {
		t.Helper()
		var l []history.Saved
		if code := call(t, "GET", s.url+"/api/v1/saved-queries?q="+q, alice, nil, &l); code != 200 {
			t.Fatalf("list: %d", code)
		}
		return len(l)
	}
	if list("") != 1 || list("SLOW") != 1 || list("by+service") != 1 || list("nothing") != 0 {
		t.Errorf("saved search: all %d, SLOW %d, by service %d, nothing %d", list(""), list("SLOW"), list("by+service"), list("nothing"))
	}
	one := s.url + "/api/v1/saved-queries/" + sq.ID
	var got history.Saved
	if code := call(t, "GET", one, alice, nil, &got); code != 200 || got.Name != "Slow checkouts" {
		t.Errorf("get: %d %+v", code, got)
	}
	if code := call(t, "PUT", one, alice, map[string]any{"name": "mine"}, &e); code != 403 {
		t.Errorf("a query key renamed a saved query: %d", code)
	}
	if code := call(t, "PUT", one, bob, map[string]any{"name": "Slow checkouts (EU)"}, &got); code != 200 || got.Name != "Slow checkouts (EU)" ||
		got.Description != "P99 latency by service" || got.UpdatedAt.Before(got.CreatedAt) {
		t.Errorf("rename: %d %+v", code, got)
	}
	if code := call(t, "PUT", one, admin, map[string]any{"description": "for the Monday review"}, &got); code != 200 || got.Name != "Slow checkouts (EU)" ||
		got.Description != "for the Monday review" {
		t.Errorf("admin edit: %d %+v", code, got)
	}
	for _, c := range []struct {
		body  map[string]any
		field string
	}{{map[string]any{"name": ""}, "name"}, {map[string]any{}, "name"}, {map[string]any{"query_id": id}, "invalid saved query"}} {
		if code := call(t, "PUT", one, bob, c.body, &e); code != 400 || !strings.HasPrefix(e.Error, c.field) {
			t.Errorf("PUT %v: %d %q, want a 400 naming %s", c.body, code, e.Error, c.field)
		}
	}
	if code := call(t, "DELETE", one, alice, nil, &e); code != 403 {
		t.Errorf("a query key deleted a saved query: %d", code)
	}
	if code := call(t, "DELETE", one, bob, nil, nil); code != 204 {
		t.Errorf("delete: %d", code)
	}
	for _, method := range []string{"GET", "PUT", "DELETE"} {
		if code := call(t, method, one, bob, map[string]any{"name": "x"}, &e); code != 404 || !strings.Contains(e.Error, sq.ID) {
			t.Errorf("%s a deleted saved query: %d %q", method, code, e.Error)
		}
	}
	if code := call(t, "GET", s.url+"/api/v1/saved-queries/nope", bob, nil, &e); code != 404 {
		t.Errorf("GET a malformed id: %d", code)
	}
	// The query and its history stay.
	if code := call(t, "GET", s.url+first.Permalink, alice, nil, &stored); code != 200 {
		t.Errorf("permalink after the saved query was deleted: %d", code)
	}
}

// TestQueryHistoryCLI: prodex query prints the permalink, --id re-runs it,
// prodex history lists it, prodex saved adds, lists and deletes.
func TestQueryHistoryCLI(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	admin := newKey(t, data, "admin")
	s := startServer(t, data)
	defer s.stop()
	alice := namedKey(t, s, admin, "query", "alice")
	bob := namedKey(t, s, admin, "edit", "bob")
	now := time.Now().UTC().Truncate(time.Minute)
	if _, err := prodexCLI(t, strings.NewReader(`{"service":"api","duration_ms":12}
{"service":"web","duration_ms":950}
`), "send", "checkout", "--server", s.url, "--key", admin); err != nil {
		t.Fatal(err)
	}
	cli := func(key string, args ...string) string {
		t.Helper()
		out, err := prodexCLI(t, nil, append(args, "--server", s.url, "--key", key)...)
		if err != nil {
			t.Fatalf("prodex %s: %v", strings.Join(args, " "), err)
		}
		return out
	}
	// cliErr runs prodex and returns its standard output and error.
	cliErr := func(key string, args ...string) (string, string) {
		t.Helper()
		cmd := exec.Command(binary, append(args, "--server", s.url, "--key", key)...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			t.Fatalf("prodex %s: %v: %s", strings.Join(args, " "), err, errb.String())
		}
		return out.String(), errb.String()
	}
	out, remark := cliErr(alice, "query", "checkout", "--calc", "COUNT", "--calc", "P99(duration_ms)", "--by", "service",
		"--start", now.Add(-time.Hour).Format(time.RFC3339), "--end", now.Add(time.Hour).Format(time.RFC3339))
	m := regexp.MustCompile(`^query ([0-9a-f]{16}) — permalink (\S+)\n$`).FindStringSubmatch(remark)
	if m == nil || m[2] != s.url+"/q/"+m[1] || !strings.HasPrefix(out, "service  COUNT  P99(duration_ms)\napi ") {
		t.Fatalf("prodex query printed:\n%s\nand on stderr:\n%s", out, remark)
	}
	id := m[1]
	if again, againRemark := cliErr(bob, "query", "--id", id); again != out || againRemark != remark {
		t.Errorf("prodex query --id printed\n%s%s\nwant\n%s%s", again, againRemark, out, remark)
	}
	if _, err := prodexCLI(t, nil, "query", "--id", id, "--calc", "COUNT", "--server", s.url, "--key", alice); err == nil || !strings.Contains(err.Error(), "--calc") {
		t.Errorf("--id with --calc: %v", err)
	}
	hist := cli(alice, "history", "--author", "alice", "--search", "p99", "--since", "1h")
	if !strings.Contains(hist, "alice") || !strings.Contains(hist, id) || !strings.Contains(hist, "COUNT, P99(duration_ms) BY service") || strings.Contains(hist, "bob") {
		t.Errorf("prodex history printed:\n%s", hist)
	}
	if hist := cli(alice, "history", "--author", "bob"); !strings.Contains(hist, "bob") || !strings.Contains(hist, id) {
		t.Errorf("prodex history --author bob printed:\n%s", hist)
	}

	if _, err := prodexCLI(t, nil, "saved", "add", id, "--name", "Latency by service", "--server", s.url, "--key", alice); err == nil || !strings.Contains(err.Error(), "403") {
		t.Errorf("a query key saved a query: %v", err)
	}
	if _, err := prodexCLI(t, nil, "saved", "add", id, "--server", s.url, "--key", bob); err == nil || !strings.Contains(err.Error(), "name") {
		t.Errorf("saving without a name: %v", err)
	}
	added := cli(bob, "saved", "add", id, "--name", "Latency by service", "--description", "for the weekly review")
	sm := regexp.MustCompile(`^saved query ([0-9a-f]{16}) "Latency by service"`).FindStringSubmatch(added)
	if sm == nil {
		t.Fatalf("prodex saved add printed %q", added)
	}
	if l := cli(alice, "saved", "list", "--search", "WEEKLY"); !strings.Contains(l, sm[1]) || !strings.Contains(l, "Latency by service") || !strings.Contains(l, id) {
		t.Errorf("prodex saved list printed:\n%s", l)
	}
	if l := cli(alice, "saved", "list", "--search", "nothing"); strings.Contains(l, sm[1]) {
		t.Errorf("prodex saved list --search nothing printed:\n%s", l)
	}
	if d := cli(bob, "saved", "delete", sm[1]); !strings.Contains(d, "deleted") {
		t.Errorf("prodex saved delete printed %q", d)
	}
	if l := cli(alice, "saved", "list"); strings.Contains(l, sm[1]) {
		t.Errorf("deleted, still listed:\n%s", l)
	}
}
