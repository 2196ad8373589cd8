package ingest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prodex/prodex/internal/event"
)

// slowStore records commits and blocks each one until released.
type slowStore struct {
	mu      sync.Mutex
	groups  [][]*event.Batch
	release chan struct{}
	events  atomic.Int64
	fail    error
	entered atomic.Int64 // commits begun
}

func (s *slowStore) Append(ctx context.Context, bs []*event.Batch) error {
	s.entered.Add(1)
	if s.release != nil {
		<-s.release
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.groups = append(s.groups, bs)
	if s.fail != nil {
		return s.fail
	}
	for _, b := range bs {
		b.Errs = make([]error, len(b.Events))
		s.events.Add(int64(len(b.Events)))
	}
	return nil
}

func batch(n int) *event.Batch {
	return &event.Batch{Dataset: "d", Events: make([]event.Event, n)}
}

func TestGroupCommit(t *testing.T) {
	st := &slowStore{release: make(chan struct{})}
	w := NewWriter(st, Options{})
	var wg sync.WaitGroup
	// The first submit blocks the writer in its commit; the next ten queue
	// up and must share one commit.
	wg.Add(1)
	go func() { defer wg.Done(); w.Submit(context.Background(), batch(1)) }()
	for st.entered.Load() != 1 { // queued is not enough: the writer may not have taken it yet
		time.Sleep(time.Millisecond)
	}
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); w.Submit(context.Background(), batch(5)) }()
	}
	for w.Queued() != 51 {
		time.Sleep(time.Millisecond)
	}
	close(st.release)
	wg.Wait()
	w.Close()
	if len(st.groups) != 2 || len(st.groups[1]) != 10 || st.events.Load() != 51 {
		t.Fatalf("commits %d (second with %d batches), events %d", len(st.groups), len(st.groups[len(st.groups)-1]), st.events.Load())
	}
}

func TestBusyWhenQueueFull(t *testing.T) {
	st := &slowStore{release: make(chan struct{})}
	w := NewWriter(st, Options{MaxQueued: 10})
	done := make(chan error, 2)
	go func() { done <- w.Submit(context.Background(), batch(6)) }()
	for w.Queued() != 6 {
		time.Sleep(time.Millisecond)
	}
	w.Refuse(ErrTooManyRequests) // one key's share of the slots ran out
	if w.Saturated() {
		t.Error("saturated before refusing anything for a full queue")
	}
	if err := w.Submit(context.Background(), batch(6)); !errors.Is(err, ErrBusy) {
		t.Fatalf("over capacity: %v, want ErrBusy", err)
	}
	if !w.Saturated() {
		t.Error("not saturated right after refusing for a full queue")
	}
	w.refused.full.Add(-int64(SaturatedFor)) // as if a second went by
	if w.Saturated() {
		t.Error("still saturated a second after the last refusal")
	}
	close(st.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := w.Submit(context.Background(), batch(6)); err != nil {
		t.Fatalf("after draining: %v", err)
	}
	w.Close()
	if err := w.Submit(context.Background(), batch(1)); !errors.Is(err, ErrClosed) {
		t.Fatalf("after close: %v", err)
	}
}

func TestStoreErrorReachesEveryWaiter(t *testing.T) {
	st := &slowStore{fail: errors.New("disk full")}
	w := NewWriter(st, Options{})
	defer w.Close()
	if err := w.Submit(context.Background(), batch(3)); err == nil || err.Error() != "disk full" {
		t.Fatalf("got %v", err)
	}
	if w.Queued() != 0 {
		t.Fatalf("queue not drained: %d", w.Queued())
	}
}

// TestMinInterval: after a commit, requests wait for the interval and go
// in one commit; closing the writer commits them at once.
func TestMinInterval(t *testing.T) {
	st := &slowStore{}
	w := NewWriter(st, Options{MinInterval: time.Hour})
	if err := w.Submit(context.Background(), batch(1)); err != nil {
		t.Fatal(err) // the first commit does not wait
	}
	var wg sync.WaitGroup
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); w.Submit(context.Background(), batch(5)) }()
		// Without the interval the writer would commit it instead.
		for deadline := time.Now().Add(2 * time.Second); w.Queued() != int64(5*(i+1)) && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
	}
	st.mu.Lock()
	commits := len(st.groups)
	st.mu.Unlock()
	if commits != 1 {
		t.Fatalf("%d commits before the interval ended, want 1", commits)
	}
	w.Close()
	wg.Wait()
	if len(st.groups) != 2 || len(st.groups[1]) != 3 || st.events.Load() != 16 {
		t.Fatalf("commits %d (last with %d batches), events %d", len(st.groups), len(st.groups[len(st.groups)-1]), st.events.Load())
	}
}

// refusingStore fails its next commit for lack of disk space and then
// refuses writes until told otherwise, as the embedded store does.
type refusingStore struct {
	slowStore
	failNext, refusing atomic.Bool
}

func (s *refusingStore) Append(ctx context.Context, bs []*event.Batch) error {
	if s.failNext.Swap(false) || s.refusing.Load() {
		s.refusing.Store(true)
		return errors.New(`IO Error: Could not write file "/data/prodex.duckdb.wal": No space left on device`)
	}
	return s.slowStore.Append(ctx, bs)
}

func (s *refusingStore) WritesRefused() bool { return s.refusing.Load() }

// TestWriterRefusesWhileTheStoreDoes: the commit that fails for lack of
// disk space answers ErrWriteFailed (507, Retry-After, not the store's
// own words), later requests are refused before they are read or queued,
// and ingest resumes by itself when the store takes writes again.
func TestWriterRefusesWhileTheStoreDoes(t *testing.T) {
	st := &refusingStore{}
	w := NewWriter(st, Options{})
	defer w.Close()
	if err := w.Submit(context.Background(), batch(3)); err != nil {
		t.Fatal(err)
	}
	st.failNext.Store(true)
	err := w.Submit(context.Background(), batch(3))
	if !errors.Is(err, ErrWriteFailed) {
		t.Fatalf("the failed commit answered %v, want ErrWriteFailed", err)
	}
	if status, after := Refusal(err); status != 507 || after != 30 {
		t.Errorf("refusal %d, Retry-After %d; want 507, 30", status, after)
	}
	if _, err := w.Admit(context.Background()); !errors.Is(err, ErrWriteFailed) {
		t.Errorf("admit while refusing: %v", err)
	}
	commits := w.Commits()
	if err := w.Submit(context.Background(), batch(3)); !errors.Is(err, ErrWriteFailed) || w.Commits() != commits {
		t.Errorf("submit while refusing: %v, %d commits tried (want none)", err, w.Commits()-commits)
	}
	if n := w.Refused()["disk"]; n != 2 {
		t.Errorf("%d refusals counted for the disk, want 2", n)
	}
	st.refusing.Store(false)
	ticket, err := w.Admit(context.Background())
	if err != nil {
		t.Fatalf("admit once the store writes again: %v", err)
	}
	ticket.Done()
	if err := w.Submit(context.Background(), batch(3)); err != nil {
		t.Fatalf("submit once the store writes again: %v", err)
	}
	if n := st.events.Load(); n != 6 {
		t.Errorf("%d events stored, want 6", n)
	}
}
