package meta

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prodex/prodex/internal/marker"
)

func putMarker(t *testing.T, s *embedded, m marker.Marker) {
	t.Helper()
	if err := s.PutMarker(context.Background(), m); err != nil {
		t.Fatal(err)
	}
}

func markerIDs(t *testing.T, s *embedded, datasets []string, start, end time.Time) []string {
	t.Helper()
	ms, err := s.Markers(context.Background(), datasets, start, end)
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{}
	for _, m := range ms {
		ids = append(ids, m.ID)
	}
	return ids
}

func TestMarkersStore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := openEmbedded(dir)
	if err != nil {
		t.Fatal(err)
	}
	at := func(sec int64) time.Time { return time.Unix(sec, 0) }
	created := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	hostile := `'); DROP TABLE px_markers; --`
	deploy := marker.Marker{ID: "m1", Dataset: "checkout", StartTime: 1000, Message: "v1.2.3 " + hostile, Type: "deploy",
		URL: "https://ci.example/1?q='x'", Color: "#7b1fa2", Author: "ci", CreatedAt: created, UpdatedAt: created}
	putMarker(t, s, deploy)
	putMarker(t, s, marker.Marker{ID: "m2", Dataset: "checkout", StartTime: 900, EndTime: 1100, Type: "incident", Author: "ana"})
	putMarker(t, s, marker.Marker{ID: "m3", Dataset: marker.AllDatasets, StartTime: 1050, Type: "config"})
	putMarker(t, s, marker.Marker{ID: "m4", Dataset: "search", StartTime: 1000, Type: "deploy"})
	putMarker(t, s, marker.Marker{ID: hostile, Dataset: hostile, StartTime: 1000, Type: hostile})

	got, ok, err := s.GetMarker(ctx, "m1")
	if err != nil || !ok || !reflect.DeepEqual(got, deploy) {
		t.Fatalf("GetMarker = %+v, %v, %v; want %+v", got, ok, err, deploy)
	}
	if _, ok, err := s.GetMarker(ctx, "nope"); ok || err != nil {
		t.Fatalf("GetMarker(nope) = %v, %v", ok, err)
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
		t.Fatalf("after move, checkout has %q", got)
	}
	if got := markerIDs(t, s, []string{"search"}, at(1250), at(1251)); !slices.Equal(got, []string{"m1"}) {
		t.Fatalf("after move, search at 1250 has %q", got)
	}

	if err := s.DeleteMarker(ctx, "m2"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteMarker(ctx, "m2"); err != nil {
		t.Fatalf("deleting again: %v", err)
	}
	if _, ok, _ := s.GetMarker(ctx, "m2"); ok {
		t.Fatal("m2 still there after delete")
	}

	// Markers survive a restart.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = openEmbedded(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got, ok, err := s.GetMarker(ctx, "m1"); err != nil || !ok || !reflect.DeepEqual(got, moved) {
		t.Fatalf("after reopen GetMarker = %+v, %v, %v", got, ok, err)
	}
	if got := markerIDs(t, s, []string{"search", "checkout", marker.AllDatasets}, time.Time{}, time.Time{}); strings.Join(got, ",") != "m4,m3,m1" {
		t.Fatalf("after reopen: %q", got)
	}
}
