// Package sli compiles an SLI expression, written in CEL (cel.dev), into a
// DuckDB SQL boolean expression over a dataset's stored columns, so that the
// database counts good and eligible events in bulk — per commit as events
// arrive, and over all stored events for a backfill — with one definition
// of the semantics for both. CompileClickHouse writes the same expression
// for the ClickHouse store, with the same answers (see there for the few
// texts it reads differently).
//
// The SQL yields TRUE, FALSE, or NULL where evaluating the expression with
// CEL on that event (its fields as stored) would fail: a field the event
// lacks, an operation on values of the wrong types, a conversion that cannot
// be made, an integer overflow or division by zero. Callers treat NULL as
// "cannot be evaluated". CEL's false && error = false and true || error =
// true are SQL's three-valued logic. The SQL never raises an error itself:
// DuckDB does not short-circuit, so a failing row must not fail the query.
//
// Names: an identifier or a dotted chain (status_code, http.status_code) is
// the event field of that full name, events being flattened with dotted
// names; a field the dataset has never seen is NULL, and so is a name that
// is only a prefix of others (a map in CEL). event_time is the event's
// timestamp (a CEL timestamp), hiding any field of that name.
//
// Supported, with CEL's meaning unless noted:
//   - int, uint (as int), double, string, bool literals; null only in
//     == and != (x == null is false for a present field);
//   - == != < <= > >=: numbers compare across int and double; == and !=
//     between other different types are false and true; ordering them is
//     an error;
//   - + - * / % and unary - on ints, on doubles (no %), string + string;
//     mixing int and double is an error, as in CEL;
//   - ! && || and c ? a : b;
//   - x in [literals];
//   - has(a.b): false when the field is absent, even where CEL would fail
//     because no field under a. is present (events are flat);
//   - startsWith, endsWith, contains, size on strings; matches with a
//     literal RE2 pattern (a partial match);
//   - int() of int, double, string, timestamp (Unix seconds) and duration
//     (nanoseconds); double() of numbers and decimal text; string() of
//     strings, ints and bools;
//   - timestamp() of RFC 3339 text or Unix seconds; duration() of a literal
//     ("24h", as Go's time.ParseDuration); timestamp − timestamp,
//     timestamp ± duration, duration ± duration and comparisons.
//
// Timestamps and durations are BIGINT microseconds, so precision below a
// microsecond is lost. double() does not convert Go's hexadecimal, inf and
// nan texts. Where a field's stored type makes a construct one this package
// cannot express (string() of a double or a timestamp, ?: branches of
// different types, arithmetic on ?: branches of int and double) the result
// is NULL: Compile fails only for what Check rejects, whatever the dataset.
// Anything else — macros (all, exists, map, filter…), lists and maps
// outside `in`, indexing, other functions — is an error naming it.
//
// Only quoted physical column names, ts, and literals rendered by this
// package (numbers by strconv, strings quoted with quotes doubled) appear
// in the SQL: no text of the expression is pasted into it.
package sli

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/ast"
	celtypes "cel.dev/cel-go/common/types"

	"github.com/prodex/prodex/internal/schema"
)

// Columns is what compilation needs to know of a dataset (duckdb.Catalog
// satisfies it).
type Columns interface {
	Column(name string) (schema.Column, bool)
}

// EventTime is the name of the event's timestamp in expressions.
const EventTime = "event_time"

// baseEnv is CEL's standard library; each expression's names are declared
// by extending it. Macro calls are tracked to name them in errors.
var baseEnv = func() *cel.Env {
	env, err := cel.NewEnv(cel.CrossTypeNumericComparisons(true), cel.EnableMacroCallTracking())
	if err != nil {
		panic(err)
	}
	return env
}()

// Check parses and type-checks an expression without a dataset (every
// field is dynamic). The error says what is wrong and at which column.
// An expression that passes Check compiles against any dataset.
func Check(expr string) error {
	_, _, err := Compile(expr, nil)
	return err
}

// Compile returns a DuckDB SQL boolean expression equivalent to expr for
// one event row, and the physical columns it reads. cols nil means no field
// is known.
func Compile(expr string, cols Columns) (sql string, phys []string, err error) {
	return compile(duckDB{}, expr, cols)
}

func compile(d dialect, expr string, cols Columns) (string, []string, error) {
	checked, err := check(expr)
	if err != nil {
		return "", nil, err
	}
	c := &compiler{d: d, cols: cols, src: checked.NativeRep().SourceInfo(), seen: map[string]bool{}}
	v, err := c.expr(checked.NativeRep().Expr())
	if err != nil {
		return "", nil, err
	}
	return c.bool(v), c.phys, nil
}

