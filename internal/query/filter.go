package query

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/prodex/prodex/internal/schema"
)

// filters compiles a filter list to one boolean SQL expression.
func (c *compiler) filters(field string, fs []Filter, combination string) (string, error) {
	if len(fs) == 0 {
		return c.d.True, nil
	}
	parts := make([]string, len(fs))
	for i, f := range fs {
		e, err := c.filter(fmt.Sprintf("%s[%d]", field, i), f)
		if err != nil {
			return "", err
		}
		parts[i] = "(" + e + ")"
	}
	sep := " AND "
	if strings.EqualFold(combination, "OR") {
		sep = " OR "
	}
	return strings.Join(parts, sep), nil
}

// filter compiles one filter. Negative operators (!=, does-not-…, not-in)
// also match events that lack the field: such an event does not have the
// value.
func (c *compiler) filter(field string, f Filter) (string, error) {
	if !filterOps[f.Op] {
		return "", errorf(field+".op", "unknown filter op %q", f.Op)
	}
	col, ok := c.col(f.Column)
	if !ok {
		switch {
		case f.Column == "":
			return "", errorf(field+".column", "missing")
		case f.Op == "exists":
			return c.d.False, nil
		case f.Op == "does-not-exist":
			return c.d.True, nil
		}
		return "", errorf(field+".column", "unknown column %q", f.Column)
	}
	x := c.x(col.Phys)
	not := func(e string) string { return x + " IS NULL OR NOT (" + e + ")" }
	switch f.Op {
	case "exists":
		return x + " IS NOT NULL", nil
	case "does-not-exist":
		return x + " IS NULL", nil
	case "in", "not-in":
		list, ok := f.Value.([]any)
		if !ok || len(list) == 0 {
			return "", errorf(field+".value", "%s needs a non-empty array", f.Op)
		}
		ps := make([]string, len(list))
		for i, v := range list {
			bv, err := scalar(col, v)
			if err != nil {
				return "", errorf(fmt.Sprintf("%s.value[%d]", field, i), "%v", err)
			}
			ps[i] = c.bind(bv)
		}
		e := c.d.in(x, ps)
		if f.Op == "not-in" {
			return not(e), nil
		}
		return e, nil
	case "starts-with", "does-not-start-with", "ends-with", "does-not-end-with", "contains", "does-not-contain":
		s, err := textValue(f.Value)
		if err != nil {
			return "", errorf(field+".value", "%v", err)
		}
		e := c.d.textMatch(textOps[f.Op], c.d.text(c, x, col.Type), c.bind(s))
		if strings.HasPrefix(f.Op, "does-not") {
			return not(e), nil
		}
		return e, nil
	}
	v, err := scalar(col, f.Value)
	if err != nil {
		return "", errorf(field+".value", "%v", err)
	}
	if f.Op == "!=" {
		return not(x + " = " + c.bind(v)), nil
	}
	return x + " " + f.Op + " " + c.bind(v), nil
}

// scalar converts a filter value to the column's type, so that comparisons
// are numeric on numbers and textual on strings.
func scalar(col schema.Column, v any) (any, error) {
	switch col.Type {
	case schema.Integer, schema.Float:
		switch x := v.(type) {
		case json.Number:
			if col.Type == schema.Integer {
				if n, err := x.Int64(); err == nil {
					return n, nil
				}
			}
			f, err := x.Float64()
			if err != nil {
				return nil, fmt.Errorf("%s is not a number", x)
			}
			return f, nil
		case string:
			if n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64); err == nil && col.Type == schema.Integer {
				return n, nil
			}
			if f, err := strconv.ParseFloat(strings.TrimSpace(x), 64); err == nil {
				return f, nil
			}
			return nil, fmt.Errorf("column %q holds numbers; %q is not one", col.Name, x)
		case float64:
			return x, nil
		}
		return nil, fmt.Errorf("column %q holds numbers; want a number", col.Name)
	case schema.Boolean:
		switch x := v.(type) {
		case bool:
			return x, nil
		case string:
			if b, err := strconv.ParseBool(x); err == nil {
				return b, nil
			}
		}
		return nil, fmt.Errorf("column %q holds booleans; want true or false", col.Name)
	}
	return textValue(v)
}

func textValue(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case json.Number:
		return x.String(), nil
	case bool:
		return strconv.FormatBool(x), nil
	case nil:
		return "", fmt.Errorf("missing")
	}
	return "", fmt.Errorf("want a string, number or boolean")
}

// Predicate is a compiled filter list: a SQL boolean over physical
// columns, its bound values (placeholders $1…) and the columns it reads.
type Predicate struct {
	SQL  string
	Args []any
	Phys []string
}

// CompileFilters compiles filters as a query's filters are compiled, for
// packages that build their own statements (explain). Placeholders are
// numbered from first.
func CompileFilters(field string, fs []Filter, combination string, cat Catalog, first int) (Predicate, error) {
	return compileFilters(duckDB, field, fs, combination, cat, first)
}

// CompileFiltersClickHouse is CompileFilters for ClickHouse SQL, as
// CompileClickHouse compiles filters; clickhouse-go binds the $n
// placeholders.
func CompileFiltersClickHouse(field string, fs []Filter, combination string, cat Catalog, first int) (Predicate, error) {
	return compileFilters(clickHouse, field, fs, combination, cat, first)
}

// CompileFiltersClickHouseTable is CompileFiltersClickHouse over the
// table of a TableCatalog itself: fields are its Expr expressions, not
// the columns of its From subquery, so that a statement reading a
// Distributed table directly aggregates on every shard.
func CompileFiltersClickHouseTable(field string, fs []Filter, combination string, cat TableCatalog, first int) (Predicate, error) {
	return compileFiltersOver(clickHouse, field, fs, combination, cat, cat, first)
}

// CompileSLOEvents compiles the predicate keeping an SLO's eligible, bad
// or good events (e.Events) as a query's slo option does, for packages
// that build their own statements (explain).
func CompileSLOEvents(e *SLOEvents, cat Catalog) (Predicate, error) {
	return compileSLOEvents(duckDB, e, cat)
}

// CompileSLOEventsClickHouse is CompileSLOEvents for ClickHouse SQL over
// the columns of cat's From subquery.
func CompileSLOEventsClickHouse(e *SLOEvents, cat Catalog) (Predicate, error) {
	return compileSLOEvents(clickHouse, e, cat)
}

func compileSLOEvents(d *dialect, e *SLOEvents, cat Catalog) (Predicate, error) {
	c := &compiler{d: d, cat: cat, seen: map[string]bool{}}
	sql, err := c.sloEvents(e)
	if err != nil {
		return Predicate{}, err
	}
	return Predicate{SQL: sql, Phys: c.phys}, nil
}

func compileFilters(d *dialect, field string, fs []Filter, combination string, cat Catalog, first int) (Predicate, error) {
	return compileFiltersOver(d, field, fs, combination, cat, nil, first)
}

func compileFiltersOver(d *dialect, field string, fs []Filter, combination string, cat Catalog, table TableCatalog, first int) (Predicate, error) {
	if err := checkCombination(field+"_combination", combination); err != nil {
		return Predicate{}, err
	}
	c := &compiler{d: d, cat: cat, table: table, seen: map[string]bool{}, args: make([]any, first-1)}
	sql, err := c.filters(field, fs, combination)
	if err != nil {
		return Predicate{}, err
	}
	return Predicate{SQL: sql, Args: c.args[first-1:], Phys: c.phys}, nil
}
