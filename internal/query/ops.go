package query

// kind is how a calculation is computed.
type kind int

const (
	kCount kind = iota
	kSum
	kAvg
	kMin
	kMax
	kCountDistinct
	kPercentile
	kHeatmap
	kRateSum
	kRateAvg
	kRateMax
)

type opInfo struct {
	kind    kind
	column  bool // takes a column
	numeric bool // the column must hold numbers
	perMil  int  // percentiles: the rank as a fraction of 1000
}

// ops are Honeycomb's calculation operators.
var ops = map[string]opInfo{
	"COUNT":          {kind: kCount},
	"SUM":            {kind: kSum, column: true, numeric: true},
	"AVG":            {kind: kAvg, column: true, numeric: true},
	"MIN":            {kind: kMin, column: true},
	"MAX":            {kind: kMax, column: true},
	"COUNT_DISTINCT": {kind: kCountDistinct, column: true},
	"P001":           {kind: kPercentile, column: true, numeric: true, perMil: 1},
	"P01":            {kind: kPercentile, column: true, numeric: true, perMil: 10},
	"P05":            {kind: kPercentile, column: true, numeric: true, perMil: 50},
	"P10":            {kind: kPercentile, column: true, numeric: true, perMil: 100},
	"P20":            {kind: kPercentile, column: true, numeric: true, perMil: 200},
	"P25":            {kind: kPercentile, column: true, numeric: true, perMil: 250},
	"P50":            {kind: kPercentile, column: true, numeric: true, perMil: 500},
	"P75":            {kind: kPercentile, column: true, numeric: true, perMil: 750},
	"P80":            {kind: kPercentile, column: true, numeric: true, perMil: 800},
	"P90":            {kind: kPercentile, column: true, numeric: true, perMil: 900},
	"P95":            {kind: kPercentile, column: true, numeric: true, perMil: 950},
	"P99":            {kind: kPercentile, column: true, numeric: true, perMil: 990},
	"P999":           {kind: kPercentile, column: true, numeric: true, perMil: 999},
	"HEATMAP":        {kind: kHeatmap, column: true, numeric: true},
	"RATE_SUM":       {kind: kRateSum, column: true, numeric: true},
	"RATE_AVG":       {kind: kRateAvg, column: true, numeric: true},
	"RATE_MAX":       {kind: kRateMax, column: true, numeric: true},
}

// filterOps are Honeycomb's filter operators.
var filterOps = map[string]bool{
	"=": true, "!=": true, ">": true, ">=": true, "<": true, "<=": true,
	"starts-with": true, "does-not-start-with": true,
	"ends-with": true, "does-not-end-with": true,
	"exists": true, "does-not-exist": true,
	"contains": true, "does-not-contain": true,
	"in": true, "not-in": true,
}

var comparisonOps = map[string]bool{"=": true, "!=": true, ">": true, ">=": true, "<": true, "<=": true}
