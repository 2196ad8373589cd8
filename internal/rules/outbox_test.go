package rules

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/prodex/prodex/internal/notify"
	"github.com/prodex/prodex/internal/slo"
	"github.com/prodex/prodex/internal/store"
)

var quiet = slog.New(slog.DiscardHandler)

// lost is a sender that "crashes": it takes messages and never delivers
// or settles them, as when the process dies with them queued.
type lost struct {
	mu   sync.Mutex
	msgs []notify.Message
}

func (l *lost) SendThen(_ notify.Target, m notify.Message, _ func(error)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.msgs = append(l.msgs, m)
}

// hook is a webhook receiver answering every request with status.
type hook struct {
	mu     sync.Mutex
	msgs   []notify.Message
	status int
	srv    *httptest.Server
}

func newHook(t *testing.T, status int) *hook {
	h := &hook{status: status}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m notify.Message
		b, _ := io.ReadAll(r.Body)
		json.Unmarshal(b, &m)
		h.mu.Lock()
		h.msgs = append(h.msgs, m)
		h.mu.Unlock()
		w.WriteHeader(h.status)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hook) got() []notify.Message {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]notify.Message(nil), h.msgs...)
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func owedRows(t *testing.T, st *embedded) []store.Owed {
	t.Helper()
	rows, err := st.Owed(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// outboxSLO is an SLO notifying url.
func outboxSLO(url string) slo.SLO {
	return slo.SLO{Name: "checkout", Dataset: "shop", Target: 99.9, Window: slo.Window{Days: 30},
		SLI: slo.SLI{Good: "status_code < 500"}, Notify: []notify.Target{{Type: "webhook", URL: url}}}
}

var outboxNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func newOutboxManager(t *testing.T, st *embedded, s Sender) *Manager {
	t.Helper()
	m, err := New(context.Background(), st, s, Options{Log: quiet, Now: func() time.Time { return outboxNow }})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// burn sets the last hour of the SLO's counts: bad of every 1,000 events
// each minute are bad.
func burn(m *Manager, name string, bad int64) {
	m.mu.RLock()
	e := m.slos[name]
	m.mu.RUnlock()
	now := outboxNow.Unix() / 60
	for min := now - 60; min <= now; min++ {
		e.counts.set(min, 1000, 1000-bad, 0)
	}
}

// TestOutboxResendsAfterCrash: the page of an episode is saved as owed
// with the episode; when the notifier dies before delivering it, the next
// start sends it again with the same dedup key, and once it is delivered
// nothing is owed. The resolve goes the same way.
func TestOutboxResendsAfterCrash(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	rcv := newHook(t, 200)
	st, err := openEmbedded(dir)
	if err != nil {
		t.Fatal(err)
	}
	crashed := &lost{}
	m := newOutboxManager(t, st, crashed)
	if _, err := m.Apply(ctx, outboxSLO(rcv.srv.URL), false); err != nil {
		t.Fatal(err)
	}
	burn(m, "checkout", 100)
	m.EvaluateAll(ctx)
	if len(crashed.msgs) != 1 || crashed.msgs[0].State != "firing" {
		t.Fatalf("handed to the sender: %+v, want one firing page", crashed.msgs)
	}
	dedup := crashed.msgs[0].DedupKey
	rows := owedRows(t, st)
	if len(rows) != 1 || rows[0].AlertID != dedup || rows[0].Attempts != 1 {
		t.Fatalf("owed after the page: %+v", rows)
	}
	// The process dies: the notifier never delivered. The store reopens
	// with the episode firing and the page still owed.
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st, err = openEmbedded(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	n := notify.New(notify.Options{Log: quiet, Backoff: time.Millisecond})
	defer n.Close(ctx)
	m = newOutboxManager(t, st, n)
	eventually(t, "the owed page", func() bool { return len(rcv.got()) == 1 })
	if got := rcv.got()[0]; got.DedupKey != dedup || got.State != "firing" || got.SLO != "checkout" {
		t.Errorf("re-sent %+v, want the firing page %s", got, dedup)
	}
	eventually(t, "nothing owed", func() bool { return len(owedRows(t, st)) == 0 })

	// The episode is still open: evaluating again pages nobody.
	burn(m, "checkout", 100)
	m.EvaluateAll(ctx)
	// Recovery resolves it, with the same dedup key, and settles.
	burn(m, "checkout", 0)
	m.EvaluateAll(ctx)
	eventually(t, "the resolve", func() bool { return len(rcv.got()) == 2 })
	if got := rcv.got()[1]; got.DedupKey != dedup || got.State != "resolved" {
		t.Errorf("second notification %+v, want the resolve of %s", got, dedup)
	}
	eventually(t, "nothing owed", func() bool { return len(owedRows(t, st)) == 0 })
	if sent, failed := n.Stats(); sent != 2 || failed != 0 {
		t.Errorf("%d sent, %d failed; want 2, 0", sent, failed)
	}
}

// TestOutboxPermanentFailureSettles: a receiver that refuses the page for
// good ends its debt: the row is removed and the page counted failed.
func TestOutboxPermanentFailureSettles(t *testing.T) {
	ctx := context.Background()
	rcv := newHook(t, http.StatusBadRequest)
	st, err := openEmbedded(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	n := notify.New(notify.Options{Log: quiet, Backoff: time.Millisecond})
	defer n.Close(ctx)
	m := newOutboxManager(t, st, n)
	if _, err := m.Apply(ctx, outboxSLO(rcv.srv.URL), false); err != nil {
		t.Fatal(err)
	}
	burn(m, "checkout", 100)
	m.EvaluateAll(ctx)
	eventually(t, "the refused page settled", func() bool { return len(rcv.got()) == 1 && len(owedRows(t, st)) == 0 })
	if sent, failed := n.Stats(); sent != 0 || failed != 1 {
		t.Errorf("%d sent, %d failed; want 0, 1", sent, failed)
	}
}

// TestOutboxKeepsWhatShutdownLeft: a page still undelivered when the
// notifier closes (its receiver hangs) stays owed, with the reason, for
// the next start; evaluation never waited for the receiver.
func TestOutboxKeepsWhatShutdownLeft(t *testing.T) {
	ctx := context.Background()
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	defer hang.Close()
	defer close(release)
	st, err := openEmbedded(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	n := notify.New(notify.Options{Log: quiet})
	m := newOutboxManager(t, st, n)
	if _, err := m.Apply(ctx, outboxSLO(hang.URL), false); err != nil {
		t.Fatal(err)
	}
	burn(m, "checkout", 100)
	start := time.Now()
	m.EvaluateAll(ctx)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("evaluation took %s with a hanging receiver", d)
	}
	cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if err := n.Close(cctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("close: %v", err)
	}
	rows := owedRows(t, st)
	if len(rows) != 1 || rows[0].LastError == "" {
		t.Fatalf("owed after shutdown: %+v, want the page with the reason", rows)
	}
	var m2 notify.Message
	if err := json.Unmarshal(rows[0].Message, &m2); err != nil || m2.State != "firing" || m2.DedupKey != rows[0].AlertID {
		t.Errorf("owed message %s (%v)", rows[0].Message, err)
	}
}
