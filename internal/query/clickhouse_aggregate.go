package query

import (
	"fmt"
	"math"
	"strconv"

	"github.com/prodex/prodex/internal/event"
	"github.com/prodex/prodex/internal/schema"
)

// chAggregate is one calculation's aggregate over the events of a group:
// x is its column, of type t, filt its own filters ("" for none).
//
// Weights are sample rates, read as at most event.MaxSampleRate (larger
// ones were stored by versions without that limit). A sum of integers is
// computed in Float64, for the orders and havings of statement 1, and
// exactly modulo 2^64 in Int64 by chExactSum: the answer is the exact sum
// whenever the Float64 one shows that it fits (see planCalc.chValue).
func chAggregate(op opInfo, x, filt string, weighted bool, t schema.Type) string {
	cond := ""
	if filt != "" {
		cond = "ifNull(" + filt + ", 0)"
	}
	// when keeps v for the events the calculation's filters keep.
	when := func(v string) string {
		if cond == "" {
			return v
		}
		return "if(" + cond + ", " + v + ", NULL)"
	}
	// valued is the calculation's events that have a value.
	valued := "isNotNull(" + x + ")"
	if cond != "" {
		valued += " AND " + cond
	}
	w, sr := "toInt64(1)", ClickHouseWeight
	if weighted {
		w = sr
	}
	// f is x as a Float64, for the sums that must not wrap around.
	f := x
	if t == schema.Integer {
		f = "toFloat64(" + x + ")"
	}
	switch op.kind {
	case kCount:
		switch {
		case weighted && cond == "":
			return "sum(" + sr + ")"
		case weighted:
			return "sumIf(" + sr + ", " + cond + ")"
		case cond == "":
			return "count()"
		}
		return "countIf(" + cond + ")"
	case kSum, kRateSum:
		if weighted {
			return "sum(" + when(f+" * "+sr) + ")"
		}
		return "sum(" + when(f) + ")"
	case kAvg, kRateAvg:
		if !weighted {
			return "avg(" + when(x) + ")"
		}
		num := "sum(" + when(f+" * "+sr) + ")"
		if t == schema.Integer { // the exact sum when it fits
			num = "if(abs(" + num + ") < " + exactBelowSQL + ", toFloat64(" + chExactSum(op, x, filt, weighted, t) + "), " + num + ")"
		}
		return num + " / sum(if(" + valued + ", " + sr + ", NULL))"
	case kMin:
		return "min(" + when(x) + ")"
	case kMax, kRateMax:
		return "max(" + when(x) + ")"
	case kCountDistinct:
		return "ifNull(uniqExact(" + when(x) + "), 0)"
	case kPercentile:
		if !weighted {
			// The nearest rank, as DuckDB's quantile_disc: the k-th
			// smallest of n values, k the least with k × 1000 ≥ perMil × n,
			// i.e. 0-based index ⌈n·q⌉ − 1. quantileExact takes index
			// ⌊n·level⌋, which is the same for level = q − ε whenever
			// n·ε is under the rounding of n·q but at most 0.001 (the
			// least fraction n·q can have): ε = 1e-12 keeps that for
			// groups of up to 10⁹ values. It is 3× faster than sorting.
			level := strconv.FormatFloat(float64(op.perMil)/1000-1e-12, 'g', -1, 64)
			return "quantileExact(" + level + ")(" + when(x) + ")"
		}
		// The sorted distinct values and their weights; the answer is
		// the first whose cumulative weight cw has cw × 1000 ≥ perMil ×
		// the total weight.
		m := "sumMapIf([assumeNotNull(" + x + ")], [" + w + "], " + valued + ")"
		vals, ws := "tupleElement("+m+", 1)", "tupleElement("+m+", 2)"
		// arrayFirst, not vals[arrayFirstIndex(…)]: a Distributed table
		// sends the statement to its shards as text, and 18.16 writes a
		// lambda inside [] in a form it cannot parse back.
		// ⌈perMil × total / 1000⌉ in integers that cannot overflow.
		total, pm := "arraySum("+ws+")", strconv.Itoa(op.perMil)
		rank := "intDiv(" + total + ", 1000) * " + pm + " + intDiv(" + total + " % 1000 * " + pm + " + 999, 1000)"
		return "if(empty(" + vals + "), NULL, arrayFirst((__v, __cw) -> __cw >= " + rank + ", " + vals + ", arrayCumSum(" + ws + ")))"
	case kHeatmap:
		// Bucket (sign, k) as in Compile, with k = floor(log2|x| ×
		// heatmapSteps), encoded as one key k×4 + sign+1 for sumMap.
		y := "assumeNotNull(" + x + ")"
		key := "toInt64(floor(log2(if(" + y + " = 0, 1, abs(" + y + "))) * " + strconv.Itoa(heatmapSteps) + ")) * 4 + multiIf(" +
			y + " > 0, 2, " + y + " < 0, 0, 1)"
		return "sumMapIf([" + key + "], [" + w + "], " + valued + ")"
	}
	panic(fmt.Sprintf("query: no ClickHouse aggregate for %v", op.kind))
}

// ClickHouseWeight is an event's weight in ClickHouse SQL: its sample
// rate, at most event.MaxSampleRate (larger ones were stored by versions
// without that limit).
var ClickHouseWeight = "least(sr, toInt64(" + strconv.Itoa(event.MaxSampleRate) + "))"

// exactBelow is 2^63 - 2^53: while a Float64 sum is below it, the sum is
// inside the Int64 range (unless the Float64 one is off by more than 2^53,
// which takes trillions of values near the int64 limits cancelling out),
// so the Int64 sum, exact modulo 2^64, is the sum itself.
const exactBelow = 1<<63 - 1<<53

var exactBelowSQL = strconv.FormatUint(exactBelow, 10)

// chExactSum is, for a SUM or AVG of an integer column, the sum of the
// values (weighted or not) in Int64, exact modulo 2^64; "" otherwise.
func chExactSum(op opInfo, x, filt string, weighted bool, t schema.Type) string {
	switch {
	case t != schema.Integer:
		return ""
	case op.kind != kSum && op.kind != kRateSum && !(op.kind == kAvg && weighted) && !(op.kind == kRateAvg && weighted):
		return ""
	}
	v := x
	if weighted {
		v = x + " * " + ClickHouseWeight
	}
	if filt != "" {
		v = "if(ifNull(" + filt + ", 0), " + v + ", NULL)"
	}
	return "sum(" + v + ")"
}

// exactSum is an integer sum from its Int64 form, exact modulo 2^64, and
// its Float64 one: the Int64 when the Float64 shows the sum is inside the
// int64 range (see exactBelow), else the Float64 (nil when not finite).
func exactSum(exact, approx any) any {
	if exact == nil || approx == nil {
		return nil
	}
	if f := toFloat64(approx); math.Abs(f) >= exactBelow {
		return finite(f)
	}
	return toInt64(exact)
}
