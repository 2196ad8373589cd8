package event

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/valyala/fastjson"
	"github.com/vmihailenco/msgpack/v5"
)

// Limits bounds what one request may make the decoder do. A zero or negative
// field means its default (see DefaultLimits).
type Limits struct {
	MaxEventBytes  int   // one event's uncompressed encoded size; default 1 MiB
	MaxStringBytes int   // one string value (and an array's JSON text); default 64 KiB
	MaxFields      int   // fields in one event, after flattening; default 2000
	MaxBodyBytes   int64 // decompressed (and raw) request body; default 64 MiB
	// MaxEvents caps the events of one request: batch elements, or OTLP
	// spans, span events, links and log records; default 50,000. Past it
	// the request is a 413, found while decoding.
	MaxEvents int
	// Memory, when set, is told of the memory the request's decoding comes
	// to hold as it grows (see Memory); nil counts nothing.
	Memory Memory
}

// Default limits, as Honeycomb documents them.
const (
	DefaultMaxEventBytes  = 1 << 20
	DefaultMaxStringBytes = 64 << 10
	DefaultMaxFields      = 2000
	DefaultMaxBodyBytes   = 64 << 20
	DefaultMaxEvents      = 50_000
)

// DefaultLimits returns the limits Honeycomb documents: events under 1 MiB,
// strings up to 64 KiB, 2,000 fields, and a 64 MiB decompressed body; and
// Prodex's own cap of 50,000 events a request.
func DefaultLimits() Limits {
	return Limits{
		MaxEventBytes:  DefaultMaxEventBytes,
		MaxStringBytes: DefaultMaxStringBytes,
		MaxFields:      DefaultMaxFields,
		MaxBodyBytes:   DefaultMaxBodyBytes,
		MaxEvents:      DefaultMaxEvents,
	}
}

// WithDefaults is l with every zero or negative field set to its default.
func (l Limits) WithDefaults() Limits { return l.norm() }

