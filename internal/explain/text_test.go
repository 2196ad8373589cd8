package explain

import (
	"reflect"
	"testing"
)

func TestParseHeatmap(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want *Heatmap
		err  string
	}{
		{in: "duration_ms:800:5000", want: &Heatmap{Column: "duration_ms", Min: 800, Max: 5000}},
		{in: "latency:0.5:1e3", want: &Heatmap{Column: "latency", Min: 0.5, Max: 1000}},
		{in: "duration_ms:800", err: "want COLUMN:MIN:MAX"},
		{in: "a:b:c:d", err: "want COLUMN:MIN:MAX"},
		{in: "duration_ms:low:5000", err: "MIN and MAX must be numbers"},
		{in: "duration_ms:1:", err: "MIN and MAX must be numbers"},
	} {
		got, err := ParseHeatmap(tc.in)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("ParseHeatmap(%q): error %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseHeatmap(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}
