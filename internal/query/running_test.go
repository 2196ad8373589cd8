package query

import (
	"context"
	"errors"
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
