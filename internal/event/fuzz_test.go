package event

import (
	"bytes"
	"errors"
	"math"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/vmihailenco/msgpack/v5"
)

// FuzzDecodeBatch feeds arbitrary bodies, as JSON and as msgpack, plain,
// gzip or zstd compressed (enc: 0 none, 1 gzip, 2 zstd of the body; 3 and
// 4 the body itself as a gzip or zstd stream, to reach the decompressors
// with malformed data), to DecodeBatch and DecodeEvent: they must not
// panic, must fail only with a *RequestError, and every accepted event
// must obey the package's rules.
func FuzzDecodeBatch(f *testing.F) {
	seeds := []string{
		`[{"data":{"a":1,"b":{"c":"x"},"d":[1,{"e":null}],"f":1.5,"g":true}}]`,
		`[{"data":{"a":1},"time":"2025-06-01T11:00:00Z","samplerate":3},{"data":{"a":2},"time":1748700000123}]`,
		`[1,{"time":null},{"data":[]},{"data":{"":1}},{"data":{"a.b":1,"a":{"b":2}}}]`,
		`{"a":"\u00e9\n","b":-9223372036854775808,"c":9223372036854775808,"d":1e999}`,
		`[{"data":{"a":"x"},"samplerate":-1,"time":"9999-12-31T23:59:59+14:00"}]`,
		`[{"data":{"status_code":200},"samplerate":9223372036854775807},{"data":{"a":1},"time":"0001-01-01T00:00:00Z"},{"data":{"a":1},"time":-1e300}]`,
		`[]`, `[[[[]]]]`, `nul`,
	}
	for _, s := range seeds {
		f.Add([]byte(s), false, byte(0))
	}
	for enc, pack := range map[byte]func(testing.TB, []byte) []byte{1: gzipBytes, 2: zstdBytes} {
		for _, s := range seeds[:3] {
			f.Add([]byte(s), false, enc)
			f.Add(pack(f, []byte(s)), false, enc+2)
		}
		f.Add(pack(f, []byte(seeds[0]))[:20], false, enc+2) // truncated stream
	}
	ts := time.Date(2025, 6, 1, 11, 0, 0, 0, time.UTC)
	for _, v := range []any{
		[]any{libhoneyEvent{Timestamp: &ts, SampleRate: 2, Data: map[string]any{"a": 1, "b": map[string]any{"c": []byte("x")}, "d": []any{1, nil}}}},
		[]any{map[string]any{"data": map[string]any{"u": uint64(math.MaxUint64), "f": float32(2.5), "n": nil}, "time": "2025-06-01T11:00:00Z", "samplerate": 1.0}},
		[]any{1, "x", map[string]any{"data": 3}, map[string]any{"data": map[int]int{1: 2}}},
		map[string]any{"a": map[string]any{"b": true}},
		[]any{map[string]any{"data": map[string]any{"a": 1}, "time": time.Unix(-1<<62, 0), "samplerate": uint64(1) << 63}},
	} {
		b, err := msgpack.Marshal(v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, true, byte(0))
		f.Add(zstdBytes(f, b), true, byte(4))
	}
	f.Add([]byte{0x91, 0x81, 0xa4, 'd', 'a', 't', 'a', 0x81, 0xa1, 'e', 0xd4, 0x05, 0x00}, true, byte(0))
	f.Add([]byte{0xdd, 0xff, 0xff, 0xff, 0xff}, true, byte(0))

	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	lim := Limits{MaxFields: 50, MaxStringBytes: 200, MaxEventBytes: 2000, MaxBodyBytes: 1 << 20}
	f.Fuzz(func(t *testing.T, body []byte, isMsgpack bool, enc byte) {
		ct := "application/json"
		if isMsgpack {
			ct = "application/msgpack"
		}
		ce := ""
		switch enc % 5 {
		case 1:
			ce, body = "gzip", gzipBytes(t, body)
		case 2:
			ce, body = "zstd", zstdBytes(t, body)
		case 3:
			ce = "gzip"
		case 4:
			ce = "zstd"
		}
		items, err := DecodeBatch(bytes.NewReader(body), ct, ce, lim, now)
		if err != nil {
			checkRequestError(t, err)
		}
		for _, it := range items {
			if it.Err == nil {
				checkEvent(t, it.Event, lim, now)
			}
		}
		ev, err := DecodeEvent(bytes.NewReader(body), ct, ce, "", "", lim, now)
		if err != nil {
			checkRequestError(t, err)
		} else {
			checkEvent(t, ev, lim, now)
		}
	})
}

func checkRequestError(t *testing.T, err error) {
	var re *RequestError
	if !errors.As(err, &re) {
		t.Fatalf("error %v (%T) is not a *RequestError", err, err)
	}
	if re.Status != 400 && re.Status != 413 {
		t.Fatalf("status %d for %v", re.Status, err)
	}
}

func checkEvent(t *testing.T, ev Event, lim Limits, now time.Time) {
	if ev.SampleRate < 1 || ev.SampleRate > MaxSampleRate || ev.Time.Before(time.Unix(0, 0)) || ev.Time.After(now.Add(time.Hour)) || ev.Time.Location() != time.UTC {
		t.Fatalf("bad event time %v or rate %d", ev.Time, ev.SampleRate)
	}
	if len(ev.Fields) > lim.MaxFields {
		t.Fatalf("%d fields", len(ev.Fields))
	}
	for k, v := range ev.Fields {
		if k == "" || len(k) > MaxFieldNameBytes || !utf8.ValidString(k) {
			t.Fatalf("bad field name %q", k)
		}
		switch x := v.(type) {
		case int64, bool:
		case float64:
			if math.IsNaN(x) || math.IsInf(x, 0) {
				t.Fatalf("field %q = %v", k, x)
			}
		case string:
			if len(x) > lim.MaxStringBytes || !utf8.ValidString(x) {
				t.Fatalf("field %q: %d bytes", k, len(x))
			}
		default:
			t.Fatalf("field %q has type %T", k, v)
		}
	}
}
