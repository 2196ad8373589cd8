package rules

import (
	"testing"
	"time"

	"github.com/prodex/prodex/internal/slo"
)

func TestSeriesSum(t *testing.T) {
	var s series
	base := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	m := base.Unix() / 60
	s.set(m+5, 10, 9, 0)
	s.set(m, 4, 4, 1) // before the first minute: the series grows backwards
	s.set(m+2, 6, 3, 0)
	s.set(m+2, 7, 4, 2) // totals replace what the minute had
	for _, c := range []struct {
		from, to time.Duration
		want     slo.Counts
	}{
		{0, 10 * time.Minute, slo.Counts{Eligible: 21, Good: 17}},
		{0, time.Minute, slo.Counts{Eligible: 4, Good: 4}},
		{30 * time.Second, 3 * time.Minute, slo.Counts{Eligible: 7, Good: 4}}, // minutes starting in the range
		{2 * time.Minute, 2*time.Minute + time.Second, slo.Counts{Eligible: 7, Good: 4}},
		{6 * time.Minute, time.Hour, slo.Counts{}},
		{-time.Hour, 0, slo.Counts{}},
		{5 * time.Minute, 5 * time.Minute, slo.Counts{}},
	} {
		if got := s.Sum(base.Add(c.from), base.Add(c.to)); got != c.want {
			t.Errorf("Sum(+%s, +%s) = %+v, want %+v", c.from, c.to, got, c.want)
		}
	}
	if n := s.invalid(); n != 3 {
		t.Errorf("invalid %d", n)
	}
	s.trim(m + 3)
	if got := s.Sum(base, base.Add(time.Hour)); got != (slo.Counts{Eligible: 10, Good: 9}) {
		t.Errorf("after trim: %+v", got)
	}
	s.set(m+7, 2, 1, 0)
	if got := s.Sum(base.Add(7*time.Minute), base.Add(8*time.Minute)); got != (slo.Counts{Eligible: 2, Good: 1}) {
		t.Errorf("after trim and add: %+v", got)
	}
}
