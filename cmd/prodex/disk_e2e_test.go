package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDiskFull fills a real (tmpfs) disk under a running server.
//
// First with the free-space guard off, so a commit really fails with
// ENOSPC: the server must stay up, answer queries with every acknowledged
// event, refuse ingest with 507 and Retry-After, say so on /readyz, and
// take events again by itself once space is freed. Then with the guard
// on: ingest is refused with 507 and a message naming the disk before a
// write can fail, queries still answer, /readyz reports the refusal; once
// space is freed ingest resumes by itself, and a clean stop and start keep
// everything.
//
// Mounting needs CAP_SYS_ADMIN. Without it the test runs the guard half
// only, on the real disk, with a minimum above its free space.
func TestDiskFull(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	mnt := filepath.Join(base, "disk")
	os.MkdirAll(mnt, 0o755)
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=72m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Logf("cannot mount a small disk (%v: %s): checking the guard on the real disk only", err, bytes.TrimSpace(out))
		diskGuardOnly(t, base)
		return
	}
	defer exec.Command("umount", "-l", mnt).Run()

	data := filepath.Join(mnt, "data")
	key := newKey(t, data, "admin")
	// Ballast to free later: the space the server gets back.
	ballast := filepath.Join(mnt, "ballast")
	if err := os.WriteFile(ballast, bytes.Repeat([]byte{1}, 24<<20), 0o644); err != nil {
		t.Fatal(err)
	}

	// 1. No guard: fill the disk until a commit fails.
	s := startServer(t, data, "--min-free-disk", "0", "--checkpoint-threshold", "4MB")
	acked, sent := 0, 0
	for i := 0; ; i++ {
		if i > 2000 {
			t.Fatalf("the disk never filled: %s", df(mnt))
		}
		code, _, err := postWide(s.url, key, i, 1000)
		sent += 1000
		if err != nil || code != 200 {
			t.Logf("after %d acknowledged events: %d %v", acked, code, err)
			break
		}
		acked += 1000
	}
	t.Logf("disk full after %d acknowledged events; %s", acked, df(mnt))
	refused := func(stage string) {
		t.Helper()
		code, body, hdr, err := postWideHeader(s.url, key, 99999, 10)
		if err != nil || code != http.StatusInsufficientStorage || !strings.Contains(body, "disk") || hdr.Get("Retry-After") == "" {
			t.Fatalf("ingest %s: %d %s (Retry-After %q) %v, want 507 naming the disk, with Retry-After", stage, code, body, hdr.Get("Retry-After"), err)
		}
	}
	refused("after a write failed")
	n := awaitCount(t, s, key, "wide", acked, 30*time.Second)
	if n > sent {
		t.Fatalf("%d events stored; %d were sent", n, sent)
	}
	var ready struct {
		Status string
		Checks []struct {
			Name, Problem string
			Degraded      bool
		}
	}
	if c := call(t, "GET", s.url+"/readyz", "", nil, &ready); c != 200 || !strings.Contains(fmt.Sprint(ready.Checks), "lack of disk space") {
		t.Errorf("/readyz after a failed write: %d %+v", c, ready)
	}
	for i := 0; i < 3; i++ { // queries go on
		if got := countAll(t, s, key, "wide"); got != n {
			t.Fatalf("count changed from %d to %d while refusing", n, got)
		}
	}
	refused("while the disk is full")

	// 2. Space comes back: ingest resumes without a restart.
	os.Remove(ballast)
	later := awaitIngest(t, s, key, 200000, 90*time.Second, mnt)
	for i := 0; i < 3; i++ {
		if code, body, err := postWide(s.url, key, 200001+i, 500); err != nil || code != 200 {
			t.Fatalf("ingest after space came back: %d %s %v", code, body, err)
		}
		later += 500
	}
	if got := countAll(t, s, key, "wide"); got != n+later {
		t.Errorf("after resuming %d events, want %d", got, n+later)
	}
	if strings.Contains(s.log.String(), "missing") {
		t.Errorf("the log reports missing events: %s", tail(s.log.String(), 20))
	}
	s.stop()
	n += later

	// 3. Guard on, disk full again: everything acknowledged is back,
	// ingest is refused before anything fails.
	fill(t, ballast)
	s.start("--min-free-disk", "16MB", "--checkpoint-threshold", "4MB")
	if got := countAll(t, s, key, "wide"); got != n {
		t.Fatalf("after the restart %d events are stored, want %d", got, n)
	}
	code, body, err := postWide(s.url, key, 99999, 10)
	if err != nil || code != http.StatusInsufficientStorage || !strings.Contains(body, "disk") {
		t.Fatalf("ingest on a full disk: %d %s %v, want 507 naming the disk", code, body, err)
	}
	if c := call(t, "GET", s.url+"/readyz", "", nil, &ready); c != 200 || !strings.Contains(fmt.Sprint(ready.Checks), "free on the data disk") {
		t.Errorf("/readyz on a full disk: %d %+v", c, ready)
	}
	for i := 0; i < 5; i++ { // queries (and their history) still work
		if got := countAll(t, s, key, "wide"); got != n {
			t.Fatalf("count changed from %d to %d while refusing", n, got)
		}
	}

	// 4. Space comes back: ingest resumes without a restart.
	os.Remove(ballast)
	later = awaitIngest(t, s, key, 100000, 10*time.Second, mnt)
	for i := 0; i < 5; i++ {
		if code, body, err := postWide(s.url, key, 100001+i, 500); err != nil || code != 200 {
			t.Fatalf("ingest after space came back: %d %s %v", code, body, err)
		}
		later += 500
	}
	s.stop()
	s.start()
	if got := countAll(t, s, key, "wide"); got != n+later {
		t.Errorf("after a clean restart %d events, want %d", got, n+later)
	}
	s.stop()
}

