package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prodex/prodex/internal/marker"
)

func markerIDsOf(ms []marker.Marker) []string {
	ids := []string{}
	for _, m := range ms {
		ids = append(ids, m.ID)
	}
	return ids
}

// TestMarkersAPI: Honeycomb's Markers API with its scopes (an ingest key
// marks deploys, changing one is an edit), validation naming the field,
// and 404s for unknown ids and markers of another dataset.
func TestMarkersAPI(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	ingest, query, edit, admin := newKey(t, data, "ingest"), newKey(t, data, "query"), newKey(t, data, "edit"), newKey(t, data, "admin")
	s := startServer(t, data)
	defer s.stop()
	base := s.url + "/1/markers/"
	now := time.Now().Unix()

	// Who may create.
	deploy := map[string]any{"start_time": now - 600, "message": "v1.2.3", "type": "deploy", "url": "https://ci.example/builds/42", "color": "#7b1fa2"}
	var e struct{ Error string }
	if code := call(t, "POST", base+"checkout", query, deploy, &e); code != 403 || !strings.Contains(e.Error, "ingest") {
		t.Fatalf("query key creating: %d %q", code, e.Error)
	}
	if code := call(t, "POST", base+"checkout", "", deploy, &e); code != 401 {
		t.Fatalf("no key creating: %d", code)
	}
	var m1 marker.Marker
	if code := call(t, "POST", base+"Checkout", ingest, deploy, &m1); code != 201 {
		t.Fatalf("ingest key creating: %d %+v", code, m1)
	}
	if m1.ID == "" || m1.Dataset != "checkout" || m1.StartTime != now-600 || m1.EndTime != 0 || m1.Message != "v1.2.3" || m1.Type != "deploy" ||
		m1.URL != "https://ci.example/builds/42" || m1.Color != "#7b1fa2" || m1.Author == "" || m1.CreatedAt.IsZero() || !m1.UpdatedAt.Equal(m1.CreatedAt) {
		t.Fatalf("created %+v", m1)
	}
	// Without start_time a marker is now.
	var m2 marker.Marker
	if code := call(t, "POST", base+"checkout", edit, map[string]any{"type": "incident", "message": "db failover"}, &m2); code != 201 {
		t.Fatalf("edit key creating: %d", code)
	}
	if d := m2.StartTime - time.Now().Unix(); d < -5 || d > 1 {
		t.Fatalf("start_time %d is not now", m2.StartTime)
	}
	var all marker.Marker
	if code := call(t, "POST", base+"__all__", admin, map[string]any{"type": "config", "message": "feature flag on", "start_time": now - 300}, &all); code != 201 || all.Dataset != "__all__" {
		t.Fatalf("environment-wide marker: %d %+v", code, all)
	}

	// Validation names the field.
	for _, c := range []struct {
		name string
		body any
		want string
	}{
		{"message too long", map[string]any{"message": strings.Repeat("x", 1001)}, "message"},
		{"type too long", map[string]any{"type": strings.Repeat("t", 65)}, "type"},
		{"javascript url", map[string]any{"url": "javascript:alert(1)"}, "url"},
		{"relative url", map[string]any{"url": "/builds/1"}, "url"},
		{"color name", map[string]any{"color": "purple"}, "color"},
		{"end before start", map[string]any{"start_time": now, "end_time": now - 1}, "end_time"},
		{"milliseconds", map[string]any{"start_time": now * 1000}, "start_time"},
		{"start zero", map[string]any{"start_time": 0}, "start_time"},
		{"wrong type", map[string]any{"start_time": "yesterday"}, "start_time"},
		{"unknown field", map[string]any{"type": "deploy", "title": "v1"}, "title"},
		{"server's fields", map[string]any{"id": "mine"}, "id"},
		{"not an object", []int{1}, "marker"},
	} {
		var e struct{ Error string }
		if code := call(t, "POST", base+"checkout", ingest, c.body, &e); code != 400 || !strings.Contains(e.Error, c.want) {
			t.Errorf("%s: %d %q, want 400 naming %s", c.name, code, e.Error, c.want)
		}
	}
	if code := call(t, "POST", base+"a..b", ingest, deploy, &e); code != 400 || !strings.Contains(e.Error, "dataset") {
		t.Errorf("bad dataset: %d %q", code, e.Error)
	}

	// Listing: query scope, the dataset's own markers by start time.
	var list []marker.Marker
	if code := call(t, "GET", base+"checkout", ingest, nil, &e); code != 403 {
		t.Fatalf("ingest key listing: %d", code)
	}
	if code := call(t, "GET", base+"checkout", query, nil, &list); code != 200 || fmt.Sprint(markerIDsOf(list)) != fmt.Sprint([]string{m1.ID, m2.ID}) {
		t.Fatalf("list: %d %v", code, markerIDsOf(list))
	}
	if code := call(t, "GET", base+"checkout?start_time="+fmt.Sprint(now-60), query, nil, &list); code != 200 || fmt.Sprint(markerIDsOf(list)) != fmt.Sprint([]string{m2.ID}) {
		t.Fatalf("list from now-60: %d %v", code, markerIDsOf(list))
	}
	if code := call(t, "GET", base+"search", query, nil, &list); code != 200 || len(list) != 0 {
		t.Fatalf("list of a dataset without markers: %d %v", code, list)
	}
	if code := call(t, "GET", base+"checkout?end_time=soon", query, nil, &e); code != 400 || !strings.Contains(e.Error, "end_time") {
		t.Fatalf("bad end_time: %d %q", code, e.Error)
	}

	// Updating: edit scope; absent fields are kept, the author is who
	// changed it last.
	upd := map[string]any{"end_time": now - 300, "message": "v1.2.3 rolled out"}
	if code := call(t, "PUT", base+"checkout/"+m1.ID, ingest, upd, &e); code != 403 {
		t.Fatalf("ingest key updating: %d", code)
	}
	var got marker.Marker
	if code := call(t, "PUT", base+"checkout/"+m1.ID, edit, upd, &got); code != 200 {
		t.Fatalf("update: %d", code)
	}
	if got.ID != m1.ID || got.StartTime != now-600 || got.EndTime != now-300 || got.Message != "v1.2.3 rolled out" || got.Type != "deploy" ||
		got.URL != m1.URL || !got.CreatedAt.Equal(m1.CreatedAt) || !got.UpdatedAt.After(m1.UpdatedAt) || got.Author == m1.Author {
		t.Fatalf("updated %+v, was %+v", got, m1)
	}
	if code := call(t, "PUT", base+"checkout/"+m1.ID, edit, map[string]any{"color": "red"}, &e); code != 400 || !strings.Contains(e.Error, "color") {
		t.Fatalf("invalid update: %d %q", code, e.Error)
	}
	if code := call(t, "PUT", base+"checkout/"+m1.ID, edit, map[string]any{"start_time": now}, &e); code != 400 || !strings.Contains(e.Error, "end_time") {
		t.Fatalf("update moving start after end: %d %q", code, e.Error)
	}
	call(t, "GET", base+"checkout", query, nil, &list)
	if len(list) != 2 || list[0].Message != "v1.2.3 rolled out" || list[0].Color != "#7b1fa2" {
		t.Fatalf("after refused updates: %+v", list)
	}

	// 404s: unknown ids, and markers asked for under another dataset.
	for _, c := range []struct{ method, path string }{
		{"PUT", "checkout/nope"}, {"DELETE", "checkout/nope"},
		{"PUT", "search/" + m1.ID}, {"DELETE", "search/" + m1.ID},
		{"DELETE", "__all__/" + m1.ID}, {"DELETE", "checkout/" + all.ID},
	} {
		var e struct{ Error string }
		if code := call(t, c.method, base+c.path, admin, map[string]any{}, &e); code != 404 || !strings.Contains(e.Error, "does not exist") {
			t.Errorf("%s %s: %d %q, want 404", c.method, c.path, code, e.Error)
		}
	}

	// Deleting: edit scope; the answer is the deleted marker.
	if code := call(t, "DELETE", base+"checkout/"+m1.ID, ingest, nil, &e); code != 403 {
		t.Fatalf("ingest key deleting: %d", code)
	}
	if code := call(t, "DELETE", base+"checkout/"+m1.ID, edit, nil, &got); code != 200 || got.ID != m1.ID {
		t.Fatalf("delete: %d %+v", code, got)
	}
	if code := call(t, "DELETE", base+"checkout/"+m1.ID, edit, nil, &e); code != 404 {
		t.Fatalf("deleting again: %d", code)
	}
	call(t, "GET", base+"checkout", query, nil, &list)
	if fmt.Sprint(markerIDsOf(list)) != fmt.Sprint([]string{m2.ID}) {
		t.Fatalf("after delete: %v", markerIDsOf(list))
	}

	// Markers survive a restart.
	s.stop()
	s.start()
	call(t, "GET", base+"__all__", query, nil, &list)
	if len(list) != 1 || list[0].ID != all.ID || list[0].Message != "feature flag on" {
		t.Fatalf("after restart: %+v", list)
	}
}

