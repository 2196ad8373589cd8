// Package sli compiles an SLI expression, written in CEL (cel.dev), into a
// SQL boolean expression over a dataset's stored columns, so that the
// database counts good and eligible events in bulk — per commit as events
// arrive, and over all stored events for a backfill — with one definition
// of the semantics for both.
//
// The SQL yields TRUE, FALSE, or NULL where evaluating the expression for
// that event would fail: a field the event lacks, a comparison of values of
// different types, a conversion that cannot be made. Callers treat NULL as
// "cannot be evaluated". As in CEL, false && error is false and
// true || error is true, which is SQL's three-valued logic.
//
// Names: an identifier or a dotted chain (status_code, http.status_code)
// is the event field of that full name (events are flattened with dotted
// names); event_time is the event's timestamp. A field the dataset has never
// seen is NULL.
//
// Supported: int, double, string, bool and null literals; == != < <= > >=
// (numbers compare across int and double; == and != between different
// types are false and true); + - * / % and unary - on numbers (mixed int
// and double arithmetic is done in double, where CEL would refuse; integer
// division or modulo by zero is an error); ! && ||; c ? a : b; x in
// [literals]; has(field) (false when the field is absent, even when CEL
// would fail for lack of its parent); startsWith, endsWith, contains, matches (RE2,
// partial match), size; int(), double(), string(); timestamp(text or
// seconds), duration("24h"), timestamp − timestamp, timestamp ± duration and
// comparisons of timestamps and of durations. Anything else is an error
// naming the construct.
//
// Only quoted physical column names and literals rendered by this package
// (numbers by strconv, strings as SQL literals with quotes doubled) appear
// in the SQL: no text of the expression is pasted into it.
package sli

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/types"

	"github.com/prodex/prodex/internal/schema"
)

// Columns is what compilation needs to know of a dataset.
type Columns interface {
	Column(name string) (schema.Column, bool)
}

// EventTime is the name of the event's timestamp in expressions.
const EventTime = "event_time"

var env *cel.Env

func init() {
	var err error
	if env, err = cel.NewEnv(); err != nil {
		panic(err)
	}
}

// Check parses an expression and checks that every construct in it is
// supported, without a dataset.
func Check(expr string) error {
	_, _, err := Compile(expr, nil)
	return err
}

// Compile returns the SQL boolean expression for expr over the dataset's
// columns (nil: no column is known) and the physical columns it reads.
func Compile(expr string, cols Columns) (string, []string, error) {
	if strings.TrimSpace(expr) == "" {
		return "", nil, fmt.Errorf("empty expression")
	}
	parsed, iss := env.Parse(expr)
	if iss != nil && iss.Err() != nil {
		return "", nil, fmt.Errorf("%s", strings.TrimSpace(strings.TrimPrefix(iss.Err().Error(), "ERROR: <input>:")))
	}
	c := &compiler{cols: cols, seen: map[string]bool{}}
	v, err := c.expr(parsed.NativeRep().Expr())
	if err != nil {
		return "", nil, err
	}
	if v.kind != kBool && v.kind != kDyn {
		return "", nil, fmt.Errorf("the expression is %s, not a condition (true or false)", v.kind)
	}
	return v.sql, c.phys, nil
}

// kind is the CEL type of a compiled value.
type kind string

const (
	kInt      kind = "int"
	kDouble   kind = "double"
	kString   kind = "string"
	kBool     kind = "bool"
	kTime     kind = "timestamp" // µs since the epoch
	kDuration kind = "duration"  // µs
	kNull     kind = "null"
	kDyn      kind = "unknown" // a field never seen: always NULL
)

func (k kind) numeric() bool { return k == kInt || k == kDouble }

// val is a compiled sub-expression: SQL text and its type.
type val struct {
	sql  string
	kind kind
	lit  bool // a literal, for `in` lists
}

type compiler struct {
	cols Columns
	phys []string
	seen map[string]bool
}

