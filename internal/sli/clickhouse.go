package sli

import (
	"math"
	"strconv"
	"strings"
)

// CompileClickHouse is Compile for the ClickHouse store: a ClickHouse SQL
// boolean expression (UInt8 or Nullable(UInt8): 1, 0 or NULL) equivalent
// to expr for one event row, and the physical columns it reads. The
// columns are those the ClickHouse catalog's From yields: Nullable(Int64),
// Nullable(Float64), Nullable(String) and, for booleans, Nullable(UInt8)
// holding 0 or 1; ts is Int64 µs.
//
// On every row it gives what Compile's SQL gives on DuckDB, in SQL that
// Debian's ClickHouse 18.16 runs and that raises no error on any row
// (ClickHouse evaluates both branches of if(), so a failing operation is
// made harmless on every row, not only on those selected).
// The exceptions, each a case ClickHouse cannot express cheaply: text that
// double() reads with more than 16 significant digits or an exponent
// beyond ±22 (ClickHouse's own parser, used then, can be 1 ulp off, rarely
// 2, and reads subnormal numbers as 0); and, after int() of a timestamp, which
// DuckDB computes as a DOUBLE, a remainder (%) of values beyond 2^53 and
// the order of NaN against infinity. Where DuckDB's own SQL misbehaves it
// is not imitated: a matches() pattern with a (?<name>…) group fails the
// DuckDB query and matches here; DuckDB's try() gives NULL on a row where
// another try() of the statement failed, which ClickHouse does not.
//
// In an aggregate, make the condition non-Nullable: 18.16's countIf (and
// the other -If combinators) of a Nullable condition give NULL, not 0,
// when it is NULL on every row; countIf(ifNull(sql, 0)) counts the rows
// where it is true.
func CompileClickHouse(expr string, cols Columns) (sql string, phys []string, err error) {
	return compile(&clickHouse{}, expr, cols)
}

// clickHouse is the dialect of ClickHouse 18.16. What differs from DuckDB:
//
//   - and, or: ClickHouse gives NULL for 0 AND NULL and 0 for NULL OR 0,
//     so three-valued logic is computed on 0 < NULL < 1 coded 0, 1, 2;
//   - integer + - * wrap around on overflow: the result is NULL where the
//     same operation on doubles is more than 2^62 away (the exact result
//     and the double one differ by far less, a wrapped one by 2^64);
//   - intDiv and % raise errors on zero (even in NULL rows, whose hidden
//     value is 0) and on the smallest int by -1: divisors are made safe;
//   - x IN (…) is 0, not NULL, for a NULL x, and tells -0.0 from 0.0;
//   - match() lets . match a newline: patterns start with (?-s);
//   - casts from text to numbers wrap or misround: texts are checked and
//     converted by hand (see toInt, toDouble, toTime).
//
// A value used several times by a construct is bound once to a lambda
// parameter, arrayMap((p) -> body, [value])[1], unless it is an atom:
// nested constructs would otherwise grow the SQL exponentially. A lambda
// body refers to its parameters and constants only: 18.16 does not read a
// column that only a lambda body names ("Unknown identifier"), so columns
// are passed in as arguments (and outer parameters too, alike).
type clickHouse struct {
	n int // lambda parameters named so far
}

const (
	chMinInt = "-9223372036854775808"
	two62    = "4611686018427387904." // 2^62
)

// lambda binds each of xs to a new parameter for body, which must use
// nothing else but constants.
func (d *clickHouse) lambda(xs []string, body func(p []string) string) string {
	params := make([]string, len(xs))
	arrays := make([]string, len(xs))
	for i, x := range xs {
		d.n++
		params[i] = "__sli" + strconv.Itoa(d.n)
		arrays[i] = "[" + x + "]"
	}
	return "arrayMap((" + strings.Join(params, ", ") + ") -> " + body(params) + ", " + strings.Join(arrays, ", ") + ")[1]"
}

// bind is body of xs, as they are if they are all atoms, else through a
// lambda binding every one but the literals.
func (d *clickHouse) bind(xs []val, body func(p []string) string) string {
	var bound []string
	var at []int
	lambda := false
	for i, x := range xs {
		lambda = lambda || !x.atom
		if x.lit == nil && x.sql != "NULL" {
			bound = append(bound, x.sql)
			at = append(at, i)
		}
	}
	if !lambda {
		bound, at = nil, nil
	}
	args := func(p []string) []string {
		a := make([]string, len(xs))
		for i, x := range xs {
			a[i] = x.sql
		}
		for j, i := range at {
			a[i] = p[j]
		}
		return a
	}
	if len(bound) == 0 {
		return body(args(nil))
	}
	return d.lambda(bound, func(p []string) string { return body(args(p)) })
}

