package sli

import (
	"regexp/syntax"
	"strconv"
	"strings"
)

// duckDB is the dialect of the embedded store. DuckDB does not short-
// circuit, so every construct is total: integer arithmetic runs in HUGEINT,
// where two BIGINTs cannot overflow, and comes back as BIGINT only where
// it fits, so that an overflow or a division by zero is NULL; TRY_CAST
// turns a failed conversion into NULL. Not try(): in DuckDB 1.4 a try()
// that fails on a row of a vector holding NULLs makes the column it read
// NULL on that row for the statement's other expressions too, so one SLO's
// overflow could make another's events invalid.
//
// The results go through lambdas, whose parameters name a value once:
// DuckDB 1.4's optimizer drops a TRY_CAST compared with a constant
// (TRY_CAST(h AS BIGINT) < 0 becomes h < 0), and a CASE would repeat its
// operands, doubling the text at every level of nesting.
type duckDB struct{}

func (duckDB) column(phys string) string { return `"` + strings.ReplaceAll(phys, `"`, `""`) + `"` }

func (duckDB) intLit(i int64) string { return "CAST(" + strconv.FormatInt(i, 10) + " AS BIGINT)" }

func (duckDB) doubleLit(f float64) string {
	return "CAST(" + strconv.FormatFloat(f, 'g', -1, 64) + " AS DOUBLE)"
}

func (duckDB) stringLit(s string) string { return quote(s) }

func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func (duckDB) boolLit(b bool) string { return strings.ToUpper(strconv.FormatBool(b)) }

func (duckDB) nullBool() string { return "NULL::BOOLEAN" }

func (duckDB) isNotNull(x val) string { return "(" + x.sql + " IS NOT NULL)" }

func (duckDB) whenPresent(res string, xs []val) string {
	conds := make([]string, len(xs))
	for i, x := range xs {
		conds[i] = x.sql + " IS NOT NULL"
	}
	return "(CASE WHEN " + strings.Join(conds, " AND ") + " THEN " + res + " END)"
}

func (duckDB) and(x, y string) string { return "(" + x + " AND " + y + ")" }
func (duckDB) or(x, y string) string  { return "(" + x + " OR " + y + ")" }
func (duckDB) not(x val) string       { return "(NOT " + x.sql + ")" }

func (duckDB) neg(x val) string {
	if x.kind == kInt {
		return bigint("(- " + hugeint(x.sql) + ")")
	}
	return "(- " + x.sql + ")"
}

func (d duckDB) compare(op string, x, y val) string {
	cmp := "(" + x.sql + " " + op + " " + y.sql + ")"
	// NaN equals nothing and orders with nothing in CEL; DuckDB sorts it
	// above every number.
	var nan []string
	for _, v := range []val{x, y} {
		if (v.kind == kDouble || v.kind == kNum) && v.lit == nil && !v.stored {
			nan = append(nan, "isnan("+v.sql+")")
		}
	}
	if len(nan) > 0 {
		cmp = "(CASE WHEN " + strings.Join(nan, " OR ") + " THEN " + whenPresent(d, d.boolLit(op == "<>"), x, y).sql + " ELSE " + cmp + " END)"
	}
	return cmp
}

// arith computes integer results (ints, times and durations in
// microseconds) in HUGEINT, NULL where they do not fit a BIGINT, and for a
// zero divisor.
func (duckDB) arith(op string, k kind, x, y val) string {
	switch k {
	case kDouble:
		return "(" + x.sql + " " + op + " " + y.sql + ")"
	case kString:
		return "(" + x.sql + " || " + y.sql + ")"
	}
	if op == "/" {
		op = "//" // truncating, as CEL
	}
	if op == "%" {
		// CEL refuses the remainder of a quotient that overflows
		// (MinInt64 % -1), which fits: test the quotient.
		return "list_transform([[" + hugeint(x.sql) + ", " + hugeint(y.sql) + "]], lambda p: CASE WHEN p[1] // p[2] BETWEEN " + bigintRange +
			" THEN CAST(p[1] % p[2] AS BIGINT) END)[1]"
	}
	return bigint("(" + hugeint(x.sql) + " " + op + " " + y.sql + ")")
}

