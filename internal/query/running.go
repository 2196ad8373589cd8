package query

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ErrMemory is the cause given to a query cancelled because the server
// reached its memory ceiling.
var ErrMemory = errors.New("query cancelled: the server reached its memory ceiling; narrow the time range, filter or group by fewer values, or retry later")

// Relief is how long, after cancelling a query for memory, the server
// waits before it cancels another: the cancelled query's memory takes
// that long to come back (the database notices the interruption, frees
// its states, the allocator returns the pages). Cancelling at every
// sample meanwhile took every query in flight with it, light ones whose
// memory was never the problem.
const Relief = 2 * time.Second

// HeavySlots is how many heavy queries (see Spec.Heavy; explain is one)
// run at once; the others wait for a slot within their time limit. One
// heavy query can fill the database's memory limit by itself, so two at
// once would fail each other and starve the light ones.
const HeavySlots = 1

// Running tracks the queries in progress so that they can be cancelled
// when memory runs short, and admits heavy ones one at a time. DuckDB's
// memory_limit bounds its buffers but not every allocation of a query (an
// exact percentile keeps every value it ranks), so the process's resident
// memory is the only measure that holds, and cancelling a query is how
// that memory comes back without refusing ingest.
type Running struct {
	mu        sync.Mutex
	next      uint64
	runs      map[uint64]run
	last      time.Time // of the last cancellation
	heavy     chan struct{}
	cancelled atomic.Int64
	now       func() time.Time // tests replace it
}

type run struct {
	began  time.Time
	heavy  bool
	cancel context.CancelCauseFunc
}

// Start registers a light query; the returned context is cancelled with
// ErrMemory if Cancel picks it. Call done when the query has finished.
func (r *Running) Start(ctx context.Context) (_ context.Context, done func()) {
	ctx, done, _ = r.start(ctx, false)
	return ctx, done
}

// StartHeavy registers a heavy query once one of HeavySlots is free,
// waiting for it until ctx ends (then it returns ctx's error and a done
// to call all the same).
func (r *Running) StartHeavy(ctx context.Context) (_ context.Context, done func(), err error) {
	return r.start(ctx, true)
}

func (r *Running) start(ctx context.Context, heavy bool) (_ context.Context, done func(), err error) {
	if r == nil {
		return ctx, func() {}, nil
	}
	r.mu.Lock()
	if r.runs == nil {
		r.runs = map[uint64]run{}
		r.heavy = make(chan struct{}, HeavySlots)
	}
	slots := r.heavy
	r.mu.Unlock()
	release := func() {}
	if heavy {
		select {
		case slots <- struct{}{}:
			release = func() { <-slots }
		case <-ctx.Done():
			return ctx, func() {}, context.Cause(ctx)
		}
	}
	ctx, cancel := context.WithCancelCause(ctx)
	r.mu.Lock()
	r.next++
	id := r.next
	r.runs[id] = run{began: r.clock(), heavy: heavy, cancel: cancel}
	r.mu.Unlock()
	return ctx, func() {
		r.mu.Lock()
		delete(r.runs, id)
		r.mu.Unlock()
		cancel(nil)
		release()
	}, nil
}

func (r *Running) clock() time.Time {
	if r.now != nil {
		return r.now()
	}
	return time.Now()
}

// CancelOldest cancels, unless it cancelled one less than Relief ago, the
// heavy query that has run longest, or when none runs the oldest light
// one that has run for Relief at least (likely the one holding most
// memory), and reports whether it cancelled one. A light query younger
// than that is never cancelled: it holds little, and when memory is full
// of something else (ingest, a schema) cancelling it gives nothing back.
func (r *Running) CancelOldest() bool {
	if r == nil {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.clock()
	if !r.last.IsZero() && now.Sub(r.last) < Relief {
		return false
	}
	var pick uint64
	for id, q := range r.runs {
		if !q.heavy && now.Sub(q.began) < Relief {
			continue
		}
		if p, ok := r.runs[pick]; !ok || q.heavy && !p.heavy || q.heavy == p.heavy && q.began.Before(p.began) {
			pick = id
		}
	}
	if pick == 0 {
		return false
	}
	r.runs[pick].cancel(ErrMemory)
	delete(r.runs, pick)
	r.last = now
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

// OutOfMemory reports whether err is the database refusing a query that
// needed more than its memory limit (DuckDB's memory_limit, ClickHouse's
// max_memory_usage): the query is bounded, not the server's failure.
func OutOfMemory(err error) bool {
	if err == nil {
		return false
	}
	msg := err.Error()
	return strings.Contains(msg, "Out of Memory Error") || strings.Contains(msg, "MEMORY_LIMIT_EXCEEDED")
}

// Heavy reports whether the query is of the heavy class, whose memory
// grows with the events it reads rather than with its answer: a
// COUNT_DISTINCT keeps every distinct value of each group, and a
// breakdown by two or more columns multiplies the groups, each holding
// its own states (an exact percentile keeps every value it ranks). On
// 4 M events, COUNT and P99 by one column of 5 values took 133 MB; COUNT
// by two columns of 2 M groups together 392 MB, COUNT_DISTINCT by one
// column 378 MB. A query by one column whatever its calculations stays
// light: those are the dashboards' and the alerts' queries, which must
// not wait behind a heavy one.
func (s *Spec) Heavy() bool {
	if len(s.Breakdowns) > 1 {
		return true
	}
	for _, c := range s.Calculations {
		if strings.EqualFold(c.Op, "COUNT_DISTINCT") {
			return true
		}
	}
	return false
}
