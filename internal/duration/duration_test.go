package duration

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestParse: every form, and the String that reads back (moved here from
// package slo with the parser).
func TestParse(t *testing.T) {
	cases := []struct {
		in   string
		want time.Duration
		out  string // String of the result
	}{
		{"5m", 5 * time.Minute, "5m"},
		{"30s", 30 * time.Second, "30s"},
		{"1m50s", 110 * time.Second, "1m50s"},
		{"90m", 90 * time.Minute, "1h30m"},
		{"1h", time.Hour, "1h"},
		{"36h", 36 * time.Hour, "36h"},
		{"3d", 72 * time.Hour, "3d"},
		{"1.5d", 36 * time.Hour, "36h"},
		{"1d12h", 36 * time.Hour, "36h"},
		{"2w", 14 * day, "14d"},
		{"0", 0, "0s"},
		{"500ms", 500 * time.Millisecond, "500ms"},
	}
	for _, c := range cases {
		d, err := Parse(c.in)
		if err != nil || time.Duration(d) != c.want || d.String() != c.out {
			t.Errorf("Parse(%q) = %v (%s), %v; want %v (%s)", c.in, time.Duration(d), d, err, c.want, c.out)
			continue
		}
		back, err := Parse(d.String())
		if err != nil || back != d {
			t.Errorf("%q does not read back: %v, %v", d.String(), back, err)
		}
	}
	for _, bad := range []string{"", "d", "5", "3 days", "1y", "NaNd", "infd", "1e3d", "99999999999d"} {
		if d, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) = %v, want an error", bad, d)
		}
	}
}

