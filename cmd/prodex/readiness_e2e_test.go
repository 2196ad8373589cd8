package main

import (
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prodex/prodex/internal/testserver"
)

// TestMetadataDownKeepsIngestReady: a node on ClickHouse and PostgreSQL
// whose PostgreSQL stops stays ready for ingest (/readyz 200, the
// metadata store reported as degraded) and takes events, while metadata
// readiness (/readyz/meta) answers 503; when PostgreSQL is back, so is
// metadata readiness, and every event taken meanwhile is stored.
func TestMetadataDownKeepsIngestReady(t *testing.T) {
	t.Parallel()
	cl := testserver.ClickHouse(t, 1)
	pg := testserver.StartPostgres(t)
	storeURL := "clickhouse://" + cl.Addrs[0] + "/readiness?cluster=" + url.QueryEscape(cl.Cluster)
	s := startServer(t, t.TempDir(), "--store", storeURL, "--meta", pg.DSN, "--eval-interval", "200ms", "--commit-interval", "50ms")
	defer func() {
		s.stop()
		if t.Failed() {
			t.Logf("node log (last 40 lines):\n%s", logTail(s.log.String(), 40))
		}
	}()
	key := regexp.MustCompile(`(?m)^pdx\S+$`).FindString(s.log.String())
	if key == "" {
		t.Fatalf("the node printed no bootstrap key:\n%s", s.log.String())
	}
	type readiness struct {
		Status string
		Checks []struct {
			Name, Problem string
			Degraded      bool
		}
	}
	ready := func(path string) (int, readiness) {
		var r readiness
		code := call(t, "GET", s.url+path, "", nil, &r)
		return code, r
	}
	awaitCode(t, "metadata readiness at start", 20*time.Second, func() int { c, _ := ready("/readyz/meta"); return c }, 200)
	if code, r := ready("/readyz"); code != 200 {
		t.Fatalf("/readyz at start: %d %+v", code, r)
	}
	sent := 0
	if !postGood(s.url, key, "metadown", 10) {
		t.Fatal("ingest before PostgreSQL stopped failed")
	}
	sent += 10

	pg.Stop(t)
	awaitCode(t, "metadata readiness with PostgreSQL down", 20*time.Second, func() int { c, _ := ready("/readyz/meta"); return c }, 503)
	code, r := ready("/readyz")
	metaDegraded := false
	for _, c := range r.Checks {
		if strings.HasPrefix(c.Name, "meta:") && c.Problem != "" && c.Degraded {
			metaDegraded = true
		}
	}
	if code != 200 || !metaDegraded {
		t.Errorf("/readyz with PostgreSQL down: %d %+v, want 200 with the metadata store degraded", code, r)
	}
	for i := 0; i < 5; i++ {
		if !postGood(s.url, key, "metadown", 10) {
			t.Fatalf("ingest with PostgreSQL down was refused (batch %d)", i)
		}
		sent += 10
	}

	pg.Start(t)
	awaitCode(t, "metadata readiness once PostgreSQL is back", 30*time.Second, func() int { c, _ := ready("/readyz/meta"); return c }, 200)
	if n := countAll(t, s, key, "metadown"); n != sent {
		t.Errorf("%d events stored, %d acknowledged", n, sent)
	}
}