// awaitIngest posts 500 events until they are taken, within d; it
// returns how many were.
func awaitIngest(t *testing.T, s *server, key string, batch int, d time.Duration, mnt string) int {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		code, body, err := postWide(s.url, key, batch, 500)
		if err == nil && code == 200 {
			return 500
		}
		if time.Now().After(deadline) {
			t.Fatalf("ingest did not resume after space was freed: %d %s %v; %s\n%s", code, body, err, df(mnt), tail(s.log.String(), 10))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// awaitCount waits (queries wait for a reopen) until a count of ds
// answers, and checks it holds at least want events.
func awaitCount(t *testing.T, s *server, key, ds string, want int, d time.Duration) int {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		var res struct {
			Results []struct{ Data map[string]any }
		}
		code := call(t, "POST", s.url+"/api/v1/query/"+ds, key, map[string]any{"calculations": []map[string]any{{"op": "COUNT"}}, "time_range": 86400}, &res)
		if code == 200 && len(res.Results) > 0 {
			n := int(res.Results[0].Data["COUNT"].(float64))
			if n < want {
				t.Fatalf("a query reads %d events; %d were acknowledged", n, want)
			}
			return n
		}
		if time.Now().After(deadline) {
			t.Fatalf("no query answered within %s after the failed write: %d", d, code)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// fill writes path until the disk it is on is full.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := bytes.Repeat([]byte{1}, 1<<20)
	for {
		if _, err := f.Write(chunk); err != nil {
			return
		}
	}
}

// diskGuardOnly checks the refusal on the real disk: a minimum above its
// free space refuses ingest, and a restart with a sane one takes it again.
func diskGuardOnly(t *testing.T, base string) {
	data := filepath.Join(base, "data")
	key := newKey(t, data, "admin")
	s := startServer(t, data, "--min-free-disk", "1000TB")
	defer s.stop()
	code, body, err := postWide(s.url, key, 0, 10)
	if err != nil || code != http.StatusInsufficientStorage || !strings.Contains(body, "disk") {
		t.Fatalf("ingest below the minimum: %d %s %v, want 507 naming the disk", code, body, err)
	}
	s.stop()
	s.start()
	if code, body, err := postWide(s.url, key, 0, 10); err != nil || code != 200 {
		t.Fatalf("ingest with room: %d %s %v", code, body, err)
	}
}

// postWide posts n events of about 300 bytes each to dataset "wide".
func postWide(url, key string, batch, n int) (int, string, error) {
	code, body, _, err := postWideHeader(url, key, batch, n)
	return code, body, err
}

// postWideHeader is postWide with the answer's header.
func postWideHeader(url, key string, batch, n int) (int, string, http.Header, error) {
	evs := make([]map[string]any, n)
	pad := strings.Repeat("x", 200)
	for i := range evs {
		evs[i] = map[string]any{"data": map[string]any{"batch": batch, "i": i, "msg": fmt.Sprintf("%d-%d-%s", batch, i, pad), "duration_ms": float64(i%977) / 3}}
	}
	b, _ := json.Marshal(evs)
	req, _ := http.NewRequest("POST", url+"/1/batch/wide", bytes.NewReader(b))
	req.Header.Set("X-Honeycomb-Team", key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", nil, err
	}
	defer resp.Body.Close()
	var out bytes.Buffer
	out.ReadFrom(resp.Body)
	return resp.StatusCode, out.String(), resp.Header, nil
}

// countAll counts a dataset's events over the last day.
func countAll(t *testing.T, s *server, key, ds string) int {
	t.Helper()
	res := runQuery(t, s, key, ds, map[string]any{"calculations": []map[string]any{{"op": "COUNT"}}, "time_range": 86400})
	if len(res.Results) == 0 {
		return 0
	}
	return int(res.Results[0].Data["COUNT"].(float64))
}

func df(dir string) string {
	out, _ := exec.Command("df", "-h", dir).CombinedOutput()
	return strings.TrimSpace(string(out))
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