// check parses expr and type-checks it with every name it uses declared
// dynamic, except event_time.
func check(expr string) (*cel.Ast, error) {
	if strings.TrimSpace(expr) == "" {
		return nil, errors.New("empty expression")
	}
	parsed, iss := baseEnv.Parse(expr)
	if iss.Err() != nil {
		return nil, issuesError(iss)
	}
	var decls []cel.EnvOption
	declared := map[string]bool{}
	ast.PreOrderVisit(parsed.NativeRep().Expr(), ast.NewExprVisitor(func(e ast.Expr) {
		if e.Kind() != ast.IdentKind || declared[e.AsIdent()] {
			return
		}
		name := e.AsIdent()
		declared[name] = true
		t := cel.DynType
		if name == EventTime {
			t = cel.TimestampType
		}
		decls = append(decls, cel.Variable(name, t))
	}))
	env, err := baseEnv.Extend(decls...)
	if err != nil {
		return nil, err
	}
	checked, iss := env.Check(parsed)
	if iss.Err() != nil {
		return nil, issuesError(iss)
	}
	if k := checked.OutputType().Kind(); k != celtypes.BoolKind && k != celtypes.DynKind {
		return nil, fmt.Errorf("the expression is of type %s, not a condition (true or false)", checked.OutputType())
	}
	return checked, nil
}

func issuesError(iss *cel.Issues) error {
	var msgs []string
	for _, e := range iss.Errors() {
		msgs = append(msgs, position(e.Location.Line(), e.Location.Column())+e.Message)
	}
	return errors.New(strings.Join(msgs, "; "))
}

// position formats a CEL location (1-based line, 0-based column).
func position(line, col int) string {
	if line <= 1 {
		return fmt.Sprintf("column %d: ", col+1)
	}
	return fmt.Sprintf("line %d, column %d: ", line, col+1)
}

// kind is the CEL type of a compiled value.
type kind uint8

const (
	unknown   kind = iota // the value cannot be computed: its SQL is NULL
	kInt                  // BIGINT
	kDouble               // DOUBLE
	kNum                  // int or double depending on the row, as DOUBLE
	kString               // VARCHAR
	kBool                 // BOOLEAN
	kTime                 // timestamp, BIGINT µs since the epoch
	kDuration             // BIGINT µs
	kNull                 // the null literal
)

func (k kind) numeric() bool { return k == kInt || k == kDouble || k == kNum }

// val is a compiled sub-expression.
type val struct {
	sql    string
	kind   kind
	lit    any  // the Go value of a literal, else nil
	stored bool // a stored column: never NaN, since ingest rejects NaN
	// atom: a column, ts or a literal, cheap to repeat in the SQL.
	atom bool
}

var null = val{sql: "NULL", kind: unknown, atom: true}

type compiler struct {
	d    dialect
	cols Columns
	src  *ast.SourceInfo
	phys []string
	seen map[string]bool
}

// bool returns v as a SQL boolean: NULL unless v is one.
func (c *compiler) bool(v val) string {
	if v.kind != kBool {
		return c.d.nullBool()
	}
	return v.sql
}

func (c *compiler) errorf(e ast.Expr, format string, args ...any) error {
	loc := c.src.GetStartLocation(e.ID())
	return errors.New(position(loc.Line(), loc.Column()) + fmt.Sprintf(format, args...))
}