var nullBool = val{sql: "NULL::BOOLEAN", kind: kDyn}

func (c *compiler) expr(e ast.Expr) (val, error) {
	switch e.Kind() {
	case ast.LiteralKind:
		return literal(e.AsLiteral())
	case ast.IdentKind, ast.SelectKind:
		if e.Kind() == ast.SelectKind && e.AsSelect().IsTestOnly() {
			name, ok := fieldName(e.AsSelect().Operand())
			if !ok {
				return val{}, fmt.Errorf("has() takes a field name")
			}
			f := c.field(name + "." + e.AsSelect().FieldName())
			if f.kind == kDyn {
				return val{sql: "FALSE", kind: kBool}, nil
			}
			return val{sql: "(" + f.sql + " IS NOT NULL)", kind: kBool}, nil
		}
		name, ok := fieldName(e)
		if !ok {
			return val{}, fmt.Errorf("only field names can be selected with '.'")
		}
		return c.field(name), nil
	case ast.CallKind:
		return c.call(e.AsCall())
	case ast.ListKind:
		return val{}, fmt.Errorf("a list can only follow 'in'")
	case ast.ComprehensionKind:
		return val{}, fmt.Errorf("macros such as all(), exists() and map() are not supported")
	}
	return val{}, fmt.Errorf("unsupported construct (%v)", e.Kind())
}

// fieldName turns an identifier or a select chain into a dotted name.
func fieldName(e ast.Expr) (string, bool) {
	switch e.Kind() {
	case ast.IdentKind:
		return e.AsIdent(), true
	case ast.SelectKind:
		s := e.AsSelect()
		if s.IsTestOnly() {
			return "", false
		}
		op, ok := fieldName(s.Operand())
		return op + "." + s.FieldName(), ok
	}
	return "", false
}

func (c *compiler) field(name string) val {
	if name == EventTime {
		return val{sql: "ts", kind: kTime}
	}
	if c.cols == nil {
		return val{sql: "NULL", kind: kDyn}
	}
	col, ok := c.cols.Column(name)
	if !ok {
		return val{sql: "NULL", kind: kDyn}
	}
	if !c.seen[col.Phys] {
		c.seen[col.Phys] = true
		c.phys = append(c.phys, col.Phys)
	}
	k := map[schema.Type]kind{schema.Integer: kInt, schema.Float: kDouble, schema.String: kString, schema.Boolean: kBool}[col.Type]
	return val{sql: `"` + strings.ReplaceAll(col.Phys, `"`, `""`) + `"`, kind: k}
}

func literal(v any) (val, error) {
	switch x := v.(type) {
	case types.Int:
		return val{sql: strconv.FormatInt(int64(x), 10), kind: kInt, lit: true}, nil
	case types.Uint:
		if uint64(x) > math.MaxInt64 {
			return val{}, fmt.Errorf("%d is too large", uint64(x))
		}
		return val{sql: strconv.FormatUint(uint64(x), 10), kind: kInt, lit: true}, nil
	case types.Double:
		f := float64(x)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return val{}, fmt.Errorf("%v is not a usable number", f)
		}
		return val{sql: "(" + strconv.FormatFloat(f, 'g', -1, 64) + ")::DOUBLE", kind: kDouble, lit: true}, nil
	case types.String:
		return stringLit(string(x))
	case types.Bool:
		if x {
			return val{sql: "TRUE", kind: kBool, lit: true}, nil
		}
		return val{sql: "FALSE", kind: kBool, lit: true}, nil
	case types.Null:
		return val{sql: "NULL", kind: kNull, lit: true}, nil
	}
	return val{}, fmt.Errorf("unsupported literal %v", v)
}

func stringLit(s string) (val, error) {
	if strings.ContainsRune(s, 0) {
		return val{}, fmt.Errorf("strings cannot contain NUL")
	}
	return val{sql: "'" + strings.ReplaceAll(s, "'", "''") + "'", kind: kString, lit: true}, nil
}

