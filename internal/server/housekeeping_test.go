package server

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prodex/prodex/internal/history"
	"github.com/prodex/prodex/internal/query"
	"github.com/prodex/prodex/internal/store/duckdb"
)

// TestSweepHistory: a sweep drops the query runs older than the history
// retention, counted from the housekeeper's clock, and keeps the rest.
func TestSweepHistory(t *testing.T) {
	st, err := openEmbedded(t.TempDir(), duckdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.close()
	ctx := context.Background()
	t0 := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	spec, err := query.Parse([]byte(`{"time_range": 60}`))
	if err != nil {
		t.Fatal(err)
	}
	q, err := history.NewQuery("checkout", spec, t0.AddDate(0, 0, -100))
	if err != nil {
		t.Fatal(err)
	}
	run := func(at time.Time) string {
		r := history.Run{ID: history.NewID(), QueryID: q.ID, Dataset: q.Dataset, Author: "alice", RanAt: at, DurationMS: 3, Rows: 1}
		if err := st.meta.RecordRun(ctx, q, r); err != nil {
			t.Fatal(err)
		}
		return r.ID
	}
	run(t0.AddDate(0, 0, -100))
	recent := run(t0.AddDate(0, 0, -10))
	runsLeft := func() []string {
		runs, err := st.meta.Runs(ctx, history.RunFilter{})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, r := range runs {
			ids = append(ids, r.ID)
		}
		return ids
	}

	var log bytes.Buffer
	now := t0
	h := housekeeper{st: st, historyRetention: 90 * 24 * time.Hour, log: slog.New(slog.NewTextHandler(&log, nil)), now: func() time.Time { return now }}
	h.sweep(ctx)
	if ids := runsLeft(); len(ids) != 1 || ids[0] != recent {
		t.Errorf("runs left %v, want [%s]", ids, recent)
	}
	if !strings.Contains(log.String(), `msg="query history dropped runs" count=1`) {
		t.Errorf("log: %s", log.String())
	}
	now = t0.AddDate(0, 0, 81) // the recent run is 91 days old now
	h.sweep(ctx)
	if ids := runsLeft(); len(ids) != 0 {
		t.Errorf("runs left %v after their retention", ids)
	}
	if strings.Contains(log.String(), "failed") {
		t.Errorf("log: %s", log.String())
	}
}

// TestRepeatEvery: a failing follow-up is logged once when it starts
// failing and once when it works again, not at every round.
func TestRepeatEvery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var log bytes.Buffer
		ctx, cancel := context.WithCancel(t.Context())
		calls := 0
		done := make(chan struct{})
		go func() {
			defer close(done)
			repeatEvery(ctx, 2*time.Second, slog.New(slog.NewTextHandler(&log, nil)), "following failed", func(context.Context) error {
				calls++
				if calls >= 2 && calls <= 4 {
					return errors.New("unreachable")
				}
				return nil
			})
		}()
		time.Sleep(11 * time.Second) // rounds at 2, 4, 6, 8 and 10s
		synctest.Wait()
		cancel()
		<-done
		if calls != 5 {
			t.Errorf("%d rounds in 11s, want 5", calls)
		}
		out := log.String()
		if strings.Count(out, "level=ERROR") != 1 || !strings.Contains(out, `msg="following failed" err=unreachable`) ||
			strings.Count(out, `msg="working again: following failed"`) != 1 {
			t.Errorf("log:\n%s", out)
		}
	})
}
