package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/prodex/prodex/internal/event"
	"github.com/prodex/prodex/internal/explain"
	"github.com/prodex/prodex/internal/query"
	"github.com/prodex/prodex/internal/slo"
)

// benchExplainCmd loads wide synthetic events (once; reruns reuse them) and
// times explain over all of them.
func benchExplainCmd() *cobra.Command {
	var dir, storeURL string
	var events, runs int
	cmd := &cobra.Command{
		Use:   "explain",
		Short: "Time explain over N stored events of 50 columns, selecting ~2 % (errors)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			dst, ch, err := openBenchStore(dir, storeURL)
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
			if err := loadWide(st, events, start, end); err != nil {
				return err
			}
			req := func() *explain.Request {
				return &explain.Request{StartTime: start.Unix(), EndTime: end.Unix(),
					Selection: explain.Selection{Filters: []query.Filter{{Column: "status_code", Op: ">=", Value: float64(500)}}}}
			}
			none := func(string) (slo.SLO, bool) { return slo.SLO{}, false }
			a, err := explain.Ask(context.Background(), st, "benchx", req(), end, none) // warm up
			if err != nil {
				return err
			}
			var best time.Duration
			for i := 0; i < runs; i++ {
				t := time.Now()
				if a, err = explain.Ask(context.Background(), st, "benchx", req(), end, none); err != nil {
					return err
				}
				if d := time.Since(t); best == 0 || d < best {
					best = d
				}
			}
			rss, _ := peakRSS(os.Getpid())
			fmt.Printf("%d events × %d columns, selection %d events (%.1f%%): explain in %.3fs (best of %d); top column %s; process peak RSS %s\n",
				a.SelectionCount+a.BaselineCount, len(a.Columns), a.SelectionCount, 100*float64(a.SelectionCount)/float64(a.SelectionCount+a.BaselineCount),
				best.Seconds(), runs, a.Columns[1].Column, rss)
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "data", "bench-explain-data", "data directory of the embedded store (reused between runs)")
	cmd.Flags().StringVar(&storeURL, "store", "", "run on ClickHouse instead: clickhouse://HOST:PORT/DATABASE[?cluster=NAME] (data kept for reruns)")
	cmd.Flags().IntVar(&events, "events", 10_000_000, "events to store")
	cmd.Flags().IntVar(&runs, "runs", 3, "timed runs")
	return cmd
}

// explainStore is what the explain benchmark needs of an event store.
type explainStore = benchStore

// loadWide stores n events of 50 columns between start and end; errors
// (2 %) cluster on one region's build 4512.
func loadWide(st explainStore, n int, start, end time.Time) error {
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
			fmt.Fprintf(os.Stderr, "loaded %d/%d events (%.0f/s)\n", done, n, float64(done-have)/time.Since(t0).Seconds())
		}
	}
	return nil
}