func (c *compiler) expr(e ast.Expr) (val, error) {
	switch e.Kind() {
	case ast.LiteralKind:
		return c.literal(e)
	case ast.IdentKind, ast.SelectKind:
		if e.Kind() == ast.SelectKind && e.AsSelect().IsTestOnly() {
			name, ok := fieldName(e.AsSelect().Operand())
			if !ok {
				return val{}, c.errorf(e, "has() takes a field name such as has(http.route)")
			}
			f := c.field(name + "." + e.AsSelect().FieldName())
			if f.kind == unknown {
				return val{sql: c.d.boolLit(false), kind: kBool}, nil
			}
			return val{sql: c.d.isNotNull(f), kind: kBool}, nil
		}
		name, ok := fieldName(e)
		if !ok {
			return val{}, c.errorf(e, "only field names can be selected with '.'")
		}
		return c.field(name), nil
	case ast.CallKind:
		return c.call(e)
	case ast.ListKind:
		return val{}, c.errorf(e, "a list is only supported after 'in'")
	case ast.MapKind, ast.StructKind:
		return val{}, c.errorf(e, "maps and messages are not supported")
	case ast.ComprehensionKind:
		if m, ok := c.src.GetMacroCall(e.ID()); ok && m.Kind() == ast.CallKind {
			return val{}, c.errorf(e, "macro %s() is not supported", m.AsCall().FunctionName())
		}
		return val{}, c.errorf(e, "macros are not supported")
	}
	return val{}, c.errorf(e, "unsupported construct")
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

var kinds = map[schema.Type]kind{schema.Integer: kInt, schema.Float: kDouble, schema.String: kString, schema.Boolean: kBool}

func (c *compiler) field(name string) val {
	if name == EventTime {
		return val{sql: "ts", kind: kTime, atom: true}
	}
	if c.cols == nil {
		return null
	}
	col, ok := c.cols.Column(name)
	if !ok || kinds[col.Type] == unknown {
		return null
	}
	if !c.seen[col.Phys] {
		c.seen[col.Phys] = true
		c.phys = append(c.phys, col.Phys)
	}
	return val{sql: c.d.column(col.Phys), kind: kinds[col.Type], stored: true, atom: true}
}

func (c *compiler) literal(e ast.Expr) (val, error) {
	switch x := e.AsLiteral().(type) {
	case celtypes.Int:
		return c.intLit(int64(x)), nil
	case celtypes.Uint:
		if uint64(x) > math.MaxInt64 {
			return val{}, c.errorf(e, "%du is too large", uint64(x))
		}
		return c.intLit(int64(x)), nil
	case celtypes.Double:
		f := float64(x)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return val{}, c.errorf(e, "%v is not a finite number", f)
		}
		return val{sql: c.d.doubleLit(f), kind: kDouble, lit: f, atom: true}, nil
	case celtypes.String:
		s := string(x)
		if strings.ContainsRune(s, 0) {
			return val{}, c.errorf(e, "strings cannot contain NUL")
		}
		return val{sql: c.d.stringLit(s), kind: kString, lit: s, atom: true}, nil
	case celtypes.Bool:
		return val{sql: c.d.boolLit(bool(x)), kind: kBool, lit: bool(x), atom: true}, nil
	case celtypes.Null:
		return val{sql: "NULL", kind: kNull, lit: x, atom: true}, nil
	}
	return val{}, c.errorf(e, "%s literals are not supported", e.AsLiteral().Type())
}

func (c *compiler) intLit(i int64) val {
	return val{sql: c.d.intLit(i), kind: kInt, lit: i, atom: true}
}

var (
	comparisons = map[string]string{"_==_": "=", "_!=_": "<>", "_<_": "<", "_<=_": "<=", "_>_": ">", "_>=_": ">="}
	arithmetic  = map[string]string{"_+_": "+", "_-_": "-", "_*_": "*", "_/_": "/", "_%_": "%"}
	operators   = map[string]string{"_[_]": "indexing ([])", "_?._": "optional selection (.?)", "_[?_]": "optional indexing ([?])"}
)

func (c *compiler) call(e ast.Expr) (val, error) {
	cl := e.AsCall()
	fn := cl.FunctionName()
	in := cl.Args()
	if cl.IsMemberFunction() {
		in = append([]ast.Expr{cl.Target()}, in...)
	}
	if fn == "@in" {
		in = in[:1] // the list is compiled by c.in
	}
	a := make([]val, len(in))
	for i, x := range in {
		v, err := c.expr(x)
		if err != nil {
			return val{}, err
		}
		if v.kind == kNull && fn != "_==_" && fn != "_!=_" {
			return val{}, c.errorf(x, "null is only supported with == and !=")
		}
		a[i] = v
	}
	if op, ok := comparisons[fn]; ok {
		return c.compare(op, a[0], a[1]), nil
	}
	if op, ok := arithmetic[fn]; ok {
		return c.arith(op, a[0], a[1]), nil
	}
	switch fn {
	case "_&&_":
		return val{sql: c.d.and(c.bool(a[0]), c.bool(a[1])), kind: kBool}, nil
	case "_||_":
		return val{sql: c.d.or(c.bool(a[0]), c.bool(a[1])), kind: kBool}, nil
	case "!_":
		if a[0].kind != kBool {
			return null, nil
		}
		return val{sql: c.d.not(a[0]), kind: kBool}, nil
	case "-_":
		switch a[0].kind {
		case kInt, kDouble:
			return val{sql: c.d.neg(a[0]), kind: a[0].kind}, nil
		}
		return null, nil
	case "_?_:_":
		return c.ternary(a[0], a[1], a[2]), nil
	case "@in":
		return c.in(a[0], cl.Args()[1])
	}
	return c.function(e, fn, a)
}

// compare compiles a comparison (op in SQL: = <> < <= > >=).
func (c *compiler) compare(op string, x, y val) val {
	if x.kind == unknown || y.kind == unknown {
		return null
	}
	// CEL's equality is false, not an error, between different types.
	differ := c.d.boolLit(op == "<>")
	switch {
	case x.kind == kNull && y.kind == kNull:
		return val{sql: c.d.boolLit(op == "="), kind: kBool}
	case x.kind == kNull:
		return whenPresent(c.d, differ, y)
	case y.kind == kNull:
		return whenPresent(c.d, differ, x)
	case x.kind == y.kind || x.kind.numeric() && y.kind.numeric():
		return val{sql: c.d.compare(op, x, y), kind: kBool}
	case op == "=" || op == "<>":
		return whenPresent(c.d, differ, x, y)
	}
	return null // ordering values of different types
}