// TestParseForms: each form Parse reads, alone and combined.
func TestParseForms(t *testing.T) {
	for _, c := range []struct {
		in   string
		want time.Duration
	}{
		// Go's syntax, as time.ParseDuration reads it
		{"0", 0}, {"-0", 0}, {"+0", 0}, {"0s", 0},
		{"1.5h", 90 * time.Minute}, {"1h30m", 90 * time.Minute}, {"2h45m30.5s", 2*time.Hour + 45*time.Minute + 30500*time.Millisecond},
		{"+5m", 5 * time.Minute}, {"-5m", -5 * time.Minute}, {"1us", time.Microsecond}, {"1µs", time.Microsecond}, {"3ns", 3},
		{"  45m\t", 45 * time.Minute},
		// days and weeks
		{"0d", 0}, {"-0d", 0}, {"1d", day}, {"73d", 73 * day}, {".5d", 12 * time.Hour}, {"1.d", day}, {"0.3d", 7*time.Hour + 12*time.Minute},
		{"0.25w", 42 * time.Hour}, {"1w", week}, {"1.5w", 252 * time.Hour}, {" 2d ", 2 * day},
		// combined, in any order, with a sign for the whole
		{"1w2d", 9 * day}, {"12h1d", 36 * time.Hour}, {"1d.5h", 24*time.Hour + 30*time.Minute}, {"1.5d.5d", 2 * day},
		{"2w1d3h20m", 15*day + 3*time.Hour + 20*time.Minute}, {"1d500ms", day + 500*time.Millisecond},
		{"-2d", -2 * day}, {"+2d", 2 * day}, {"-1d12h", -36 * time.Hour},
		// the largest a Duration holds
		{"106751d23h47m16.854775807s", 1<<63 - 1},
	} {
		d, err := Parse(c.in)
		if err != nil || time.Duration(d) != c.want {
			t.Errorf("Parse(%q) = %v, %v; want %v", c.in, time.Duration(d), err, c.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, bad := range []string{
		"", " ", "soon", "5", "1h2", "1d2", "d", "w", ".d", "3 days", "1.5 d", "2D", "1y", "5dw", "1h-5m", "1d-12h", "--2d", "+-2d",
		"1.5.5d", "1e3d", "1E3d", "0x1p4d", "1_0d", "NaNd", "infd", "Infinityd", "-d",
		"99999999999d", "106752d", "15251w", "106751d23h47m16.854775808s", "9223372036854775807ns1d",
	} {
		d, err := Parse(bad)
		if err == nil {
			t.Errorf("Parse(%q) = %v, want an error", bad, time.Duration(d))
			continue
		}
		if want := fmt.Sprintf("invalid duration %q (want e.g. 5m, 1h, 3d or 2w)", bad); err.Error() != want {
			t.Errorf("Parse(%q): %q, want %q", bad, err, want)
		}
	}
}

func TestCoarseString(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0m"}, {45 * time.Minute, "45m"}, {90 * time.Minute, "90m"}, {time.Hour, "1h"}, {36 * time.Hour, "36h"},
		{2 * day, "2d"}, {14 * day, "14d"}, {110 * time.Second, "1m50s"}, {90*time.Minute + 15*time.Second, "1h30m15s"},
		{3*time.Minute + 12*time.Second + 345*time.Millisecond, "3m12s"}, {500 * time.Millisecond, "1s"}, {-30 * time.Minute, "-30m"},
	} {
		if got := Coarse(c.d).String(); got != c.want {
			t.Errorf("Coarse(%v) = %q, want %q", c.d, got, c.want)
		}
		if d, err := Parse(Coarse(c.d).String()); err != nil || (c.d%time.Second == 0 && time.Duration(d) != c.d) {
			t.Errorf("%q does not read back: %v, %v", Coarse(c.d).String(), time.Duration(d), err)
		}
	}
	if m := Coarse(90 * time.Second).Minutes(); m != 1.5 {
		t.Errorf("Minutes = %v, want 1.5", m)
	}
}

func TestJSON(t *testing.T) {
	var v struct {
		D Duration `json:"d"`
		C Coarse   `json:"c"`
	}
	if err := json.Unmarshal([]byte(`{"d":"90m","c":"1h30m"}`), &v); err != nil {
		t.Fatal(err)
	}
	if out, _ := json.Marshal(v); string(out) != `{"d":"1h30m","c":"90m"}` {
		t.Errorf("round trip: %s", out)
	}
	if err := json.Unmarshal([]byte(`{"d":"2w","c":"2w"}`), &v); err != nil || v.D != Duration(2*week) || v.C != Coarse(2*week) {
		t.Errorf("2w: %+v, %v", v, err)
	}
	for _, c := range []struct{ in, want string }{
		{`{"d":3600}`, `want a duration string such as "1h" or "3d", got 3600`},
		{`{"c":3600}`, `want a duration string such as "1h" or "3d", got 3600`},
		{`{"d":"soon"}`, `invalid duration "soon"`},
		{`{"c":"soon"}`, `invalid duration "soon"`},
	} {
		if err := json.Unmarshal([]byte(c.in), &v); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.in, err, c.want)
		}
	}
}

// parseRiskBefore is how risks read durations before they shared Parse.
func parseRiskBefore(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseFloat(days, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("invalid duration %q", s)
		}
		return time.Duration(n * float64(24*time.Hour)), nil
	}
	return time.ParseDuration(s)
}

var oldDayUnits = regexp.MustCompile(`(\d+(?:\.\d*)?|\.\d+)([dw])`)

// parseSLOBefore is how SLOs read durations before they shared Parse.
func parseSLOBefore(s string) (time.Duration, error) {
	in := strings.TrimSpace(s)
	bad := false
	goSyntax := oldDayUnits.ReplaceAllStringFunc(in, func(t string) string {
		v, err := strconv.ParseFloat(t[:len(t)-1], 64)
		if err != nil {
			bad = true
			return t
		}
		if t[len(t)-1] == 'w' {
			v *= 7
		}
		return strconv.FormatFloat(v*24, 'f', -1, 64) + "h"
	})
	d, err := time.ParseDuration(goSyntax)
	if bad || err != nil || strings.ContainsAny(goSyntax, "dw") {
		return 0, fmt.Errorf("invalid duration %q", s)
	}
	return d, nil
}

