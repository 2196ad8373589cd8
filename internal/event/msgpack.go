package event

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// mpMap is a decoded msgpack map, in wire order (so that duplicate keys are
// seen, as they are in JSON).
type mpMap []mpKV

type mpKV struct {
	k string
	v any
}

// MarshalJSON encodes m as a JSON object, for arrays kept as JSON text.
func (m mpMap) MarshalJSON() ([]byte, error) {
	buf := []byte{'{'}
	for i, kv := range m {
		if i > 0 {
			buf = append(buf, ',')
		}
		k, err := marshalJSON(kv.k)
		if err != nil {
			return nil, err
		}
		v, err := marshalJSON(kv.v)
		if err != nil {
			return nil, err
		}
		buf = append(append(append(buf, k...), ':'), v...)
	}
	return append(buf, '}'), nil
}

var _ json.Marshaler = mpMap(nil)

var errTooDeep = fmt.Errorf("nesting exceeds %d levels", maxDepth)

// mpReader points d.mp at buf. The msgpack decoder reads d.br directly (a
// bytes.Reader is an io.ByteScanner, so it adds no buffer): d.br.Len() is
// what is left of the body.
func (d *decoder) mpReader(buf []byte) *msgpack.Decoder {
	d.mpBuf = buf
	d.br.Reset(buf)
	if d.mp == nil {
		d.mp = msgpack.NewDecoder(&d.br)
	} else {
		d.mp.Reset(&d.br)
	}
	return d.mp
}

// mpValue decodes the next msgpack value into nil, bool, int64, float64,
// string, time.Time, []any or mpMap. An error means the body is malformed.
// A well-formed value an event cannot hold (a map key that is not a string,
// an extension type other than a timestamp) is recorded in *bad, the first
// one only, and decoding goes on past it.
func (d *decoder) mpValue(depth int, bad *error) (any, error) {
	dec := d.mp
	c, err := dec.PeekCode()
	if err != nil {
		return nil, err
	}
	switch {
	case c == msgpcode.Uint64:
		u, err := dec.DecodeUint64()
		if u > math.MaxInt64 {
			return float64(u), err
		}
		return int64(u), err
	case msgpcode.IsFixedNum(c), c >= msgpcode.Uint8 && c <= msgpcode.Int64:
		return dec.DecodeInt64()
	case c == msgpcode.Float, c == msgpcode.Double:
		return dec.DecodeFloat64()
	case c == msgpcode.Nil:
		return nil, dec.DecodeNil()
	case c == msgpcode.True, c == msgpcode.False:
		return dec.DecodeBool()
	case msgpcode.IsString(c), msgpcode.IsBin(c):
		// Not DecodeBytes: it allocates the declared length, up to 4 GiB,
		// before reading.
		n, err := dec.DecodeBytesLen()
		if err != nil {
			return nil, err
		}
		if n > d.br.Len() {
			return nil, io.ErrUnexpectedEOF
		}
		if cap(d.num) < n {
			d.num = make([]byte, n)
		}
		b := d.num[:n]
		if err := dec.ReadFull(b); err != nil {
			return nil, err
		}
		return string(b), nil
	case msgpcode.IsFixedArray(c), c == msgpcode.Array16, c == msgpcode.Array32:
		if depth >= maxDepth {
			return nil, errTooDeep
		}
		n, err := dec.DecodeArrayLen()
		if err != nil {
			return nil, err
		}
		a := make([]any, 0, min(n, 64))
		for range n {
			v, err := d.mpValue(depth+1, bad)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
		return a, nil
	case msgpcode.IsFixedMap(c), c == msgpcode.Map16, c == msgpcode.Map32:
		if depth >= maxDepth {
			return nil, errTooDeep
		}
		n, err := dec.DecodeMapLen()
		if err != nil {
			return nil, err
		}
		m := make(mpMap, 0, min(n, 64))
		for range n {
			k, err := d.mpValue(depth+1, bad)
			if err != nil {
				return nil, err
			}
			v, err := d.mpValue(depth+1, bad)
			if err != nil {
				return nil, err
			}
			ks, ok := k.(string)
			if !ok {
				if *bad == nil {
					*bad = fmt.Errorf("map key is %s, not a string", mpKind(k))
				}
				continue
			}
			m = append(m, mpKV{ks, v})
		}
		return m, nil
	case msgpcode.IsExt(c):
		// Not DecodeRaw or Skip: they allocate towards the declared length
		// before finding the data is not there.
		start := len(d.mpBuf) - d.br.Len()
		_, n, err := dec.DecodeExtHeader()
		if err != nil {
			return nil, err
		}
		if n > d.br.Len() {
			return nil, io.ErrUnexpectedEOF
		}
		raw := d.mpBuf[start : len(d.mpBuf)-d.br.Len()+n]
		if _, err := d.br.Seek(int64(n), io.SeekCurrent); err != nil {
			return nil, err
		}
		var t time.Time
		if msgpack.Unmarshal(raw, &t) == nil {
			return t.UTC(), nil // a timestamp has no zone: not the server's
		}
		if *bad == nil {
			*bad = errors.New("unsupported msgpack extension type (only timestamps are)")
		}
		return nil, nil
	}
	return nil, fmt.Errorf("invalid msgpack code %#x", c)
}

// mpKind names the type of a decoded value for error messages.
func mpKind(v any) string {
	switch v.(type) {
	case nil:
		return "nil"
	case bool:
		return "a boolean"
	case int64, float64:
		return "a number"
	case string:
		return "a string"
	case time.Time:
		return "a timestamp"
	case []any:
		return "an array"
	case mpMap:
		return "a map"
	}
	return fmt.Sprintf("%T", v)
}

func mpBodyError(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return badRequest("invalid msgpack: unexpected end of data")
	}
	return badRequest("invalid msgpack: %v", err)
}

