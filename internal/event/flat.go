package event

import (
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"
)

// FromFlat builds an event from fields that are already flat, for decoders
// that produce flat fields themselves (OTLP): values must be nil, string,
// int64, float64 or bool. It applies the wire decoders' rules and limits
// to the map in place, without copying it: nils are dropped, invalid UTF-8
// in names and strings replaced, and an empty name, a non-finite number, a
// value of another type, too many fields, a string or event over its limit
// are errors. A zero t means now; a sampleRate below 1 means 1.
func FromFlat(fields map[string]any, t time.Time, sampleRate int64, lim Limits, now time.Time) (Event, error) {
	lim = lim.norm()
	if len(fields) > lim.MaxFields {
		return Event{}, fmt.Errorf("event has %d fields, limit %d", len(fields), lim.MaxFields)
	}
	size := 0
	var rename map[string]string
	for k, v := range fields {
		if k == "" {
			return Event{}, errEmptyName
		}
		if len(k) > MaxFieldNameBytes {
			return Event{}, nameTooLong(k)
		}
		vlen := nonStringSize
		switch x := v.(type) {
		case nil:
			delete(fields, k)
			continue
		case string:
			if len(x) > lim.MaxStringBytes {
				return Event{}, fmt.Errorf("field %q: string is %d bytes, limit %d", clip(k), len(x), lim.MaxStringBytes)
			}
			if !utf8.ValidString(x) {
				fields[k] = strings.ToValidUTF8(x, "\uFFFD")
			}
			vlen = len(x)
		case float64:
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return Event{}, fmt.Errorf("field %q: %v is not a finite number", clip(k), x)
			}
		case int64, bool:
		default:
			return Event{}, fmt.Errorf("field %q: unsupported value type %T", clip(k), v)
		}
		size += len(k) + vlen + 4
		if size > lim.MaxEventBytes {
			return Event{}, fmt.Errorf("event exceeds %d bytes (at field %q)", lim.MaxEventBytes, clip(k))
		}
		if !utf8.ValidString(k) {
			if rename == nil {
				rename = map[string]string{}
			}
			rename[k] = strings.ToValidUTF8(k, "\uFFFD")
		}
	}
	for k, nk := range rename {
		if _, dup := fields[nk]; dup {
			return Event{}, fmt.Errorf("duplicate field %q", clip(nk))
		}
		fields[nk] = fields[k]
		delete(fields, k)
	}
	if sampleRate < 1 {
		sampleRate = 1
	}
	if sampleRate > MaxSampleRate {
		return Event{}, fmt.Errorf("invalid samplerate %d: %v", sampleRate, errSampleRate)
	}
	t, err := goTime(t, now)
	if err != nil {
		return Event{}, err
	}
	return Event{Time: t, SampleRate: sampleRate, Fields: fields}, nil
}
