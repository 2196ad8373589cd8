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
	// Roomy, when set, reports whether memory leaves room for a heavy
	// query to start; while it does not, the one whose turn it is waits
	// (a heavy query started near the ceiling would only be cancelled, and
	// take ingest's memory meanwhile).
	Roomy func() bool
	// Saturated, when set, reports whether ingest is refusing events for
	// a full queue; meanwhile heavy queries get HeavyShare of the time.
	Saturated func() bool
	// Calm, when set, reports whether memory is below the point where
	// queries are cancelled; a query that ranks (see Class) waits for it
	// to start, since it will not be cancelled once started.
	Calm func() bool

	mu        sync.Mutex
	next      uint64
	runs      map[uint64]run
	last      time.Time // of the last cancellation
	heavy     chan struct{}
	heavyNext time.Time // while ingest is saturated, no heavy query starts before
	waiting   atomic.Int64
	cancelled atomic.Int64
	now       func() time.Time // tests replace it
}

// roomEvery is how often a heavy query waiting for memory or for its
// share of the time looks again.
const roomEvery = 50 * time.Millisecond

// HeavyShare is the share of the time heavy queries get while ingest is
// saturated: after one that ran d, the next waits d × (1/HeavyShare − 1).
// The machine's cores are what a heavy query and ingest then compete for:
// on two cores, explain and a breakdown by two columns back to back cost
// the soak's ingest 23 % of its events.  A heavy query after a quiet
// spell starts at once.
const HeavyShare = 0.1

// ErrSaturated is the cause given to a heavy query that waited for its
// share of the time until its time limit passed.
var ErrSaturated = errors.New("query not started: ingest is saturating the server, and heavy queries (explain, two or more breakdowns, COUNT_DISTINCT) get a tenth of its time meanwhile; retry later, or narrow the query to one breakdown")

type run struct {
	began  time.Time
	class  Class
	cancel context.CancelCauseFunc
}

// Class is how a query is admitted and whether it may be cancelled for
// memory.
type Class struct {
	// Heavy: see Spec.Heavy.
	Heavy bool
	// Ranks: the query computes exact percentiles, whose values DuckDB
	// (1.4 and 1.5) does not free when the query is interrupted: five
	// P99 queries over 11.7 M events, each interrupted after 0.7 s, left
	// the process 1 GB larger for good (DuckDB 2.0: 300 MB). Such a query
	// is never cancelled for memory; it waits to start until memory is
	// calm instead.
	Ranks bool
}

// Class is the spec's Class.
func (s *Spec) Class() Class {
	c := Class{Heavy: s.Heavy()}
	for _, calc := range s.Calculations {
		if op, ok := ops[strings.ToUpper(calc.Op)]; ok && op.kind == kPercentile {
			c.Ranks = true
		}
	}
	return c
}

// Start registers a light query; the returned context is cancelled with
// ErrMemory if Cancel picks it. Call done when the query has finished.
func (r *Running) Start(ctx context.Context) (_ context.Context, done func()) {
	ctx, done, _ = r.start(ctx, Class{})
	return ctx, done
}

// StartClass registers a query of class c: StartHeavy for a heavy one,
// and for one that ranks, a wait until Calm (within ctx, else ErrMemory
// as StartHeavy) and no cancellation for memory.
func (r *Running) StartClass(ctx context.Context, c Class) (_ context.Context, done func(), err error) {
	return r.start(ctx, c)
}

// StartHeavy registers a heavy query once one of HeavySlots is free and
// Roomy says memory allows, waiting for both until ctx ends. Then it
// returns ctx's error, or, when memory was what it waited for, ErrMemory
// and a context ended with it (Cancelled reports it); and a done to call
// all the same.
func (r *Running) StartHeavy(ctx context.Context) (_ context.Context, done func(), err error) {
	return r.start(ctx, Class{Heavy: true})
}

func (r *Running) start(ctx context.Context, class Class) (_ context.Context, done func(), err error) {
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
	if class.Heavy || class.Ranks {
		r.waiting.Add(1)
		defer r.waiting.Add(-1)
	}
	if class.Heavy {
		select {
		case slots <- struct{}{}:
			release = func() { <-slots }
		case <-ctx.Done():
			return ctx, func() {}, context.Cause(ctx)
		}
	}
	if class.Heavy || class.Ranks {
		for {
			held := r.holdBack(class)
			if held == nil {
				break
			}
			select {
			case <-time.After(roomEvery):
			case <-ctx.Done():
				release()
				ended, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
				cancel(held)
				return ended, func() {}, held
			}
		}
	}
	ctx, cancel := context.WithCancelCause(ctx)
	r.mu.Lock()
	r.next++
	id := r.next
	began := r.clock()
	r.runs[id] = run{began: began, class: class, cancel: cancel}
	r.mu.Unlock()
	return ctx, func() {
		r.mu.Lock()
		delete(r.runs, id)
		if class.Heavy {
			now := r.clock()
			r.heavyNext = now.Add(time.Duration(float64(now.Sub(began)) * (1/HeavyShare - 1)))
		}
		r.mu.Unlock()
		cancel(nil)
		release()
	}, nil
}

// holdBack is why a query of class c (heavy whose turn has come, or that
// ranks) may not start yet: ErrMemory, ErrSaturated, or nil.
func (r *Running) holdBack(c Class) error {
	if c.Heavy && r.Roomy != nil && !r.Roomy() || c.Ranks && r.Calm != nil && !r.Calm() {
		return ErrMemory
	}
	if c.Heavy && r.Saturated != nil && r.Saturated() {
		r.mu.Lock()
		next := r.heavyNext
		r.mu.Unlock()
		if r.clock().Before(next) {
			return ErrSaturated
		}
	}
	return nil
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
// memory), never one that ranks (see Class), and reports whether it
// cancelled one. A light query younger
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
		if q.class.Ranks || !q.class.Heavy && now.Sub(q.began) < Relief {
			continue
		}
		if p, ok := r.runs[pick]; !ok || q.class.Heavy && !p.class.Heavy || q.class.Heavy == p.class.Heavy && q.began.Before(p.began) {
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

// Waiting is the number of queries waiting to start: heavy ones (for
// their turn, memory or their share) and ones that rank (for memory).
func (r *Running) Waiting() int64 { return r.waiting.Load() }

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
