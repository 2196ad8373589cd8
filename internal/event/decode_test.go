package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/vmihailenco/msgpack/v5"
)

var testNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func gzipBytes(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zstdBytes(t testing.TB, b []byte) []byte {
	t.Helper()
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	return enc.EncodeAll(b, nil)
}

func decodeJSON(t *testing.T, body string, lim Limits) []Item {
	t.Helper()
	items, err := DecodeBatch(strings.NewReader(body), "application/json", "", lim, testNow)
	if err != nil {
		t.Fatalf("DecodeBatch(%s): %v", body, err)
	}
	return items
}

// requestStatus returns the status of a *RequestError, failing otherwise.
func requestStatus(t *testing.T, err error) int {
	t.Helper()
	var re *RequestError
	if !errors.As(err, &re) {
		t.Fatalf("error %v (%T) is not a *RequestError", err, err)
	}
	return re.Status
}

func TestDecodeBatchJSONMixed(t *testing.T) {
	body := `[
		{"data":{"a":1}},
		42,
		{"time":"2025-06-01T11:00:00Z"},
		{"data":[1,2]},
		{"data":{"b":2},"time":"yesterday"},
		{"data":{"c":3},"samplerate":-2},
		{"data":{"d":"x"},"samplerate":5,"time":"2025-06-01T11:00:00Z"}
	]`
	items := decodeJSON(t, body, Limits{})
	wantErr := []string{"", "batch element is number, not an object", `missing "data" object`,
		`"data" is array, not an object`, `invalid "time" "yesterday"`, `invalid "samplerate" -2`, ""}
	if len(items) != len(wantErr) {
		t.Fatalf("got %d items, want %d", len(items), len(wantErr))
	}
	for i, it := range items {
		if wantErr[i] == "" {
			if it.Err != nil {
				t.Errorf("item %d: unexpected error %v", i, it.Err)
			}
			continue
		}
		if it.Err == nil || !strings.Contains(it.Err.Error(), wantErr[i]) {
			t.Errorf("item %d: error %v, want %q", i, it.Err, wantErr[i])
		}
	}
	if got := items[0].Event; got.SampleRate != 1 || !got.Time.Equal(testNow) || !reflect.DeepEqual(got.Fields, map[string]any{"a": int64(1)}) {
		t.Errorf("item 0 = %+v", got)
	}
	last := items[6].Event
	if last.SampleRate != 5 || !last.Time.Equal(testNow.Add(-time.Hour)) || last.Fields["d"] != "x" {
		t.Errorf("item 6 = %+v", last)
	}
}

func TestDecodeBatchBadBody(t *testing.T) {
	for _, body := range []string{``, ` `, `{"data":{}}`, `"x"`, `[`, `[{"data":{}}] x`, `[{"data":{"a":NaN}}]`,
		`[{"data":{"a":1-2}}]`, `[{"data":{"a":"\x01"}}]`, strings.Repeat("[", 400) + strings.Repeat("]", 400)} {
		_, err := DecodeBatch(strings.NewReader(body), "", "", Limits{}, testNow)
		if err == nil {
			t.Errorf("%.40q: no error", body)
			continue
		}
		if s := requestStatus(t, err); s != http.StatusBadRequest {
			t.Errorf("%.40q: status %d", body, s)
		}
	}
	items := decodeJSON(t, `[]`, Limits{})
	if len(items) != 0 {
		t.Errorf("[] gave %d items", len(items))
	}
}

func TestValues(t *testing.T) {
	tests := []struct {
		name, data string
		want       map[string]any
		err        string
	}{
		{"int", `{"a":1,"b":-5,"c":0}`, map[string]any{"a": int64(1), "b": int64(-5), "c": int64(0)}, ""},
		{"int64 bounds", `{"max":9223372036854775807,"min":-9223372036854775808}`,
			map[string]any{"max": int64(math.MaxInt64), "min": int64(math.MinInt64)}, ""},
		{"float", `{"a":1.5,"b":1e3,"c":-0.25,"d":1.0,"e":9223372036854775808}`,
			map[string]any{"a": 1.5, "b": 1000.0, "c": -0.25, "d": 1.0, "e": 9223372036854775808.0}, ""},
		{"out of range", `{"big":1e999}`, nil, `field "big": invalid or out of range number "1e999"`},
		{"strings", `{"s":"héllo","e":"a\"b\\c\u00e9\n","empty":""}`,
			map[string]any{"s": "héllo", "e": "a\"b\\cé\n", "empty": ""}, ""},
		{"bools", `{"t":true,"f":false}`, map[string]any{"t": true, "f": false}, ""},
		{"nested", `{"a":{"b":1,"c":{"d":"x"}},"e":2}`,
			map[string]any{"a.b": int64(1), "a.c.d": "x", "e": int64(2)}, ""},
		{"empty object", `{"a":{},"b":1}`, map[string]any{"b": int64(1)}, ""},
		{"arrays", `{"a":[1, "x" ,{"b":null},[true]],"e":[]}`,
			map[string]any{"a": `[1,"x",{"b":null},[true]]`, "e": `[]`}, ""},
		{"nulls", `{"a":null,"b":{"c":null},"d":1}`, map[string]any{"d": int64(1)}, ""},
		{"dotted key", `{"a.b":1,"c":{"d.e":2}}`, map[string]any{"a.b": int64(1), "c.d.e": int64(2)}, ""},
		{"duplicate flattened", `{"a.b":1,"a":{"b":2}}`, nil, `duplicate field "a.b"`},
		{"duplicate key", `{"a":1,"a":2}`, nil, `duplicate field "a"`},
		{"empty name", `{"":1}`, nil, "empty field name"},
		{"empty nested name", `{"a":{"":1}}`, nil, `empty field name in "a"`},
		{"no fields", `{}`, map[string]any{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			items := decodeJSON(t, `[{"data":`+tt.data+`}]`, Limits{})
			checkItem(t, items[0], tt.want, tt.err)
			// The same data as a single event.
			ev, err := DecodeEvent(strings.NewReader(tt.data), "", "", "", "", Limits{}, testNow)
			if tt.err != "" {
				if err == nil || requestStatus(t, err) != http.StatusBadRequest || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("DecodeEvent error %v, want 400 %q", err, tt.err)
				}
			} else if err != nil || !reflect.DeepEqual(ev.Fields, tt.want) {
				t.Errorf("DecodeEvent = %#v, %v", ev.Fields, err)
			}
		})
	}
}

