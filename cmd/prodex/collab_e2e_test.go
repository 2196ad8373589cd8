package main

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestPeopleNotesIncidentsAPI: users and personal keys, notes rendered
// safely with their authors, incidents worked by hand — with the
// permissions of each role.
func TestPeopleNotesIncidentsAPI(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	admin := newKey(t, data, "admin")
	query := newKey(t, data, "query")
	s := startServer(t, data)
	defer s.stop()
	u := s.url + "/api/v1"
	var e struct{ Error string }
	expect := func(what string, code, want int, msg string) {
		t.Helper()
		if code != want || msg != "" && !strings.Contains(e.Error, msg) {
			t.Errorf("%s: %d %q, want %d %q", what, code, e.Error, want, msg)
		}
		e.Error = ""
	}

	// People.
	expect("user by a query key", call(t, "PUT", u+"/users/alice", query, map[string]string{"role": "viewer"}, &e), 403, "")
	expect("bad role", call(t, "PUT", u+"/users/alice", admin, map[string]string{"role": "owner"}, &e), 400, "role")
	expect("bad name", call(t, "PUT", u+"/users/Alice!", admin, map[string]string{"role": "viewer"}, &e), 400, "name")
	expect("create alice", call(t, "PUT", u+"/users/alice", admin, map[string]string{"role": "viewer", "email": "alice@example.com"}, &e), 201, "")
	var k struct{ Key, Scope, User string }
	if code := call(t, "POST", u+"/users/alice/keys", admin, map[string]string{"name": "laptop"}, &k); code != 201 || k.Scope != "query" || k.User != "alice" {
		t.Fatalf("personal key: %d %+v", code, k)
	}
	expect("key for nobody", call(t, "POST", u+"/users/bob/keys", admin, map[string]string{"name": "x"}, &e), 404, "no user")
	alice := k.Key
	var me struct{ User, Scope string }
	call(t, "GET", s.url+"/1/auth", alice, nil, &me)
	if me.User != "alice" || me.Scope != "query" {
		t.Errorf("/1/auth: %+v", me)
	}
	applySLO(t, s, admin, "apiVersion: prodex/v1\nkind: SLO\nmetadata: {name: api}\nspec: {dataset: api, target: 99, window: 7d, sli: {good: status_code < 500}}\n")
	note := map[string]string{"target_type": "slo", "target_id": "api", "text": "**slow** <script>alert(1)</script> [x](javascript:alert(2))"}
	expect("viewer writes a note", call(t, "POST", u+"/notes", alice, note, &e), 403, "scope")
	expect("promote alice", call(t, "PUT", u+"/users/alice", admin, map[string]string{"role": "editor"}, &e), 200, "")

	// Notes: author, safe HTML, targets that exist.
	var n struct{ ID, Author, HTML string }
	if code := call(t, "POST", u+"/notes", alice, note, &n); code != 201 || n.Author != "alice" || !strings.Contains(n.HTML, "<strong>slow</strong>") ||
		strings.Contains(n.HTML, "<script") || strings.Contains(n.HTML, "javascript:") {
		t.Fatalf("note: %d %+v", code, n)
	}
	expect("note on a missing SLO", call(t, "POST", u+"/notes", alice, map[string]string{"target_type": "slo", "target_id": "nope", "text": "x"}, &e), 400, "target_id")
	expect("note on a dashboard", call(t, "POST", u+"/notes", alice, map[string]string{"target_type": "dashboard", "target_id": "x", "text": "x"}, &e), 400, "target_type")
	expect("note with an id", call(t, "POST", u+"/notes", alice, map[string]string{"id": "mine", "target_type": "slo", "target_id": "api", "text": "x"}, &e), 400, "set by the server")
	var notes []struct{ ID string }
	call(t, "GET", u+"/notes?target_type=slo&target_id=api", query, nil, &notes)
	if len(notes) != 1 || notes[0].ID != n.ID {
		t.Errorf("notes on the SLO: %+v", notes)
	}
	bob := newKeyVia(t, s, admin, "bob", "editor")
	expect("another editor edits alice's note", call(t, "PUT", u+"/notes/"+n.ID, bob, map[string]string{"text": "mine now"}, &e), 403, "author")
	expect("alice edits her note", call(t, "PUT", u+"/notes/"+n.ID, alice, map[string]string{"text": "*still* slow"}, &e), 200, "")
	// A team key named like a person is not that person.
	var impostor struct{ Key string }
	if code := call(t, "POST", u+"/keys", admin, map[string]string{"scope": "edit", "name": "alice"}, &impostor); code != 201 {
		t.Fatalf("team key named alice: %d", code)
	}
	expect("a team key named alice edits alice's note", call(t, "PUT", u+"/notes/"+n.ID, impostor.Key, map[string]string{"text": "mine now"}, &e), 403, "author")
	expect("a team key named alice deletes alice's note", call(t, "DELETE", u+"/notes/"+n.ID, impostor.Key, nil, &e), 403, "author")
	var teamNote struct{ ID, Author, Owner string }
	if code := call(t, "POST", u+"/notes", impostor.Key, map[string]string{"target_type": "slo", "target_id": "api", "text": "from the team key"}, &teamNote); code != 201 || teamNote.Author != "alice" || !strings.HasPrefix(teamNote.Owner, "key:") {
		t.Errorf("note by the team key: %d %+v", code, teamNote)
	}
	expect("alice edits the team key's note", call(t, "PUT", u+"/notes/"+teamNote.ID, alice, map[string]string{"text": "mine now"}, &e), 403, "author")
	expect("the team key edits its note", call(t, "PUT", u+"/notes/"+teamNote.ID, impostor.Key, map[string]string{"text": "edited"}, &e), 200, "")
	expect("the team key deletes its note", call(t, "DELETE", u+"/notes/"+teamNote.ID, impostor.Key, nil, &e), 200, "")
	expect("missing note", call(t, "DELETE", u+"/notes/note-nope", admin, nil, &e), 404, "")

	// Incidents by hand.
	inc := map[string]any{"title": "checkout errors", "severity": "sev1", "slo": "api", "commander": "alice"}
	expect("query key opens an incident", call(t, "POST", u+"/incidents", query, inc, &e), 403, "")
	expect("bad severity", call(t, "POST", u+"/incidents", bob, map[string]any{"title": "x", "severity": "sev9"}, &e), 400, "severity")
	expect("no title", call(t, "POST", u+"/incidents", bob, map[string]any{"severity": "sev1"}, &e), 400, "title")
	expect("unknown SLO", call(t, "POST", u+"/incidents", bob, map[string]any{"title": "x", "slo": "nope"}, &e), 400, "slo")
	var opened struct {
		ID, Status, Author string
		TTR                *string
	}
	if code := call(t, "POST", u+"/incidents", bob, inc, &opened); code != 201 || opened.Status != "investigating" || opened.Author != "bob" || opened.TTR != nil {
		t.Fatalf("open: %d %+v", code, opened)
	}
	expect("bad status", call(t, "PATCH", u+"/incidents/"+opened.ID, bob, map[string]any{"status": "done"}, &e), 400, "status")
	expect("unknown field", call(t, "PATCH", u+"/incidents/"+opened.ID, bob, map[string]any{"sev": "sev2"}, &e), 400, "unknown field")
	expect("follow-up on an unknown risk", call(t, "PATCH", u+"/incidents/"+opened.ID, bob,
		map[string]any{"postmortem": map[string]any{"summary": "x", "follow_ups": []map[string]any{{"title": "fix", "risk": "nope"}}}}, &e), 400, "risk")
	expect("missing incident", call(t, "PATCH", u+"/incidents/inc-nope", bob, map[string]any{"status": "mitigated"}, &e), 404, "")
	var worked struct {
		Status, Scribe string
		TTR            *string
	}
	if code := call(t, "PATCH", u+"/incidents/"+opened.ID, bob, map[string]any{"status": "mitigated", "scribe": "bob"}, &worked); code != 200 || worked.TTR == nil || worked.Scribe != "bob" {
		t.Fatalf("mitigate: %d %+v", code, worked)
	}
	call(t, "POST", u+"/notes", alice, map[string]string{"target_type": "incident", "target_id": opened.ID, "text": "rolled back build 4512"}, nil)
	var tl struct {
		Timeline []struct{ Kind, Author, Text string }
	}
	call(t, "GET", u+"/incidents/"+opened.ID+"/timeline", query, nil, &tl)
	var kinds []string
	for _, x := range tl.Timeline {
		kinds = append(kinds, x.Kind+"/"+x.Author)
	}
	if got := strings.Join(kinds, " "); got != "opened/bob role/bob status/bob note/alice" {
		t.Errorf("timeline: %s", got)
	}

	// Every write is in the audit log with its author; reads are not.
	var audit []struct {
		Author, Method, Path string
		Status               int
	}
	var who struct{ ID string }
	call(t, "GET", s.url+"/1/auth", admin, nil, &who)
	adminID := who.ID
	expect("audit by a query key", call(t, "GET", u+"/audit", query, nil, &e), 403, "")
	// A path that does not decode to text is kept as it came, not lost.
	expect("odd path", call(t, "DELETE", u+"/notes/%ff%00x", admin, nil, &e), 404, "")
	call(t, "GET", u+"/audit?limit=1000", admin, nil, &audit)
	got := map[string]bool{}
	for _, a := range audit {
		got[a.Author+" "+a.Method+" "+a.Path+" "+strconv.Itoa(a.Status)] = true
		if a.Method == "GET" {
			t.Errorf("a read in the audit log: %+v", a)
		}
	}
	for _, want := range []string{"key " + adminID + " PUT /api/v1/users/alice 201", "alice POST /api/v1/notes 201", "bob PATCH /api/v1/incidents/" + opened.ID + " 200",
		"alice POST /api/v1/notes 403", "key " + adminID + " DELETE /api/v1/notes/%ff%00x 404"} {
		if !got[want] {
			t.Errorf("audit log lacks %q: %v", want, got)
		}
	}

	// Deleting a user revokes their keys.
	expect("delete alice", call(t, "DELETE", u+"/users/alice", admin, nil, &e), 200, "")
	expect("alice's key after", call(t, "GET", u+"/incidents", alice, nil, &e), 401, "")
}

