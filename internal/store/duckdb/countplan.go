package duckdb

import (
	"database/sql/driver"
	"fmt"
	"strings"
)

// countPlan is the query that groups rows by minute and by the values of
// the counters' expressions, and where each counter finds its two values.
//
// Evaluating the expressions is most of what counting costs, so each
// distinct expression is evaluated once per row, however many SLOs use it.
// The groups are few (the expressions follow a few fields), and each is
// classified per SLO (not eligible, bad, good, invalid) in Go: doing that in
// SQL made the statement so large that planning it, which DuckDB does
// again at every execution of a statement with parameters, cost more than
// running it.
type countPlan struct {
	sql            string
	eligible, good []int // per counter, the result column of its expression; -1: always true
}

// planCount plans the counting of cs over src, a table expression with ts,
// sr and the counters' columns. The query returns minute, weight and the
// expressions' values (true, false or NULL when not evaluable).
func planCount(cs []*counter, src string) countPlan {
	p := countPlan{eligible: make([]int, len(cs)), good: make([]int, len(cs))}
	cols := []string{"ts // 60000000 AS m", "sum(sr)::BIGINT AS w"}
	index := map[string]int{}
	col := func(sql string) int {
		if sql == "TRUE" {
			return -1
		}
		i, ok := index[sql]
		if !ok {
			i = len(cols)
			index[sql] = i
			cols = append(cols, fmt.Sprintf("(%s) AS x%d", sql, i))
		}
		return i
	}
	for k, c := range cs {
		p.eligible[k], p.good[k] = col(c.eligible), col(c.good)
	}
	// GROUP BY ALL groups by every column but the aggregate.
	p.sql = "SELECT " + strings.Join(cols, ", ") + " FROM " + src + " GROUP BY ALL"
	return p
}

// countKey names one SLO's minute.
type countKey struct {
	k      int // the counter's index
	minute int64
}

// add classifies one group of rows (its minute, weight and expression
// values) for every counter.
func (p countPlan) add(acc map[countKey]*MinuteCount, vals []driver.Value) {
	m, _ := vals[0].(int64)
	w, _ := vals[1].(int64)
	value := func(i int) (v, ok bool) {
		if i < 0 {
			return true, true
		}
		v, ok = vals[i].(bool)
		return v, ok
	}
	for k := range p.eligible {
		e, ok := value(p.eligible[k])
		if ok && !e {
			continue // not eligible
		}
		c := acc[countKey{k, m}]
		if c == nil {
			c = &MinuteCount{Minute: m}
			acc[countKey{k, m}] = c
		}
		g, gok := value(p.good[k])
		switch {
		case !ok || !gok:
			c.Invalid += w
		case g:
			c.Eligible += w
			c.Good += w
		default:
			c.Eligible += w
		}
	}
}
