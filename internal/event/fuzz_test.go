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

// FuzzDecodeBatch feeds arbitrary bodies, as JSON and as msgpack, to
// DecodeBatch and DecodeEvent: they must not panic, must fail only with a
// *RequestError, and every accepted event must obey the package's rules.
func FuzzDecodeBatch(f *testing.F) {
	for _, s := range []string{
		`[{"data":{"a":1,"b":{"c":"x"},"d":[1,{"e":null}],"f":1.5,"g":true}}]`,
		`[{"data":{"a":1},"time":"2025-06-01T11:00:00Z","samplerate":3},{"data":{"a":2},"time":1748700000123}]`,
		`[1,{"time":null},{"data":[]},{"data":{"":1}},{"data":{"a.b":1,"a":{"b":2}}}]`,
		`{"a":"\u00e9\n","b":-9223372036854775808,"c":9223372036854775808,"d":1e999}`,
		`[{"data":{"a":"x"},"samplerate":-1,"time":"9999-12-31T23:59:59+14:00"}]`,
		`[]`, `[[[[]]]]`, `nul`,
	} {
		f.Add([]byte(s), false)
	}
	ts := time.Date(2025, 6, 1, 11, 0, 0, 0, time.UTC)
	for _, v := range []any{
		[]any{libhoneyEvent{Timestamp: &ts, SampleRate: 2, Data: map[string]any{"a": 1, "b": map[string]any{"c": []byte("x")}, "d": []any{1, nil}}}},
		[]any{map[string]any{"data": map[string]any{"u": uint64(math.MaxUint64), "f": float32(2.5), "n": nil}, "time": "2025-06-01T11:00:00Z", "samplerate": 1.0}},
		[]any{1, "x", map[string]any{"data": 3}, map[string]any{"data": map[int]int{1: 2}}},
		map[string]any{"a": map[string]any{"b": true}},
	} {
		b, err := msgpack.Marshal(v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, true)
	}
	f.Add([]byte{0x91, 0x81, 0xa4, 'd', 'a', 't', 'a', 0x81, 0xa1, 'e', 0xd4, 0x05, 0x00}, true)
	f.Add([]byte{0xdd, 0xff, 0xff, 0xff, 0xff}, true)

	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	lim := Limits{MaxFields: 50, MaxStringBytes: 200, MaxEventBytes: 2000, MaxBodyBytes: 1 << 20}
	f.Fuzz(func(t *testing.T, body []byte, isMsgpack bool) {
		ct := "application/json"
		if isMsgpack {
			ct = "application/msgpack"
		}
		items, err := DecodeBatch(bytes.NewReader(body), ct, "", lim, now)
		if err != nil {
			checkRequestError(t, err)
		}
		for _, it := range items {
			if it.Err == nil {
				checkEvent(t, it.Event, lim, now)
			}
		}
		ev, err := DecodeEvent(bytes.NewReader(body), ct, "", "", "", lim, now)
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
	if ev.SampleRate < 1 || ev.Time.IsZero() || ev.Time.After(now.Add(time.Hour)) || ev.Time.Location() != time.UTC {
		t.Fatalf("bad event time %v or rate %d", ev.Time, ev.SampleRate)
	}
	if len(ev.Fields) > lim.MaxFields {
		t.Fatalf("%d fields", len(ev.Fields))
	}
	for k, v := range ev.Fields {
		if k == "" || !utf8.ValidString(k) {
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
