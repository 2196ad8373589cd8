package query

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

func TestRunningCancelsOldestFirst(t *testing.T) {
	now := time.Unix(1000, 0)
	r := Running{now: func() time.Time { return now }}
	if r.CancelOldest() {
		t.Fatal("cancelled a query when none runs")
	}
	first, done1 := r.Start(context.Background())
	now = now.Add(time.Millisecond)
	second, done2 := r.Start(context.Background())
	now = now.Add(Relief)
	defer done2()
	if r.Len() != 2 {
		t.Fatalf("Len = %d, want 2", r.Len())
	}
	if !r.CancelOldest() {
		t.Fatal("nothing cancelled")
	}
	if !Cancelled(first) || first.Err() == nil {
		t.Errorf("the oldest query was not cancelled for memory: %v", context.Cause(first))
	}
	if second.Err() != nil {
		t.Errorf("the newer query was cancelled too")
	}
	done1() // the handler finishes after its cancellation
	if r.Len() != 1 || r.CancelledForMemory() != 1 {
		t.Errorf("Len %d, cancelled %d; want 1 and 1", r.Len(), r.CancelledForMemory())
	}

	// A timeout below the tracked context is not a memory cancellation,
	// and a memory cancellation reaches contexts derived from it.
	timed, cancel := context.WithTimeout(second, time.Nanosecond)
	defer cancel()
	<-timed.Done()
	if Cancelled(timed) {
		t.Error("a timeout reads as a memory cancellation")
	}
	derived, cancel2 := context.WithTimeout(second, time.Hour)
	defer cancel2()
	r.last = time.Time{} // past the relief
	r.CancelOldest()
	if !Cancelled(derived) || !errors.Is(context.Cause(derived), ErrMemory) {
		t.Errorf("a context derived from a cancelled query: cause %v", context.Cause(derived))
	}
}

func TestRunningNil(t *testing.T) {
	var r *Running
	ctx, done := r.Start(context.Background())
	defer done()
	if ctx.Err() != nil {
		t.Fatal("a nil Running cancelled the query")
	}
}

