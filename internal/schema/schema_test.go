package schema

import (
	"math"
	"testing"
)

func TestTypeOf(t *testing.T) {
	tests := []struct {
		name string
		v    any
		want Type
		ok   bool
	}{
		{"int64", int64(42), Integer, true},
		{"float64", 1.5, Float, true},
		{"string", "x", String, true},
		{"empty string", "", String, true},
		{"bool", true, Boolean, true},
		{"nil", nil, "", false},
		{"int is not int64", 42, "", false},
		{"int32", int32(1), "", false},
		{"float32", float32(1), "", false},
		{"uint64", uint64(1), "", false},
		{"slice", []any{1}, "", false},
		{"map", map[string]any{}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := TypeOf(tt.v)
			if got != tt.want || ok != tt.ok {
				t.Fatalf("TypeOf(%#v) = %q, %v; want %q, %v", tt.v, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestTypeValidNumeric(t *testing.T) {
	tests := []struct {
		t       Type
		valid   bool
		numeric bool
	}{
		{Integer, true, true},
		{Float, true, true},
		{String, true, false},
		{Boolean, true, false},
		{"", false, false},
		{"int", false, false},
		{"Integer", false, false},
	}
	for _, tt := range tests {
		if got := tt.t.Valid(); got != tt.valid {
			t.Errorf("%q.Valid() = %v, want %v", tt.t, got, tt.valid)
		}
		if got := tt.t.Numeric(); got != tt.numeric {
			t.Errorf("%q.Numeric() = %v, want %v", tt.t, got, tt.numeric)
		}
	}
}

// sameValue compares Coerce outputs exactly: same dynamic type, same value,
// and for floats the same bit pattern (so -0 and +0 differ).
func sameValue(a, b any) bool {
	switch x := a.(type) {
	case float64:
		y, ok := b.(float64)
		return ok && math.Float64bits(x) == math.Float64bits(y)
	default:
		return a == b
	}
}

func TestCoerce(t *testing.T) {
	negZero := math.Copysign(0, -1)
	tests := []struct {
		name    string
		col     Type
		v       any
		out     any
		promote Type
	}{
		// Integer column.
		{"int/int", Integer, int64(7), int64(7), ""},
		{"int/negative int", Integer, int64(-7), int64(-7), ""},
		{"int/max int64", Integer, int64(math.MaxInt64), int64(math.MaxInt64), ""},
		{"int/integral float", Integer, 3.0, int64(3), ""},
		{"int/negative integral float", Integer, -12.0, int64(-12), ""},
		{"int/zero float", Integer, 0.0, int64(0), ""},
		{"int/negative zero float", Integer, negZero, int64(0), ""},
		{"int/large integral float below 2^63", Integer, 1e18, int64(1e18), ""},
		{"int/non-integral float", Integer, 3.5, nil, Float},
		{"int/small fraction", Integer, 1e-9, nil, Float},
		{"int/huge float 1e300", Integer, 1e300, nil, Float},
		{"int/-1e300", Integer, -1e300, nil, Float},
		{"int/float 2^63", Integer, math.Exp2(63), nil, Float},
		// -2^63 fits in int64, but the |x| < 2^63 bound rejects it.
		{"int/float -2^63", Integer, -math.Exp2(63), nil, Float},
		{"int/float NaN", Integer, math.NaN(), nil, Float},
		{"int/float +Inf", Integer, math.Inf(1), nil, Float},
		{"int/float -Inf", Integer, math.Inf(-1), nil, Float},
		{"int/true", Integer, true, int64(1), ""},
		{"int/false", Integer, false, int64(0), ""},
		{"int/integer string", Integer, "42", int64(42), ""},
		{"int/signed integer string", Integer, "+5", int64(5), ""},
		{"int/negative integer string", Integer, "-42", int64(-42), ""},
		{"int/string -0", Integer, "-0", int64(0), ""},
		{"int/string min int64", Integer, "-9223372036854775808", int64(math.MinInt64), ""},
		{"int/string 1e3", Integer, "1e3", int64(1000), ""},
		{"int/string 1E3", Integer, "1E3", int64(1000), ""},
		{"int/string 2.0", Integer, "2.0", int64(2), ""},
		{"int/string 5.", Integer, "5.", nil, String},
		{"int/string -0.0", Integer, "-0.0", int64(0), ""},
		// A numeric string that is not integral promotes to float, not string.
		{"int/string 2.5", Integer, "2.5", nil, Float},
		{"int/string .5", Integer, ".5", nil, String},
		{"int/string 1e300", Integer, "1e300", nil, Float},
		{"int/string 2^63", Integer, "9223372036854775808", nil, Float},
		{"int/string 1e400 (out of range)", Integer, "1e400", nil, String},
		{"int/string NaN", Integer, "NaN", nil, String},
		{"int/string nan", Integer, "nan", nil, String},
		{"int/string Inf", Integer, "Inf", nil, String},
		{"int/string -Inf", Integer, "-Inf", nil, String},
		{"int/string Infinity", Integer, "Infinity", nil, String},
		// Only JSON's number syntax counts: Go's other spellings stay strings.
		{"int/string hex float 0x1p4", Integer, "0x1p4", nil, String},
		{"int/string underscores 1_000", Integer, "1_000", nil, String},
		{"int/string hex int 0x10", Integer, "0x10", nil, String},
		{"int/string leading space", Integer, " 12", nil, String},
		{"int/string trailing space", Integer, "12 ", nil, String},
		{"int/empty string", Integer, "", nil, String},
		{"int/word", Integer, "abc", nil, String},
		{"int/string true", Integer, "true", nil, String},

		// Float column.
		{"float/float", Float, 2.5, 2.5, ""},
		{"float/negative zero", Float, negZero, negZero, ""},
		{"float/1e300", Float, 1e300, 1e300, ""},
		{"float/NaN value kept", Float, math.NaN(), math.NaN(), ""},
		{"float/int", Float, int64(3), 3.0, ""},
		{"float/max int64", Float, int64(math.MaxInt64), float64(math.MaxInt64), ""},
		{"float/true", Float, true, 1.0, ""},
		{"float/false", Float, false, 0.0, ""},
		{"float/string 2.5", Float, "2.5", 2.5, ""},
		{"float/string 42", Float, "42", 42.0, ""},
		{"float/string 1e3", Float, "1e3", 1000.0, ""},
		{"float/string 1e300", Float, "1e300", 1e300, ""},
		{"float/string -0", Float, "-0", negZero, ""},
		{"float/string 1e400", Float, "1e400", nil, String},
		{"float/string NaN", Float, "NaN", nil, String},
		{"float/string Inf", Float, "Inf", nil, String},
		{"float/string -Inf", Float, "-Inf", nil, String},
		{"float/string +Inf", Float, "+Inf", nil, String},
		{"float/empty string", Float, "", nil, String},
		{"float/word", Float, "abc", nil, String},

		// Boolean column.
		{"bool/true", Boolean, true, true, ""},
		{"bool/false", Boolean, false, false, ""},
		{"bool/string true", Boolean, "true", true, ""},
		{"bool/string false", Boolean, "false", false, ""},
		{"bool/string True", Boolean, "True", nil, String},
		{"bool/string TRUE", Boolean, "TRUE", nil, String},
		{"bool/string t", Boolean, "t", nil, String},
		{"bool/string 1", Boolean, "1", nil, String},
		{"bool/string 0", Boolean, "0", nil, String},
		{"bool/string yes", Boolean, "yes", nil, String},
		{"bool/empty string", Boolean, "", nil, String},
		{"bool/int 1", Boolean, int64(1), nil, String},
		{"bool/int 0", Boolean, int64(0), nil, String},
		{"bool/float", Boolean, 1.0, nil, String},

		// String column.
		{"string/string", String, "hello", "hello", ""},
		{"string/empty string", String, "", "", ""},
		{"string/int", String, int64(42), "42", ""},
		{"string/negative int", String, int64(-42), "-42", ""},
		{"string/min int64", String, int64(math.MinInt64), "-9223372036854775808", ""},
		{"string/float", String, 2.5, "2.5", ""},
		{"string/integral float", String, 3.0, "3", ""},
		{"string/negative zero", String, negZero, "-0", ""},
		{"string/float 0.1", String, 0.1, "0.1", ""},
		{"string/1e300", String, 1e300, "1e+300", ""},
		// encoding/json's text: plain decimals from 1e-6 to 1e21
		{"string/float 1e6", String, 1e6, "1000000", ""},
		{"string/float 1.5e6", String, 1.5e6, "1500000", ""},
		{"string/float 1e-5", String, 1e-5, "0.00001", ""},
		{"string/float 1e-7", String, 1e-7, "1e-7", ""},
		{"string/float 1e21", String, 1e21, "1e+21", ""},
		{"string/float NaN", String, math.NaN(), "NaN", ""},
		{"string/float +Inf", String, math.Inf(1), "+Inf", ""},
		{"string/true", String, true, "true", ""},
		{"string/false", String, false, "false", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, promote := Coerce(tt.col, tt.v)
			if promote != tt.promote {
				t.Fatalf("Coerce(%q, %#v) promote = %q, want %q", tt.col, tt.v, promote, tt.promote)
			}
			if f, ok := tt.out.(float64); ok && math.IsNaN(f) {
				g, ok := out.(float64)
				if !ok || !math.IsNaN(g) {
					t.Fatalf("Coerce(%q, %#v) = %#v, want NaN", tt.col, tt.v, out)
				}
				return
			}
			if !sameValue(out, tt.out) {
				t.Fatalf("Coerce(%q, %#v) = %#v (%T), want %#v (%T)", tt.col, tt.v, out, out, tt.out, tt.out)
			}
		})
	}
}

// TestCoercePromoteThenStore checks that a promoted value always fits the
// column it promoted to: nothing is dropped, and a second promotion only
// ever moves along integer → float → string or boolean → string.
func TestCoercePromoteThenStore(t *testing.T) {
	tests := []struct {
		name  string
		col   Type
		v     any
		final Type
		out   any
	}{
		{"int/2.5", Integer, 2.5, Float, 2.5},
		{"int/string 2.5", Integer, "2.5", Float, 2.5},
		{"int/string 1e300", Integer, "1e300", Float, 1e300},
		{"int/1e300", Integer, 1e300, Float, 1e300},
		{"int/word", Integer, "abc", String, "abc"},
		{"int/string NaN", Integer, "NaN", String, "NaN"},
		{"int/string Inf", Integer, "Inf", String, "Inf"},
		{"int/float NaN", Integer, math.NaN(), Float, math.NaN()},
		{"float/word", Float, "abc", String, "abc"},
		{"bool/string yes", Boolean, "yes", String, "yes"},
		{"bool/int", Boolean, int64(5), String, "5"},
		{"bool/float", Boolean, 0.5, String, "0.5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			col := tt.col
			out, promote := Coerce(col, tt.v)
			for i := 0; promote != ""; i++ {
				if i > 2 {
					t.Fatalf("promotion did not settle: %q", promote)
				}
				if promote == col || (promote == Float && col != Integer) || promote != Float && promote != String {
					t.Fatalf("bad promotion %q → %q", col, promote)
				}
				col = promote
				out, promote = Coerce(col, tt.v)
			}
			if col != tt.final {
				t.Fatalf("final column %q, want %q", col, tt.final)
			}
			if f, ok := tt.out.(float64); ok && math.IsNaN(f) {
				if g, ok := out.(float64); !ok || !math.IsNaN(g) {
					t.Fatalf("out = %#v, want NaN", out)
				}
				return
			}
			if !sameValue(out, tt.out) {
				t.Fatalf("out = %#v (%T), want %#v (%T)", out, out, tt.out, tt.out)
			}
		})
	}
}

func TestCoercePanics(t *testing.T) {
	tests := []struct {
		name string
		col  Type
		v    any
	}{
		{"nil into integer", Integer, nil},
		{"nil into string", String, nil},
		{"int (not int64) into integer", Integer, 1},
		{"slice into string", String, []any{"a"}},
		{"unknown column type", Type("date"), "x"},
		{"empty column type", Type(""), int64(1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatalf("Coerce(%q, %#v) did not panic", tt.col, tt.v)
				}
			}()
			Coerce(tt.col, tt.v)
		})
	}
}
