// Package event defines a wide structured event as Prodex receives it and
// decodes the Honeycomb-compatible wire formats into it.
//
// Bodies are JSON (parsed with fastjson) or msgpack (vmihailenco/msgpack),
// optionally gzip or zstd compressed. A batch (POST /1/batch) is an array of
// {"data":{…},"time":…,"samplerate":…}; a body that is not such an array is a
// 400 for the whole request, while an element that is not an object, lacks a
// "data" object or has a bad time or sample rate is rejected alone. A single
// event (POST /1/events) is one object, its data; its time and sample rate
// come from headers.
//
// Values: nested objects are flattened to dotted names ({"a":{"b":1}} is
// "a.b"); arrays are kept as their JSON text; nulls are dropped; integers
// that fit in an int64 are int64 (including msgpack's integer kinds), other
// numbers float64 (NaN, ±Inf and out-of-range numbers are rejected);
// booleans stay bool; msgpack binary is a string and a msgpack timestamp in
// the data RFC 3339 text. Invalid UTF-8 in names and strings is replaced by
// U+FFFD. Nesting is limited to 300 levels (a 400).
//
// Time: RFC 3339 text, or a Unix epoch (number or text) in seconds, or
// milliseconds, microseconds or nanoseconds by magnitude (see epochUnit);
// msgpack may also send a timestamp. Absent, null or "" means the receive
// time, and so does a time more than an hour ahead of it; a time before the
// Unix epoch is refused (see eventTime). Sample rate: an integral number
// from 0 to MaxSampleRate; absent, null or 0 means 1.
//
// Limits (Limits): field names of at most MaxFieldNameBytes after
// flattening, at most MaxFields fields after flattening, strings and
// array JSON text up to MaxStringBytes, and an event size up to
// MaxEventBytes. The size is the same for every format: the sum, over the
// flattened fields, of the name's length, the value's length (strings and
// array text: their bytes; other values count 8) and 4, roughly the event's
// JSON encoding. An empty field name and two fields flattening to the same
// name (e.g. "a.b" and {"a":{"b":…}}) are errors.
package event

import "time"

// Event is one decoded event, flattened: nested objects become dotted field
// names and every value is nil, int64, float64, string or bool (arrays are
// kept as their JSON text).
type Event struct {
	Time       time.Time
	SampleRate int64 // always ≥ 1: the event stands for this many
	Fields     map[string]any
}
