package query_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/prodex/prodex/internal/event"
)

// Percentiles of one column under one filter share one ranking (one
// aggregate unweighted, one pass weighted); each keeps its own level, and
// percentiles under different filters or of different columns their own
// values, whatever the order the calculations come in.
func TestPercentilesSharingAColumnAndFilterEachAnswerTheirOwnLevel(t *testing.T) {
	for _, sampled := range []bool{false, true} {
		t.Run(fmt.Sprintf("sampled=%v", sampled), func(t *testing.T) {
			evs := gen(3000, sampled)
			st := open(t, "pct", evs)
			r := ref{evs}
			errs := []any{map[string]any{"column": "status_code", "op": ">=", "value": 500}}
			oks := []any{map[string]any{"column": "status_code", "op": "<", "value": 500}}
			calcs := []map[string]any{
				{"op": "P99", "column": "duration_ms", "filters": errs, "name": "p99err"},
				{"op": "P50", "column": "duration_ms"},
				{"op": "P50", "column": "duration_ms", "filters": oks, "name": "p50ok"},
				{"op": "P10", "column": "duration_ms", "filters": errs, "name": "p10err"},
				{"op": "P999", "column": "duration_ms"},
				{"op": "P75", "column": "bytes"},
				{"op": "P99", "column": "duration_ms", "filters": oks, "name": "p99ok"},
			}
			spec, _ := json.Marshal(map[string]any{"start_time": t0.Unix(), "end_time": t0.Add(time.Hour).Unix(), "breakdowns": []string{"service"}, "calculations": calcs})
			res, err := run(t, st, "pct", string(spec))
			if err != nil {
				t.Fatal(err)
			}
			status := func(e event.Event) int64 { s, _ := e.Fields["status_code"].(int64); return s }
			all := r.groups(func(event.Event) bool { return true }, "service", "duration_ms")
			bad := r.groups(func(e event.Event) bool { return status(e) >= 500 }, "service", "duration_ms")
			good := r.groups(func(e event.Event) bool { return status(e) < 500 }, "service", "duration_ms")
			bytes := r.groups(func(event.Event) bool { return true }, "service", "bytes")
			if len(res.Results) != len(all) {
				t.Fatalf("%d groups, want %d", len(res.Results), len(all))
			}
			for _, row := range res.Results {
				d, svc := row.Data, row.Data["service"]
				for name, want := range map[string]float64{
					"p99err": bad[svc].nearestRank(990), "P50(duration_ms)": all[svc].nearestRank(500),
					"p50ok": good[svc].nearestRank(500), "p10err": bad[svc].nearestRank(100),
					"P999(duration_ms)": all[svc].nearestRank(999), "P75(bytes)": bytes[svc].nearestRank(750),
					"p99ok": good[svc].nearestRank(990),
				} {
					if f, ok := num(d[name]); !ok || !close(f, want) {
						t.Errorf("%v %s = %v, want %v", svc, name, d[name], want)
					}
				}
			}
		})
	}
}
