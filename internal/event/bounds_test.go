package event

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

// A sample rate above MaxSampleRate is refused for its event alone, in
// every format: the batch's other events are stored.
func TestSampleRateAboveMaximumIsRefused(t *testing.T) {
	if MaxSampleRate != 1_000_000_000 {
		t.Fatalf("MaxSampleRate is %d; the docs say 1000000000", MaxSampleRate)
	}
	const want = `invalid "samplerate" 9223372036854775807: must be an integer from 0 to 1000000000`
	items := decodeJSON(t, `[{"data":{"status_code":200},"samplerate":9223372036854775807},{"data":{"status_code":500},"samplerate":1000000000},{"data":{"a":1},"samplerate":1000000001},{"data":{"a":1},"samplerate":1e10}]`, Limits{})
	if items[0].Err == nil || items[0].Err.Error() != want {
		t.Errorf("JSON: error %v, want %q", items[0].Err, want)
	}
	if items[1].Err != nil || items[1].Event.SampleRate != MaxSampleRate {
		t.Errorf("JSON at the maximum: %v, rate %d", items[1].Err, items[1].Event.SampleRate)
	}
	for i := 2; i < 4; i++ {
		if items[i].Err == nil || !strings.Contains(items[i].Err.Error(), "from 0 to 1000000000") {
			t.Errorf("JSON item %d: error %v", i, items[i].Err)
		}
	}

	body, err := msgpack.Marshal([]any{
		map[string]any{"data": map[string]any{"a": 1}, "samplerate": uint64(1) << 63},
		map[string]any{"data": map[string]any{"a": 1}, "samplerate": int64(MaxSampleRate + 1)},
		map[string]any{"data": map[string]any{"a": 1}, "samplerate": 5e9},
		map[string]any{"data": map[string]any{"a": 1}, "samplerate": 7},
	})
	if err != nil {
		t.Fatal(err)
	}
	mp, err := DecodeBatch(bytes.NewReader(body), "application/msgpack", "", Limits{}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if mp[i].Err == nil || !strings.Contains(mp[i].Err.Error(), "from 0 to 1000000000") {
			t.Errorf("msgpack item %d: error %v", i, mp[i].Err)
		}
	}
	if mp[3].Err != nil || mp[3].Event.SampleRate != 7 {
		t.Errorf("msgpack item 3: %v", mp[3])
	}

	_, err = DecodeEvent(strings.NewReader(`{"a":1}`), "", "", "", "9223372036854775807", Limits{}, testNow)
	if err == nil || requestStatus(t, err) != 400 || !strings.Contains(err.Error(), "from 0 to 1000000000") {
		t.Errorf("header: %v", err)
	}
	if _, err := FromMap(map[string]any{"a": 1}, time.Time{}, MaxSampleRate+1, Limits{}, testNow); err == nil {
		t.Error("FromMap took a rate above the maximum")
	}
	if _, err := FromFlat(map[string]any{"a": int64(1)}, time.Time{}, MaxSampleRate+1, Limits{}, testNow); err == nil {
		t.Error("FromFlat took a rate above the maximum")
	}
	if ev, err := FromFlat(map[string]any{"a": int64(1)}, time.Time{}, MaxSampleRate, Limits{}, testNow); err != nil || ev.SampleRate != MaxSampleRate {
		t.Errorf("FromFlat at the maximum: %v %v", ev, err)
	}
}

