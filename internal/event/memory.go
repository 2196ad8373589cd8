package event

// Memory is told of the memory one request's decoding comes to hold, as it
// grows, so that the server can count it against its ceiling before it is
// spent rather than find it in the resident set afterwards: each buffer
// the decompressed body is read into, each event decoded (see Footprint)
// and the parser's working space. An error from Grow stops decoding and is
// returned as it is.
type Memory interface {
	Grow(bytes int64) error
}

// What a decoded event holds besides its names and string values, measured
// on the Go heap (TestFootprintCoversTheHeap): the Item and the batch
// slices the API builds from it, the fields map's header and groups, and a
// boxed number per field.
const (
	eventOverhead = 256
	fieldOverhead = 80
)

// footprint is the memory an event of fields flattened fields and event
// size size (see the package documentation) is counted as holding.
func footprint(fields, size int) int64 {
	return eventOverhead + fieldOverhead*int64(fields) + int64(size)
}

// Footprint is the memory ev is counted as holding, for events decoded
// elsewhere (OTLP) and counted against the same Memory.
func Footprint(ev Event) int64 {
	size := 0
	for k, v := range ev.Fields {
		size += len(k) + 4
		if s, ok := v.(string); ok {
			size += len(s)
		} else {
			size += nonStringSize
		}
	}
	return footprint(len(ev.Fields), size)
}

// parserFactor is the parser's working space per byte of the largest JSON
// element parsed: fastjson keeps an 80-byte value per number or string,
// and a batch element is at least a few bytes per value.
const parserFactor = 16

// meter passes what decoding holds to a Memory in steps, so that counting
// costs little per event; flush passes the rest.
type meter struct {
	mem     Memory
	pending int64
}

// meterStep is how much is held before Memory is told.
const meterStep = 256 << 10

func (m *meter) add(n int64) error {
	if m.mem == nil {
		return nil
	}
	m.pending += n
	if m.pending < meterStep {
		return nil
	}
	return m.flush()
}

// now tells Memory of n at once (with what is pending), before n is
// allocated.
func (m *meter) now(n int64) error {
	if m.mem == nil {
		return nil
	}
	m.pending += n
	return m.flush()
}

func (m *meter) flush() error {
	n := m.pending
	m.pending = 0
	if m.mem == nil || n == 0 {
		return nil
	}
	return m.mem.Grow(n)
}

// tooManyEvents is the answer to a request of more than max events.
func tooManyEvents(max int) *RequestError {
	return tooLarge("the request holds more than %d events, the most one request may carry; send them in smaller requests", max)
}

// TooManyEvents is tooManyEvents for decoders elsewhere (OTLP).
func TooManyEvents(max int) error { return tooManyEvents(max) }
