package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestMovedUserKeyActsOnlyInTheirEnvironment: an admin moved to another
// environment keeps no admin power where they left — their old personal
// key lists no users or keys and makes no key in the default environment,
// also after a restart — and acts in the environment they moved to.
func TestMovedUserKeyActsOnlyInTheirEnvironment(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	admin := newKey(t, data, "admin")
	s := startServer(t, data)
	stopped := false
	defer func() {
		if !stopped {
			s.stop()
		}
	}()
	u := s.url + "/api/v1"
	if code := call(t, "POST", u+"/environments", admin, map[string]string{"name": "staging"}, nil); code != 201 {
		t.Fatalf("create staging: %d", code)
	}
	if code := call(t, "PUT", u+"/users/mia", admin, map[string]string{"role": "admin"}, nil); code != 201 {
		t.Fatalf("create mia: %d", code)
	}
	var k struct{ Key string }
	if code := call(t, "POST", u+"/users/mia/keys", admin, map[string]string{"name": "laptop"}, &k); code != 201 {
		t.Fatalf("mia's key: %d", code)
	}
	mia := k.Key
	if code := call(t, "GET", u+"/users", mia, nil, nil); code != 200 {
		t.Fatalf("mia, admin of the default environment, lists users: %d", code)
	}
	if code := call(t, "PUT", u+"/users/mia", admin, map[string]string{"role": "admin", "environment": "staging"}, nil); code != 200 {
		t.Fatalf("move mia: %d", code)
	}

	check := func(when string) {
		t.Helper()
		var e struct{ Error string }
		for _, c := range []struct {
			method, path string
			body         any
		}{
			{"GET", "/users", nil},
			{"GET", "/keys", nil},
			{"POST", "/keys", map[string]string{"scope": "admin", "name": "escape"}},
			{"PUT", "/users/mia", map[string]string{"role": "admin", "environment": ""}},
		} {
			var raw json.RawMessage
			code := call(t, c.method, u+c.path, mia, c.body, &raw)
			e.Error = ""
			json.Unmarshal(raw, &e)
			if code != 403 || !strings.Contains(e.Error, "default environment") {
				t.Errorf("%s: mia's old key, %s %s: %d %s, want 403 (a key of staging)", when, c.method, c.path, code, clipText(string(raw)))
			}
		}
		// Her key acts in staging: what it writes is there, not in the
		// default environment.
		if code := call(t, "POST", s.url+"/1/batch/mias-data", mia, []map[string]any{{"data": map[string]any{"x": 1}}}, nil); code != 200 {
			t.Errorf("%s: mia sends to staging: %d", when, code)
		}
		var staging, root []struct{ Name string }
		stagingKey := struct{ Key string }{}
		call(t, "POST", u+"/keys", admin, map[string]string{"scope": "query", "environment": "staging", "name": "look"}, &stagingKey)
		call(t, "GET", u+"/datasets", stagingKey.Key, nil, &staging)
		call(t, "GET", u+"/datasets", admin, nil, &root)
		if !hasDataset(staging, "mias-data") || hasDataset(root, "mias-data") {
			t.Errorf("%s: mia's events went to staging %v / default %v", when, staging, root)
		}
		var keys []struct{ User, Environment string }
		call(t, "GET", u+"/keys", admin, nil, &keys)
		for _, k := range keys {
			if k.User == "mia" && k.Environment != "staging" {
				t.Errorf("%s: mia's key is listed in environment %q", when, k.Environment)
			}
		}
	}
	check("after the move")
	s.stop()
	s.start()
	check("after a restart")

	// prodex users set changes what it is given and keeps the rest.
	if code := call(t, "PUT", u+"/users/sam", admin, map[string]string{"role": "viewer", "email": "sam@example.com", "environment": "staging"}, nil); code != 201 {
		t.Fatalf("create sam: %d", code)
	}
	if out, err := prodexCLI(t, nil, "users", "set", "sam", "--role", "editor", "--server", s.url, "--key", admin); err != nil {
		t.Fatalf("users set: %v %s", err, out)
	}
	var users []struct{ Name, Role, Email, Environment string }
	call(t, "GET", u+"/users", admin, nil, &users)
	for _, x := range users {
		if x.Name == "sam" && (x.Role != "editor" || x.Environment != "staging" || x.Email != "sam@example.com") {
			t.Errorf("after users set --role editor: %+v, want editor in staging with the email kept", x)
		}
	}
	// A partial PUT keeps what it does not carry, too.
	if code := call(t, "PUT", u+"/users/sam", admin, map[string]string{"email": "sam@example.org"}, nil); code != 200 {
		t.Fatalf("change sam's email: %d", code)
	}
	users = nil
	call(t, "GET", u+"/users", admin, nil, &users)
	for _, x := range users {
		if x.Name == "sam" && (x.Role != "editor" || x.Environment != "staging" || x.Email != "sam@example.org") {
			t.Errorf("after a PUT of the email alone: %+v", x)
		}
	}
	s.stop()
	stopped = true
}

func hasDataset(list []struct{ Name string }, name string) bool {
	for _, d := range list {
		if d.Name == name {
			return true
		}
	}
	return false
}
