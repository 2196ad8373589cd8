package bench

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"time"

	"github.com/prodex/prodex/internal/event"
	"github.com/prodex/prodex/internal/explain"
	"github.com/prodex/prodex/internal/query"
	"github.com/prodex/prodex/internal/slo"
)

// Explain loads wide synthetic events, 50 columns, into a store (once;
// reruns reuse them) and times explain over all of them, selecting the
// ~2 % that are errors.
type Explain struct {
	Store  Store
	Events int // to store
	Runs   int // timed runs; the best is reported
}

// Run loads the events, times explain and writes the report to w.
func (b Explain) Run(ctx context.Context, w io.Writer) error {
	dst, ch, err := b.Store.open()
	if err != nil {
		return err
	}
	var st explainStore = dst
	if ch != nil {
		defer ch.Close()
		st = ch
	} else {
		defer dst.Close()
	}
	end := time.Now().UTC().Truncate(time.Hour)
	start := end.Add(-12 * time.Hour)
	if err := loadWide(st, b.Events, start, end, b.Store.progress()); err != nil {
		return err
	}
	req := func() *explain.Request {
		return &explain.Request{StartTime: start.Unix(), EndTime: end.Unix(),
			Selection: explain.Selection{Filters: []query.Filter{{Column: "status_code", Op: ">=", Value: float64(500)}}}}
	}
	none := func(string) (slo.SLO, bool) { return slo.SLO{}, false }
	a, err := explain.Ask(ctx, st, "benchx", req(), end, none) // warm up
	if err != nil {
		return err
	}
	var best time.Duration
	for i := 0; i < b.Runs; i++ {
		t := time.Now()
		if a, err = explain.Ask(ctx, st, "benchx", req(), end, none); err != nil {
			return err
		}
		if d := time.Since(t); best == 0 || d < best {
			best = d
		}
	}
	rss, _ := peakRSS(os.Getpid())
	fmt.Fprintf(w, "%d events × %d columns, selection %d events (%.1f%%): explain in %.3fs (best of %d); top column %s; process peak RSS %s\n",
		a.SelectionCount+a.BaselineCount, len(a.Columns), a.SelectionCount, 100*float64(a.SelectionCount)/float64(a.SelectionCount+a.BaselineCount),
		best.Seconds(), b.Runs, a.Columns[1].Column, rss)
	return nil
}

// explainStore is what the explain benchmark needs of an event store.
type explainStore = benchStore

// loadWide stores n events of 50 columns between start and end; errors
// (2 %) cluster on one region's build 4512.
func loadWide(st explainStore, n int, start, end time.Time, progress io.Writer) error {
	have, err := stored(st, "benchx", start, end)
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(uint64(have), 3))
	span := end.Sub(start)
	t0 := time.Now()
	for done := have; done < n; {
		k := min(100_000, n-done)
		evs := make([]event.Event, k)
		for i := range evs {
			f := make(map[string]any, 50)
			for j := 0; j < 20; j++ {
				f[fmt.Sprintf("s%02d", j)] = fmt.Sprintf("v%d", rng.IntN([]int{2, 5, 10, 50, 200, 1000}[j%6]))
			}
			for j := 0; j < 15; j++ {
				f[fmt.Sprintf("i%02d", j)] = int64(rng.IntN([]int{3, 20, 5000}[j%3]))
			}
			for j := 0; j < 8; j++ {
				f[fmt.Sprintf("f%02d", j)] = rng.NormFloat64() * 100
			}
			for j := 0; j < 5; j++ {
				f[fmt.Sprintf("b%02d", j)] = rng.IntN(2) == 0
			}
			build := int64(4500 + rng.IntN(20))
			f["build_id"] = build
			code := int64(200)
			if (build == 4512 && f["s02"] == "v3") || rng.IntN(100) == 0 {
				code = 503
			}
			f["status_code"] = code
			evs[i] = event.Event{Time: start.Add(time.Duration(int64(span) / int64(n) * int64(done+i))), SampleRate: 1, Fields: f}
		}
		b := &event.Batch{Dataset: "benchx", Events: evs}
		if err := st.Append(context.Background(), []*event.Batch{b}); err != nil {
			return err
		}
		for _, err := range b.Errs {
			if err != nil {
				return fmt.Errorf("event rejected: %w", err)
			}
		}
		done += k
		if done%1_000_000 == 0 || done == n {
			fmt.Fprintf(progress, "loaded %d/%d events (%.0f/s)\n", done, n, float64(done-have)/time.Since(t0).Seconds())
		}
	}
	return nil
}
