package metatest

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/prodex/prodex/internal/store"
)

func putAlert(t *testing.T, s Store, id, slo string, started time.Time, open bool, owed ...store.Owed) {
	t.Helper()
	body := fmt.Sprintf(`{"id": %q, "open": %v}`, id, open)
	if err := s.PutAlert(context.Background(), id, slo, started, open, []byte(body), owed...); err != nil {
		t.Fatalf("PutAlert %s: %v", id, err)
	}
}

// alertBodies lists the bodies Alerts returns.
func alertBodies(t *testing.T, s Store, slo string, openOnly bool, limit int) []string {
	t.Helper()
	bodies, err := s.Alerts(context.Background(), slo, openOnly, limit)
	if err != nil {
		t.Fatal(err)
	}
	out := []string{}
	for _, b := range bodies {
		out = append(out, string(b))
	}
	return out
}

func body(id string, open bool) string { return fmt.Sprintf(`{"id": %q, "open": %v}`, id, open) }

// testAlerts: episodes newest first (ties by id), by SLO, open only, at
// most limit; a replaced episode takes its new state and body.
func testAlerts(t *testing.T, s Store) {
	if got := alertBodies(t, s, "", false, 10); len(got) != 0 {
		t.Fatalf("empty store: %q", got)
	}
	putAlert(t, s, "a1", "checkout", t0, true)
	putAlert(t, s, "a4", "checkout", t0.Add(time.Minute), true)
	putAlert(t, s, "a2", "checkout", t0.Add(time.Minute), false)
	putAlert(t, s, "a3", "payments", t0.Add(2*time.Minute), true)
	a1, a2, a3, a4 := body("a1", true), body("a2", false), body("a3", true), body("a4", true)

	for _, tc := range []struct {
		name     string
		slo      string
		openOnly bool
		limit    int
		want     []string
	}{
		{"all, newest first, ties by id", "", false, 10, []string{a3, a2, a4, a1}},
		{"one SLO", "checkout", false, 10, []string{a2, a4, a1}},
		{"open only", "", true, 10, []string{a3, a4, a1}},
		{"one SLO, open only", "checkout", true, 10, []string{a4, a1}},
		{"limit", "", false, 2, []string{a3, a2}},
		{"unknown SLO", "billing", false, 10, []string{}},
		{"hostile SLO", hostile, false, 10, []string{}},
	} {
		if got := alertBodies(t, s, tc.slo, tc.openOnly, tc.limit); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}

	// Resolving replaces the episode by id.
	putAlert(t, s, "a1", "checkout", t0, false)
	if got, want := alertBodies(t, s, "", false, 10), []string{a3, a2, a4, body("a1", false)}; !slices.Equal(got, want) {
		t.Errorf("after resolving a1: %q, want %q", got, want)
	}
	if got, want := alertBodies(t, s, "", true, 10), []string{a3, a4}; !slices.Equal(got, want) {
		t.Errorf("open after resolving a1: %q, want %q", got, want)
	}
	if owed := owedList(t, s); len(owed) != 0 {
		t.Errorf("PutAlert without notifications left %d owed", len(owed))
	}
}

