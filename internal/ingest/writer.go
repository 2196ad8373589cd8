// Package ingest turns accepted requests into durable writes: a single
// writer goroutine group-commits whatever requests queued while the previous
// commit ran, so many small requests share one transaction, and a bounded
// queue sheds load with ErrBusy instead of growing without limit.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prodex/prodex/internal/event"
)

// Appender is the store's write path: durable when it returns nil.
type Appender interface {
	Append(ctx context.Context, batches []*event.Batch) error
}

// Preparer is a store that makes the columns a batch needs before the
// batch is queued (see SubmitAll): a schema change is then paid by the
// request that brings it, outside the group commit, and never delays the
// commits of other datasets.
type Preparer interface {
	Prepare(ctx context.Context, batches []*event.Batch) error
}

// ErrBusy means the queue is full: the client should retry later (HTTP 429).
var ErrBusy = errors.New("ingest queue is full, retry later")

// ErrClosed means the writer is shutting down (HTTP 503).
var ErrClosed = errors.New("server is shutting down")

// ErrWriteFailed means the store refuses writes after one failed for lack
// of disk space, until the disk has room again (HTTP 507).
var ErrWriteFailed = errors.New("a write to the data disk failed for lack of space; events are refused until writes succeed again")

// WriteRefuser is an Appender that may refuse writes for a while (the
// embedded store after a write failed for lack of disk space): while it
// does, the writer refuses events with ErrWriteFailed before queueing
// them.
type WriteRefuser interface {
	WritesRefused() bool
}

// Options tune the writer.
type Options struct {
	// MaxQueued caps the events waiting for a commit (default 200,000).
	MaxQueued int64
	// MaxGroup caps the events of one group commit (default 50,000).
	MaxGroup int
	// Guard, when set, refuses work while memory or disk run short.
	Guard *Guard
	// Env names the writer's environment, whose share of the requests in
	// flight Admit counts.
	Env string
	// OnCommit, when set, is told of every group commit (for metrics).
	OnCommit func(events int64, took time.Duration, err error)
	// MinInterval, when set, is the least time from one commit's start to
	// the next: requests arriving meanwhile wait and go in one commit.
	// ClickHouse wants few large inserts (each is a part to merge); the
	// embedded store commits as soon as it can.
	MinInterval time.Duration
}

// Writer group-commits batches to a store.
type Writer struct {
	st      Appender
	opts    Options
	reqs    chan *request
	queued  atomic.Int64
	mu      sync.RWMutex // guards closed against Submit
	closed  bool
	done    chan struct{}
	commits atomic.Int64
	stored  atomic.Int64 // events committed
	refused refusals
}

// refusals counts Submit and Admit refusals by cause.
type refusals struct {
	busy, memory, disk, closed atomic.Int64
	full                       atomic.Int64 // unix ns of the last refusal for a full queue
}

func (r *refusals) count(err error) error {
	if errors.Is(err, ErrBusy) {
		r.full.Store(time.Now().UnixNano())
	}
	switch {
	case errors.Is(err, ErrBusy), errors.Is(err, ErrTooManyRequests):
		r.busy.Add(1)
	case errors.Is(err, ErrMemory), errors.Is(err, ErrDecodeMemory):
		r.memory.Add(1)
	case errors.Is(err, ErrDiskFull), errors.Is(err, ErrWriteFailed):
		r.disk.Add(1)
	case errors.Is(err, ErrClosed):
		r.closed.Add(1)
	}
	return err
}

// Refused is how many requests were refused, by cause: "busy" (queue or
// requests in flight), "memory", "disk" and "closed".
func (w *Writer) Refused() map[string]int64 {
	return map[string]int64{"busy": w.refused.busy.Load(), "memory": w.refused.memory.Load(),
		"disk": w.refused.disk.Load(), "closed": w.refused.closed.Load()}
}

// Saturated reports whether the writer refused events for a full queue
// within the last SaturatedFor: the store takes events slower than they
// come, and whatever else the machine does takes from ingest. A key's
// share of the requests in flight running out is not saturation: one
// sender cannot declare the server saturated.
func (w *Writer) Saturated() bool {
	last := w.refused.full.Load()
	return last != 0 && time.Since(time.Unix(0, last)) < SaturatedFor
}

// SaturatedFor is how long after refusing for a full queue the writer
// still reports itself Saturated.
const SaturatedFor = time.Second

// Stored is the number of events committed since the writer started.
func (w *Writer) Stored() int64 { return w.stored.Load() }

// Admit is called before a request's body is read: it refuses early, before
// memory is spent on decoding, when the writer could not take the events.
// The ticket counts the request against the environment's and its key's
// (WithKey) shares of the requests in flight, and is the decoder's
// event.Memory; its Done must be called once the request is done.
func (w *Writer) Admit(ctx context.Context) (*Ticket, error) {
	w.mu.RLock()
	closed := w.closed
	w.mu.RUnlock()
	if closed {
		return nil, w.refused.count(ErrClosed)
	}
	if w.writesRefused() {
		return nil, w.refused.count(ErrWriteFailed)
	}
	if w.queued.Load() >= w.opts.MaxQueued {
		return nil, w.refused.count(ErrBusy)
	}
	t, err := w.opts.Guard.Admit(w.opts.Env, keyOf(ctx))
	return t, w.refused.count(err)
}