const bigintRange = "-9223372036854775808 AND 9223372036854775807"

func hugeint(sql string) string { return "CAST(" + sql + " AS HUGEINT)" }

// bigint is a HUGEINT result as BIGINT, NULL where it does not fit.
func bigint(sql string) string {
	return "list_transform([" + sql + "], lambda v: CASE WHEN v BETWEEN " + bigintRange + " THEN CAST(v AS BIGINT) END)[1]"
}

func (duckDB) ternary(cond, x, y val, k kind) string {
	if x.kind != y.kind && x.kind.numeric() && y.kind.numeric() {
		x.sql, y.sql = "CAST("+x.sql+" AS DOUBLE)", "CAST("+y.sql+" AS DOUBLE)"
	}
	// CASE's ELSE would take a NULL condition: test both ways.
	return "(CASE WHEN " + cond.sql + " THEN " + x.sql + " WHEN NOT " + cond.sql + " THEN " + y.sql + " END)"
}

func (duckDB) in(x val, items []val) string {
	sqls := make([]string, len(items))
	for i, v := range items {
		sqls[i] = v.sql
	}
	return "(" + x.sql + " IN (" + strings.Join(sqls, ", ") + "))"
}

func (duckDB) text(fn string, x, y val) string {
	sqlFn := map[string]string{"startsWith": "starts_with", "endsWith": "suffix", "contains": "contains"}[fn]
	return sqlFn + "(" + x.sql + ", " + y.sql + ")"
}

func (duckDB) matches(x val, pattern string) string {
	return "regexp_matches(" + x.sql + ", " + quote(re2Pattern(pattern)) + ")"
}

// re2Pattern is a pattern Check accepted, for the engines' RE2: it does
// not know the (?<name>…) groups Go's regexp takes, so such a pattern is
// written as Go reads it, with (?P<name>…).
func re2Pattern(pattern string) string {
	if strings.Contains(pattern, "(?<") {
		if re, err := syntax.Parse(pattern, syntax.Perl); err == nil {
			return re.String()
		}
	}
	return pattern
}

func (duckDB) size(x val) string { return "length(" + x.sql + ")" }

func (duckDB) toInt(x val) string {
	switch x.kind {
	case kString:
		return "(CASE WHEN regexp_full_match(" + x.sql + ", '[+-]?[0-9]+') THEN TRY_CAST(" + x.sql + " AS BIGINT) END)"
	case kTime:
		return "CAST(fdiv(" + x.sql + ", 1000000) AS BIGINT)" // seconds, floored as Go's Unix()
	case kDuration:
		return bigint("(" + hugeint(x.sql) + " * 1000)") // nanoseconds
	}
	return "TRY_CAST(trunc(" + x.sql + ") AS BIGINT)"
}

func (duckDB) toDouble(x val) string {
	if x.kind == kString {
		d := "TRY_CAST(replace(" + x.sql + ", '_', '') AS DOUBLE)"
		return "(CASE WHEN regexp_full_match(" + x.sql + ", " + quote(decimal) + ") AND isfinite(" + d + ") THEN " + d + " END)"
	}
	return "CAST(" + x.sql + " AS DOUBLE)"
}

func (duckDB) toString(x val) string {
	if x.kind == kBool {
		return "(CASE WHEN " + x.sql + " THEN 'true' WHEN NOT " + x.sql + " THEN 'false' END)"
	}
	return "CAST(" + x.sql + " AS VARCHAR)"
}

func (duckDB) toTime(x val) string {
	if x.kind == kInt {
		return "(CASE WHEN " + x.sql + " BETWEEN " + fmtInt(minSec) + " AND " + fmtInt(maxSec) + " THEN " + x.sql + " * 1000000 END)"
	}
	us := "epoch_us(TRY_CAST(" + x.sql + " AS TIMESTAMPTZ))"
	return "(CASE WHEN regexp_full_match(" + x.sql + ", " + quote(rfc3339) + ") AND " + us + " BETWEEN " + fmtInt(minTime) + " AND " + fmtInt(maxTime) + " THEN " + us + " END)"
}