// TestMarkersOnAnswers: a deploy marked with `prodex marker add` shows up
// in the answers of queries whose range covers it and of the SLO's status,
// an environment-wide marker in those of every dataset.
func TestMarkersOnAnswers(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	ingest, query, edit, admin := newKey(t, data, "ingest"), newKey(t, data, "query"), newKey(t, data, "edit"), newKey(t, data, "admin")
	s := startServer(t, data)
	defer s.stop()
	applySLO(t, s, admin, `apiVersion: prodex/v1
kind: SLO
metadata: {name: checkout-availability}
spec: {dataset: checkout, target: 99.9, window: 30d, sli: {good: status_code < 500}}
`)
	now := time.Now()
	sendEvents(t, s, ingest, "checkout", 50, 0, now, time.Hour)
	sendEvents(t, s, ingest, "search", 50, 0, now, time.Hour)

	cli := func(key string, args ...string) (string, error) {
		return prodexCLI(t, nil, append(args, "--server", s.url, "--key", key)...)
	}
	at := now.Add(-30 * time.Minute).Truncate(time.Second)
	out, err := cli(ingest, "marker", "add", "--dataset", "checkout", "--type", "deploy", "--message", "v1.2.3",
		"--url", "https://ci.example/builds/42", "--start", at.Format(time.RFC3339))
	if err != nil {
		t.Fatalf("marker add: %v", err)
	}
	deployID := strings.TrimSpace(out)
	out, err = cli(ingest, "marker", "add", "--type", "config", "--message", "feature flag on", "--start", fmt.Sprint(now.Add(-20*time.Minute).Unix()))
	if err != nil {
		t.Fatalf("marker add __all__: %v", err)
	}
	allID := strings.TrimSpace(out)
	// A marker spanning [-50m, -40m] and one older than the SLO's window.
	out, err = cli(ingest, "marker", "add", "--dataset", "checkout", "--type", "incident", "--message", "slow db",
		"--start", fmt.Sprint(now.Add(-50*time.Minute).Unix()), "--end", now.Add(-40*time.Minute).Format(time.RFC3339))
	if err != nil {
		t.Fatalf("marker add range: %v", err)
	}
	rangeID := strings.TrimSpace(out)
	out, err = cli(ingest, "marker", "add", "--dataset", "checkout", "--type", "deploy", "--message", "v1.0.0", "--start", fmt.Sprint(now.Add(-40*24*time.Hour).Unix()))
	if err != nil {
		t.Fatalf("marker add old: %v", err)
	}
	oldID := strings.TrimSpace(out)
	for _, id := range []string{deployID, allID, rangeID, oldID} {
		if len(id) != 16 || strings.Contains(id, "\n") {
			t.Fatalf("marker add printed %q, want an id", id)
		}
	}
	// prodex query --json prints the answer as the server gave it, markers included.
	if out, err := cli(admin, "query", "checkout", "--calc", "COUNT", "--last", "1h", "--json"); err != nil || !strings.Contains(out, deployID) || !strings.Contains(out, `"query_id"`) {
		t.Errorf("query --json: %v\n%s", err, out)
	}
	if _, err := cli(ingest, "marker", "add", "--type", "deploy", "--message", "x", "--color", "purple"); err == nil || !strings.Contains(err.Error(), "color") {
		t.Fatalf("bad color: %v", err)
	}
	if _, err := cli(ingest, "marker", "add", "--type", "deploy", "--message", "x", "--start", "yesterday"); err == nil || !strings.Contains(err.Error(), "--start") {
		t.Fatalf("bad --start: %v", err)
	}
	if _, err := cli(ingest, "marker", "add", "--message", "x"); err == nil || !strings.Contains(err.Error(), "--type") {
		t.Fatalf("no --type: %v", err)
	}

	out, err = cli(query, "marker", "list", "--dataset", "checkout")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "ID") || !strings.HasPrefix(lines[1], oldID) || !strings.HasPrefix(lines[3], deployID) ||
		!strings.Contains(lines[3], "v1.2.3") || !strings.Contains(lines[3], "https://ci.example/builds/42") || !strings.Contains(lines[2], "slow db") {
		t.Fatalf("marker list:\n%s", out)
	}
	out, err = cli(query, "marker", "list")
	if err != nil || !strings.Contains(out, allID) || strings.Contains(out, deployID) {
		t.Fatalf("marker list of __all__: %v\n%s", err, out)
	}

	type answer struct {
		Series      []json.RawMessage `json:"series"`
		Results     []json.RawMessage `json:"results"`
		StartTime   int64             `json:"start_time"`
		EndTime     int64             `json:"end_time"`
		Granularity int64             `json:"granularity"`
		Markers     []marker.Marker   `json:"markers"`
	}
	ask := func(ds string, spec map[string]any) answer {
		t.Helper()
		spec["calculations"] = []map[string]any{{"op": "COUNT"}}
		var raw json.RawMessage
		if code := call(t, "POST", s.url+"/api/v1/query/"+ds, query, spec, &raw); code != 200 {
			t.Fatalf("query %v: %d %s", spec, code, raw)
		}
		var a answer
		if err := json.Unmarshal(raw, &a); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(raw), `"markers":[`) {
			t.Fatalf("no markers list in %s", raw)
		}
		if len(a.Series) == 0 || len(a.Results) != 1 || a.StartTime == 0 || a.EndTime <= a.StartTime || a.Granularity == 0 {
			t.Fatalf("query answer lost its fields: %s", raw)
		}
		return a
	}
	ids := func(a answer) string { return fmt.Sprint(markerIDsOf(a.Markers)) }

	// The last two hours of checkout: its markers and the environment's, by time.
	a := ask("checkout", map[string]any{"time_range": 7200})
	if ids(a) != fmt.Sprint([]string{rangeID, deployID, allID}) || a.Markers[1].Message != "v1.2.3" || a.Markers[1].StartTime != at.Unix() {
		t.Fatalf("checkout, last 2h: %+v", a.Markers)
	}
	// A range covering only the deploy; one that starts a second after it.
	a = ask("checkout", map[string]any{"start_time": at.Unix(), "end_time": at.Unix() + 300})
	if ids(a) != fmt.Sprint([]string{deployID}) {
		t.Fatalf("checkout around the deploy: %v", ids(a))
	}
	a = ask("checkout", map[string]any{"start_time": at.Unix() + 1, "end_time": at.Unix() + 300})
	if ids(a) != "[]" {
		t.Fatalf("checkout after the deploy: %v", ids(a))
	}
	// The last 10 minutes cover none of them.
	a = ask("checkout", map[string]any{"time_range": 600})
	if ids(a) != "[]" {
		t.Fatalf("checkout, last 10m: %v", ids(a))
	}
	// The range marker overlaps a range that starts inside it.
	a = ask("checkout", map[string]any{"start_time": now.Add(-45 * time.Minute).Unix(), "end_time": now.Add(-35 * time.Minute).Unix()})
	if ids(a) != fmt.Sprint([]string{rangeID}) {
		t.Fatalf("checkout around the incident: %v", ids(a))
	}
	// Another dataset sees only the environment-wide marker.
	a = ask("search", map[string]any{"time_range": 7200})
	if ids(a) != fmt.Sprint([]string{allID}) {
		t.Fatalf("search, last 2h: %v", ids(a))
	}

	// The SLO's status shows the markers of its window.
	var st struct {
		SLO      string          `json:"slo"`
		Eligible int64           `json:"eligible"`
		Markers  []marker.Marker `json:"markers"`
	}
	if code := call(t, "GET", s.url+"/api/v1/slos/checkout-availability/status", query, nil, &st); code != 200 || st.SLO != "checkout-availability" {
		t.Fatalf("status: %d %+v", code, st)
	}
	if fmt.Sprint(markerIDsOf(st.Markers)) != fmt.Sprint([]string{rangeID, deployID, allID}) {
		t.Fatalf("status markers: %v", markerIDsOf(st.Markers))
	}
	if out, err := cli(query, "slo", "status", "checkout-availability"); err != nil || !strings.Contains(out, "SLI") {
		t.Fatalf("slo status CLI: %v\n%s", err, out)
	}

	// Deleting takes an edit key, and the marker is gone from answers.
	if _, err := cli(ingest, "marker", "delete", "checkout", deployID); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("ingest key deleting: %v", err)
	}
	if out, err := cli(edit, "marker", "delete", "checkout", deployID); err != nil || !strings.Contains(out, deployID+" deleted") {
		t.Fatalf("marker delete: %v %s", err, out)
	}
	if _, err := cli(edit, "marker", "delete", "checkout", deployID); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("deleting again: %v", err)
	}
	a = ask("checkout", map[string]any{"time_range": 7200})
	if ids(a) != fmt.Sprint([]string{rangeID, allID}) {
		t.Fatalf("after delete: %v", ids(a))
	}
}
