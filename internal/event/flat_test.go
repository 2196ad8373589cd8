package event

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestFromFlat(t *testing.T) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	lim := Limits{MaxFields: 4, MaxStringBytes: 8, MaxEventBytes: 60}
	ev, err := FromFlat(map[string]any{"a": "ok", "b": int64(1), "gone": nil, "bad\xff": "x\xffy"}, time.Time{}, 0, lim, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(ev.Fields) != 3 || ev.Fields["bad\uFFFD"] != "x\uFFFDy" || ev.SampleRate != 1 || !ev.Time.Equal(now) {
		t.Errorf("event: %+v", ev)
	}
	for _, c := range []struct {
		fields map[string]any
		want   string
	}{
		{map[string]any{"": "x"}, "empty field name"},
		{map[string]any{"a": 1, "b": 2, "c": 3, "d": 4, "e": 5}, "5 fields, limit 4"},
		{map[string]any{"s": "123456789"}, "string is 9 bytes"},
		{map[string]any{"f": math.Inf(1)}, "not a finite number"},
		{map[string]any{"m": map[string]any{}}, "unsupported value type"},
		{map[string]any{"aaaaaaaa": "12345678", "bbbbbbbb": "12345678", "cccccccc": "12345678", "dddddddd": "1"}, "exceeds 60 bytes"},
	} {
		if _, err := FromFlat(c.fields, now, 1, lim, now); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want %q", c.fields, err, c.want)
		}
	}
}
