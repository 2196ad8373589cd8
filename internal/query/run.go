package query

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"math/big"
	"sort"
	"time"
)

// Result is a query's answer, in Honeycomb's shape: one overall row per
// group (ranked) and the per-bucket rows of those groups.
type Result struct {
	Series  []Point `json:"series"`
	Results []Row   `json:"results"`

	// The absolute interval asked and the bucket width, so that a client
	// can draw the axis and reproduce the query exactly.
	StartTime   int64 `json:"start_time"`
	EndTime     int64 `json:"end_time"`
	Granularity int64 `json:"granularity"`
}

// Point is one group's values in one time bucket.
type Point struct {
	Time time.Time      `json:"time"`
	Data map[string]any `json:"data"`
}

// Row is one group's values over the whole time range.
type Row struct {
	Data map[string]any `json:"data"`
}

// Querier runs SQL; *sql.DB and *sql.Conn satisfy it.
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// HeatmapBucket is one value bucket of a HEATMAP: Count events (weighted)
// had values in [Min, Max).
type HeatmapBucket struct {
	Min   float64 `json:"min"`
	Max   float64 `json:"max"`
	Count int64   `json:"count"`
}

// Heatmap is the value of a HEATMAP calculation.
type Heatmap struct {
	Buckets []HeatmapBucket `json:"buckets"`
}

// Run executes the plan.
func (p *Plan) Run(ctx context.Context, q Querier) (*Result, error) {
	if p.ch != nil {
		return p.runClickHouse(ctx, q)
	}
	rows, err := q.QueryContext(ctx, p.SQL, p.Args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	ng, nc := len(p.groups), len(p.calcs)
	vals := make([]any, 2+ng+nc+1)
	ptrs := make([]any, len(vals))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	res := &Result{
		Series: []Point{}, Results: []Row{},
		StartTime: p.spec.Start.Unix(), EndTime: p.spec.End.Unix(), Granularity: p.spec.Granularity,
	}
	var seriesRank []int64 // group rank of each point, for rates
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		data := make(map[string]any, ng+nc)
		for i, g := range p.groups {
			data[g] = vals[2+i]
		}
		for i, c := range p.calcs {
			v := answerValue(vals[2+ng+i])
			if c.kind == kHeatmap {
				h, err := heatmap(v)
				if err != nil {
					return nil, err
				}
				v = h
			}
			data[c.label] = v
		}
		if toInt64(vals[0]) == 1 {
			res.Results = append(res.Results, Row{Data: data})
			continue
		}
		res.Series = append(res.Series, Point{Time: time.UnixMicro(toInt64(vals[1])).UTC(), Data: data})
		seriesRank = append(seriesRank, toInt64(vals[len(vals)-1]))
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	p.rates(res, seriesRank)
	return res, nil
}

// rates turns RATE_* calculations into differences between consecutive
// buckets of the same group (the first bucket of a group has none). The
// overall value is the sum of a group's differences: the change from its
// first bucket to its last.
func (p *Plan) rates(res *Result, rank []int64) {
	for _, c := range p.calcs {
		if c.kind != kRateSum && c.kind != kRateAvg && c.kind != kRateMax {
			continue
		}
		total := map[int64]*float64{}
		var prev float64
		havePrev := false
		for i := range res.Series {
			if i == 0 || rank[i] != rank[i-1] {
				havePrev = false
			}
			d := res.Series[i].Data
			v, ok := toFloat(d[c.label])
			if !ok {
				d[c.label] = nil
				continue
			}
			if havePrev {
				diff := v - prev
				d[c.label] = diff
				if total[rank[i]] == nil {
					total[rank[i]] = new(float64)
				}
				*total[rank[i]] += diff
			} else {
				d[c.label] = nil
			}
			prev, havePrev = v, true
		}
		for i := range res.Results {
			if t := total[int64(i+1)]; t != nil {
				res.Results[i].Data[c.label] = *t
			} else {
				res.Results[i].Data[c.label] = nil
			}
		}
	}
}

// heatmap decodes the engine's list of [sign, step, weight] triples.
func heatmap(v any) (Heatmap, error) {
	h := Heatmap{Buckets: []HeatmapBucket{}}
	if v == nil {
		return h, nil
	}
	list, ok := v.([]any)
	if !ok {
		return h, fmt.Errorf("heatmap: unexpected %T", v)
	}
	for _, e := range list {
		t, ok := e.([]any)
		if !ok || len(t) != 3 {
			return h, fmt.Errorf("heatmap: unexpected element %v", e)
		}
		h.Buckets = append(h.Buckets, heatmapBucket(toInt64(t[0]), toInt64(t[1]), toInt64(t[2])))
	}
	sort.Slice(h.Buckets, func(i, j int) bool { return h.Buckets[i].Min < h.Buckets[j].Min })
	return h, nil
}

// heatmapBucket is the bucket of values of the given sign and step k, of
// weight w.
func heatmapBucket(sign, k, w int64) HeatmapBucket {
	lo := math.Pow(2, float64(k)/heatmapSteps)
	hi := math.Pow(2, float64(k+1)/heatmapSteps)
	switch sign {
	case 0:
		lo, hi = 0, 0
	case -1:
		lo, hi = -hi, -lo
	}
	return HeatmapBucket{Min: lo, Max: hi, Count: w}
}

// answerValue is a value as the answer gives it: an integer sum (a HUGEINT)
// as an int64 when it fits and a float64 when not, and a float that is not
// finite (a float sum past ±1.8e308) as nil, which JSON can carry.
func answerValue(v any) any {
	switch x := v.(type) {
	case *big.Int:
		if x.IsInt64() {
			return x.Int64()
		}
		f, _ := new(big.Float).SetInt(x).Float64()
		return f
	case float64:
		return finite(x)
	}
	return v
}

// finite is f, or nil when f is NaN or infinite.
func finite(f float64) any {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil
	}
	return f
}

func toInt64(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case int32:
		return int64(x)
	case int16:
		return int64(x)
	case int8:
		return int64(x)
	case uint64:
		return int64(x)
	case uint32:
		return int64(x)
	case uint8:
		return int64(x)
	case float64:
		return int64(x)
	}
	return 0
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case int64:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}
