package sli

import (
	"regexp"
	"strconv"
	"time"

	"cel.dev/cel-go/common/ast"
)

var (
	// rfc3339 is the text CEL's timestamp() accepts; the date's validity is
	// left to the cast.
	rfc3339 = `[0-9]{4}-[0-9]{2}-[0-9]{2}T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]+)?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])`
	// decimal is the text double() converts, as Go's ParseFloat does
	// (digits may be separated by _); its hexadecimal, inf and nan forms
	// are not supported.
	digits  = `[0-9](_?[0-9])*`
	decimal = `[+-]?(` + digits + `(\.(` + digits + `)?)?|\.` + digits + `)([eE][+-]?` + digits + `)?`

	rfc3339RE = regexp.MustCompile(`^` + rfc3339 + `$`)
)

// CEL's timestamp range, years 1 to 9999, in seconds and in µs.
const (
	minSec, maxSec   = -62135596800, 253402300799
	minTime, maxTime = minSec * 1e6, maxSec*1e6 + 999999
)

// function compiles the supported functions and methods; a holds the
// target of a method first.
func (c *compiler) function(e ast.Expr, fn string, a []val) (val, error) {
	x := a[0]
	switch fn {
	case "startsWith", "endsWith", "contains":
		if x.kind != kString || a[1].kind != kString {
			return null, nil
		}
		return val{sql: c.d.text(fn, x, a[1]), kind: kBool}, nil
	case "matches":
		pat, ok := a[1].lit.(string)
		if !ok {
			return val{}, c.errorf(e, "matches() needs a literal pattern")
		}
		if _, err := regexp.Compile(pat); err != nil {
			return val{}, c.errorf(e, "matches(): %v", err)
		}
		if x.kind != kString {
			return null, nil
		}
		return val{sql: c.d.matches(x, pat), kind: kBool}, nil
	case "size":
		if x.kind != kString {
			return null, nil
		}
		return val{sql: c.d.size(x), kind: kInt}, nil // code points, as CEL
	case "int":
		switch x.kind {
		case kInt:
			return x, nil
		case kDouble, kNum, kString, kDuration:
			return val{sql: c.d.toInt(x), kind: kInt}, nil
		case kTime:
			return val{sql: c.d.toInt(x), kind: kInt}, nil // seconds
		}
		return null, nil
	case "double":
		switch x.kind {
		case kInt, kDouble, kNum, kString:
			return val{sql: c.d.toDouble(x), kind: kDouble}, nil
		}
		return null, nil
	case "string":
		switch x.kind {
		case kString:
			return x, nil
		case kInt, kBool:
			return val{sql: c.d.toString(x), kind: kString}, nil
		}
		return null, nil // a double's or timestamp's text as CEL writes it is not expressible
	case "timestamp":
		switch x.kind {
		case kString:
			if s, ok := x.lit.(string); ok {
				t, err := time.Parse(time.RFC3339, s)
				if err != nil || !rfc3339RE.MatchString(s) || t.UnixMicro() < minTime || t.UnixMicro() > maxTime {
					return val{}, c.errorf(e, "timestamp(%q): not an RFC 3339 time such as \"2024-05-01T12:00:00Z\"", s)
				}
				return val{sql: c.d.intLit(t.UnixMicro()), kind: kTime, atom: true}, nil
			}
			return val{sql: c.d.toTime(x), kind: kTime}, nil
		case kInt:
			return val{sql: c.d.toTime(x), kind: kTime}, nil
		case kTime:
			return x, nil
		}
		return null, nil
	case "duration":
		s, ok := x.lit.(string)
		if !ok {
			return val{}, c.errorf(e, `duration() needs a literal such as duration("24h")`)
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			return val{}, c.errorf(e, "duration(%q): %v", s, err)
		}
		return val{sql: c.d.intLit(d.Microseconds()), kind: kDuration, atom: true}, nil
	}
	if name, ok := operators[fn]; ok {
		return val{}, c.errorf(e, "%s is not supported", name)
	}
	return val{}, c.errorf(e, "function %s() is not supported", fn)
}

func fmtInt(i int64) string { return strconv.FormatInt(i, 10) }
