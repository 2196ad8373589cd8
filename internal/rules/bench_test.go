package rules

import (
	"context"
	"fmt"
	"math/rand"
	"testing"
	"time"

	"github.com/prodex/prodex/internal/slo"
	"github.com/prodex/prodex/internal/store/duckdb"
)

// BenchmarkStatus100 computes the status of 100 SLOs, each with 30 days
// of per-minute counts, from the in-memory series (Memory), and the same
// window and burn-rate sums asked of the stored counts in SQL (SQL).
func BenchmarkStatus100(b *testing.B) {
	const slos, minutes = 100, 30 * 24 * 60
	now := time.Now().Truncate(time.Minute)
	first := now.Unix()/60 - minutes
	r := rand.New(rand.NewSource(1))
	defs := make([]slo.SLO, slos)
	ss := make([]*series, slos)
	st, err := duckdb.Open(b.TempDir(), duckdb.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	db := st.DB()
	if _, err := db.Exec(`INSERT INTO px_slo_counts SELECT 'slo-' || (i // $1), $2 + i % $1, 1000, 999, 0 FROM range(0, $1 * $3) t(i)`, minutes, first, slos); err != nil {
		b.Fatal(err)
	}
	for i := range defs {
		defs[i] = slo.SLO{Name: fmt.Sprintf("slo-%d", i), Target: 99.9, Window: slo.Window{Days: 30}}
		ss[i] = &series{}
		for m := int64(0); m < minutes; m++ {
			ss[i].set(first+m, 1000, 1000-int64(r.Intn(3)), 0)
		}
	}
	b.Run("Memory", func(b *testing.B) {
		for b.Loop() {
			for i := range defs {
				slo.ComputeStatus(defs[i], ss[i], now)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/slos, "µs/status")
	})
	b.Run("SQL", func(b *testing.B) {
		// Only the window total and the six burn windows: a fraction of
		// what a status holds (no burndown, no daily history).
		q := `SELECT name, sum(eligible), sum(good)`
		for _, w := range slo.BurnWindows {
			q += fmt.Sprintf(", sum(eligible) FILTER (WHERE minute >= %d), sum(good) FILTER (WHERE minute >= %d)", now.Add(-w.D).Unix()/60, now.Add(-w.D).Unix()/60)
		}
		q += fmt.Sprintf(" FROM px_slo_counts WHERE minute >= %d GROUP BY name", first)
		for b.Loop() {
			rows, err := db.QueryContext(context.Background(), q)
			if err != nil {
				b.Fatal(err)
			}
			n := 0
			for rows.Next() {
				n++
			}
			rows.Close()
			if n != slos {
				b.Fatalf("%d rows", n)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/slos, "µs/status")
	})
}