func checkItem(t *testing.T, it Item, want map[string]any, wantErr string) {
	t.Helper()
	if wantErr != "" {
		if it.Err == nil || !strings.Contains(it.Err.Error(), wantErr) {
			t.Errorf("error %v, want %q", it.Err, wantErr)
		}
		return
	}
	if it.Err != nil {
		t.Fatalf("unexpected error %v", it.Err)
	}
	if !reflect.DeepEqual(it.Event.Fields, want) {
		t.Errorf("fields\n got %#v\nwant %#v", it.Event.Fields, want)
	}
}

func TestTimes(t *testing.T) {
	tests := []struct {
		name, time string // "" omits "time"
		want       time.Time
		err        string
	}{
		{"missing", ``, testNow, ""},
		{"null", `null`, testNow, ""},
		{"empty string", `""`, testNow, ""},
		{"rfc3339", `"2025-05-31T10:20:30Z"`, time.Date(2025, 5, 31, 10, 20, 30, 0, time.UTC), ""},
		{"rfc3339 nano offset", `"2025-05-31T12:20:30.123456789+02:00"`, time.Date(2025, 5, 31, 10, 20, 30, 123456789, time.UTC), ""},
		{"epoch s", `1748700000`, time.Unix(1748700000, 0), ""},
		{"epoch s fraction", `1748700000.5`, time.Unix(1748700000, 5e8), ""},
		{"epoch ms", `1748700000123`, time.Unix(1748700000, 123e6), ""},
		{"epoch ns", `1748700000123456789`, time.Unix(1748700000, 123456789), ""},
		{"epoch text", `"1748700000"`, time.Unix(1748700000, 0), ""},
		{"near future kept", `"2025-06-01T12:30:00Z"`, testNow.Add(30 * time.Minute), ""},
		{"far future clamped", `"2025-06-01T14:00:00Z"`, testNow, ""},
		{"future epoch clamped", `1900000000`, testNow, ""},
		{"bad text", `"June 1st"`, time.Time{}, `invalid "time" "June 1st"`},
		{"bad date", `"2025-02-30T00:00:00Z"`, time.Time{}, "out of range"},
		{"bool", `true`, time.Time{}, `invalid "time": true`},
		{"object", `{}`, time.Time{}, `invalid "time": object`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			el := `{"data":{"a":1}`
			if tt.time != "" {
				el += `,"time":` + tt.time
			}
			it := decodeJSON(t, "["+el+"}]", Limits{})[0]
			if tt.err != "" {
				if it.Err == nil || !strings.Contains(it.Err.Error(), tt.err) {
					t.Errorf("error %v, want %q", it.Err, tt.err)
				}
				return
			}
			if it.Err != nil {
				t.Fatal(it.Err)
			}
			if !it.Event.Time.Equal(tt.want) || it.Event.Time.Location() != time.UTC {
				t.Errorf("time %v, want %v UTC", it.Event.Time, tt.want)
			}
		})
	}
}

