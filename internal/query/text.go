package query

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// The short text forms of a question's parts, as a person types them on a
// command line ("P99(duration_ms)", "status_code >= 500", "COUNT desc"),
// and a spec written back in one line of them.

var calcRE = regexp.MustCompile(`^\s*([A-Za-z_0-9]+)\s*(?:\((.*)\))?\s*$`)

// ParseCalculation reads OP or OP(column), e.g. COUNT or P99(duration_ms);
// the op is upper-cased.
func ParseCalculation(s string) (Calculation, error) {
	m := calcRE.FindStringSubmatch(s)
	if m == nil {
		return Calculation{}, errors.New("want OP or OP(column)")
	}
	return Calculation{Op: strings.ToUpper(m[1]), Column: m[2]}, nil
}

// writtenFilterOps are the filter operators in the order ParseFilter tries
// them: each before any that is a prefix of it.
var writtenFilterOps = []string{"does-not-start-with", "does-not-end-with", "does-not-contain", "does-not-exist",
	"starts-with", "ends-with", "contains", "exists", "not-in", "in", "!=", ">=", "<=", "=", ">", "<"}

// ParseFilter reads 'COLUMN OP VALUE', e.g. 'status_code >= 500',
// 'host exists' or 'region in eu,us'. The column may be double-quoted;
// a value is a number or a boolean when it reads as one, unless quoted.
func ParseFilter(s string) (Filter, error) {
	s = strings.TrimSpace(s)
	var col, rest string
	if strings.HasPrefix(s, `"`) {
		q, err := strconv.QuotedPrefix(s)
		if err != nil {
			return Filter{}, errors.New("bad quoted column")
		}
		col, _ = strconv.Unquote(q)
		rest = strings.TrimSpace(s[len(q):])
	} else {
		i := strings.IndexAny(s, " \t!=<>")
		if i <= 0 {
			return Filter{}, errors.New("want 'COLUMN OP VALUE'")
		}
		col, rest = s[:i], strings.TrimSpace(s[i:])
	}
	for _, op := range writtenFilterOps {
		if !strings.HasPrefix(rest, op) {
			continue
		}
		val := strings.TrimSpace(rest[len(op):])
		if isWord(op) && val != "" && !strings.HasPrefix(rest[len(op):], " ") {
			continue // e.g. "in" is a prefix of "inside"
		}
		f := Filter{Column: col, Op: op}
		switch op {
		case "exists", "does-not-exist":
			if val != "" {
				return Filter{}, fmt.Errorf("%s takes no value", op)
			}
		case "in", "not-in":
			var vs []any
			for _, v := range strings.Split(val, ",") {
				vs = append(vs, parseValue(strings.TrimSpace(v)))
			}
			f.Value = vs
		default:
			if val == "" {
				return Filter{}, fmt.Errorf("%s needs a value", op)
			}
			f.Value = parseValue(val)
		}
		return f, nil
	}
	return Filter{}, fmt.Errorf("unknown operator; use one of %s", strings.Join(writtenFilterOps, " "))
}

func isWord(op string) bool { return op[0] >= 'a' && op[0] <= 'z' }

// parseValue reads a filter value: a quoted string as a string, else an
// integer, a float, a boolean or the text itself.
func parseValue(v string) any {
	if uq, err := strconv.Unquote(v); err == nil && strings.HasPrefix(v, `"`) {
		return uq
	}
	if i, err := strconv.ParseInt(v, 10, 64); err == nil {
		return i
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		return f
	}
	switch v {
	case "true":
		return true
	case "false":
		return false
	}
	return v
}

// ParseOrder reads 'COLUMN|CALC [asc|desc]', e.g. 'COUNT desc',
// 'P99(duration_ms) asc' or 'service asc'; the direction defaults to
// descending. A calculation is written in capitals, as COUNT or OP(column).
func ParseOrder(s string) (Order, error) {
	f := strings.Fields(s)
	if len(f) == 0 || len(f) > 2 {
		return Order{}, errors.New("want 'COLUMN|CALC [asc|desc]'")
	}
	o := Order{Order: "descending"}
	if len(f) == 2 {
		switch strings.ToLower(f[1]) {
		case "asc", "ascending":
			o.Order = "ascending"
		case "desc", "descending":
		default:
			return Order{}, errors.New("direction must be asc or desc")
		}
	}
	if m := calcRE.FindStringSubmatch(f[0]); m != nil && (m[2] != "" || strings.ToUpper(m[1]) == "COUNT") && strings.ToUpper(m[1]) == m[1] {
		o.Op, o.Column = m[1], m[2]
	} else {
		o.Column = f[0]
	}
	return o, nil
}

// Summary is the spec in one short line: calculations, filters,
// breakdowns and, once resolved, the interval in loc, e.g.
// "COUNT, P99(duration_ms) WHERE status_code >= 500 BY service · 2026-11-24 08:00 +2h".
func (s *Spec) Summary(loc *time.Location) string {
	var calcs []string
	for _, c := range s.Calculations {
		calcs = append(calcs, c.Label())
	}
	out := strings.Join(calcs, ", ")
	if out == "" {
		out = "COUNT"
	}
	if len(s.Filters) > 0 {
		var fs []string
		for _, f := range s.Filters {
			x := f.Column + " " + f.Op
			if f.Value != nil {
				v, _ := json.Marshal(f.Value)
				x += " " + strings.Trim(string(v), `"`)
			}
			fs = append(fs, x)
		}
		sep := " AND "
		if strings.EqualFold(s.FilterCombination, "OR") {
			sep = " OR "
		}
		out += " WHERE " + strings.Join(fs, sep)
	}
	if len(s.Breakdowns) > 0 {
		out += " BY " + strings.Join(s.Breakdowns, ", ")
	}
	if s.StartTime != 0 && s.EndTime > s.StartTime {
		out += " · " + time.Unix(s.StartTime, 0).In(loc).Format("2006-01-02 15:04") + " +" + shortDuration(time.Duration(s.EndTime-s.StartTime)*time.Second)
	}
	return out
}

// shortDuration drops a duration's zero minutes and seconds: 2h, 1h30m, 90s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// SpecLine is a stored spec in one short line (see Spec.Summary), in
// local time; the JSON itself when it is not a spec.
func SpecLine(raw json.RawMessage) string {
	var s Spec
	if err := json.Unmarshal(raw, &s); err != nil {
		return string(raw)
	}
	return s.Summary(time.Local)
}
