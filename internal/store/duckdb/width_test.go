package duckdb

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prodex/prodex/internal/event"
	"github.com/prodex/prodex/internal/explain"
	"github.com/prodex/prodex/internal/ingest"
	"github.com/prodex/prodex/internal/query"
	"github.com/prodex/prodex/internal/slo"
)

// TestSchemaChangeDoesNotHoldOtherDatasets: while the columns of one
// dataset's wide events are being made, an event of another dataset is
// committed and answered. Before, the schema change ran inside the group
// commit, and a one-event ingest into another dataset waited 10.9 s behind
// 2,000 new columns.
func TestSchemaChangeDoesNotHoldOtherDatasets(t *testing.T) {
	s, err := Open(t.TempDir(), Options{MaxColumns: 5000})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	appendOK(t, s, "other", ev(now, 1, "service", "api"))
	appendOK(t, s, "wide", ev(now, 1, "a", int64(1)))
	pending, release := make(chan struct{}), make(chan struct{})
	var once bool
	s.beforeSchemaChange = func() {
		if !once {
			once = true
			close(pending)
			<-release
		}
	}
	w := ingest.NewWriter(s, ingest.Options{})
	defer w.Close()
	fields := map[string]any{}
	for i := range 2000 {
		fields[fmt.Sprintf("f%04d", i)] = int64(i)
	}
	wide := make(chan error, 1)
	go func() {
		wide <- w.Submit(context.Background(), &event.Batch{Dataset: "wide", Events: []event.Event{{Time: now, SampleRate: 1, Fields: fields}}})
	}()
	<-pending
	other := make(chan error, 1)
	go func() {
		other <- w.Submit(context.Background(), &event.Batch{Dataset: "other", Events: []event.Event{ev(now, 1, "service", "web")}})
	}()
	// Not a speed bound: long enough for any machine, and what the old
	// code did was wait for ever.
	select {
	case err := <-other:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Error("an event of another dataset waited for the wide schema change")
	}
	close(release)
	if err := <-wide; err != nil {
		t.Fatal(err)
	}
	if got := len(dump(t, s, "other")); got != 2 {
		t.Errorf("other: %d events, want 2", got)
	}
}

// TestExplainOfWideDatasetStaysInMemory: explain on a dataset of 3,000
// columns, with DuckDB held to 256 MB, compares explain.DefaultMaxColumns
// of them and answers. Before, it compared every column in one statement:
// on 10,000 columns that ran 48 s and failed with "Out of Memory Error".
func TestExplainOfWideDatasetStaysInMemory(t *testing.T) {
	s, err := Open(t.TempDir(), Options{MaxColumns: 5000, MemoryLimit: "256MB", Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now().Truncate(time.Minute)
	b := &event.Batch{Dataset: "wide"}
	for i := range 600 {
		f := map[string]any{"code": int64(200 + 300*(i%4/3))}
		for k := range 3000 {
			f[fmt.Sprintf("f%04d", k)] = fmt.Sprintf("v%d", (i*k)%50)
		}
		b.Events = append(b.Events, event.Event{Time: now.Add(-time.Duration(i) * time.Second), SampleRate: 1, Fields: f})
	}
	if err := s.Prepare(context.Background(), []*event.Batch{b}); err != nil {
		t.Fatal(err)
	}
	if err := s.Append(context.Background(), []*event.Batch{b}); err != nil {
		t.Fatal(err)
	}
	r := &explain.Request{StartTime: now.Add(-time.Hour).Unix(), EndTime: now.Add(time.Minute).Unix(),
		Selection: explain.Selection{Filters: []query.Filter{{Column: "code", Op: "=", Value: float64(500)}}}}
	a, err := explain.Ask(context.Background(), s, "wide", r, now, func(string) (slo.SLO, bool) { return slo.SLO{}, false })
	if err != nil {
		t.Fatalf("explain: %v", err)
	}
	if a.ColumnsCompared != explain.DefaultMaxColumns || a.ColumnsLeftOut != 3001-explain.DefaultMaxColumns || a.SelectionCount != 150 {
		t.Errorf("%d compared, %d left out, %d selected; want %d, %d, 150", a.ColumnsCompared, a.ColumnsLeftOut, a.SelectionCount,
			explain.DefaultMaxColumns, 3001-explain.DefaultMaxColumns)
	}
}