// Refuse counts a refusal met after Admit (a ticket's memory refused).
func (w *Writer) Refuse(err error) error { return w.refused.count(err) }

type request struct {
	batches []*event.Batch
	n       int64
	err     chan error
}

// NewWriter starts a writer over st.
func NewWriter(st Appender, opts Options) *Writer {
	if opts.MaxQueued <= 0 {
		opts.MaxQueued = 200_000
	}
	if opts.MaxGroup <= 0 {
		opts.MaxGroup = 50_000
	}
	w := &Writer{st: st, opts: opts, reqs: make(chan *request, 4096), done: make(chan struct{})}
	go w.run()
	return w
}

// Submit queues a batch and waits until it is durable. It fails fast with
// ErrBusy when the queue is full. On success b.Errs holds per-event
// rejections.
func (w *Writer) Submit(ctx context.Context, b *event.Batch) error {
	return w.SubmitAll(ctx, []*event.Batch{b})
}

// SubmitAll is Submit for batches of several datasets (an OTLP request
// spanning services): they are accepted or refused together and committed
// in the same transaction. A store that is a Preparer first makes the
// columns they need, while other requests' commits go on.
func (w *Writer) SubmitAll(ctx context.Context, bs []*event.Batch) error {
	var n int64
	for _, b := range bs {
		n += int64(len(b.Events))
	}
	if n == 0 {
		return nil
	}
	if err := w.opts.Guard.check(); err != nil {
		return w.refused.count(err)
	}
	if w.writesRefused() {
		return w.refused.count(ErrWriteFailed)
	}
	if p, ok := w.st.(Preparer); ok {
		if err := p.Prepare(ctx, bs); err != nil {
			return fmt.Errorf("preparing the columns of the events: %w", err)
		}
	}
	w.mu.RLock()
	if w.closed {
		w.mu.RUnlock()
		return w.refused.count(ErrClosed)
	}
	if w.queued.Add(n) > w.opts.MaxQueued && w.queued.Load() != n {
		w.queued.Add(-n)
		w.mu.RUnlock()
		return w.refused.count(ErrBusy)
	}
	r := &request{batches: bs, n: n, err: make(chan error, 1)}
	select {
	case w.reqs <- r:
	default:
		w.queued.Add(-n)
		w.mu.RUnlock()
		return w.refused.count(ErrBusy)
	}
	w.mu.RUnlock()
	// The request is queued: wait for its commit even if the client goes
	// away, so a shutdown never abandons accepted work half-way.
	return <-r.err
}

// writesRefused says whether the store refuses writes now.
func (w *Writer) writesRefused() bool {
	r, ok := w.st.(WriteRefuser)
	return ok && r.WritesRefused()
}

// Queued is the number of events waiting for a commit.
func (w *Writer) Queued() int64 { return w.queued.Load() }

// Commits is the number of group commits made.
func (w *Writer) Commits() int64 { return w.commits.Load() }

func (w *Writer) run() {
	defer close(w.done)
	var last time.Time // when the last commit began
	for first := range w.reqs {
		group := []*request{first}
		n := first.n
		// Without MinInterval, or once it has passed, take what is queued
		// and commit; before that, also wait for more.
		var wait <-chan time.Time
		if d := w.opts.MinInterval - time.Since(last); d > 0 {
			wait = time.After(d)
		}
	drain:
		for n < int64(w.opts.MaxGroup) {
			var r *request
			ok := true
			select {
			case r, ok = <-w.reqs:
			default:
				if wait == nil {
					break drain
				}
				select {
				case r, ok = <-w.reqs:
				case <-wait:
					break drain
				}
			}
			if !ok {
				break drain
			}
			group = append(group, r)
			n += r.n
		}
		last = time.Now()
		w.commit(group, n)
	}
}

func (w *Writer) commit(group []*request, n int64) {
	var batches []*event.Batch
	for _, r := range group {
		batches = append(batches, r.batches...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	began := time.Now()
	err := w.st.Append(ctx, batches)
	cancel()
	if err != nil && w.writesRefused() {
		err = ErrWriteFailed // the store's own words stay in its log
	}
	if w.opts.OnCommit != nil {
		w.opts.OnCommit(n, time.Since(began), err)
	}
	if err == nil {
		w.stored.Add(n)
	}
	w.commits.Add(1)
	w.queued.Add(-n)
	for _, r := range group {
		r.err <- err
	}
}

// Close stops accepting batches, commits everything queued, and returns
// when the last commit is done.
func (w *Writer) Close() {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		close(w.reqs)
	}
	w.mu.Unlock()
	<-w.done
}