func (l Limits) norm() Limits {
	if l.MaxEventBytes <= 0 {
		l.MaxEventBytes = DefaultMaxEventBytes
	}
	if l.MaxStringBytes <= 0 {
		l.MaxStringBytes = DefaultMaxStringBytes
	}
	if l.MaxFields <= 0 {
		l.MaxFields = DefaultMaxFields
	}
	if l.MaxBodyBytes <= 0 {
		l.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if l.MaxEvents <= 0 {
		l.MaxEvents = DefaultMaxEvents
	}
	return l
}

// RequestError is an error for the whole request; Status is the HTTP status
// to answer with: 400 (malformed body), 413 (too large) or 415 (unsupported
// Content-Type or Content-Encoding).
type RequestError struct {
	Status int
	Msg    string
}

func (e *RequestError) Error() string { return e.Msg }

func badRequest(format string, args ...any) *RequestError {
	return &RequestError{Status: http.StatusBadRequest, Msg: fmt.Sprintf(format, args...)}
}

func tooLarge(format string, args ...any) *RequestError {
	return &RequestError{Status: http.StatusRequestEntityTooLarge, Msg: fmt.Sprintf(format, args...)}
}

func unsupported(format string, args ...any) *RequestError {
	return &RequestError{Status: http.StatusUnsupportedMediaType, Msg: fmt.Sprintf(format, args...)}
}

// Item is one batch element: an event, or why it was rejected.
type Item struct {
	Event Event
	Err   error
}

// DecodeBatch decodes a POST /1/batch/{dataset} body: an array of
// {"data":{…},"time":"…","samplerate":N} (JSON or msgpack, optionally gzip or
// zstd compressed). It returns one Item per array element, in order; an
// element that cannot be accepted has Item.Err set and does not fail the
// others. A *RequestError is returned when the request as a whole cannot be
// decoded. The decoding rules are in the package documentation.
func DecodeBatch(body io.Reader, contentType, contentEncoding string, lim Limits, now time.Time) ([]Item, error) {
	lim = lim.norm()
	format, err := mediaFormat(contentType)
	if err != nil {
		return nil, err
	}
	d := getDecoder(lim, now)
	defer putDecoder(d)
	buf, err := d.readBody(body, contentEncoding, lim.MaxBodyBytes)
	if err != nil {
		return nil, err
	}
	var items []Item
	if format == formatMsgpack {
		items, err = d.msgpackBatch(buf)
	} else {
		items, err = d.jsonBatch(buf)
	}
	if err == nil {
		err = d.meter.flush()
	}
	if err != nil {
		return nil, err
	}
	return items, nil
}

// ReadBody reads a request body as DecodeBatch does (gzip or zstd
// decompressed, at most lim.MaxBodyBytes, a *RequestError otherwise) for
// formats decoded elsewhere, such as OTLP. The body passed to use is only
// valid during the call.
func ReadBody(body io.Reader, contentEncoding string, lim Limits, use func([]byte) error) error {
	lim = lim.norm()
	d := getDecoder(lim, time.Now())
	defer putDecoder(d)
	buf, err := d.readBody(body, contentEncoding, lim.MaxBodyBytes)
	if err != nil {
		return err
	}
	if err := d.meter.flush(); err != nil {
		return err
	}
	return use(buf)
}

// DecodeEvent decodes a POST /1/events/{dataset} body, one object that is the
// event's data, with the X-Honeycomb-Event-Time and X-Honeycomb-Samplerate
// header values ("" when absent). Every error is a *RequestError: 413 when
// the body is larger than lim.MaxEventBytes (or lim.MaxBodyBytes), 415 for an
// unsupported type or encoding, 400 otherwise.
func DecodeEvent(body io.Reader, contentType, contentEncoding, timeHeader, sampleRateHeader string, lim Limits, now time.Time) (Event, error) {
	lim = lim.norm()
	format, err := mediaFormat(contentType)
	if err != nil {
		return Event{}, err
	}
	d := getDecoder(lim, now)
	defer putDecoder(d)

	t, err := parseTimeHeader(timeHeader, now)
	if err != nil {
		return Event{}, badRequest("invalid X-Honeycomb-Event-Time header %q: %v", clip(timeHeader), err)
	}
	rate, err := parseSampleRateHeader(sampleRateHeader)
	if err != nil {
		return Event{}, badRequest("invalid X-Honeycomb-Samplerate header %q: %v", clip(sampleRateHeader), err)
	}

	limit := int64(lim.MaxEventBytes)
	if lim.MaxBodyBytes < limit {
		limit = lim.MaxBodyBytes
	}
	buf, err := d.readBody(body, contentEncoding, limit)
	if err != nil {
		var re *RequestError
		if errors.As(err, &re) && re.Status == http.StatusRequestEntityTooLarge {
			return Event{}, tooLarge("event exceeds %d bytes", limit)
		}
		return Event{}, err
	}
	var fields map[string]any
	if format == formatMsgpack {
		fields, err = d.msgpackSingle(buf)
	} else {
		fields, err = d.jsonSingle(buf)
	}
	if err != nil {
		var re *RequestError
		if errors.As(err, &re) {
			return Event{}, err
		}
		return Event{}, &RequestError{Status: http.StatusBadRequest, Msg: err.Error()}
	}
	return Event{Time: t, SampleRate: rate, Fields: fields}, nil
}

// FromMap builds an event from an already-decoded JSON object, applying the
// same flattening, value and limit rules as the wire decoders (the event size
// is the approximation described in the package documentation). A zero t
// means now; a sampleRate of 0 means 1. Values may be what encoding/json
// produces (float64 or json.Number, string, bool, nil, []any,
// map[string]any) or other Go values: integers, floats, time.Time (RFC 3339
// text), []byte (as a string) and anything else encoding/json can marshal,
// which is decoded as its JSON form.
func FromMap(data map[string]any, t time.Time, sampleRate int64, lim Limits, now time.Time) (Event, error) {
	lim = lim.norm()
	rate, err := sampleRateInt(sampleRate)
	if err != nil {
		return Event{}, fmt.Errorf("invalid samplerate %d: %w", sampleRate, err)
	}
	t, err = goTime(t, now)
	if err != nil {
		return Event{}, err
	}
	d := getDecoder(lim, now)
	defer putDecoder(d)
	fields, err := d.flat.goMap(data)
	if err != nil {
		return Event{}, err
	}
	return Event{Time: t, SampleRate: rate, Fields: fields}, nil
}

// Body formats.
const (
	formatJSON = iota
	formatMsgpack
)

func mediaFormat(contentType string) (int, error) {
	mt := contentType
	if i := strings.IndexByte(mt, ';'); i >= 0 {
		mt = mt[:i]
	}
	mt = strings.TrimSpace(mt)
	switch {
	case mt == "" || strings.EqualFold(mt, "application/json"):
		return formatJSON, nil
	case strings.EqualFold(mt, "application/msgpack") || strings.EqualFold(mt, "application/x-msgpack"):
		return formatMsgpack, nil
	}
	return 0, unsupported("unsupported Content-Type %q: use application/json or application/msgpack", clip(contentType))
}

// decoder is the pooled per-call state: body buffer, decompressors, parsers
// and the flattener.
type decoder struct {
	now   time.Time
	meter meter // what this call holds, told to Limits.Memory
	// parsed is the largest JSON element this call parsed: the parser's
	// working space grows with it.
	parsed int
	body   []byte
	gz     *gzip.Reader
	zs     *zstd.Decoder
	raw    limitedReader
	jp     fastjson.Parser  // JSON bodies, and FromMap values given as JSON
	mp     *msgpack.Decoder // msgpack bodies, reading br
	br     bytes.Reader
	mpBuf  []byte // the msgpack body br reads
	flat   flattener
	num    []byte // scratch: a JSON number's text, a msgpack string
}

var decoderPool = sync.Pool{New: func() any {
	d := &decoder{}
	d.flat.jp = &d.jp
	return d
}}

func getDecoder(lim Limits, now time.Time) *decoder {
	d := decoderPool.Get().(*decoder)
	d.now = now.UTC()
	d.meter = meter{mem: lim.Memory}
	d.parsed = 0
	d.flat.lim = lim
	return d
}

const (
	maxPooledBody   = 16 << 20
	maxPooledParsed = 4 << 20 // body size past which the parser's value cache is dropped
)

func putDecoder(d *decoder) {
	if len(d.body) > maxPooledParsed {
		d.jp = fastjson.Parser{} // its value cache grows with the document
	}
	if cap(d.body) > maxPooledBody {
		d.body = nil
	}
	d.body = d.body[:0]
	if cap(d.num) > 1<<20 {
		d.num = nil
	}
	d.raw = limitedReader{}
	d.meter = meter{}
	d.br.Reset(nil)
	d.mpBuf = nil
	if d.mp != nil {
		d.mp.Reset(&d.br)
	}
	d.flat.release()
	decoderPool.Put(d)
}

// limitedReader reads at most n bytes of r and remembers whether the
// underlying reader had more, and the first error it returned.
type limitedReader struct {
	r        io.Reader
	n        int64
	exceeded bool
	err      error
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		// Probe one byte to tell "exactly at the limit" from "over it".
		var one [1]byte
		n, err := l.r.Read(one[:])
		if n > 0 {
			l.exceeded = true
			return 0, errExceeded
		}
		if err != nil && err != io.EOF {
			l.err = err
		}
		return 0, err
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	if err != nil && err != io.EOF {
		l.err = err
	}
	return n, err
}

var errExceeded = errors.New("body exceeds limit")

// zstdMaxWindow bounds the memory a zstd frame may ask for. 8 MiB is the
// window the zstd format recommends every decoder support, and what the zstd
// CLI uses up to level 19 (libhoney-go uses a far smaller one).
const zstdMaxWindow = 8 << 20

// readBody reads the whole body, decompressing it, into d.body. At most limit
// decompressed bytes (and limit raw bytes) are read; more is a 413.
func (d *decoder) readBody(body io.Reader, contentEncoding string, limit int64) ([]byte, error) {
	if body == nil {
		body = strings.NewReader("")
	}
	d.raw = limitedReader{r: body, n: limit}
	enc := strings.ToLower(strings.TrimSpace(contentEncoding))
	var r io.Reader
	switch enc {
	case "", "identity":
		r = &d.raw
	case "gzip", "x-gzip":
		if d.gz == nil {
			d.gz = new(gzip.Reader)
		}
		if err := d.gz.Reset(&d.raw); err != nil {
			return nil, d.bodyError(err, limit, "gzip")
		}
		r = d.gz
	case "zstd":
		if d.zs == nil {
			zs, err := zstd.NewReader(nil,
				zstd.WithDecoderConcurrency(1),
				zstd.WithDecoderLowmem(true),
				zstd.WithDecoderMaxWindow(zstdMaxWindow),
				zstd.WithDecodeBuffersBelow(0))
			if err != nil {
				return nil, &RequestError{Status: http.StatusInternalServerError, Msg: "zstd: " + err.Error()}
			}
			d.zs = zs
		}
		if err := d.zs.Reset(&d.raw); err != nil {
			return nil, d.bodyError(err, limit, "zstd")
		}
		r = d.zs
	default:
		return nil, unsupported("unsupported Content-Encoding %q: use gzip, zstd or none", clip(contentEncoding))
	}
	buf, err := readLimited(r, d.body[:0], limit, d.meter.now)
	d.body = buf
	if enc == "zstd" {
		d.zs.Reset(nil) //nolint:errcheck // drops the reference to the body
	}
	if err != nil {
		return nil, d.bodyError(err, limit, enc)
	}
	return buf, nil
}

// bodyError turns an error from reading or decompressing the body into a
// RequestError.
func (d *decoder) bodyError(err error, limit int64, enc string) error {
	var mbe *http.MaxBytesError
	var held *heldError
	var re *RequestError
	switch {
	case errors.As(err, &held):
		return held.err // Limits.Memory refused: its error as it is
	case errors.As(d.raw.err, &re):
		return re // the body's reader said why (a body too slow: 408)
	case d.raw.exceeded || errors.Is(err, errExceeded) || errors.Is(err, zstd.ErrDecoderSizeExceeded):
		return tooLarge("request body exceeds %d bytes", limit)
	case errors.Is(err, zstd.ErrWindowSizeExceeded):
		return tooLarge("zstd window exceeds %d bytes", zstdMaxWindow)
	case errors.As(err, &mbe) || errors.As(d.raw.err, &mbe):
		return tooLarge("request body too large")
	case d.raw.err != nil:
		return badRequest("reading request body: %v", d.raw.err)
	}
	return badRequest("invalid %s data: %v", enc, err)
}

// heldError is a refusal of Limits.Memory met while reading the body.
type heldError struct{ err error }

func (e *heldError) Error() string { return e.err.Error() }

// readLimited appends all of r to buf; errExceeded if r has more than limit
// bytes. The buffer grows geometrically but never far past the limit; hold
// is told of each growth before it is made.
func readLimited(r io.Reader, buf []byte, limit int64, hold func(int64) error) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			if int64(len(buf)) > limit {
				return buf, errExceeded
			}
			n := 2 * cap(buf)
			if n < 32<<10 {
				n = 32 << 10
			}
			if int64(n) > limit+1 {
				n = int(limit + 1)
			}
			if n <= cap(buf) {
				n = cap(buf) + 1
			}
			// The buffer it replaces is garbage once copied: what the
			// body holds grows by the difference.
			if err := hold(int64(n - cap(buf))); err != nil {
				return buf, &heldError{err}
			}
			nb := make([]byte, len(buf), n)
			copy(nb, buf)
			buf = nb
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > limit {
			return buf, errExceeded
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// clip shortens user input quoted in error messages.
func clip(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}