// whenPresent is the boolean res, or NULL where one of vs that is not a
// literal is NULL.
func whenPresent(d dialect, res string, vs ...val) val {
	var xs []val
	for _, v := range vs {
		if v.lit == nil {
			xs = append(xs, v)
		}
	}
	if len(xs) == 0 {
		return val{sql: res, kind: kBool}
	}
	return val{sql: d.whenPresent(res, xs), kind: kBool}
}

// arith compiles arithmetic (op as in CEL: + - * / %). Integer results
// are NULL on overflow and division by zero, not a failed query.
func (c *compiler) arith(op string, x, y val) val {
	var k kind
	switch {
	case x.kind == kInt && y.kind == kInt:
		k = kInt
	case x.kind == kDouble && y.kind == kDouble && op != "%":
		k = kDouble
	case x.kind == kString && y.kind == kString && op == "+":
		k = kString
	case x.kind == kTime && y.kind == kTime && op == "-":
		k = kDuration
	case x.kind == kTime && y.kind == kDuration && (op == "+" || op == "-"),
		x.kind == kDuration && y.kind == kTime && op == "+":
		k = kTime
	case x.kind == kDuration && y.kind == kDuration && (op == "+" || op == "-"):
		k = kDuration
	default:
		return null
	}
	return val{sql: c.d.arith(op, k, x, y), kind: k}
}

func (c *compiler) ternary(cond, x, y val) val {
	if cond.kind != kBool {
		return null
	}
	k := x.kind
	switch {
	case x.kind == y.kind:
	case x.kind == unknown:
		k = y.kind
	case y.kind == unknown:
	case x.kind.numeric() && y.kind.numeric():
		k = kNum
	default:
		return null // a value of either type: not expressible
	}
	if k == unknown {
		return null
	}
	return val{sql: c.d.ternary(cond, x, y, k), kind: k}
}

// in compiles `x in [literals]`.
func (c *compiler) in(x val, list ast.Expr) (val, error) {
	if list.Kind() != ast.ListKind {
		return val{}, c.errorf(list, "'in' needs a list of literals, e.g. status_code in [500, 503]")
	}
	var items []val
	for _, e := range list.AsList().Elements() {
		if e.Kind() != ast.LiteralKind {
			return val{}, c.errorf(e, "'in' needs a list of literals")
		}
		v, err := c.literal(e)
		if err != nil {
			return val{}, err
		}
		if v.kind == x.kind || v.kind.numeric() && x.kind.numeric() {
			items = append(items, v) // values of other types never equal x
		}
	}
	switch {
	case x.kind == unknown:
		return null, nil
	case len(items) == 0:
		return whenPresent(c.d, c.d.boolLit(false), x), nil
	}
	return val{sql: c.d.in(x, items), kind: kBool}, nil
}

// dialect writes the SQL of one engine. The compiler decides the CEL kind
// of every value and which operations are defined; a dialect only renders
// them, with the semantics in the package doc. Operands are compiled
// values; kinds passed are those the compiler found.
type dialect interface {
	column(phys string) string
	intLit(i int64) string
	doubleLit(f float64) string
	stringLit(s string) string
	boolLit(b bool) string
	// nullBool is a NULL boolean.
	nullBool() string
	isNotNull(x val) string
	// whenPresent is res (a boolean literal), or NULL where one of xs is.
	whenPresent(res string, xs []val) string
	// and, or and not follow SQL's (and CEL's) three-valued logic.
	and(x, y string) string
	or(x, y string) string
	not(x val) string
	// neg is -x of an int or a double.
	neg(x val) string
	// compare is x op y (= <> < <= > >=) of values of one kind, or of two
	// numbers.
	compare(op string, x, y val) string
	// arith is x op y (+ - * / % as in CEL), of result kind k.
	arith(op string, k kind, x, y val) string
	// ternary is cond ? x : y, of kind k (kNum: x and y are numbers of
	// different kinds, read as doubles); one of x and y may be NULL.
	ternary(cond, x, y val, k kind) string
	// in is x among the literals items (not empty, of x's kind or numbers).
	in(x val, items []val) string
	// text is startsWith, endsWith or contains of strings.
	text(fn string, x, y val) string
	// matches is a partial match of a string with an RE2 pattern that
	// Go's regexp accepts.
	matches(x val, pattern string) string
	// size is a string's length in code points.
	size(x val) string
	// toInt is int() of a double, a number, a string, a timestamp or a
	// duration.
	toInt(x val) string
	// toDouble is double() of a number or a string.
	toDouble(x val) string
	// toString is string() of an int or a bool.
	toString(x val) string
	// toTime is timestamp() of a (non-literal) string or of an int.
	toTime(x val) string
}
