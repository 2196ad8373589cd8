package metatest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prodex/prodex/internal/store"
)

// testAuditLog: writes newest first, by author, since a time (inclusive),
// at most limit; times read back in UTC, to the microsecond.
func testAuditLog(t *testing.T, s Store) {
	ctx := context.Background()
	e1 := store.AuditEntry{Time: t0.Add(1500 * time.Nanosecond), Author: "alice", KeyID: "k1", Method: "POST", Path: "/api/slos", Status: 201}
	e2 := store.AuditEntry{Time: t0.Add(time.Second).In(time.FixedZone("CET", 3600)), Author: "bob", KeyID: "k2", Method: "DELETE", Path: "/api/slos/x", Status: 204}
	e3 := store.AuditEntry{Time: t0.Add(2 * time.Second), Author: "alice", Method: "PUT", Path: "/api/markers/" + hostile, Status: 403}
	for _, e := range []store.AuditEntry{e2, e1, e3} {
		if err := s.Audit(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	e1.Time = t0.Add(time.Microsecond) // stored to the microsecond
	e2.Time = e2.Time.UTC()

	log := func(author string, since time.Time, limit int) string {
		t.Helper()
		got, err := s.AuditLog(ctx, author, since, limit)
		if err != nil {
			t.Fatal(err)
		}
		if got == nil {
			t.Errorf("AuditLog(%q) = nil; want an empty list, which the API writes as []", author)
		}
		return fmtAudit(got...)
	}
	for _, tc := range []struct {
		name   string
		author string
		since  time.Time
		limit  int
		want   string
	}{
		{"all, newest first", "", time.Time{}, 10, fmtAudit(e3, e2, e1)},
		{"by author", "alice", time.Time{}, 10, fmtAudit(e3, e1)},
		{"unknown author", "carol", time.Time{}, 10, fmtAudit()},
		{"hostile author", hostile, time.Time{}, 10, fmtAudit()},
		{"since is inclusive", "", t0.Add(time.Second), 10, fmtAudit(e3, e2)},
		{"since after everything", "", t0.Add(time.Hour), 10, fmtAudit()},
		{"limit", "", time.Time{}, 2, fmtAudit(e3, e2)},
		{"author, since and limit", "alice", t0, 1, fmtAudit(e3)},
	} {
		if got := log(tc.author, tc.since, tc.limit); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
	}
}

// fmtAudit prints entries with their times' locations, which must be UTC.
func fmtAudit(es ...store.AuditEntry) string {
	s := "["
	for _, e := range es {
		s += fmt.Sprintf("\n  {%s %s %s %s %s %s %d}", e.Time.Format(time.RFC3339Nano), e.Time.Location(), e.Author, e.KeyID, e.Method, e.Path, e.Status)
	}
	return s + "]"
}
