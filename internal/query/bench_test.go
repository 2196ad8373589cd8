package query_test

import (
	"context"
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/prodex/prodex/internal/event"
	"github.com/prodex/prodex/internal/query"
	"github.com/prodex/prodex/internal/store/duckdb"
)

const benchEvents = 1_000_000

func benchStore(b *testing.B) (*duckdb.Store, time.Time, time.Time) {
	b.Helper()
	r := rand.New(rand.NewSource(1))
	start := time.Now().UTC().Truncate(24 * time.Hour).Add(-20 * time.Hour)
	span := 16 * time.Hour
	services := []string{"checkout", "cart", "search", "auth", "payments", "catalog", "shipping", "profile"}
	evs := make([]event.Event, benchEvents)
	for i := range evs {
		evs[i] = event.Event{Time: start.Add(span / benchEvents * time.Duration(i)), SampleRate: 1, Fields: map[string]any{
			"service": services[r.Intn(len(services))], "duration_ms": r.ExpFloat64() * 50, "status_code": int64(200),
		}}
	}
	st := openB(b, "bench", evs)
	return st, start, start.Add(span)
}

func openB(b *testing.B, ds string, evs []event.Event) *duckdb.Store {
	st, err := duckdb.Open(b.TempDir(), duckdb.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	if err := appendAll(st, ds, evs); err != nil {
		b.Fatal(err)
	}
	return st
}

// BenchmarkQuery times COUNT + P99 by service by minute over 16 h of events
// through the engine (Prodex) and as hand-written SQL on the same tables
// (Direct); compare the two ns/op figures.
func BenchmarkQuery(b *testing.B) {
	st, start, end := benchStore(b)
	ctx := context.Background()
	b.Run("Prodex", func(b *testing.B) {
		spec := fmt.Sprintf(`{"start_time":%d,"end_time":%d,"granularity":60,"breakdowns":["service"],"calculations":[{"op":"COUNT"},{"op":"P99","column":"duration_ms"}]}`, start.Unix(), end.Unix())
		benchSpec(b, st, spec, end)
	})
	b.Run("Direct", func(b *testing.B) {
		cat, _ := st.Catalog("bench")
		svc, _ := cat.Column("service")
		dur, _ := cat.Column("duration_ms")
		q := `SELECT "` + svc.Phys + `" AS service, ts // 60000000 AS m, count(*), quantile_disc("` + dur.Phys + `", 0.99) FROM ` +
			cat.From([]string{svc.Phys, dur.Phys}, start, end) + ` GROUP BY GROUPING SETS ((service), (service, m))`
		for b.Loop() {
			rows, err := st.DB().QueryContext(ctx, q)
			if err != nil {
				b.Fatal(err)
			}
			for rows.Next() {
			}
			rows.Close()
		}
		b.ReportMetric(float64(benchEvents)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})
}

// BenchmarkQueryWeighted times the weighted aggregates (sample rates 1 to
// 10): COUNT, SUM and AVG of an integer, P99 and HEATMAP of a float, by
// service by minute over 16 h of events.
func BenchmarkQueryWeighted(b *testing.B) {
	r := rand.New(rand.NewSource(1))
	start := time.Now().UTC().Truncate(24 * time.Hour).Add(-20 * time.Hour)
	span := 16 * time.Hour
	services := []string{"checkout", "cart", "search", "auth", "payments", "catalog", "shipping", "profile"}
	evs := make([]event.Event, benchEvents)
	for i := range evs {
		evs[i] = event.Event{Time: start.Add(span / benchEvents * time.Duration(i)), SampleRate: int64(1 + r.Intn(10)), Fields: map[string]any{
			"service": services[r.Intn(len(services))], "duration_ms": r.ExpFloat64() * 50, "bytes": int64(r.Intn(1 << 20)),
		}}
	}
	st := openB(b, "bench", evs)
	end := start.Add(span)
	for _, calcs := range []string{
		`{"op":"COUNT"},{"op":"SUM","column":"bytes"},{"op":"AVG","column":"bytes"}`,
		`{"op":"COUNT"},{"op":"P99","column":"duration_ms"},{"op":"HEATMAP","column":"duration_ms"}`,
	} {
		name := "SumAvg"
		if strings.Contains(calcs, "P99") {
			name = "P99Heatmap"
		}
		b.Run(name, func(b *testing.B) {
			spec := fmt.Sprintf(`{"start_time":%d,"end_time":%d,"granularity":60,"breakdowns":["service"],"calculations":[%s]}`, start.Unix(), end.Unix(), calcs)
			benchSpec(b, st, spec, end)
		})
	}
}

// benchSpec times spec from parse to answer, as the API runs it, over the
// events of dataset bench in st.
func benchSpec(b *testing.B, st *duckdb.Store, spec string, end time.Time) {
	ctx := context.Background()
	for b.Loop() {
		s, err := query.Parse([]byte(spec))
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Resolve(end); err != nil {
			b.Fatal(err)
		}
		cat, _ := st.Catalog("bench")
		p, err := query.Compile(s, cat)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := p.Run(ctx, st.DB()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(benchEvents)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