func TestSampleRate(t *testing.T) {
	tests := []struct {
		rate string // "" omits it
		want int64
		err  string
	}{
		{"", 1, ""},
		{"null", 1, ""},
		{"0", 1, ""},
		{"1", 1, ""},
		{"10", 10, ""},
		{"10.0", 10, ""},
		{"1e3", 1000, ""},
		{"-1", 0, `invalid "samplerate" -1`},
		{"1.5", 0, `invalid "samplerate" 1.5`},
		{`"10"`, 0, `invalid "samplerate": string`},
		{"1e30", 0, `invalid "samplerate"`},
	}
	for _, tt := range tests {
		el := `{"data":{"a":1}`
		if tt.rate != "" {
			el += `,"samplerate":` + tt.rate
		}
		it := decodeJSON(t, "["+el+"}]", Limits{})[0]
		switch {
		case tt.err != "":
			if it.Err == nil || !strings.Contains(it.Err.Error(), tt.err) {
				t.Errorf("samplerate %s: error %v, want %q", tt.rate, it.Err, tt.err)
			}
		case it.Err != nil:
			t.Errorf("samplerate %s: %v", tt.rate, it.Err)
		case it.Event.SampleRate != tt.want:
			t.Errorf("samplerate %s: got %d, want %d", tt.rate, it.Event.SampleRate, tt.want)
		}
	}
}

// fieldsJSON returns a data object with n fields f0…, each valued v.
func fieldsJSON(n int, v string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"f%d":%s`, i, v)
	}
	b.WriteByte('}')
	return b.String()
}

func TestLimits(t *testing.T) {
	small := Limits{MaxFields: 3, MaxStringBytes: 10, MaxEventBytes: 100}
	long := strings.Repeat("x", 11)
	tests := []struct {
		name string
		lim  Limits
		data string
		err  string // "" means accepted
	}{
		{"fields at limit", small, `{"a":1,"b":{"c":2,"d":3}}`, ""},
		{"fields over limit", small, `{"a":1,"b":{"c":2,"d":3},"e":null,"f":true}`, "event has 4 fields, limit 3"},
		{"default fields", Limits{}, fieldsJSON(2000, "1"), ""},
		{"default fields over", Limits{}, fieldsJSON(2001, "1"), "event has 2001 fields, limit 2000"},
		{"fields over with long string", small, `{"a":1,"b":2,"c":3,"d":"` + long + `"}`, "event has 4 fields, limit 3"},
		{"string at limit", small, `{"s":"` + long[1:] + `"}`, ""},
		{"string over", small, `{"a":{"s":"` + long + `"}}`, `field "a.s": string is 11 bytes, limit 10`},
		{"array over", small, `{"arr":[1,2,3,4,5]}`, `field "arr": array is 11 bytes as JSON text, limit 10`},
		{"event size at limit", small, `{"aaaaaaaaaa":"xxxxxxxxxx","bbbbbbbbbb":"xxxxxxxxxx","cccccccccc":"xxxxxxxxxx"}`, ""}, // 3×24 = 72
		{"event size over", Limits{MaxEventBytes: 60, MaxStringBytes: 10}, `{"aaaaaaaaaa":"xxxxxxxxxx","bbbbbbbbbb":"xxxxxxxxxx","cccccccccc":"xxxxxxxxxx"}`,
			`event exceeds 60 bytes (at field "cccccccccc")`},
		{"long name clipped", Limits{}, `{"` + strings.Repeat("n", 100) + `":{"":1}}`, `empty field name in "` + strings.Repeat("n", 64) + `…"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			it := decodeJSON(t, `[{"data":`+tt.data+`},{"data":{"ok":1}}]`, tt.lim)
			if tt.err == "" {
				if it[0].Err != nil {
					t.Errorf("unexpected error %v", it[0].Err)
				}
			} else if it[0].Err == nil || !strings.Contains(it[0].Err.Error(), tt.err) {
				t.Errorf("error %v, want %q", it[0].Err, tt.err)
			}
			if it[1].Err != nil {
				t.Errorf("second item: %v", it[1].Err)
			}
		})
	}
}

