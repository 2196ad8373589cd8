package demo

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"
)

// TestBadDeploy: before the deploy every event is of build 4511; after
// it, build 4512 runs on db-3 and db-4 only, where checkout is slow.
func TestBadDeploy(t *testing.T) {
	w := &workload{rng: rand.New(rand.NewPCG(7, 11))}
	at := time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC)
	fields := func() map[string]any {
		ev := w.event(at)
		var when time.Time
		if err := json.Unmarshal(ev.Time, &when); err != nil || !when.Equal(at) {
			t.Fatalf("time %s: %v", ev.Time, err)
		}
		var f map[string]any
		if err := json.Unmarshal(ev.Data, &f); err != nil {
			t.Fatal(err)
		}
		return f
	}
	for i := 0; i < 500; i++ {
		if f := fields(); f["build_id"] != 4511.0 {
			t.Fatalf("before the deploy: %v", f)
		}
	}
	w.bad = true
	slow, checkout := 0, 0
	for i := 0; i < 5000; i++ {
		f := fields()
		if f["build_id"] == 4512.0 {
			if f["host"] != "db-3" && f["host"] != "db-4" {
				t.Fatalf("4512 on %v", f["host"])
			}
			if f["service"] == "checkout" {
				checkout++
				if f["duration_ms"].(float64) >= 300 {
					slow++
				}
			}
		}
	}
	if checkout == 0 || slow < checkout/2 {
		t.Errorf("%d of %d checkout events on build 4512 are slow", slow, checkout)
	}
}

func TestDeployMarker(t *testing.T) {
	at := time.Unix(1795507200, 0)
	in := deploy("build 4511", at)
	if *in.Type != "deploy" || *in.Message != "build 4511" || *in.StartTime != at.Unix() || in.EndTime != nil {
		t.Errorf("marker %+v", in)
	}
	if in := deploy("now", time.Time{}); in.StartTime != nil {
		t.Errorf("a marker for now has start time %d", *in.StartTime)
	}
}
