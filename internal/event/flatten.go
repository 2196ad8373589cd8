package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/valyala/fastjson"
)

// maxDepth bounds the nesting of objects and arrays, as fastjson does for
// JSON (fastjson.MaxDepth).
const maxDepth = fastjson.MaxDepth

// flattener turns one event's data into its flat Fields map and enforces the
// per-event limits. It is shared by the JSON and msgpack decoders and by
// FromMap.
type flattener struct {
	lim    Limits
	jp     *fastjson.Parser // re-parses values FromMap had to marshal
	fields map[string]any
	name   []byte            // dotted name of the value being visited
	n      int               // flattened fields seen, including those past MaxFields
	size   int               // see the package documentation
	depth  int               // Go map nesting (FromMap)
	err    error             // first reason the event is rejected
	text   []byte            // scratch: JSON text of an array or number
	names  map[string]string // field names seen in this call, to share them
}

// maxNames bounds the field names one call shares between its events.
const maxNames = 4096

// nonStringSize is what a value that is not a string counts towards the
// event size (besides its name).
const nonStringSize = 8

var errEmptyName = errors.New("empty field name")

// MaxFieldNameBytes bounds a field's name, after flattening (nested
// object names joined by dots). A name is kept in every dataset's catalog
// and every answer that shows the field; real ones are far shorter.
const MaxFieldNameBytes = 1024

func nameTooLong[K string | []byte](name K) error {
	return fmt.Errorf("field name %q is %d bytes, limit %d", clip(string(name)), len(name), MaxFieldNameBytes)
}

func (f *flattener) start(hint int) {
	f.fields = make(map[string]any, min(hint, f.lim.MaxFields))
	f.name = f.name[:0]
	f.n, f.size, f.depth, f.err = 0, 0, 0, nil
}

// finish returns the event's fields, or why it is rejected.
func (f *flattener) finish() (map[string]any, error) {
	m := f.fields
	f.fields = nil
	if f.err != nil {
		return nil, f.err
	}
	if f.n > f.lim.MaxFields {
		return nil, fmt.Errorf("event has %d fields, limit %d", f.n, f.lim.MaxFields)
	}
	return m, nil
}

// footprint is the memory it, just decoded by this flattener, is counted
// as holding (see Memory).
func (f *flattener) footprint(it Item) int64 {
	if it.Err != nil {
		return eventOverhead
	}
	return footprint(len(it.Event.Fields), f.size)
}

// release drops what the pooled flattener should not keep between calls.
func (f *flattener) release() {
	f.fields = nil
	clear(f.names)
	f.err = nil
	if cap(f.text) > 1<<20 {
		f.text = nil
	}
	if cap(f.name) > 64<<10 {
		f.name = nil
	}
}

func (f *flattener) failf(format string, args ...any) {
	if f.err == nil {
		f.err = fmt.Errorf(format, args...)
	}
}

// fieldName is the current name, for error messages.
func (f *flattener) fieldName() string { return clip(string(f.name)) }

// push appends key to the current name and returns the length to restore;
// false (and the event fails) when key is empty.
func push[K string | []byte](f *flattener, key K) (int, bool) {
	mark := len(f.name)
	if len(key) == 0 {
		if f.err == nil {
			if mark == 0 {
				f.err = errEmptyName
			} else {
				f.err = fmt.Errorf("empty field name in %q", f.fieldName())
			}
		}
		return mark, false
	}
	if mark > 0 {
		f.name = append(f.name, '.')
	}
	f.name = append(f.name, key...)
	return mark, true
}

// slot accounts for one more field named f.name whose value counts vlen
// bytes, and returns the name to store it under; false when it must not be
// stored (the event has failed, or has too many fields).
func (f *flattener) slot(vlen int) (string, bool) {
	f.n++
	if f.err != nil || f.n > f.lim.MaxFields {
		return "", false
	}
	if len(f.name) > MaxFieldNameBytes {
		if f.err == nil {
			f.err = nameTooLong(f.name)
		}
		return "", false
	}
	if _, dup := f.fields[string(f.name)]; dup {
		f.failf("duplicate field %q", f.fieldName())
		return "", false
	}
	f.size += len(f.name) + vlen + 4
	if f.size > f.lim.MaxEventBytes {
		f.failf("event exceeds %d bytes (at field %q)", f.lim.MaxEventBytes, f.fieldName())
		return "", false
	}
	if name, ok := f.names[string(f.name)]; ok {
		return name, true
	}
	name := validString(f.name)
	if len(f.names) < maxNames {
		if f.names == nil {
			f.names = make(map[string]string, 64)
		}
		f.names[name] = name
	}
	return name, true
}

func (f *flattener) addValue(v any) {
	if name, ok := f.slot(nonStringSize); ok {
		f.fields[name] = v
	}
}

func (f *flattener) addFloat(x float64) {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		f.failf("field %q: %v is not a finite number", f.fieldName(), x)
		return
	}
	f.addValue(x)
}

func (f *flattener) addUint(u uint64) {
	if u > math.MaxInt64 {
		f.addValue(float64(u))
		return
	}
	f.addValue(int64(u))
}