func (c *compiler) args(cl ast.CallExpr) ([]val, error) {
	var in []ast.Expr
	if cl.IsMemberFunction() {
		in = append(in, cl.Target())
	}
	in = append(in, cl.Args()...)
	out := make([]val, len(in))
	for i, e := range in {
		if cl.FunctionName() == "@in" && i == 1 {
			continue
		}
		v, err := c.expr(e)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

var comparisons = map[string]string{"_==_": "=", "_!=_": "<>", "_<_": "<", "_<=_": "<=", "_>_": ">", "_>=_": ">="}
var arithmetic = map[string]string{"_+_": "+", "_-_": "-", "_*_": "*", "_/_": "/", "_%_": "%"}

func (c *compiler) call(cl ast.CallExpr) (val, error) {
	fn := cl.FunctionName()
	a, err := c.args(cl)
	if err != nil {
		return val{}, err
	}
	switch fn {
	case "_&&_", "_||_":
		op := " AND "
		if fn == "_||_" {
			op = " OR "
		}
		for _, x := range a {
			if x.kind != kBool && x.kind != kDyn {
				return val{}, fmt.Errorf("%s needs conditions, not %s", strings.Trim(fn, "_"), x.kind)
			}
		}
		return val{sql: "(" + a[0].sql + op + a[1].sql + ")", kind: kBool}, nil
	case "!_":
		if a[0].kind != kBool && a[0].kind != kDyn {
			return val{}, fmt.Errorf("! needs a condition, not %s", a[0].kind)
		}
		return val{sql: "(NOT " + a[0].sql + ")", kind: kBool}, nil
	case "-_":
		if !a[0].kind.numeric() && a[0].kind != kDuration && a[0].kind != kDyn {
			return val{}, fmt.Errorf("- needs a number, not %s", a[0].kind)
		}
		return val{sql: "(-" + a[0].sql + ")", kind: a[0].kind}, nil
	case "_?_:_":
		if a[0].kind != kBool && a[0].kind != kDyn {
			return val{}, fmt.Errorf("?: needs a condition, not %s", a[0].kind)
		}
		k := a[1].kind
		if k != a[2].kind {
			switch {
			case k == kDyn || k == kNull:
				k = a[2].kind
			case a[2].kind == kDyn || a[2].kind == kNull:
			case k.numeric() && a[2].kind.numeric():
				k = kDouble
			default:
				return val{}, fmt.Errorf("?: branches are %s and %s", a[1].kind, a[2].kind)
			}
		}
		return val{sql: "(CASE WHEN " + a[0].sql + " IS NULL THEN NULL WHEN " + a[0].sql + " THEN " + a[1].sql + " ELSE " + a[2].sql + " END)", kind: k}, nil
	case "@in":
		return c.in(a[0], cl.Args()[1])
	}
	if op, ok := comparisons[fn]; ok {
		return compare(op, a[0], a[1])
	}
	if op, ok := arithmetic[fn]; ok {
		return arith(op, a[0], a[1])
	}
	return c.function(fn, cl.IsMemberFunction(), a)
}

// compare compiles a comparison.
func compare(op string, x, y val) (val, error) {
	if x.kind == kDyn || y.kind == kDyn {
		return nullBool, nil
	}
	if x.kind == kNull || y.kind == kNull { // CEL: x == null is false for a present field
		if op != "=" && op != "<>" {
			return val{}, fmt.Errorf("null can only be compared with == or !=")
		}
		other := x
		if x.kind == kNull {
			other = y
		}
		res := "FALSE"
		if op == "<>" {
			res = "TRUE"
		}
		if other.kind == kNull {
			res = map[string]string{"=": "TRUE", "<>": "FALSE"}[op]
			return val{sql: res, kind: kBool}, nil
		}
		return val{sql: "(CASE WHEN " + other.sql + " IS NULL THEN NULL ELSE " + res + " END)", kind: kBool}, nil
	}
	same := x.kind == y.kind || (x.kind.numeric() && y.kind.numeric())
	if !same {
		if op == "=" || op == "<>" {
			res := "FALSE"
			if op == "<>" {
				res = "TRUE"
			}
			return val{sql: "(CASE WHEN " + x.sql + " IS NULL OR " + y.sql + " IS NULL THEN NULL ELSE " + res + " END)", kind: kBool}, nil
		}
		return nullBool, nil // ordering values of different types fails
	}
	return val{sql: "(" + x.sql + " " + op + " " + y.sql + ")", kind: kBool}, nil
}

// arith compiles arithmetic on numbers, timestamps and durations.
func arith(op string, x, y val) (val, error) {
	if x.kind == kDyn || y.kind == kDyn {
		return val{sql: "NULL", kind: kDyn}, nil
	}
	switch {
	case x.kind == kTime && y.kind == kTime && op == "-":
		return val{sql: "(" + x.sql + " - " + y.sql + ")", kind: kDuration}, nil
	case x.kind == kTime && y.kind == kDuration && (op == "+" || op == "-"):
		return val{sql: "(" + x.sql + " " + op + " " + y.sql + ")", kind: kTime}, nil
	case x.kind == kDuration && y.kind == kTime && op == "+":
		return val{sql: "(" + x.sql + " + " + y.sql + ")", kind: kTime}, nil
	case x.kind == kDuration && y.kind == kDuration && (op == "+" || op == "-"):
		return val{sql: "(" + x.sql + " " + op + " " + y.sql + ")", kind: kDuration}, nil
	case x.kind == kString && y.kind == kString && op == "+":
		return val{sql: "(" + x.sql + " || " + y.sql + ")", kind: kString}, nil
	case !x.kind.numeric() || !y.kind.numeric():
		return val{}, fmt.Errorf("%s is not defined on %s and %s", op, x.kind, y.kind)
	}
	if x.kind == kInt && y.kind == kInt {
		switch op {
		case "/":
			return val{sql: "(" + x.sql + " // NULLIF(" + y.sql + ", 0))", kind: kInt}, nil
		case "%":
			return val{sql: "(" + x.sql + " % NULLIF(" + y.sql + ", 0))", kind: kInt}, nil
		}
		return val{sql: "(" + x.sql + " " + op + " " + y.sql + ")", kind: kInt}, nil
	}
	if op == "%" {
		return val{}, fmt.Errorf("%% is defined on integers only")
	}
	return val{sql: "(CAST(" + x.sql + " AS DOUBLE) " + op + " " + y.sql + ")", kind: kDouble}, nil
}

// in compiles `x in [literals]`.
func (c *compiler) in(x val, list ast.Expr) (val, error) {
	if list.Kind() != ast.ListKind {
		return val{}, fmt.Errorf("'in' needs a list of literals, e.g. status_code in [500, 503]")
	}
	var items []string
	for _, e := range list.AsList().Elements() {
		if e.Kind() != ast.LiteralKind {
			return val{}, fmt.Errorf("'in' needs a list of literals")
		}
		v, err := literal(e.AsLiteral())
		if err != nil {
			return val{}, err
		}
		if x.kind != kDyn && v.kind != x.kind && !(v.kind.numeric() && x.kind.numeric()) {
			continue // a value of another type never equals x
		}
		items = append(items, v.sql)
	}
	if x.kind == kDyn {
		return nullBool, nil
	}
	if len(items) == 0 {
		return val{sql: "(CASE WHEN " + x.sql + " IS NULL THEN NULL ELSE FALSE END)", kind: kBool}, nil
	}
	return val{sql: "(" + x.sql + " IN (" + strings.Join(items, ", ") + "))", kind: kBool}, nil
}

// function compiles the supported functions and methods.
func (c *compiler) function(fn string, member bool, a []val) (val, error) {
	want := func(n int, kinds ...kind) error {
		if len(a) != n {
			return fmt.Errorf("%s takes %d argument(s)", fn, n-boolInt(member))
		}
		for i, k := range kinds {
			if a[i].kind != k && a[i].kind != kDyn {
				return fmt.Errorf("%s: argument %d is %s, want %s", fn, i+1-boolInt(member), a[i].kind, k)
			}
		}
		return nil
	}
	anyDyn := func() bool {
		for _, x := range a {
			if x.kind == kDyn {
				return true
			}
		}
		return false
	}
	switch fn {
	case "startsWith", "endsWith", "contains", "matches":
		if !member {
			return val{}, fmt.Errorf("use %s as a method: field.%s(\"…\")", fn, fn)
		}
		if err := want(2, kString, kString); err != nil {
			return val{}, err
		}
		if anyDyn() {
			return nullBool, nil
		}
		sqlFn := map[string]string{"startsWith": "starts_with", "endsWith": "suffix", "contains": "contains", "matches": "regexp_matches"}[fn]
		return val{sql: sqlFn + "(" + a[0].sql + ", " + a[1].sql + ")", kind: kBool}, nil
	case "size":
		if err := want(1, kString); err != nil {
			return val{}, err
		}
		if anyDyn() {
			return val{sql: "NULL", kind: kDyn}, nil
		}
		return val{sql: "length(" + a[0].sql + ")", kind: kInt}, nil
	case "int", "double", "string":
		if len(a) != 1 {
			return val{}, fmt.Errorf("%s takes one argument", fn)
		}
		x := a[0]
		if x.kind == kDyn {
			return val{sql: "NULL", kind: kDyn}, nil
		}
		switch fn {
		case "int":
			switch x.kind {
			case kInt:
				return x, nil
			case kDouble:
				return val{sql: "TRY_CAST(trunc(" + x.sql + ") AS BIGINT)", kind: kInt}, nil
			case kString:
				return val{sql: "TRY_CAST(" + x.sql + " AS BIGINT)", kind: kInt}, nil
			case kTime:
				return val{sql: "(" + x.sql + " // 1000000)", kind: kInt}, nil
			}
		case "double":
			switch x.kind {
			case kInt, kDouble, kString:
				return val{sql: "TRY_CAST(" + x.sql + " AS DOUBLE)", kind: kDouble}, nil
			}
		case "string":
			switch x.kind {
			case kString:
				return x, nil
			case kInt, kDouble, kBool:
				return val{sql: "lower(CAST(" + x.sql + " AS VARCHAR))", kind: kString}, nil
			}
		}
		return val{}, fmt.Errorf("%s() of %s is not supported", fn, x.kind)
	case "timestamp":
		if len(a) != 1 {
			return val{}, fmt.Errorf("timestamp takes one argument")
		}
		switch a[0].kind {
		case kDyn:
			return val{sql: "NULL", kind: kDyn}, nil
		case kString:
			return val{sql: "epoch_us(TRY_CAST(" + a[0].sql + " AS TIMESTAMPTZ))", kind: kTime}, nil
		case kInt:
			return val{sql: "(" + a[0].sql + " * 1000000)", kind: kTime}, nil
		case kTime:
			return a[0], nil
		}
		return val{}, fmt.Errorf("timestamp() of %s is not supported", a[0].kind)
	case "duration":
		if len(a) != 1 || !a[0].lit || a[0].kind != kString {
			return val{}, fmt.Errorf(`duration takes a literal such as duration("24h")`)
		}
		s := strings.ReplaceAll(strings.Trim(a[0].sql, "'"), "''", "'")
		d, err := time.ParseDuration(s)
		if err != nil {
			return val{}, fmt.Errorf("duration(%q): %v", s, err)
		}
		return val{sql: strconv.FormatInt(d.Microseconds(), 10), kind: kDuration}, nil
	}
	return val{}, fmt.Errorf("function %s is not supported", fn)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