// newKeyVia makes a user with a role and returns a personal key of theirs.
func newKeyVia(t *testing.T, s *server, admin, user, role string) string {
	t.Helper()
	if code := call(t, "PUT", s.url+"/api/v1/users/"+user, admin, map[string]string{"role": role}, nil); code/100 != 2 {
		t.Fatalf("user %s: %d", user, code)
	}
	var k struct{ Key string }
	if code := call(t, "POST", s.url+"/api/v1/users/"+user+"/keys", admin, map[string]string{"name": "test"}, &k); code != 201 {
		t.Fatalf("key of %s: %d", user, code)
	}
	return k.Key
}

// TestPageOpensIncidentWithTimeline: an SLO page opens an incident whose
// timeline holds the alert, a deploy marker from the same window and the
// queries run meanwhile; resolving it records time to detect and repair,
// which the risk register of its risk then shows.
func TestPageOpensIncidentWithTimeline(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	admin := newKey(t, data, "admin")
	s := startServer(t, data, "--eval-interval", "500ms")
	defer s.stop()
	u := s.url + "/api/v1"
	applySLO(t, s, admin, `apiVersion: prodex/v1
kind: SLO
metadata: {name: checkout-availability}
spec: {dataset: checkout, target: 99.9, window: 30d, sli: {good: status_code < 500}}
---
apiVersion: prodex/v1
kind: Risk
metadata: {name: bad-deploy}
spec: {slo: checkout-availability, ettd: 30m, ettr: 60m, frequency_per_year: 6, impact_percent: 50}
`)
	now := time.Now()
	sendEvents(t, s, admin, "checkout", 3000, 0, now.Add(-6*time.Minute), 25*time.Minute)
	if out, err := prodexCLI(t, nil, "marker", "add", "--dataset", "checkout", "--type", "deploy", "--message", "build 4512",
		"--start", strconv.FormatInt(now.Add(-5*time.Minute).Unix(), 10), "--server", s.url, "--key", admin); err != nil {
		t.Fatalf("marker: %v %s", err, out)
	}
	sendEvents(t, s, admin, "checkout", 2000, 2, now, 4*time.Minute)

	var incs []struct {
		ID, SLO string
		AlertID string `json:"alert_id"`
	}
	for deadline := time.Now().Add(15 * time.Second); len(incs) == 0 && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		call(t, "GET", u+"/incidents?status=investigating", admin, nil, &incs)
	}
	if len(incs) != 1 || incs[0].SLO != "checkout-availability" || incs[0].AlertID == "" {
		t.Fatalf("incidents after the page: %+v", incs)
	}
	id := incs[0].ID
	runQuery(t, s, admin, "checkout", map[string]any{"time_range": 600, "calculations": []map[string]any{{"op": "COUNT"}},
		"breakdowns": []string{"status_code"}})
	var inc struct {
		Status string
		TTD    string
		TTR    *string
	}
	if code := call(t, "PATCH", u+"/incidents/"+id, admin, map[string]any{"status": "resolved", "risk": "bad-deploy", "commander": "admin"}, &inc); code != 200 {
		t.Fatalf("resolve: %d", code)
	}
	ttd, err := time.ParseDuration(inc.TTD)
	if err != nil || inc.TTR == nil || ttd < 3*time.Minute || ttd > 6*time.Minute {
		t.Errorf("resolved: %+v (%v)", inc, err)
	}
	var tl struct {
		Timeline []struct{ Kind, Author, Text string }
	}
	call(t, "GET", u+"/incidents/"+id+"/timeline", admin, nil, &tl)
	seen := map[string]string{}
	for _, e := range tl.Timeline {
		seen[e.Kind] += e.Text + "|"
	}
	if !strings.Contains(seen["alert"], "page fired") || !strings.Contains(seen["marker"], "deploy: build 4512") ||
		!strings.Contains(seen["query"], "queried checkout") || !strings.Contains(seen["status"], "resolved") || !strings.Contains(seen["opened"], "burning") {
		t.Errorf("timeline: %+v", tl.Timeline)
	}
	var reg struct {
		Risks []struct {
			Observed *struct {
				Incidents int
				TTD       string
			}
		}
	}
	call(t, "GET", u+"/slos/checkout-availability/risks", admin, nil, &reg)
	if len(reg.Risks) != 1 || reg.Risks[0].Observed == nil || reg.Risks[0].Observed.Incidents != 1 {
		t.Errorf("register: %+v", reg)
	}
	// A restart does not open the incident twice.
	s.stop()
	s.start("--eval-interval", "500ms")
	time.Sleep(time.Second)
	var all []struct{ ID string }
	call(t, "GET", u+"/incidents", admin, nil, &all)
	if len(all) != 1 {
		t.Errorf("after a restart: %d incidents", len(all))
	}
}