// One rule for every explicit event time: kept as given from the Unix
// epoch to an hour past the receive time, the receive time beyond that,
// and refused before the epoch — "0001-01-01T00:00:00Z" included, which
// once read as "no time" and was stored at the receive time. No time can
// overflow a nanosecond count downstream.
func TestEventTimeBounds(t *testing.T) {
	epoch := time.Unix(0, 0).UTC()
	tests := []struct{ name, time, header string }{
		{"year one", `"0001-01-01T00:00:00Z"`, "0001-01-01T00:00:00Z"},
		{"year one, a second later", `"0001-01-01T00:00:01Z"`, "0001-01-01T00:00:01Z"},
		{"before the epoch", `"1969-12-31T23:59:59Z"`, "1969-12-31T23:59:59Z"},
		{"negative epoch", `-1`, "-1"},
		{"negative epoch ns", `-9223372036854775807`, "-9223372036854775807"},
		{"negative float", `-1e300`, "-1e300"},
	}
	for _, tt := range tests {
		it := decodeJSON(t, `[{"data":{"a":1},"time":`+tt.time+`},{"data":{"a":2}}]`, Limits{})
		if it[0].Err == nil || !strings.Contains(it[0].Err.Error(), "before 1970-01-01T00:00:00Z") {
			t.Errorf("%s: %v, %v: want refused as before the epoch", tt.name, it[0].Event.Time, it[0].Err)
		}
		if it[1].Err != nil || !it[1].Event.Time.Equal(testNow) {
			t.Errorf("%s: the other event: %v", tt.name, it[1])
		}
		_, err := DecodeEvent(strings.NewReader(`{"a":1}`), "", "", tt.header, "", Limits{}, testNow)
		if err == nil || requestStatus(t, err) != 400 || !strings.Contains(err.Error(), "before 1970-01-01T00:00:00Z") {
			t.Errorf("%s: header: %v", tt.name, err)
		}
	}
	// The epoch itself is a time like any other (a store may then refuse
	// it as older than the dataset's retention).
	for _, v := range []string{`0`, `"1970-01-01T00:00:00Z"`, `"0"`} {
		it := decodeJSON(t, `[{"data":{"a":1},"time":`+v+`}]`, Limits{})[0]
		if it.Err != nil || !it.Event.Time.Equal(epoch) {
			t.Errorf("time %s: %v %v, want the epoch", v, it.Event.Time, it.Err)
		}
	}
	// msgpack timestamps hold any second of ±292 billion years.
	for _, ts := range []time.Time{time.Unix(-1<<62, 0), time.Time{}, time.Unix(-1, 0)} {
		body, _ := msgpack.Marshal([]any{map[string]any{"data": map[string]any{"a": 1}, "time": ts}})
		it, err := DecodeBatch(bytes.NewReader(body), "application/msgpack", "", Limits{}, testNow)
		if err != nil || it[0].Err == nil || !strings.Contains(it[0].Err.Error(), "before 1970") {
			t.Errorf("msgpack time %v: %v %v", ts, err, it)
		}
	}
	body, _ := msgpack.Marshal([]any{map[string]any{"data": map[string]any{"a": 1}, "time": time.Unix(1<<62, 0)}})
	if it, err := DecodeBatch(bytes.NewReader(body), "application/msgpack", "", Limits{}, testNow); err != nil || it[0].Err != nil || !it[0].Event.Time.Equal(testNow) {
		t.Errorf("msgpack far future: %v %v, want the receive time", err, it)
	}
	// Go callers: a zero time still means now; an explicit early one is refused.
	if ev, err := FromMap(map[string]any{"a": 1}, time.Time{}, 1, Limits{}, testNow); err != nil || !ev.Time.Equal(testNow) {
		t.Errorf("FromMap zero time: %v %v", ev.Time, err)
	}
	if _, err := FromMap(map[string]any{"a": 1}, time.Unix(-1, 0), 1, Limits{}, testNow); err == nil {
		t.Error("FromMap took a time before the epoch")
	}
	if _, err := FromFlat(map[string]any{"a": int64(1)}, time.Unix(-1, 0), 1, Limits{}, testNow); err == nil {
		t.Error("FromFlat took a time before the epoch")
	}
}

// Field names are at most MaxFieldNameBytes long once flattened.
func TestFieldNameLimit(t *testing.T) {
	if MaxFieldNameBytes != 1024 {
		t.Fatalf("MaxFieldNameBytes is %d; the docs say 1024", MaxFieldNameBytes)
	}
	at := strings.Repeat("n", MaxFieldNameBytes)
	over := strings.Repeat("n", 65537)
	nested := strings.Repeat("a", 600)
	tests := []struct {
		name, data, err string
	}{
		{"at the limit", `{"` + at + `":1}`, ""},
		{"65537 bytes", `{"` + over + `":1}`, fmt.Sprintf(`field name "%s…" is 65537 bytes, limit 1024`, strings.Repeat("n", 64))},
		{"one over", `{"` + at + `n":1}`, "is 1025 bytes, limit 1024"},
		{"flattened", `{"` + nested + `":{"` + nested + `":"x"}}`, "is 1201 bytes, limit 1024"},
	}
	for _, tt := range tests {
		it := decodeJSON(t, `[{"data":`+tt.data+`},{"data":{"ok":1}}]`, Limits{})
		switch {
		case tt.err == "" && it[0].Err != nil:
			t.Errorf("%s: %v", tt.name, it[0].Err)
		case tt.err != "" && (it[0].Err == nil || !strings.Contains(it[0].Err.Error(), tt.err)):
			t.Errorf("%s: error %v, want %q", tt.name, it[0].Err, tt.err)
		}
		if it[1].Err != nil {
			t.Errorf("%s: the other event: %v", tt.name, it[1].Err)
		}
		body, _ := msgpack.Marshal([]any{map[string]any{"data": map[string]any{over: 1}}})
		if mp, err := DecodeBatch(bytes.NewReader(body), "application/msgpack", "", Limits{}, testNow); err != nil || mp[0].Err == nil {
			t.Errorf("msgpack: a 65537-byte name was accepted (%v)", err)
		}
	}
	if _, err := FromMap(map[string]any{over: 1}, time.Time{}, 1, Limits{}, testNow); err == nil {
		t.Error("FromMap took a 65537-byte name")
	}
	if _, err := FromFlat(map[string]any{over: int64(1)}, time.Time{}, 1, Limits{}, testNow); err == nil {
		t.Error("FromFlat took a 65537-byte name")
	}
}