func (*clickHouse) column(phys string) string {
	return "`" + strings.NewReplacer(`\`, `\\`, "`", "\\`").Replace(phys) + "`"
}

func (*clickHouse) intLit(i int64) string { return "toInt64(" + strconv.FormatInt(i, 10) + ")" }

// doubleLit writes a double as ClickHouse reads it exactly; a subnormal
// one, which its parser refuses, as an exact product.
func (*clickHouse) doubleLit(f float64) string {
	if f != 0 && math.Abs(f) < 0x1p-1022 {
		m := int64(math.Float64bits(math.Abs(f)) & (1<<52 - 1)) // f = ±m × 2^-1074
		if f < 0 {
			m = -m
		}
		return "(toFloat64(" + strconv.FormatInt(m, 10) + ") * 2.2250738585072014e-308 * 2.220446049250313e-16)"
	}
	// -0 is read as the integer 0, as DuckDB reads CAST(-0 AS DOUBLE).
	return "toFloat64(" + strconv.FormatFloat(f, 'g', -1, 64) + ")"
}

func (*clickHouse) stringLit(s string) string { return chQuote(s) }

// chQuote quotes a ClickHouse string literal, where the backslash escapes.
func chQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

func (*clickHouse) boolLit(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func (*clickHouse) nullBool() string { return "CAST(NULL AS Nullable(UInt8))" }

func (*clickHouse) isNotNull(x val) string { return "isNotNull(" + x.sql + ")" }

func (*clickHouse) whenPresent(res string, xs []val) string {
	conds := make([]string, len(xs))
	for i, x := range xs {
		conds[i] = "isNotNull(" + x.sql + ")"
	}
	return "if(" + strings.Join(conds, " AND ") + ", " + res + ", NULL)"
}

// and is the least of false < NULL < true, or the greatest.
func (*clickHouse) and(x, y string) string {
	return "(nullIf(least(ifNull(" + x + " * 2, 1), ifNull(" + y + " * 2, 1)), 1) = 2)"
}

func (*clickHouse) or(x, y string) string {
	return "(nullIf(greatest(ifNull(" + x + " * 2, 1), ifNull(" + y + " * 2, 1)), 1) = 2)"
}

func (*clickHouse) not(x val) string { return "(NOT " + x.sql + ")" }

func (d *clickHouse) neg(x val) string {
	if x.kind == kDouble {
		return "negate(" + x.sql + ")"
	}
	return d.bind([]val{x}, func(p []string) string {
		return "if(" + p[0] + " = " + chMinInt + ", NULL, negate(" + p[0] + "))"
	})
}

// isFloat reports whether v's SQL is a Float64.
func isFloat(v val) bool { return v.kind == kDouble || v.kind == kNum }

// f64 is v as a Float64.
func f64(v val) string {
	if isFloat(v) || v.kind == unknown {
		return v.sql
	}
	return "toFloat64(" + v.sql + ")"
}

func (d *clickHouse) compare(op string, x, y val) string {
	if isFloat(x) == isFloat(y) {
		// NaN: IEEE comparisons are CEL's (DuckDB's SQL tests isnan for that).
		return "(" + x.sql + " " + op + " " + y.sql + ")"
	}
	// Numbers of both kinds compare as doubles, as in DuckDB.
	return "(" + f64(x) + " " + op + " " + f64(y) + ")"
}

func (d *clickHouse) arith(op string, k kind, x, y val) string {
	switch {
	case k == kString:
		return "concat(" + x.sql + ", " + y.sql + ")"
	case k == kDouble:
		return "(" + x.sql + " " + op + " " + y.sql + ")"
	}
	return d.bind([]val{x, y}, func(p []string) string {
		a, b := p[0], p[1]
		switch op {
		case "/", "%":
			undefined := "if(" + b + " = 0 OR (" + b + " = -1 AND " + a + " = " + chMinInt + "), NULL, "
			if op == "/" {
				return undefined + "intDivOrZero(" + a + ", " + b + "))"
			}
			// The divisor, 1 for 0 and -1, is never 0 in the hidden value of
			// a NULL row either.
			return undefined + a + " % (" + b + " + (" + b + " = 0) + 2 * (" + b + " = -1)))"
		}
		r := "(" + a + " " + op + " " + b + ")"
		return "if(abs(toFloat64(" + a + ") " + op + " toFloat64(" + b + ") - toFloat64" + r + ") > " + two62 + ", NULL, " + r + ")"
	})
}

func (d *clickHouse) ternary(cond, x, y val, k kind) string {
	if k == kNum {
		x.sql, y.sql = f64(x), f64(y)
	}
	return d.bind([]val{cond, x, y}, func(p []string) string {
		return "multiIf(" + p[0] + ", " + p[1] + ", NOT " + p[0] + ", " + p[2] + ", NULL)"
	})
}

func (d *clickHouse) in(x val, items []val) string {
	lits := make([]string, len(items))
	fl := isFloat(x)
	for _, v := range items {
		fl = fl || v.kind == kDouble
	}
	for i, v := range items {
		lits[i] = v.sql
		if l, ok := v.lit.(int64); ok && fl {
			lits[i] = d.doubleLit(float64(l)) // as DuckDB casts it
		}
	}
	if fl {
		x.sql = f64(x)
	}
	// has(), not IN: NULL stays NULL, and -0.0 equals 0.0.
	return d.bind([]val{x}, func(p []string) string {
		return "if(isNull(" + p[0] + "), NULL, has([" + strings.Join(lits, ", ") + "], " + p[0] + "))"
	})
}

func (*clickHouse) text(fn string, x, y val) string {
	switch fn {
	case "startsWith":
		return "startsWith(" + x.sql + ", " + y.sql + ")"
	case "endsWith":
		return "endsWith(" + x.sql + ", " + y.sql + ")"
	}
	return "(position(" + x.sql + ", " + y.sql + ") > 0)"
}

// matches: ClickHouse compiles with RE2's dot_nl, which (?-s) turns off.
func (*clickHouse) matches(x val, pattern string) string {
	return "match(" + x.sql + ", " + chQuote("(?-s)"+re2Pattern(pattern)) + ")"
}

func (*clickHouse) size(x val) string { return "toInt64(lengthUTF8(" + x.sql + "))" }

func (d *clickHouse) toInt(x val) string {
	switch x.kind {
	case kTime:
		return "toInt64(floor(" + f64(x) + " / 1000000.))" // seconds, floored
	case kDuration:
		return d.bind([]val{x}, func(p []string) string {
			return "if(" + p[0] + " >= -9223372036854775 AND " + p[0] + " <= 9223372036854775, " + p[0] + " * 1000, NULL)"
		})
	case kString:
		// toInt64OrNull wraps around on overflow; the text read as a
		// double (after a leading + and zeros, which that parser does not
		// take) tells a wrapped value.
		return d.bind([]val{x}, func(p []string) string {
			t := `replaceRegexpOne(replaceRegexpOne(` + p[0] + `, '^\\+', ''), '^(-?)0+([0-9])', '\\1\\2')`
			return d.lambda([]string{t, "match(" + p[0] + ", '^[+-]?[0-9]+$')"}, func(q []string) string {
				i := "toInt64OrNull(" + q[0] + ")"
				return "if(" + q[1] + " AND abs(toFloat64OrNull(" + q[0] + ") - toFloat64(" + i + ")) <= " + two62 + ", " + i + ", NULL)"
			})
		})
	}
	// TRY_CAST(trunc(x) AS BIGINT): NULL out of [-2^63, 2^63) and for NaN.
	return d.bind([]val{x}, func(p []string) string {
		return "if(" + p[0] + " >= -9223372036854775808. AND " + p[0] + " < 9223372036854775808., toInt64(" + p[0] + "), NULL)"
	})
}

// pow10 are the powers of ten that are exact doubles.
var pow10 = func() string {
	p := make([]string, 23)
	for i := range p {
		p[i] = "1e" + strconv.Itoa(i)
	}
	return "[" + strings.Join(p, ", ") + "]"
}()

func (d *clickHouse) toDouble(x val) string {
	if x.kind != kString {
		return "toFloat64(" + x.sql + ")"
	}
	// ClickHouse's text to double can be 1 ulp off where DuckDB's is
	// correctly rounded, and takes no + nor many leading zeros. The text
	// is read as digits z (without leading and trailing zeros) times 10^e:
	// for z < 2^53 and |e| ≤ 22 one IEEE operation on exact doubles is
	// correctly rounded. Other texts go to ClickHouse's parser.
	return d.bind([]val{x}, func(p []string) string {
		ok := "match(" + p[0] + ", " + chQuote("^(?:"+decimal+")$") + ")"
		return d.lambda([]string{"replaceAll(" + p[0] + ", '_', '')", ok}, func(q []string) string {
			t, ok := q[0], q[1]
			ip := `extract(` + t + `, '^[+-]?([0-9]*)')`
			fp := `extract(` + t + `, '\\.([0-9]*)')`
			ex := `extract(` + t + `, '[eE]([+-]?[0-9]+)')`
			m := `replaceRegexpOne(concat(` + ip + `, ` + fp + `), '^0+', '')`
			return d.lambda([]string{fp, ex, m, t, ok}, func(q []string) string {
				fp, ex, m, t, ok := q[0], q[1], q[2], q[3], q[4]
				z := `replaceRegexpOne(` + m + `, '0+$', '')`
				e := "toInt64OrZero(" + ex + ") - length(" + fp + ") + length(" + m + ") - length(" + z + ")"
				return d.lambda([]string{z, e, ex, t, ok}, func(q []string) string {
					z, e, ex, t, ok := q[0], q[1], q[2], q[3], q[4]
					mant := "toFloat64(toUInt64OrZero(" + z + "))"
					exact := "(length(" + z + ") <= 15 OR length(" + z + ") = 16 AND toUInt64OrZero(" + z + ") <= 9007199254740992) AND length(" + ex + ") <= 6"
					// ClickHouse's parser, on z×10^e (the closest of the forms
					// tried, 1 ulp off for 13% of random doubles' texts), or on
					// d.ddd×10^e near the smallest doubles (which it reads as 0
					// from z×10^e), or on the text when e does not fit.
					slow := "toFloat64OrNull(multiIf(length(" + ex + ") > 6, replaceRegexpOne(" + t + `, '^[+-]', ''), ` +
						e + " + length(" + z + ") < -290, concat(substring(" + z + ", 1, 1), '.', substring(" + z + ", 2), 'e', toString(" + e + " + length(" + z + ") - 1)), " +
						"concat(" + z + ", 'e', toString(" + e + "))))"
					v := "multiIf(length(" + z + ") = 0, 0., " +
						exact + " AND " + e + " >= 0 AND " + e + " <= 22, " + mant + " * " + pow10 + "[" + e + " + 1], " +
						exact + " AND " + e + " < 0 AND " + e + " >= -22, " + mant + " / " + pow10 + "[1 - " + e + "], " +
						exact + " AND " + e + " > 22 AND " + e + " - 22 + length(" + z + ") <= 15, " + mant + " * " + pow10 + "[" + e + " - 21] * 1e22, " +
						slow + ")"
					return d.lambda([]string{v, "startsWith(" + t + ", '-')", ok}, func(q []string) string {
						return d.lambda([]string{"if(" + q[1] + ", negate(" + q[0] + "), " + q[0] + ")", q[2]}, func(q []string) string {
							return "if(" + q[1] + " AND isFinite(" + q[0] + "), " + q[0] + ", NULL)"
						})
					})
				})
			})
		})
	})
}

func (d *clickHouse) toString(x val) string {
	if x.kind == kBool {
		return "['false', 'true'][" + x.sql + " + 1]" // a NULL index gives NULL
	}
	return "toString(" + x.sql + ")"
}

// DuckDBDoubleText is ClickHouse SQL for the text of a Float64 x as
// DuckDB's CAST(x AS VARCHAR) writes it (NULL for NULL): for ints that
// DuckDB computes as DOUBLEs here, and for the query compiler's text
// filters on float columns, so that both stores match the same events.
// Both print the shortest digits that read back as the same double; they
// differ in the layout. DuckDB writes integral values with ".0" and
// switches to scientific notation below 1e-4 and from 1e16, with a sign
// and at least two digits in the exponent (1e-05, 1.5e+16); ClickHouse
// writes integral values bare and switches below 1e-6 and from 1e21,
// without padding or a plus sign (1e-7, 1e21). So:
//   - integral, under 1e16: ClickHouse's text and ".0" (this covers 0, -0);
//   - from 1e21 or under 1e-6: ClickHouse's scientific text, with "+" on a
//     positive exponent and a one-digit exponent padded;
//   - from 1e16 (integral, plain digits in ClickHouse): d.ddd e+(digits-1);
//   - under 1e-4 (0.0000ddd in ClickHouse): d.ddd e-0(zeros+1);
//   - otherwise both write the same plain decimal.
func DuckDBDoubleText(x string) string {
	y := "assumeNotNull(" + x + ")"
	s := "toString(" + y + ")"
	sign := "if(" + y + " < 0, '-', '')"
	abs := "replaceRegexpOne(" + s + ", '^-', '')"
	mant := func(digits string) string {
		return "concat(substring(" + digits + ", 1, 1), if(length(" + digits + ") > 1, concat('.', substring(" + digits + ", 2)), ''))"
	}
	big := "replaceRegexpOne(" + abs + ", '0+$', '')"
	frac := "substring(" + abs + ", 3)"
	small := "replaceRegexpOne(" + frac + ", '^0+', '')"
	expo := `replaceRegexpOne(replaceRegexpOne(` + s + `, 'e([0-9])', 'e+\\1'), 'e([+-])([0-9])$', 'e\\10\\2')`
	return "if(isNull(" + x + "), NULL, multiIf(" +
		y + " = floor(" + y + ") AND abs(" + y + ") < 1e16, concat(" + s + ", '.0'), " +
		"abs(" + y + ") >= 1e21 OR abs(" + y + ") < 1e-6, " + expo + ", " +
		"abs(" + y + ") >= 1e16, concat(" + sign + ", " + mant(big) + ", 'e+', toString(length(" + abs + ") - 1)), " +
		"abs(" + y + ") < 1e-4, concat(" + sign + ", " + mant(small) + ", 'e-0', toString(length(" + frac + ") - length(" + small + ") + 1)), " +
		s + "))"
}

func (d *clickHouse) toTime(x val) string {
	if x.kind == kInt {
		return d.bind([]val{x}, func(p []string) string {
			return "if(" + p[0] + " >= " + fmtInt(minSec) + " AND " + p[0] + " <= " + fmtInt(maxSec) + ", " + p[0] + " * 1000000, NULL)"
		})
	}
	// RFC 3339 text, its fields at fixed places once it matches: the date
	// to days by the Julian day number (any year, unlike ClickHouse's
	// dates), the fraction truncated to µs, as DuckDB does.
	return d.bind([]val{x}, func(p []string) string {
		s := p[0]
		num := func(from, n int) string {
			return "toInt64OrZero(substring(" + s + ", " + strconv.Itoa(from) + ", " + strconv.Itoa(n) + "))"
		}
		ok := "match(" + s + ", " + chQuote("^(?:"+rfc3339+")$") + ")"
		sod := "(" + num(12, 2) + " * 3600 + " + num(15, 2) + " * 60 + " + num(18, 2) + ")"
		us := `toInt64OrZero(substring(concat(extract(` + s + `, '\\.([0-9]+)'), '000000'), 1, 6))`
		off := "if(endsWith(" + s + ", 'Z'), 0, (" + num(-5, 2) + " * 60 + " + num(-2, 2) + ") * if(substring(" + s + ", -6, 1) = '-', -1, 1))"
		return d.lambda([]string{num(1, 4), num(6, 2), num(9, 2), sod, us, off, ok}, func(q []string) string {
			y, m, day, sod, us, off, ok := q[0], q[1], q[2], q[3], q[4], q[5], q[6]
			a := "intDiv(14 - " + m + ", 12)"
			yy := "(" + y + " + 4800 - " + a + ")"
			days := "(" + day + " + intDiv(153 * (" + m + " + 12 * " + a + " - 3) + 2, 5) + 365 * " + yy + " + intDiv(" + yy + ", 4) - intDiv(" + yy + ", 100) + intDiv(" + yy + ", 400) - 32045 - 2440588)"
			leap := "((" + y + " % 4 = 0 AND " + y + " % 100 != 0) OR " + y + " % 400 = 0)"
			valid := m + " >= 1 AND " + m + " <= 12 AND " + day + " >= 1 AND " + day + " <= multiIf(" + m + " = 2, 28 + " + leap + ", " + m + " IN (4, 6, 9, 11), 30, 31)"
			t := "((" + days + " * 86400 + " + sod + " - " + off + " * 60) * 1000000 + " + us + ")"
			return d.lambda([]string{t, ok + " AND " + valid}, func(q []string) string {
				return "if(" + q[1] + " AND " + q[0] + " >= " + fmtInt(minTime) + " AND " + q[0] + " <= " + fmtInt(maxTime) + ", " + q[0] + ", NULL)"
			})
		})
	})
}
