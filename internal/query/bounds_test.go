package query

import (
	"strings"
	"testing"
	"time"
)

// Times and ranges are bounded before any arithmetic on them: a time
// range of 10^18 s once answered 200 with buckets of an overflowed width,
// and start and end at the ends of int64 were told "end_time must be
// after start_time". Each now names its field and the bound.
func TestSpecTimeBounds(t *testing.T) {
	if MaxTime != 253402300799 || MaxTimeRange != 36500*86400 {
		t.Fatalf("MaxTime %d, MaxTimeRange %d: the docs say 253402300799 and 3153600000", MaxTime, MaxTimeRange)
	}
	now := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		spec Spec
		err  string // "" accepted
	}{
		{Spec{TimeRange: 1e18}, "time_range: 1000000000000000000 s is longer than the longest, 3153600000 s (36500 days)"},
		{Spec{TimeRange: MaxTimeRange}, ""},
		{Spec{TimeRange: MaxTimeRange + 1}, "time_range: 3153600001 s is longer"},
		{Spec{StartTime: -9223372036854775808, EndTime: 9223372036854775807}, "start_time: must be between 0 and 253402300799 (Unix seconds: 1970-01-01 to 9999-12-31), got -9223372036854775808"},
		{Spec{StartTime: 1, EndTime: 9223372036854775807}, "end_time: must be between 0 and 253402300799"},
		{Spec{StartTime: 1, EndTime: MaxTime}, "end_time: 253402300798 s after start_time; the longest time range is 3153600000 s"},
		{Spec{EndTime: MaxTime, TimeRange: 3600}, ""},
		{Spec{StartTime: MaxTime, TimeRange: 3600}, "end_time: must be between 0 and 253402300799"},
		{Spec{StartTime: 100, EndTime: 50}, "end_time: must be after start_time"},
		{Spec{StartTime: 1e9, Granularity: 1e17}, "granularity: 100000000000000000 s is outside"},
	} {
		s := c.spec
		err := s.Resolve(now)
		switch {
		case c.err == "" && err != nil:
			t.Errorf("%+v: %v", c.spec, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%+v: error %v, want %q", c.spec, err, c.err)
		case err == nil && (s.Step <= 0 || s.End.UnixMicro() <= s.Start.UnixMicro()):
			t.Errorf("%+v: step %v, %v … %v", c.spec, s.Step, s.Start, s.End)
		}
	}
}