func (d *decoder) msgpackBatch(buf []byte) ([]Item, error) {
	dec := d.mpReader(buf)
	c, err := dec.PeekCode()
	if err != nil {
		return nil, mpBodyError(err)
	}
	if !msgpcode.IsFixedArray(c) && c != msgpcode.Array16 && c != msgpcode.Array32 {
		return nil, badRequest("batch body must be a msgpack array")
	}
	n, err := dec.DecodeArrayLen()
	if err != nil {
		return nil, mpBodyError(err)
	}
	switch {
	case n > d.br.Len(): // every element takes a byte at least
		return nil, mpBodyError(io.ErrUnexpectedEOF)
	case n > d.flat.lim.MaxEvents: // refused before any is decoded
		return nil, tooManyEvents(d.flat.lim.MaxEvents)
	}
	items := make([]Item, 0, min(n, 1024))
	for range n {
		var bad error
		v, err := d.mpValue(1, &bad)
		if err != nil {
			return nil, mpBodyError(err)
		}
		var it Item
		if bad != nil {
			it.Err = bad
		} else {
			it.Event, it.Err = d.mpBatchEvent(v)
		}
		items = append(items, it)
		if err := d.meter.add(d.flat.footprint(it)); err != nil {
			return nil, err
		}
	}
	if d.br.Len() > 0 {
		return nil, badRequest("invalid msgpack: unexpected data after the batch array")
	}
	return items, nil
}

// mpBatchEvent makes an event of one batch element, a map with "data",
// "time" and "samplerate".
func (d *decoder) mpBatchEvent(v any) (Event, error) {
	m, ok := v.(mpMap)
	if !ok {
		return Event{}, fmt.Errorf("batch element is %s, not a map", mpKind(v))
	}
	var data, tv, rv any
	for _, kv := range m {
		switch kv.k {
		case "data":
			data = kv.v
		case "time":
			tv = kv.v
		case "samplerate":
			rv = kv.v
		}
	}
	dm, ok := data.(mpMap)
	if !ok {
		if data == nil {
			return Event{}, errors.New(`missing "data" map`)
		}
		return Event{}, fmt.Errorf(`"data" is %s, not a map`, mpKind(data))
	}
	t, err := d.mpTime(tv)
	if err != nil {
		return Event{}, err
	}
	rate, err := mpSampleRate(rv)
	if err != nil {
		return Event{}, err
	}
	d.flat.start(len(dm))
	d.flat.mpObject(dm)
	fields, err := d.flat.finish()
	if err != nil {
		return Event{}, err
	}
	return Event{Time: t, SampleRate: rate, Fields: fields}, nil
}

// mpTime is a msgpack "time": a timestamp, RFC 3339 or epoch text, an epoch
// number, or nil, absent or "" for now (see eventTime).
func (d *decoder) mpTime(v any) (time.Time, error) {
	var t time.Time
	var err error
	text := fmt.Sprint(v)
	switch x := v.(type) {
	case nil:
		return d.now, nil
	case time.Time:
		t = x
		text = x.UTC().Format(time.RFC3339Nano)
	case string:
		x = strings.TrimSpace(x)
		if x == "" {
			return d.now, nil
		}
		text = fmt.Sprintf("%q", clip(x))
		t, err = parseTimeText([]byte(x))
	case int64:
		t, err = epochInt(x)
	case float64:
		t, err = epochFloat(x)
	default:
		return time.Time{}, fmt.Errorf(`invalid "time": %s, want a timestamp, a string or a number`, mpKind(v))
	}
	if err == nil {
		t, err = eventTime(t, d.now)
	}
	if err != nil {
		return time.Time{}, timeError(text, err)
	}
	return t, nil
}

// mpSampleRate is a msgpack "samplerate": an integral number; nil, absent
// and 0 mean 1.
func mpSampleRate(v any) (int64, error) {
	var rate int64
	var err error
	switch x := v.(type) {
	case nil:
		return 1, nil
	case int64:
		rate, err = sampleRateInt(x)
	case float64:
		rate, err = sampleRateFloat(x)
	default:
		return 0, fmt.Errorf(`invalid "samplerate": %s, want a number`, mpKind(v))
	}
	if err != nil {
		return 0, sampleRateError(fmt.Sprint(v), err)
	}
	return rate, nil
}

// msgpackSingle decodes a /1/events body: one msgpack map, the event's data.
func (d *decoder) msgpackSingle(buf []byte) (map[string]any, error) {
	d.mpReader(buf)
	var bad error
	v, err := d.mpValue(0, &bad)
	if err != nil {
		return nil, mpBodyError(err)
	}
	if d.br.Len() > 0 {
		return nil, badRequest("invalid msgpack: unexpected data after the event map")
	}
	m, ok := v.(mpMap)
	if !ok {
		return nil, badRequest("event body must be a msgpack map, not %s", mpKind(v))
	}
	if bad != nil {
		return nil, badRequest("%v", bad)
	}
	d.flat.start(len(m))
	d.flat.mpObject(m)
	return d.flat.finish()
}
