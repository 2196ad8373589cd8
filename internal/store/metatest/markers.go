package metatest

import (
	"context"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prodex/prodex/internal/marker"
)

func putMarker(t *testing.T, s Store, m marker.Marker) {
	t.Helper()
	if err := s.PutMarker(context.Background(), m); err != nil {
		t.Fatal(err)
	}
}

func markerIDs(t *testing.T, s Store, datasets []string, start, end time.Time) []string {
	t.Helper()
	ms, err := s.Markers(context.Background(), datasets, start, end)
	if err != nil {
		t.Fatal(err)
	}
	if ms == nil {
		t.Errorf("Markers(%q) = nil; want an empty list, which the API writes as []", datasets)
	}
	ids := []string{}
	for _, m := range ms {
		ids = append(ids, m.ID)
	}
	return ids
}

// testMarkers: markers by id, by datasets and by the time range they
// overlap, sorted by start; replaced by id, deleted idempotently.
func testMarkers(t *testing.T, s Store) {
	ctx := context.Background()
	at := func(sec int64) time.Time { return time.Unix(sec, 0) }
	deploy := marker.Marker{ID: "m1", Dataset: "checkout", StartTime: 1000, Message: "v1.2.3 " + hostile, Type: "deploy",
		URL: "https://ci.example/1?q='x'", Color: "#7b1fa2", Author: "ci", CreatedAt: t0, UpdatedAt: t0}
	putMarker(t, s, deploy)
	putMarker(t, s, marker.Marker{ID: "m2", Dataset: "checkout", StartTime: 900, EndTime: 1100, Type: "incident", Author: "ana"})
	putMarker(t, s, marker.Marker{ID: "m3", Dataset: marker.AllDatasets, StartTime: 1050, Type: "config"})
	putMarker(t, s, marker.Marker{ID: "m4", Dataset: "search", StartTime: 1000, Type: "deploy"})
	putMarker(t, s, marker.Marker{ID: hostile, Dataset: hostile, StartTime: 1000, Type: hostile})
	// Ties on start and end sort by id, byte by byte.
	putMarker(t, s, marker.Marker{ID: "t-b", Dataset: "ties", StartTime: 5})
	putMarker(t, s, marker.Marker{ID: "t-B", Dataset: "ties", StartTime: 5})
	putMarker(t, s, marker.Marker{ID: "t-a", Dataset: "ties", StartTime: 5})
	putMarker(t, s, marker.Marker{ID: "t-0", Dataset: "ties", StartTime: 5, EndTime: 6})

	got, ok, err := s.GetMarker(ctx, "m1")
	if err != nil || !ok || !reflect.DeepEqual(got, deploy) {
		t.Fatalf("GetMarker = %+v, %v, %v; want %+v", got, ok, err, deploy)
	}
	if _, ok, err := s.GetMarker(ctx, "nope"); ok || err != nil {
		t.Fatalf("GetMarker(nope) = %v, %v; want false, nil", ok, err)
	}

	both := []string{"checkout", marker.AllDatasets}
	for _, tt := range []struct {
		name       string
		datasets   []string
		start, end time.Time
		want       []string
	}{
		{"everything of checkout and __all__, by start", both, time.Time{}, time.Time{}, []string{"m2", "m1", "m3"}},
		{"one dataset", []string{"search"}, time.Time{}, time.Time{}, []string{"m4"}},
		{"no datasets", nil, time.Time{}, time.Time{}, []string{}},
		{"unknown dataset", []string{"billing"}, time.Time{}, time.Time{}, []string{}},
		{"point at range start", both, at(1000), at(1001), []string{"m2", "m1"}},
		{"point at range end is out", both, at(950), at(1000), []string{"m2"}},
		{"range marker ends at range start", both, at(1100), at(1200), []string{"m2"}},
		{"after everything", both, at(1101), at(2000), []string{}},
		{"before everything", both, at(0), at(900), []string{}},
		{"unbounded start", both, time.Time{}, at(1001), []string{"m2", "m1"}},
		{"unbounded end", both, at(1001), time.Time{}, []string{"m2", "m3"}},
		{"fractional bounds", both, time.Unix(999, 5e8), time.Unix(1000, 1), []string{"m2", "m1"}},
		{"hostile dataset name", []string{hostile}, time.Time{}, time.Time{}, []string{hostile}},
		{"ties by end, then id in byte order", []string{"ties"}, time.Time{}, time.Time{}, []string{"t-B", "t-a", "t-b", "t-0"}},
	} {
		if got := markerIDs(t, s, tt.datasets, tt.start, tt.end); !slices.Equal(got, tt.want) {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}

	// Replace by id: a marker moved in time and to another dataset is
	// found only where it now is.
	moved := deploy
	moved.Dataset, moved.StartTime, moved.EndTime, moved.Message = "search", 1200, 1300, "moved"
	putMarker(t, s, moved)
	if got := markerIDs(t, s, []string{"checkout"}, time.Time{}, time.Time{}); !slices.Equal(got, []string{"m2"}) {
		t.Errorf("after move, checkout has %q", got)
	}
	if got := markerIDs(t, s, []string{"search"}, at(1250), at(1251)); !slices.Equal(got, []string{"m1"}) {
		t.Errorf("after move, search at 1250 has %q", got)
	}
	if got, ok, err := s.GetMarker(ctx, "m1"); err != nil || !ok || !reflect.DeepEqual(got, moved) {
		t.Errorf("after move GetMarker = %+v, %v, %v", got, ok, err)
	}

	if err := s.DeleteMarker(ctx, "m2"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteMarker(ctx, "m2"); err != nil {
		t.Errorf("deleting again: %v", err)
	}
	if _, ok, _ := s.GetMarker(ctx, "m2"); ok {
		t.Error("m2 still there after delete")
	}
	if got := markerIDs(t, s, []string{"search", "checkout", marker.AllDatasets}, time.Time{}, time.Time{}); strings.Join(got, ",") != "m4,m3,m1" {
		t.Errorf("after delete: %q", got)
	}
}

// testMarkersMatchOverlaps checks the store's range test against
// marker.Marker.Overlaps on random markers and ranges.
func testMarkersMatchOverlaps(t *testing.T, s Store) {
	rng := rand.New(rand.NewPCG(1, 2))
	var all []marker.Marker
	for i := range 200 {
		m := marker.Marker{ID: string(rune('a'+i%26)) + strings.Repeat("x", i/26), Dataset: "d", StartTime: 1000 + rng.Int64N(100)}
		if rng.IntN(2) == 0 {
			m.EndTime = m.StartTime + rng.Int64N(20)
		}
		putMarker(t, s, m)
		all = append(all, m)
	}
	for range 300 {
		var start, end time.Time
		if rng.IntN(5) > 0 {
			start = time.Unix(990+rng.Int64N(120), rng.Int64N(3)*5e8)
		}
		if rng.IntN(5) > 0 {
			end = time.Unix(990+rng.Int64N(120), rng.Int64N(3)*5e8)
		}
		got := markerIDs(t, s, []string{"d"}, start, end)
		want := []string{}
		for _, m := range all {
			if m.Overlaps(start, end) {
				want = append(want, m.ID)
			}
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("[%v, %v): store %q, Overlaps %q", start, end, got, want)
		}
	}
	ms, err := s.Markers(context.Background(), []string{"d"}, time.Time{}, time.Time{})
	if err != nil || len(ms) != len(all) {
		t.Fatalf("%d markers, %v", len(ms), err)
	}
	if !slices.IsSortedFunc(ms, func(a, b marker.Marker) int { return int(a.StartTime - b.StartTime) }) {
		t.Fatal("markers not sorted by start time")
	}
}
