// Package duration reads and writes the lengths of time that SLO, risk and
// incident definitions carry: Go's syntax ("90m", "1h30m", "500ms") plus
// days and weeks ("3d", "1.5d", "2w", "1d12h"), since SLO windows and risk
// estimates are counted in days. One parser serves every definition, so a
// form one accepts the others accept too.
package duration

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
)

const (
	day  = 24 * time.Hour
	week = 7 * day
)

// Duration is a length of time, written exactly: whole days as "3d", else
// as Go writes it without zero units ("1h30m", not "1h30m0s"), so that
// Parse reads it back. SLO windows and alert rules are Durations.
type Duration time.Duration

// dayNumber is the number of a day or week term: digits with at most one
// point (no sign, exponent or underscores, which ParseFloat would allow).
var dayNumber = regexp.MustCompile(`^(\d+(\.\d*)?|\.\d+)$`)

// Parse reads a Duration: Go's syntax, with a leading sign or not, plus d
// (24h) and w (7d) in any term: "2w", "1.5d", "1d12h", "-3d".
func Parse(s string) (Duration, error) {
	in := strings.TrimSpace(s)
	if !strings.ContainsAny(in, "dw") { // Go's syntax, which has no d or w
		d, err := time.ParseDuration(in)
		if err != nil {
			return 0, invalid(s)
		}
		return Duration(d), nil
	}
	rest, neg := in, false
	if rest != "" && (rest[0] == '+' || rest[0] == '-') {
		rest, neg = rest[1:], rest[0] == '-'
	}
	// Sum the day and week terms here and leave the others to Go.
	var days time.Duration
	var goTerms strings.Builder
	for rest != "" {
		n := strings.IndexFunc(rest, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
		if n < 0 {
			return 0, invalid(s) // a number without a unit
		}
		u := strings.IndexAny(rest[n:], "0123456789.")
		if u < 0 {
			u = len(rest) - n
		}
		num, unit := rest[:n], rest[n:n+u]
		rest = rest[n+u:]
		if unit != "d" && unit != "w" {
			goTerms.WriteString(num + unit)
			continue
		}
		v, err := strconv.ParseFloat(num, 64)
		if !dayNumber.MatchString(num) || err != nil {
			return 0, invalid(s)
		}
		length := day
		if unit == "w" {
			length = week
		}
		// One rounding, as a product of floats, as risks always read "1.5d".
		ns := v * float64(length)
		if ns >= math.MaxInt64 || days > math.MaxInt64-time.Duration(ns) {
			return 0, invalid(s)
		}
		days += time.Duration(ns)
	}
	var rem time.Duration
	if goTerms.Len() > 0 {
		d, err := time.ParseDuration(goTerms.String())
		if err != nil {
			return 0, invalid(s)
		}
		rem = d
	}
	if rem > math.MaxInt64-days {
		return 0, invalid(s)
	}
	if neg {
		return Duration(-(days + rem)), nil
	}
	return Duration(days + rem), nil
}

func invalid(s string) error {
	return fmt.Errorf("invalid duration %q (want e.g. 5m, 1h, 3d or 2w)", s)
}

// String writes whole days as "3d" and other durations as Go does but
// without zero units ("1h30m", not "1h30m0s"), so that Parse reads them
// back.
func (d Duration) String() string {
	t := time.Duration(d)
	switch {
	case t == 0:
		return "0s"
	case t < 0 || t%time.Second != 0:
		return t.String()
	case t%day == 0:
		return strconv.FormatInt(int64(t/day), 10) + "d"
	}
	var b []byte
	for _, u := range []struct {
		n    time.Duration
		unit byte
	}{{t / time.Hour, 'h'}, {t % time.Hour / time.Minute, 'm'}, {t % time.Minute / time.Second, 's'}} {
		if u.n > 0 {
			b = strconv.AppendInt(b, int64(u.n), 10)
			b = append(b, u.unit)
		}
	}
	return string(b)
}

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a duration string such as \"1h\" or \"3d\", got %s", b)
	}
	v, err := Parse(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}