// samples are inputs of every form risks and SLOs took before.
func samples() []string {
	out := []string{"0", "-0", "+0", "1h30m", "90m", "45m", "2h45m30.5s", "1.5h", "500ms", "1us", "-5m", "+5m", " 30m ", "0d", "-0d", "+2d",
		"1d12h", "12h1d", "1w2d", "2w", "0.5w", "3.25w", "1d.5h", "soon", "", "5", "3 days", "1y", "1e3", "d", "2D"}
	for k := 0; k <= 20000; k++ {
		out = append(out, strconv.Itoa(k)+"d", strconv.FormatFloat(float64(k)/100, 'f', -1, 64)+"d", strconv.FormatFloat(float64(k)/1000, 'f', 3, 64)+"d",
			strconv.Itoa(k)+"m", strconv.Itoa(k)+"h"+strconv.Itoa(k%60)+"m")
	}
	return out
}

// TestRisksReadAsBefore: every duration a risk accepted before reads to
// the same value, to the nanosecond ("1.5d" is a product of floats, as it
// was), but for number spellings no one writes, which Parse refuses as
// SLOs did: an exponent, hexadecimal, underscores, NaN, infinity and days
// past the largest Duration (which read as garbage).
func TestRisksReadAsBefore(t *testing.T) {
	for _, s := range samples() {
		before, berr := parseRiskBefore(s)
		now, err := Parse(s)
		if berr == nil && (err != nil || time.Duration(now) != before) {
			t.Errorf("%q: risks read %v before, now %v, %v", s, before, time.Duration(now), err)
		}
	}
	for _, s := range []string{"1e3d", "1E3d", "0x1p4d", "1_0d", "NaNd", "infd", "Infinityd", "99999999999d"} {
		if _, berr := parseRiskBefore(s); berr != nil {
			t.Errorf("%q: refused before: %v", s, berr)
		}
		if d, err := Parse(s); err == nil {
			t.Errorf("Parse(%q) = %v, want an error", s, time.Duration(d))
		}
	}
}

// TestSLOsReadAsBefore: every duration an SLO accepted before reads to the
// same value, but for fractions of days, which the old rewrite to hours
// rounded differently: they differ by a few nanoseconds at most, and are
// exact more often ("0.3d" was 7h11m59.999999999s, now 7h12m).
func TestSLOsReadAsBefore(t *testing.T) {
	fraction := regexp.MustCompile(`\.\d*[dw]`)
	for _, s := range append(samples(), "-2d", "-1d12h") {
		before, berr := parseSLOBefore(s)
		now, err := Parse(s)
		diff := time.Duration(now) - before
		switch {
		case berr != nil:
			if err == nil && s != "1.5.5d" {
				t.Errorf("%q: refused by SLOs before, now %v", s, time.Duration(now))
			}
		case err != nil:
			t.Errorf("%q: SLOs read %v before, now %v", s, before, err)
		case diff != 0 && (!fraction.MatchString(s) || diff < -4 || diff > 4):
			t.Errorf("%q: SLOs read %v before, now %v", s, before, time.Duration(now))
		}
	}
	if d, _ := Parse("0.3d"); time.Duration(d) != 7*time.Hour+12*time.Minute {
		t.Errorf("0.3d = %v", time.Duration(d))
	}
	// The old rewrite read "1.5.5d" as "1.132h"; it is no duration.
	if before, _ := parseSLOBefore("1.5.5d"); before != time.Hour+7*time.Minute+55200*time.Millisecond {
		t.Errorf("1.5.5d read %v before", before)
	}
	if d, err := Parse("1.5.5d"); err == nil {
		t.Errorf("Parse(1.5.5d) = %v, want an error", time.Duration(d))
	}
}
