// Package schema describes the columns of a dataset: the four value types an
// event field can have, and the rules that reconcile a value with a column
// whose type was set by earlier events (schema on write).
package schema

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// Type is a column's inferred type.
type Type string

// Column types, in the order a column may be promoted: integer → float →
// string, and boolean → string. String is the type every value fits.
const (
	Integer Type = "integer"
	Float   Type = "float"
	String  Type = "string"
	Boolean Type = "boolean"
)

// Valid reports whether t is a known type.
func (t Type) Valid() bool {
	switch t {
	case Integer, Float, String, Boolean:
		return true
	}
	return false
}

// Numeric reports whether values of t are numbers.
func (t Type) Numeric() bool { return t == Integer || t == Float }

// Column is one field of a dataset as stored.
type Column struct {
	Name     string    `json:"key_name"`
	Type     Type      `json:"type"`
	Phys     string    `json:"-"` // physical column name in the store, never user input
	Created  time.Time `json:"created_at"`
	LastSeen time.Time `json:"last_written"`
}

// TypeOf infers the column type of a decoded value. Values are int64,
// float64, string or bool; nil has no type.
func TypeOf(v any) (Type, bool) {
	switch v.(type) {
	case int64:
		return Integer, true
	case float64:
		return Float, true
	case string:
		return String, true
	case bool:
		return Boolean, true
	}
	return "", false
}

// Coerce reconciles value v with a column of type col. It returns the value to
// store and, when the value cannot be represented without loss, the type the
// column must be promoted to first (then Coerce is called again with it).
//
// The rules, documented in docs/api.md:
//   - integer column, float value: integral floats become integers; others
//     promote the column to float.
//   - integer or float column, string value: a string written as a JSON number
//     (an optional '+' allowed) is stored as that number (on an integer column
//     a non-integral one promotes the column to float); any other string
//     promotes the column to string.
//   - integer or float column, boolean value: stored as 1 or 0.
//   - boolean column, string "true"/"false": stored as the boolean; any other
//     string, or a number, promotes the column to string.
//   - string column: numbers and booleans are stored as their JSON text
//     (floats formatted as encoding/json does).
//
// No value is ever dropped.
func Coerce(col Type, v any) (out any, promote Type) {
	switch col {
	case String:
		switch x := v.(type) {
		case string:
			return x, ""
		case int64:
			return strconv.FormatInt(x, 10), ""
		case float64:
			return jsonFloat(x), ""
		case bool:
			return strconv.FormatBool(x), ""
		}
	case Integer:
		switch x := v.(type) {
		case int64:
			return x, ""
		case float64:
			if x == math.Trunc(x) && math.Abs(x) < 1<<63 {
				return int64(x), ""
			}
			return nil, Float
		case bool:
			return boolInt(x), ""
		case string:
			if !decimal(x) {
				return nil, String
			}
			if i, err := strconv.ParseInt(x, 10, 64); err == nil {
				return i, ""
			}
			if f, err := strconv.ParseFloat(x, 64); err == nil && !math.IsInf(f, 0) {
				return Coerce(Integer, f)
			}
			return nil, String
		}
	case Float:
		switch x := v.(type) {
		case float64:
			return x, ""
		case int64:
			return float64(x), ""
		case bool:
			return float64(boolInt(x)), ""
		case string:
			if f, err := strconv.ParseFloat(x, 64); err == nil && decimal(x) && !math.IsInf(f, 0) {
				return f, ""
			}
			return nil, String
		}
	case Boolean:
		switch x := v.(type) {
		case bool:
			return x, ""
		case string:
			if b, err := strconv.ParseBool(x); err == nil && (x == "true" || x == "false") {
				return b, ""
			}
			return nil, String
		case int64, float64:
			return nil, String
		}
	}
	panic(fmt.Sprintf("schema: cannot coerce %T to %q", v, col))
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// decimal reports whether s is a number as JSON writes one, with an
// optional leading '+': Go's other number syntaxes ("0x1p4", "1_000",
// "Inf") stay strings.
func decimal(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if digits() == 0 {
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '-' || s[i] == '+') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(s)
}

// jsonFloat formats a float as encoding/json does: plain decimals between
// 1e-6 and 1e21, exponent form outside.
func jsonFloat(f float64) string {
	abs := math.Abs(f)
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		s := strconv.FormatFloat(f, 'e', -1, 64)
		// 1e-07, not 1e-07's JSON form 1e-7
		if n := len(s); n >= 4 && s[n-4] == 'e' && s[n-2] == '0' {
			s = s[:n-2] + s[n-1:]
		}
		return s
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}
