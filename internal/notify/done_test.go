package notify

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// outcomes records how each message handed to SendThen ended, and how
// many times done was called for it.
type outcomes struct {
	mu    sync.Mutex
	err   map[string]error
	calls map[string]int
}

func newOutcomes() *outcomes {
	return &outcomes{err: map[string]error{}, calls: map[string]int{}}
}

func (o *outcomes) done(id string) func(error) {
	return func(err error) {
		o.mu.Lock()
		defer o.mu.Unlock()
		o.err[id] = err
		o.calls[id]++
	}
}

func (o *outcomes) get(id string) (err error, calls int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.err[id], o.calls[id]
}

func (o *outcomes) wait(t *testing.T, ids ...string) {
	t.Helper()
	waitFor(t, fmt.Sprint("done for ", ids), func() bool {
		for _, id := range ids {
			if _, n := o.get(id); n == 0 {
				return false
			}
		}
		return true
	})
}

// TestSendThenNotifyDone: done is told nil for a delivery, the error for a
// message given up on, and ErrClosed for one the Notifier closed on —
// exactly once each.
func TestSendThenNotifyDone(t *testing.T) {
	ok := newCapture(t)
	refuses := newCapture(t, 400)
	failing := newCapture(t, 500, 500, 500)
	o := newOutcomes()
	n := New(Options{Backoff: time.Millisecond, MaxRetries: 1, Log: quiet})
	n.SendThen(Target{Type: "webhook", URL: ok.srv.URL}, msg("firing"), o.done("ok"))
	n.SendThen(Target{Type: "webhook", URL: refuses.srv.URL}, msg("firing"), o.done("refused"))
	n.SendThen(Target{Type: "webhook", URL: failing.srv.URL}, msg("firing"), o.done("exhausted"))
	n.SendThen(Target{Type: "fax"}, msg("firing"), o.done("invalid"))
	o.wait(t, "ok", "refused", "exhausted", "invalid")
	if err, _ := o.get("ok"); err != nil {
		t.Errorf("delivered: done(%v), want nil", err)
	}
	for _, id := range []string{"refused", "exhausted", "invalid"} {
		if err, _ := o.get(id); err == nil || errors.Is(err, ErrClosed) {
			t.Errorf("%s: done(%v), want the failure", id, err)
		}
	}
	if err := n.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	n.SendThen(Target{Type: "webhook", URL: ok.srv.URL}, msg("firing"), o.done("after close"))
	if err, _ := o.get("after close"); !errors.Is(err, ErrClosed) {
		t.Errorf("after close: done(%v), want ErrClosed", err)
	}
	for id, c := range o.calls {
		if c != 1 {
			t.Errorf("%s: done called %d times", id, c)
		}
	}
	if sent, failed := n.Stats(); sent != 1 || failed != 4 {
		t.Errorf("%d sent, %d failed; want 1, 4", sent, failed)
	}
}

// TestSendThenNotifyDoneOnOverflowAndClose: a message dropped from a full
// queue is given up on; those a hanging receiver still holds when Close
// gives up, in flight or queued, end with ErrClosed.
func TestSendThenNotifyDoneOnOverflowAndClose(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 10)
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		<-release
	}))
	defer hang.Close()
	defer close(release)
	o := newOutcomes()
	n := New(Options{QueueSize: 2, Log: quiet})
	target := Target{Type: "webhook", URL: hang.URL}
	n.SendThen(target, msg("firing"), o.done("in flight"))
	<-started
	for _, id := range []string{"dropped", "queued 1", "queued 2"} {
		n.SendThen(target, msg("firing"), o.done(id))
	}
	if err, calls := o.get("dropped"); calls != 1 || err == nil || errors.Is(err, ErrClosed) {
		t.Errorf("dropped: done(%v) %d times, want one failure", err, calls)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := n.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("close: %v", err)
	}
	for _, id := range []string{"in flight", "queued 1", "queued 2"} {
		if err, calls := o.get(id); calls != 1 || !errors.Is(err, ErrClosed) {
			t.Errorf("%s: done(%v) %d times, want ErrClosed once", id, err, calls)
		}
	}
}
