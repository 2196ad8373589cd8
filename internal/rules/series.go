package rules

import (
	"sync"
	"time"

	"github.com/prodex/prodex/internal/slo"
)

// series is one SLO's weighted counts per minute, kept in memory so that
// status reads and rule evaluation never rescan events. Sums over any range
// cost O(1) through prefix sums, rebuilt lazily after updates.
type series struct {
	mu        sync.Mutex
	base      int64 // Unix minute of index 0
	e, g, inv []int64
	pe, pg    []int64
	dirty     bool
}

// set sets a minute's totals, growing the series either way.
func (s *series) set(minute, eligible, good, invalid int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case len(s.e) == 0:
		s.base = minute
		s.e, s.g, s.inv = []int64{0}, []int64{0}, []int64{0}
	case minute < s.base:
		n := int(s.base - minute)
		grow := func(x []int64) []int64 { return append(make([]int64, n, n+len(x)), x...) }
		s.e, s.g, s.inv = grow(s.e), grow(s.g), grow(s.inv)
		s.base = minute
	}
	i := int(minute - s.base)
	for i >= len(s.e) {
		s.e, s.g, s.inv = append(s.e, 0), append(s.g, 0), append(s.inv, 0)
	}
	s.e[i], s.g[i], s.inv[i] = eligible, good, invalid
	s.dirty = true
}

// invalid is the events in the series whose SLI could not be evaluated.
func (s *series) invalid() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	for _, v := range s.inv {
		n += v
	}
	return n
}

// reset empties the series.
func (s *series) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.base, s.e, s.g, s.inv, s.dirty = 0, nil, nil, nil, true
}

// trim drops minutes before the given one, bounding memory to the window.
func (s *series) trim(before int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.e) == 0 || before <= s.base {
		return
	}
	n := int(before - s.base)
	if n >= len(s.e) {
		s.e, s.g, s.inv = nil, nil, nil
	} else {
		keep := func(x []int64) []int64 { return append([]int64(nil), x[n:]...) }
		s.e, s.g, s.inv = keep(s.e), keep(s.g), keep(s.inv)
	}
	s.base = before
	s.dirty = true
}

// Sum implements slo.Source: counts of the minutes starting in [from, to).
func (s *series) Sum(from, to time.Time) slo.Counts {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dirty || len(s.pe) != len(s.e)+1 {
		s.pe, s.pg = prefix(s.pe, s.e), prefix(s.pg, s.g)
		s.dirty = false
	}
	a := ceilDiv(from.Unix(), 60) - s.base
	b := ceilDiv(to.Unix(), 60) - s.base
	a, b = clamp(a, int64(len(s.e))), clamp(b, int64(len(s.e)))
	if b <= a {
		return slo.Counts{}
	}
	return slo.Counts{Eligible: s.pe[b] - s.pe[a], Good: s.pg[b] - s.pg[a]}
}

func prefix(dst, src []int64) []int64 {
	dst = append(dst[:0], 0)
	var t int64
	for _, v := range src {
		t += v
		dst = append(dst, t)
	}
	return dst
}

func ceilDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a > 0) == (b > 0) {
		q++
	}
	return q
}

func clamp(x, n int64) int64 { return max(0, min(x, n)) }