// addNumber adds a number given as JSON number text: an int64 when it is an
// integer that fits, else a float64.
func (f *flattener) addNumber(b []byte) {
	if n, ok := parseIntText(b); ok {
		f.addValue(n)
		return
	}
	x, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.IsInf(x, 0) {
		f.failf("field %q: invalid or out of range number %q", f.fieldName(), clip(string(b)))
		return
	}
	f.addValue(x)
}

// tooLong checks a string (or an array's JSON text) of n bytes against
// MaxStringBytes.
func (f *flattener) tooLong(n int, array bool) bool {
	if n <= f.lim.MaxStringBytes || f.err != nil || f.n >= f.lim.MaxFields {
		return false // past MaxFields only the count matters
	}
	if array {
		f.failf("field %q: array is %d bytes as JSON text, limit %d", f.fieldName(), n, f.lim.MaxStringBytes)
	} else {
		f.failf("field %q: string is %d bytes, limit %d", f.fieldName(), n, f.lim.MaxStringBytes)
	}
	return true
}

// addBytes adds a string value (copied); array tells the value is an array's
// JSON text.
func (f *flattener) addBytes(b []byte, array bool) {
	if f.tooLong(len(b), array) {
		return
	}
	f.addValidString(validString(b), array)
}

func (f *flattener) addString(s string) {
	if f.tooLong(len(s), false) {
		return
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	f.addValidString(s, false)
}

// addValidString adds s, checking its length again: replacing invalid UTF-8
// can make it longer.
func (f *flattener) addValidString(s string, array bool) {
	if f.tooLong(len(s), array) {
		return
	}
	if name, ok := f.slot(len(s)); ok {
		f.fields[name] = s
	}
}

// validString copies b to a string, replacing invalid UTF-8 with U+FFFD.
func validString(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

// jsonObject flattens a JSON object's members under the current name.
func (f *flattener) jsonObject(o *fastjson.Object) {
	o.Visit(func(k []byte, v *fastjson.Value) {
		if f.err != nil {
			return
		}
		mark, ok := push(f, k)
		if ok {
			f.jsonValue(v)
		}
		f.name = f.name[:mark]
	})
}

func (f *flattener) jsonValue(v *fastjson.Value) {
	switch v.Type() {
	case fastjson.TypeNull:
		// skipped: the field is absent
	case fastjson.TypeObject:
		o, _ := v.Object()
		f.jsonObject(o)
	case fastjson.TypeArray:
		f.text = v.MarshalTo(f.text[:0])
		f.addBytes(f.text, true)
	case fastjson.TypeString:
		b, _ := v.StringBytes()
		f.addBytes(b, false)
	case fastjson.TypeNumber:
		f.text = v.MarshalTo(f.text[:0]) // the number's text as sent
		f.addNumber(f.text)
	case fastjson.TypeTrue:
		f.addValue(true)
	case fastjson.TypeFalse:
		f.addValue(false)
	}
}

// goMap flattens FromMap's data.
func (f *flattener) goMap(m map[string]any) (map[string]any, error) {
	f.start(len(m))
	f.goObject(m)
	return f.finish()
}

func (f *flattener) goObject(m map[string]any) {
	if f.depth >= maxDepth {
		f.failf("field %q: nested deeper than %d levels", f.fieldName(), maxDepth)
		return
	}
	f.depth++
	for k, v := range m {
		if f.err != nil {
			break
		}
		mark, ok := push(f, k)
		if ok {
			f.goValue(v)
		}
		f.name = f.name[:mark]
	}
	f.depth--
}

// mpObject flattens a decoded msgpack map.
func (f *flattener) mpObject(m mpMap) {
	for _, kv := range m {
		if f.err != nil {
			return
		}
		mark, ok := push(f, kv.k)
		if ok {
			f.goValue(kv.v)
		}
		f.name = f.name[:mark]
	}
}

// goValue flattens a Go value: one from the msgpack decoder, or one given to
// FromMap.
func (f *flattener) goValue(v any) {
	switch x := v.(type) {
	case nil:
	case string:
		f.addString(x)
	case []byte:
		f.addBytes(x, false)
	case bool:
		f.addValue(x)
	case int64:
		f.addValue(x)
	case int:
		f.addValue(int64(x))
	case int32:
		f.addValue(int64(x))
	case int16:
		f.addValue(int64(x))
	case int8:
		f.addValue(int64(x))
	case uint64:
		f.addUint(x)
	case uint:
		f.addUint(uint64(x))
	case uint32:
		f.addUint(uint64(x))
	case uint16:
		f.addUint(uint64(x))
	case uint8:
		f.addUint(uint64(x))
	case float64:
		f.addFloat(x)
	case float32:
		f.addFloat(float64(x))
	case json.Number:
		f.addNumber([]byte(x))
	case time.Time:
		f.addString(x.Format(time.RFC3339Nano))
	case map[string]any:
		f.goObject(x)
	case mpMap:
		f.mpObject(x)
	default:
		// []any, and anything else: as encoding/json would encode it.
		b, err := marshalJSON(x)
		if err != nil {
			f.failf("field %q: %v", f.fieldName(), err)
			return
		}
		if len(b) > 0 && b[0] == '[' {
			f.addBytes(b, true)
			return
		}
		jv, err := f.jp.ParseBytes(b)
		if err != nil {
			f.failf("field %q: %v", f.fieldName(), err)
			return
		}
		f.jsonValue(jv)
	}
}

// marshalJSON is json.Marshal without HTML escaping.
func marshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}