func owedList(t *testing.T, s Store) []store.Owed {
	t.Helper()
	owed, err := s.Owed(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return owed
}

func sameOwed(t *testing.T, what string, got, want []store.Owed) {
	t.Helper()
	ok := len(got) == len(want)
	for i := 0; ok && i < len(got); i++ {
		g, w := got[i], want[i]
		ok = g.ID == w.ID && g.AlertID == w.AlertID && bytes.Equal(g.Target, w.Target) && bytes.Equal(g.Message, w.Message) &&
			g.Created.Equal(w.Created) && g.Attempts == w.Attempts && g.LastError == w.LastError
	}
	if !ok {
		t.Errorf("%s:\n got %s\nwant %s", what, fmtOwed(got), fmtOwed(want))
	}
}

func fmtOwed(os []store.Owed) string {
	s := ""
	for _, o := range os {
		s += fmt.Sprintf("\n  {%s alert=%s target=%s message=%s created=%s attempts=%d error=%q}",
			o.ID, o.AlertID, o.Target, o.Message, o.Created.UTC().Format(time.RFC3339Nano), o.Attempts, o.LastError)
	}
	return s
}

// testOutbox: the notifications an alert change owes are saved with it,
// listed oldest first, counted as they are handed to a notifier, told why
// a hand-off did not finish, and gone once settled.
func testOutbox(t *testing.T, s Store) {
	ctx := context.Background()
	target := []byte(`{"type": "webhook", "url": "https://hooks.example/x?a='b'"}`)
	page := store.Owed{ID: "e1-open-1", AlertID: "not this", Target: target, Message: []byte(`{"summary": "checkout burns"}`),
		Created: t0.Add(time.Second), Attempts: 1}
	ticket := store.Owed{ID: "e1-open-0", Target: target, Message: []byte("{}"), Created: t0.Add(time.Second), Attempts: 1, LastError: "earlier"}
	old := store.Owed{ID: "e2-open-0", Target: []byte(`{}`), Message: []byte(`{"n": 2}`), Created: t0, Attempts: 0}
	putAlert(t, s, "e1", "checkout", t0, true, page, ticket)
	putAlert(t, s, "e2", "payments", t0, true, old)

	// PutAlert sets each notification's alert.
	page.AlertID, ticket.AlertID, old.AlertID = "e1", "e1", "e2"
	sameOwed(t, "owed, oldest first, ties by id", owedList(t, s), []store.Owed{old, ticket, page})

	// The same notification owed again is the one already owed: the first
	// is kept, while the episode is replaced.
	again := page
	again.Message, again.Attempts, again.LastError = []byte(`{"summary": "changed"}`), 5, "x"
	putAlert(t, s, "e1", "checkout", t0, false, again)
	sameOwed(t, "after owing the page again", owedList(t, s), []store.Owed{old, ticket, page})
	if got, want := alertBodies(t, s, "checkout", false, 10), []string{body("e1", false)}; !slices.Equal(got, want) {
		t.Errorf("episode not replaced: %q, want %q", got, want)
	}

	for range 2 {
		if err := s.Resending(ctx, page.ID); err != nil {
			t.Fatal(err)
		}
	}
	page.Attempts += 2
	if err := s.Unsent(ctx, page.ID, "notifier closed"); err != nil {
		t.Fatal(err)
	}
	page.LastError = "notifier closed"
	if err := s.Unsent(ctx, ticket.ID, hostile); err != nil {
		t.Fatal(err)
	}
	ticket.LastError = hostile
	sameOwed(t, "after resending and unsent", owedList(t, s), []store.Owed{old, ticket, page})

	if err := s.Settle(ctx, ticket.ID); err != nil {
		t.Fatal(err)
	}
	sameOwed(t, "after settling", owedList(t, s), []store.Owed{old, page})

	// Unknown ids, and one settled already, are no error: a notifier's
	// late report about a settled notification is harmless.
	for _, id := range []string{ticket.ID, "never-owed", hostile} {
		if err := s.Resending(ctx, id); err != nil {
			t.Errorf("Resending(%q): %v", id, err)
		}
		if err := s.Unsent(ctx, id, "x"); err != nil {
			t.Errorf("Unsent(%q): %v", id, err)
		}
		if err := s.Settle(ctx, id); err != nil {
			t.Errorf("Settle(%q): %v", id, err)
		}
	}
	sameOwed(t, "after unknown ids", owedList(t, s), []store.Owed{old, page})
	for _, o := range []store.Owed{old, page} {
		if err := s.Settle(ctx, o.ID); err != nil {
			t.Fatal(err)
		}
	}
	if got := owedList(t, s); len(got) != 0 {
		t.Errorf("all settled, still owed: %s", fmtOwed(got))
	}
}

// testPutAlertAllOrNothing: an episode and its notifications are written
// together or not at all. Both stores refuse a string that is not UTF-8,
// which makes the notification's write fail after the episode's.
func testPutAlertAllOrNothing(t *testing.T, s Store) {
	ctx := context.Background()
	good := store.Owed{ID: "n-good", Target: []byte("{}"), Message: []byte("{}"), Created: t0}
	bad := store.Owed{ID: "n-bad", Target: []byte("{}"), Message: []byte("{}"), Created: t0, LastError: "\xff\xfe"}
	err := s.PutAlert(ctx, "e1", "checkout", t0, true, []byte("{}"), good, bad)
	alerts := alertBodies(t, s, "", false, 10)
	owed := owedList(t, s)
	if err == nil {
		t.Logf("the store took a string that is not UTF-8: PutAlert's atomicity was not exercised")
		if len(alerts) != 1 || len(owed) != 2 {
			t.Errorf("PutAlert succeeded but stored %d episodes and %d notifications", len(alerts), len(owed))
		}
		return
	}
	if len(alerts) != 0 || len(owed) != 0 {
		t.Errorf("PutAlert failed (%v) but stored %d episodes and %d notifications", err, len(alerts), len(owed))
	}
}