func TestInvalidUTF8(t *testing.T) {
	body := "[{\"data\":{\"a\xff\":\"b\xfe\",\"arr\":[\"\xff\"]}}]"
	it := decodeJSON(t, body, Limits{})[0]
	checkItem(t, it, map[string]any{"a\uFFFD": "b\uFFFD", "arr": "[\"\uFFFD\"]"}, "")
}

// libhoneyEvent is how libhoney-go encodes one batch element.
type libhoneyEvent struct {
	Data       map[string]any `msgpack:"data"`
	SampleRate uint           `msgpack:"samplerate,omitempty"`
	Timestamp  *time.Time     `msgpack:"time,omitempty"`
}

func TestDecodeBatchMsgpackZstd(t *testing.T) {
	ts := time.Date(2025, 6, 1, 11, 59, 58, 123456789, time.FixedZone("x", 3600))
	events := []any{
		libhoneyEvent{
			Timestamp:  &ts,
			SampleRate: 4,
			Data: map[string]any{
				"s": "str", "i8": int8(-3), "u16": uint16(65000), "i64": int64(math.MinInt64),
				"u64": uint64(math.MaxUint64), "f32": float32(1.5), "f64": 2.25, "b": true,
				"nested": map[string]any{"k": "v", "deeper": map[string]any{"n": 1}},
				"arr":    []any{1, "a", map[string]any{"x": nil}}, "bin": []byte("xy"), "nil": nil, "when": ts,
			},
		},
		"not a map",
		map[string]any{"time": ts},
		map[string]any{"data": map[string]any{"a": 1}, "samplerate": -1},
		map[string]any{"data": map[string]any{"a": 1}, "samplerate": 2.5},
		map[string]any{"data": map[string]any{"a": 1}, "time": "2025-06-01T10:00:00Z", "samplerate": 3.0},
		map[string]any{"data": map[string]any{"a": 1}, "time": int64(1748700000)},
		map[string]any{"data": map[string]any{"a": 1}, "time": 1748700000.5},
		map[string]any{"data": map[int]any{1: 1}},
		map[string]any{"data": map[string]any{"a": 1}, "time": true},
		libhoneyEvent{Data: map[string]any{"plain": "yes"}},
	}
	raw, err := msgpack.Marshal(events)
	if err != nil {
		t.Fatal(err)
	}
	items, err := DecodeBatch(bytes.NewReader(zstdBytes(t, raw)), "application/msgpack", "zstd", Limits{}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != len(events) {
		t.Fatalf("%d items, want %d", len(items), len(events))
	}
	checkItem(t, items[0], map[string]any{
		"s": "str", "i8": int64(-3), "u16": int64(65000), "i64": int64(math.MinInt64),
		"u64": float64(math.MaxUint64), "f32": 1.5, "f64": 2.25, "b": true,
		"nested.k": "v", "nested.deeper.n": int64(1),
		"arr": `[1,"a",{"x":null}]`, "bin": "xy", "when": "2025-06-01T10:59:58.123456789Z",
	}, "")
	if ev := items[0].Event; !ev.Time.Equal(ts) || ev.Time.Location() != time.UTC || ev.SampleRate != 4 {
		t.Errorf("item 0 time %v rate %d", ev.Time, ev.SampleRate)
	}
	wantErr := map[int]string{1: "batch element is a string, not a map", 2: `missing "data" map`,
		3: `invalid "samplerate" -1`, 4: `invalid "samplerate" 2.5`, 8: "map key is a number, not a string",
		9: `invalid "time": a boolean`}
	for i, it := range items[1:] {
		i++
		if want, ok := wantErr[i]; ok {
			if it.Err == nil || !strings.Contains(it.Err.Error(), want) {
				t.Errorf("item %d: error %v, want %q", i, it.Err, want)
			}
		} else if it.Err != nil {
			t.Errorf("item %d: %v", i, it.Err)
		}
	}
	if ev := items[5].Event; ev.SampleRate != 3 || !ev.Time.Equal(testNow.Add(-2*time.Hour)) {
		t.Errorf("item 5: %+v", ev)
	}
	if ev := items[6].Event; !ev.Time.Equal(time.Unix(1748700000, 0)) {
		t.Errorf("item 6: %v", ev.Time)
	}
	if ev := items[7].Event; !ev.Time.Equal(time.Unix(1748700000, 5e8)) {
		t.Errorf("item 7: %v", ev.Time)
	}
	if ev := items[10].Event; ev.SampleRate != 1 || !ev.Time.Equal(testNow) || ev.Fields["plain"] != "yes" {
		t.Errorf("item 10: %+v", ev)
	}
}

func TestDecodeBatchMsgpackBad(t *testing.T) {
	good, _ := msgpack.Marshal([]any{map[string]any{"data": map[string]any{"a": 1}}})
	obj, _ := msgpack.Marshal(map[string]any{"data": map[string]any{"a": 1}})
	deep := append(bytes.Repeat([]byte{0x91}, 1<<20), 0xc0)
	tests := map[string][]byte{
		"empty":     {},
		"not array": obj,
		"truncated": good[:len(good)-1],
		"trailing":  append(append([]byte{}, good...), 0x01),
		"bad code":  {0x91, 0xc1},
		"deep":      deep,
		"huge len":  {0xdd, 0xff, 0xff, 0xff, 0xff},
		"huge str":  {0x91, 0x81, 0xa4, 'd', 'a', 't', 'a', 0x81, 0xa1, 's', 0xdb, 0xff, 0xff, 0xff, 0xff},
		"huge ext":  {0x96, 0xc9, 0x30, 0x30, 0x30, 0x30},
		"huge bin":  {0x91, 0xc6, 0xea, 0xdb, 0xcf, 0xb3, 0xde, 0x7d, 0xc6, 0xea, 0xea}, // a 3.9 GB allocation, once
	}
	for name, body := range tests {
		_, err := DecodeBatch(bytes.NewReader(body), "application/x-msgpack", "", Limits{}, testNow)
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		if s := requestStatus(t, err); s != http.StatusBadRequest {
			t.Errorf("%s: status %d", name, s)
		}
	}
	// An unknown extension type fails only its element.
	ext := []byte{0x92, 0x81, 0xa4, 'd', 'a', 't', 'a', 0x81, 0xa1, 'e', 0xd4, 0x05, 0x00}
	ext = append(ext, good[1:]...)
	items, err := DecodeBatch(bytes.NewReader(ext), "application/msgpack", "", Limits{}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 2 || items[0].Err == nil || !strings.Contains(items[0].Err.Error(), "extension") || items[1].Err != nil {
		t.Errorf("ext items: %+v", items)
	}
}

func TestDecodeBatchGzipJSON(t *testing.T) {
	body := gzipBytes(t, []byte(`[{"data":{"a":{"b":"c"},"n":3}}]`))
	for _, enc := range []string{"gzip", "x-gzip", " GZIP "} {
		items, err := DecodeBatch(bytes.NewReader(body), "application/json; charset=utf-8", enc, Limits{}, testNow)
		if err != nil {
			t.Fatalf("%s: %v", enc, err)
		}
		checkItem(t, items[0], map[string]any{"a.b": "c", "n": int64(3)}, "")
	}
	_, err := DecodeBatch(bytes.NewReader([]byte("not gzip")), "", "gzip", Limits{}, testNow)
	if err == nil || requestStatus(t, err) != http.StatusBadRequest {
		t.Errorf("bad gzip: %v", err)
	}
}

func TestDecompressionBomb(t *testing.T) {
	zeros := make([]byte, 100<<20)
	bombs := map[string][]byte{"gzip": gzipBytes(t, zeros), "zstd": zstdBytes(t, zeros)}
	zeros = nil
	for enc, bomb := range bombs {
		for _, lim := range []Limits{{MaxBodyBytes: 1 << 20}, {}} {
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			start := time.Now()
			_, err := DecodeBatch(bytes.NewReader(bomb), "", enc, lim, testNow)
			elapsed := time.Since(start)
			runtime.ReadMemStats(&after)
			if err == nil || requestStatus(t, err) != http.StatusRequestEntityTooLarge {
				t.Errorf("%s %d: error %v, want 413", enc, lim.MaxBodyBytes, err)
			}
			if elapsed > 5*time.Second {
				t.Errorf("%s %d: took %v", enc, lim.MaxBodyBytes, elapsed)
			}
			alloc := after.TotalAlloc - before.TotalAlloc
			// zstd may allocate its window (at most zstdMaxWindow) besides.
			if lim.MaxBodyBytes != 0 && alloc > 8<<20+zstdMaxWindow {
				t.Errorf("%s: allocated %d bytes for a 1 MiB limit", enc, alloc)
			}
			t.Logf("%s limit %d: %v, %d MiB allocated", enc, lim.MaxBodyBytes, elapsed, alloc>>20)
		}
	}
	// DecodeEvent caps the body at MaxEventBytes.
	_, err := DecodeEvent(bytes.NewReader(bombs["gzip"]), "", "gzip", "", "", Limits{}, testNow)
	if err == nil || requestStatus(t, err) != http.StatusRequestEntityTooLarge {
		t.Errorf("DecodeEvent bomb: %v", err)
	}
}

func TestUnsupported(t *testing.T) {
	for _, tc := range [][2]string{{"text/plain", ""}, {"application/xml", "gzip"}, {"", "br"}, {"application/json", "deflate"}} {
		_, err := DecodeBatch(strings.NewReader(`[]`), tc[0], tc[1], Limits{}, testNow)
		if err == nil || requestStatus(t, err) != http.StatusUnsupportedMediaType {
			t.Errorf("batch %q %q: %v, want 415", tc[0], tc[1], err)
		}
		_, err = DecodeEvent(strings.NewReader(`{}`), tc[0], tc[1], "", "", Limits{}, testNow)
		if err == nil || requestStatus(t, err) != http.StatusUnsupportedMediaType {
			t.Errorf("event %q %q: %v, want 415", tc[0], tc[1], err)
		}
	}
}

func TestDecodeEvent(t *testing.T) {
	mp, _ := msgpack.Marshal(map[string]any{"a": map[string]any{"b": int16(7)}, "s": "x"})
	mpArr, _ := msgpack.Marshal([]any{1})
	mpBadKey, _ := msgpack.Marshal(map[any]any{1: 2})
	tests := []struct {
		name, ct, ce, timeHdr, rateHdr string
		body                           []byte
		lim                            Limits
		want                           map[string]any
		wantTime                       time.Time
		wantRate                       int64
		status                         int
		err                            string
	}{
		{name: "json", body: []byte(`{"a":{"b":1},"c":null}`), want: map[string]any{"a.b": int64(1)}, wantTime: testNow, wantRate: 1},
		{name: "headers", body: []byte(`{"a":1}`), timeHdr: "2025-06-01T10:00:00Z", rateHdr: "20",
			want: map[string]any{"a": int64(1)}, wantTime: testNow.Add(-2 * time.Hour), wantRate: 20},
		{name: "epoch header", body: []byte(`{"a":1}`), timeHdr: "1748700000", rateHdr: "0",
			want: map[string]any{"a": int64(1)}, wantTime: time.Unix(1748700000, 0), wantRate: 1},
		{name: "future header", body: []byte(`{"a":1}`), timeHdr: "2030-01-01T00:00:00Z",
			want: map[string]any{"a": int64(1)}, wantTime: testNow, wantRate: 1},
		{name: "msgpack", ct: "application/msgpack", body: mp, want: map[string]any{"a.b": int64(7), "s": "x"}, wantTime: testNow, wantRate: 1},
		{name: "gzip", ce: "gzip", body: gzipBytes(t, []byte(`{"a":true}`)), want: map[string]any{"a": true}, wantTime: testNow, wantRate: 1},
		{name: "array", body: []byte(`[{"a":1}]`), status: 400, err: "event body must be a JSON object, not array"},
		{name: "string", body: []byte(`"a"`), status: 400, err: "not string"},
		{name: "invalid", body: []byte(`{"a":`), status: 400, err: "invalid JSON"},
		{name: "empty", body: nil, status: 400, err: "invalid JSON"},
		{name: "msgpack array", ct: "application/msgpack", body: mpArr, status: 400, err: "event body must be a msgpack map, not an array"},
		{name: "msgpack bad key", ct: "application/msgpack", body: mpBadKey, status: 400, err: "map key is a number"},
		{name: "msgpack huge bin", ct: "application/msgpack", body: []byte{0xc6, 0xea, 0xdb, 0xcf, 0xb3, 0xde, 0x7d, 0xc6, 0xea, 0xea},
			status: 400, err: "unexpected end"},
		{name: "bad time header", body: []byte(`{}`), timeHdr: "soon", status: 400, err: "X-Honeycomb-Event-Time"},
		{name: "bad rate header", body: []byte(`{}`), rateHdr: "-3", status: 400, err: "X-Honeycomb-Samplerate"},
		{name: "too large", body: []byte(`{"a":"` + strings.Repeat("x", 200) + `"}`), lim: Limits{MaxEventBytes: 100}, status: 413},
		{name: "field limit", body: []byte(`{"a":1,"b":2}`), lim: Limits{MaxFields: 1}, status: 400, err: "event has 2 fields, limit 1"},
		{name: "duplicate", body: []byte(`{"a.b":1,"a":{"b":1}}`), status: 400, err: `duplicate field "a.b"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := DecodeEvent(bytes.NewReader(tt.body), tt.ct, tt.ce, tt.timeHdr, tt.rateHdr, tt.lim, testNow)
			if tt.status != 0 {
				if err == nil {
					t.Fatalf("no error, want %d", tt.status)
				}
				if s := requestStatus(t, err); s != tt.status || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("error %d %v, want %d %q", s, err, tt.status, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(ev.Fields, tt.want) || !ev.Time.Equal(tt.wantTime) || ev.SampleRate != tt.wantRate {
				t.Errorf("got %+v", ev)
			}
		})
	}
}

func TestFromMap(t *testing.T) {
	ts := time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC)
	type point struct{ X, Y int }
	data := map[string]any{
		"s": "x", "i": 3, "u": uint64(math.MaxUint64), "f32": float32(0.5), "n": json.Number("12"), "nf": json.Number("1.5"),
		"t": ts, "b": []byte("raw"), "arr": []any{1.0, "a"}, "strs": []string{"p", "q"},
		"nested": map[string]any{"k": map[string]any{"z": false}}, "pt": point{1, 2}, "nil": nil,
	}
	ev, err := FromMap(data, time.Time{}, 0, Limits{}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"s": "x", "i": int64(3), "u": float64(math.MaxUint64), "f32": 0.5, "n": int64(12), "nf": 1.5,
		"t": "2025-05-01T00:00:00Z", "b": "raw", "arr": `[1,"a"]`, "strs": `["p","q"]`,
		"nested.k.z": false, "pt.X": int64(1), "pt.Y": int64(2),
	}
	if !reflect.DeepEqual(ev.Fields, want) || ev.SampleRate != 1 || !ev.Time.Equal(testNow) {
		t.Errorf("got %+v", ev)
	}
	for _, tc := range []struct {
		data map[string]any
		rate int64
		err  string
	}{
		{map[string]any{"a": 1}, -1, "invalid samplerate -1"},
		{map[string]any{"a": math.NaN()}, 1, `field "a": NaN is not a finite number`},
		{map[string]any{"a": []any{math.Inf(1)}}, 1, `field "a"`},
		{map[string]any{"a.b": 1, "a": map[string]any{"b": 2}}, 1, `duplicate field "a.b"`},
		{map[string]any{"s": strings.Repeat("x", DefaultMaxStringBytes+1)}, 1, `field "s": string is`},
	} {
		if _, err := FromMap(tc.data, ts, tc.rate, Limits{}, testNow); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("FromMap(%.60v): %v, want %q", tc.data, err, tc.err)
		}
	}
	cyclic := map[string]any{}
	cyclic["self"] = cyclic
	if _, err := FromMap(cyclic, ts, 1, Limits{}, testNow); err == nil || !strings.Contains(err.Error(), "nested deeper") {
		t.Errorf("cyclic map: %v", err)
	}
}
