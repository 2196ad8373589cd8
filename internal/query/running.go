package query

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// ErrMemory is the cause given to a query cancelled because the server
// reached its memory ceiling.
var ErrMemory = errors.New("query cancelled: the server reached its memory ceiling; narrow the time range, filter or group by fewer values, or retry later")

// Running tracks the queries in progress so that they can be cancelled
// when memory runs short. DuckDB's memory_limit bounds its buffers but not
// every allocation of a query (an exact percentile keeps every value it
// ranks), so the process's resident memory is the only measure that holds,
// and cancelling a query is how that memory comes back without refusing
// ingest.
type Running struct {
	mu        sync.Mutex
	next      uint64
	runs      map[uint64]run
	cancelled atomic.Int64
}

type run struct {
	began  time.Time
	cancel context.CancelCauseFunc
}

// Start registers a query; the returned context is cancelled with ErrMemory
// if Cancel picks it. Call done when the query has finished.
func (r *Running) Start(ctx context.Context) (_ context.Context, done func()) {
	if r == nil {
		return ctx, func() {}
	}
	ctx, cancel := context.WithCancelCause(ctx)
	r.mu.Lock()
	if r.runs == nil {
		r.runs = map[uint64]run{}
	}
	r.next++
	id := r.next
	r.runs[id] = run{began: time.Now(), cancel: cancel}
	r.mu.Unlock()
	return ctx, func() {
		r.mu.Lock()
		delete(r.runs, id)
		r.mu.Unlock()
		cancel(nil)
	}
}

// CancelOldest cancels the query that has run longest (likely the one
// holding most memory) and reports whether there was one.
func (r *Running) CancelOldest() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	var oldest uint64
	for id, q := range r.runs {
		if oldest == 0 || q.began.Before(r.runs[oldest].began) {
			oldest = id
		}
	}
	if oldest == 0 {
		return false
	}
	r.runs[oldest].cancel(ErrMemory)
	delete(r.runs, oldest)
	r.cancelled.Add(1)
	return true
}

// Len is the number of queries in progress.
func (r *Running) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.runs)
}

// CancelledForMemory counts the queries CancelOldest has cancelled.
func (r *Running) CancelledForMemory() int64 { return r.cancelled.Load() }

// Cancelled reports whether ctx, from Start, was cancelled for memory.
func Cancelled(ctx context.Context) bool {
	return errors.Is(context.Cause(ctx), ErrMemory)
}
