package event

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// maxFuture is how far past the receive time an event time may be; later
// times are replaced by the receive time, as Honeycomb does.
const maxFuture = time.Hour

// minTime is the earliest event time: the Unix epoch. Observability
// events from before it are mistakes, and the bound keeps every time in
// the range a nanosecond or microsecond count since the epoch can hold
// (a msgpack timestamp can name any second of ±292 billion years).
var minTime = time.Unix(0, 0).UTC()

// farFuture stands for an epoch number too large to be a time: it is past
// maxFuture, so it becomes the receive time as any far-future time does.
var farFuture = time.Unix(1<<40, 0).UTC()

// eventTime applies the rule for an explicit event time t, the same for
// every format and field: kept (in UTC) from the Unix epoch to an hour
// past now, now when later, refused when earlier. Only an absent time
// (no field, null, "" or no header) means now without this check.
func eventTime(t, now time.Time) (time.Time, error) {
	if t.Before(minTime) {
		return time.Time{}, errTimeEarly
	}
	if t.After(now.Add(maxFuture)) {
		return now.UTC(), nil
	}
	return t.UTC(), nil
}

// goTime is eventTime for the Go callers (FromMap, FromFlat), whose zero
// time means now.
func goTime(t, now time.Time) (time.Time, error) {
	if t.IsZero() {
		return now.UTC(), nil
	}
	t, err := eventTime(t, now)
	if err != nil {
		return time.Time{}, fmt.Errorf(`invalid time %s: %w`, t.Format(time.RFC3339Nano), err)
	}
	return t, nil
}

var (
	errTimeSyntax = errors.New("want RFC 3339 text or Unix epoch seconds")
	errTimeRange  = errors.New("out of range")
	errTimeEarly  = errors.New("before 1970-01-01T00:00:00Z, the earliest time an event may have")
)

// parseTimeHeader parses an X-Honeycomb-Event-Time value; "" means now.
func parseTimeHeader(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return now.UTC(), nil
	}
	t, err := parseTimeText([]byte(s))
	if err != nil {
		return time.Time{}, err
	}
	return eventTime(t, now)
}

// parseTimeText parses an event time given as text: RFC 3339 (with 'T', 't'
// or ' ' between date and time, optional fraction, and a zone that defaults
// to UTC when absent), or a decimal Unix epoch (see epochText). The
// caller treats the empty text as absent.
func parseTimeText(b []byte) (time.Time, error) {
	if len(b) >= 10 && b[4] == '-' {
		return parseRFC3339(b)
	}
	return epochText(b)
}

