package query

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestRunningCancelsOldestFirst(t *testing.T) {
	var r Running
	if r.CancelOldest() {
		t.Fatal("cancelled a query when none runs")
	}
	first, done1 := r.Start(context.Background())
	time.Sleep(time.Millisecond)
	second, done2 := r.Start(context.Background())
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