// At the ceiling the server samples memory every 100 ms; cancelling at
// each sample took every query in flight before the first one's memory
// came back. One is cancelled per Relief, the heavy ones first.
func TestRunningCancelsOneHeavyQueryPerRelief(t *testing.T) {
	if Relief != 2*time.Second || HeavySlots != 1 {
		t.Fatalf("Relief %s, HeavySlots %d: the documented defaults are 2s and 1", Relief, HeavySlots)
	}
	now := time.Unix(1000, 0)
	r := &Running{now: func() time.Time { return now }}
	light, doneLight := r.Start(context.Background())
	defer doneLight()
	now = now.Add(time.Second)
	heavy, doneHeavy, err := r.StartHeavy(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer doneHeavy()
	now = now.Add(time.Second)
	light2, doneLight2 := r.Start(context.Background())
	defer doneLight2()

	if !r.CancelOldest() || !Cancelled(heavy) {
		t.Fatalf("the heavy query was not cancelled first: %v", context.Cause(heavy))
	}
	for i := 0; i < 19; i++ { // the samples of the next 1.9 s
		now = now.Add(100 * time.Millisecond)
		if r.CancelOldest() {
			t.Fatalf("cancelled another query %s after the first", time.Duration(i+1)*100*time.Millisecond)
		}
	}
	if light.Err() != nil || light2.Err() != nil {
		t.Fatal("a light query was cancelled within the relief")
	}
	now = now.Add(100 * time.Millisecond)
	if !r.CancelOldest() || !Cancelled(light) || light2.Err() != nil {
		t.Errorf("after the relief, the oldest light query: %v, %v", context.Cause(light), context.Cause(light2))
	}

	// A light query younger than Relief is never cancelled.
	young, doneYoung := r.Start(context.Background())
	defer doneYoung()
	doneLight2()
	now = now.Add(Relief)
	now = now.Add(-time.Millisecond)
	if r.CancelOldest() || young.Err() != nil {
		t.Error("a light query in its first Relief was cancelled")
	}
	now = now.Add(time.Millisecond)
	if !r.CancelOldest() || !Cancelled(young) {
		t.Error("a light query that has run for Relief was not cancelled")
	}
}

func TestRunningRunsOneHeavyQueryAtATime(t *testing.T) {
	var r Running
	_, done1, err := r.StartHeavy(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// A light query does not wait for the heavy one.
	lctx, doneLight := r.Start(context.Background())
	if lctx.Err() != nil {
		t.Fatal("a light query waited for a heavy one")
	}
	doneLight()

	// A second heavy query waits for the slot, within its time limit.
	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	ctx2, done2, err := r.StartHeavy(short)
	if !errors.Is(err, context.DeadlineExceeded) || ctx2.Err() == nil {
		t.Fatalf("a second heavy query ran beside the first: err %v", err)
	}
	done2()

	started := make(chan struct{})
	go func() {
		_, done3, err := r.StartHeavy(context.Background())
		if err == nil {
			close(started)
			done3()
		}
	}()
	select {
	case <-started:
		t.Fatal("a heavy query started while another ran")
	case <-time.After(50 * time.Millisecond):
	}
	done1()
	select {
	case <-started:
	case <-time.After(5 * time.Second):
		t.Fatal("the waiting heavy query did not start once the slot was free")
	}
}

// A heavy query whose turn has come waits while memory is short, starts
// once it is back, and past its time limit answers as cancelled for memory
// (503), its slot free for the next.
func TestRunningHeavyQueryWaitsForMemory(t *testing.T) {
	var roomy atomic.Bool
	r := Running{Roomy: roomy.Load}
	short, cancel := context.WithTimeout(context.Background(), 80*time.Millisecond)
	defer cancel()
	ctx, done, err := r.StartHeavy(short)
	if !errors.Is(err, ErrMemory) || !Cancelled(ctx) {
		t.Fatalf("started without memory: err %v, cancelled for memory %v", err, Cancelled(ctx))
	}
	done()
	if r.Waiting() != 0 || r.Len() != 0 {
		t.Fatalf("%d waiting, %d running after giving up", r.Waiting(), r.Len())
	}

	started := make(chan func())
	go func() {
		_, done, err := r.StartHeavy(context.Background())
		if err == nil {
			started <- done
		}
	}()
	time.Sleep(3 * roomEvery)
	if r.Waiting() != 1 {
		t.Errorf("%d heavy queries waiting, want 1", r.Waiting())
	}
	select {
	case <-started:
		t.Fatal("a heavy query started while memory was short")
	default:
	}
	roomy.Store(true)
	select {
	case done := <-started:
		done()
	case <-time.After(5 * time.Second):
		t.Fatal("the heavy query did not start once memory came back")
	}
	// A light query never waits for memory.
	if ctx, done := r.Start(context.Background()); ctx.Err() != nil {
		t.Error("a light query waited")
	} else {
		done()
	}
}

// While ingest is saturated, heavy queries get a tenth of the time: after
// one that ran 1 s the next waits 9 s, and past its time limit answers
// 503 saying why; once ingest keeps up, or after the wait, it starts at
// once.
func TestRunningHeavyQueriesGetATenthOfTheTimeWhileIngestIsSaturated(t *testing.T) {
	var sat atomic.Bool
	var clock atomic.Int64
	r := Running{Saturated: sat.Load, now: func() time.Time { return time.Unix(0, clock.Load()) }}
	advance := func(d time.Duration) { clock.Add(int64(d)) }
	heavy := func(limit time.Duration) (context.Context, error) {
		ctx, cancel := context.WithTimeout(context.Background(), limit)
		defer cancel()
		qctx, done, err := r.StartHeavy(ctx)
		done()
		return qctx, err
	}
	sat.Store(true)
	_, done, err := r.StartHeavy(context.Background())
	if err != nil {
		t.Fatalf("the first heavy query waited: %v", err)
	}
	advance(time.Second)
	done()
	advance(8 * time.Second)
	qctx, err := heavy(80 * time.Millisecond)
	if !errors.Is(err, ErrSaturated) || !errors.Is(context.Cause(qctx), ErrSaturated) {
		t.Fatalf("8 s after a heavy query of 1 s, under saturated ingest: %v, want ErrSaturated", err)
	}
	sat.Store(false)
	if _, err := heavy(time.Second); err != nil {
		t.Fatalf("with ingest keeping up, a heavy query waited: %v", err)
	}
	sat.Store(true)
	advance(9 * time.Second) // the last one took no time: no wait left
	if _, err := heavy(time.Second); err != nil {
		t.Fatalf("after its share, a heavy query waited: %v", err)
	}
}

// A query with exact percentiles is never cancelled for memory (DuckDB
// would keep its values for good), and waits to start until memory is
// calm instead.
func TestRunningNeverCancelsAQueryThatRanksAndStartsItOnlyWhenCalm(t *testing.T) {
	var calm atomic.Bool
	var clock atomic.Int64
	r := Running{Calm: calm.Load, now: func() time.Time { return time.Unix(0, clock.Load()) }}
	short, cancel := context.WithTimeout(context.Background(), 80*time.Millisecond)
	defer cancel()
	ctx, done, err := r.StartClass(short, Class{Ranks: true})
	if !errors.Is(err, ErrMemory) || !Cancelled(ctx) {
		t.Fatalf("a query that ranks started with memory high: %v", err)
	}
	done()
	calm.Store(true)
	rctx, rdone, err := r.StartClass(context.Background(), Class{Ranks: true})
	if err != nil {
		t.Fatal(err)
	}
	defer rdone()
	lctx, ldone := r.Start(context.Background())
	defer ldone()
	clock.Add(int64(time.Minute))
	if !r.CancelOldest() || lctx.Err() == nil {
		t.Fatal("the light query that does not rank was not the one cancelled")
	}
	clock.Add(int64(time.Minute))
	if r.CancelOldest() || rctx.Err() != nil {
		t.Fatal("a query that ranks was cancelled for memory")
	}
}

func TestSpecClass(t *testing.T) {
	for spec, want := range map[string]Class{
		`{"calculations":[{"op":"COUNT"}],"breakdowns":["a"]}`:                                  {},
		`{"calculations":[{"op":"p99","column":"d"}],"breakdowns":["a"]}`:                       {Ranks: true},
		`{"calculations":[{"op":"COUNT"},{"op":"P50","column":"d"}],"breakdowns":["a","b"]}`:    {Heavy: true, Ranks: true},
		`{"calculations":[{"op":"COUNT_DISTINCT","column":"u"},{"op":"HEATMAP","column":"d"}]}`: {Heavy: true},
	} {
		s, err := Parse([]byte(spec))
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Class(); got != want {
			t.Errorf("%s: %+v, want %+v", spec, got, want)
		}
	}
}

func TestSpecHeavy(t *testing.T) {
	for _, c := range []struct {
		spec  Spec
		heavy bool
	}{
		{Spec{Calculations: []Calculation{{Op: "COUNT"}, {Op: "P99", Column: "d"}}, Breakdowns: []string{"service"}}, false},
		{Spec{Calculations: []Calculation{{Op: "HEATMAP", Column: "d"}}}, false},
		{Spec{Calculations: []Calculation{{Op: "COUNT"}}, Breakdowns: []string{"user_id", "host"}}, true},
		{Spec{Calculations: []Calculation{{Op: "count_distinct", Column: "user_id"}}}, true},
	} {
		if got := c.spec.Heavy(); got != c.heavy {
			t.Errorf("%+v: Heavy() = %v, want %v", c.spec, got, c.heavy)
		}
	}
}

func TestOutOfMemory(t *testing.T) {
	if !OutOfMemory(errors.New("Out of Memory Error: could not allocate block of size 256.0 KiB (381.3 MiB/381.4 MiB used)")) {
		t.Error("DuckDB's memory limit not recognised")
	}
	if OutOfMemory(errors.New("Conversion Error")) || OutOfMemory(nil) {
		t.Error("another error read as the memory limit")
	}
}