// parseRFC3339 parses YYYY-MM-DD[Tt ]hh:mm:ss[.frac][Z|z|±hh:mm].
func parseRFC3339(b []byte) (time.Time, error) {
	num := func(b []byte) (int, bool) {
		n := 0
		for _, c := range b {
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	if len(b) < 19 || b[4] != '-' || b[7] != '-' || (b[10] != 'T' && b[10] != 't' && b[10] != ' ') || b[13] != ':' || b[16] != ':' {
		return time.Time{}, errTimeSyntax
	}
	year, ok1 := num(b[0:4])
	month, ok2 := num(b[5:7])
	day, ok3 := num(b[8:10])
	hour, ok4 := num(b[11:13])
	min, ok5 := num(b[14:16])
	sec, ok6 := num(b[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) {
		return time.Time{}, errTimeSyntax
	}
	if month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 59 {
		return time.Time{}, errTimeRange
	}
	b = b[19:]
	nsec := 0
	if len(b) > 0 && (b[0] == '.' || b[0] == ',') {
		i := 1
		scale := 100000000
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
			nsec += int(b[i]-'0') * scale
			scale /= 10
		}
		if i == 1 {
			return time.Time{}, errTimeSyntax
		}
		b = b[i:]
	}
	offset := 0
	switch {
	case len(b) == 0:
	case len(b) == 1 && (b[0] == 'Z' || b[0] == 'z'):
	case len(b) == 6 && (b[0] == '+' || b[0] == '-') && b[3] == ':':
		h, ok1 := num(b[1:3])
		m, ok2 := num(b[4:6])
		if !ok1 || !ok2 {
			return time.Time{}, errTimeSyntax
		}
		if h > 23 || m > 59 {
			return time.Time{}, errTimeRange
		}
		offset = h*3600 + m*60
		if b[0] == '-' {
			offset = -offset
		}
	default:
		return time.Time{}, errTimeSyntax
	}
	t := time.Date(year, time.Month(month), day, hour, min, sec, nsec, time.UTC)
	if t.Day() != day { // e.g. February 30th
		return time.Time{}, errTimeRange
	}
	return t.Add(-time.Duration(offset) * time.Second), nil
}

// Epoch numbers are seconds unless they are too large to be a plausible
// time in seconds: |v| ≥ 1e12 is milliseconds, ≥ 1e15 microseconds and
// ≥ 1e18 nanoseconds (1e12 s is in the year 33658; 1e12 ms is 2001-09-09).
const (
	epochMillis = 1e12
	epochMicros = 1e15
	epochNanos  = 1e18
)

// epochText parses a decimal epoch: an integer, a decimal fraction (exact to
// the nanosecond) or, with an exponent, a float.
func epochText(b []byte) (time.Time, error) {
	i := 0
	neg := false
	if i < len(b) && (b[i] == '-' || b[i] == '+') {
		neg = b[i] == '-'
		i++
	}
	intStart := i
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	intEnd := i
	fracStart, fracEnd := i, i
	if i < len(b) && b[i] == '.' {
		i++
		fracStart = i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		fracEnd = i
	}
	if intEnd == intStart && fracEnd == fracStart {
		return time.Time{}, errTimeSyntax
	}
	if i != len(b) || intEnd-intStart > 19 {
		// An exponent, or something else: let ParseFloat decide.
		f, err := strconv.ParseFloat(string(b), 64)
		if err != nil {
			return time.Time{}, errTimeSyntax
		}
		return epochFloat(f)
	}
	var whole uint64
	for _, c := range b[intStart:intEnd] {
		d := uint64(c - '0')
		if whole > (math.MaxUint64-d)/10 {
			return outOfRange(neg), nil
		}
		whole = whole*10 + d
	}
	if whole > math.MaxInt64 {
		return outOfRange(neg), nil
	}
	unit := epochUnit(float64(whole))
	// fraction of one unit, in nanoseconds of that unit's scale
	var frac int64
	scale := int64(unit) / 10
	for _, c := range b[fracStart:fracEnd] {
		if scale == 0 {
			break
		}
		frac += int64(c-'0') * scale
		scale /= 10
	}
	w := int64(whole)
	if neg {
		w, frac = -w, -frac
	}
	return epochUnits(w, frac, unit)
}

// epochUnit picks the unit of an epoch number by its magnitude.
func epochUnit(abs float64) time.Duration {
	switch {
	case abs >= epochNanos:
		return time.Nanosecond
	case abs >= epochMicros:
		return time.Microsecond
	case abs >= epochMillis:
		return time.Millisecond
	}
	return time.Second
}

// epochUnits returns the time whole×unit + fracNanos after the epoch.
func epochUnits(whole, fracNanos int64, unit time.Duration) (time.Time, error) {
	switch unit {
	case time.Second:
		return time.Unix(whole, fracNanos).UTC(), nil
	default:
		per := int64(time.Second / unit)
		sec, rem := whole/per, whole%per
		return time.Unix(sec, rem*int64(unit)+fracNanos).UTC(), nil
	}
}

// outOfRange is an epoch number too large for an int64: before the epoch
// when negative (eventTime refuses it), far in the future otherwise.
func outOfRange(neg bool) time.Time {
	if neg {
		return time.Unix(-1<<40, 0).UTC()
	}
	return farFuture
}

// epochInt is an integer epoch (msgpack).
func epochInt(v int64) (time.Time, error) {
	abs := float64(v)
	if abs < 0 {
		abs = -abs
	}
	return epochUnits(v, 0, epochUnit(abs))
}

// epochFloat is a float epoch.
func epochFloat(f float64) (time.Time, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return time.Time{}, errTimeRange
	}
	abs := math.Abs(f)
	unit := epochUnit(abs)
	if abs >= math.MaxInt64/2 {
		return outOfRange(f < 0), nil
	}
	whole := math.Trunc(f)
	frac := f - whole
	return epochUnits(int64(whole), int64(math.Round(frac*float64(unit))), unit)
}

// MaxSampleRate is the largest sample rate an event may carry: it stands
// for at most a billion events. Weighted aggregates multiply values by the
// rate, and this bound keeps them in range: a weighted count reaches
// 2^63 only past 9.2 billion stored events at the maximum rate (9.2×10^18
// represented ones), and a stored integer (|v| < 2^63) times the rate is
// below 2^93, which DuckDB sums exactly in its 128-bit HUGEINT and
// ClickHouse in Float64 beside an exact Int64 sum used while the total
// fits (see package query). Rates above it are refused per event; rates
// stored by versions that took them count as MaxSampleRate.
const MaxSampleRate = 1_000_000_000

var errSampleRate = fmt.Errorf("must be an integer from 0 to %d", MaxSampleRate)

// parseSampleRateHeader parses X-Honeycomb-Samplerate; "" and "0" mean 1.
func parseSampleRateHeader(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 1, nil
	}
	return sampleRateText([]byte(s))
}

// sampleRateText parses a sample rate written as a number: an integer, or a
// float with an integral value (10.0, 1e3). Absent, null and 0 mean 1.
func sampleRateText(b []byte) (int64, error) {
	if n, ok := parseIntText(b); ok {
		return sampleRateInt(n)
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return 0, errSampleRate
	}
	return sampleRateFloat(f)
}

func sampleRateInt(n int64) (int64, error) {
	if n < 0 || n > MaxSampleRate {
		return 0, errSampleRate
	}
	if n == 0 {
		return 1, nil
	}
	return n, nil
}

func sampleRateFloat(f float64) (int64, error) {
	if f != math.Trunc(f) || f < 0 || f > MaxSampleRate || math.IsNaN(f) {
		return 0, errSampleRate
	}
	return sampleRateInt(int64(f))
}

// parseIntText parses an optionally negative decimal integer without sign
// '+', leading zeros or anything else; false when it is not one or does not
// fit in an int64.
func parseIntText(b []byte) (int64, bool) {
	i := 0
	neg := false
	if len(b) > 0 && b[0] == '-' {
		neg = true
		i = 1
	}
	if i == len(b) || len(b)-i > 19 {
		return 0, false
	}
	var n uint64
	for _, c := range b[i:] {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	if neg {
		if n > 1<<63 {
			return 0, false
		}
		return -int64(n), true
	}
	if n > math.MaxInt64 {
		return 0, false
	}
	return int64(n), true
}
