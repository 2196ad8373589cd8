package event

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

// heldMemory is a Memory that records what it is told, refusing past max
// (0: never).
type heldMemory struct {
	held, max int64
	calls     int
}

var errHeld = errors.New("held memory refused")

func (m *heldMemory) Grow(n int64) error {
	m.calls++
	if m.max > 0 && m.held+n > m.max {
		return errHeld
	}
	m.held += n
	return nil
}

// smallEvents is a JSON batch of n events of three fields, 49 bytes each:
// the shape of the reported compression bomb.
func smallEvents(n int) []byte {
	var b bytes.Buffer
	b.WriteByte('[')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"data":{"service":"api","status":200,"i":%d}}`, i)
	}
	b.WriteByte(']')
	return b.Bytes()
}

func TestDefaultLimitsArePinned(t *testing.T) {
	want := Limits{MaxEventBytes: 1 << 20, MaxStringBytes: 64 << 10, MaxFields: 2000, MaxBodyBytes: 64 << 20, MaxEvents: 50_000}
	if got := DefaultLimits(); got != want {
		t.Errorf("DefaultLimits() = %+v, want %+v", got, want)
	}
	if got := (Limits{}).WithDefaults(); got != want {
		t.Errorf("zero Limits with defaults = %+v, want %+v", got, want)
	}
}

// TestTooManyEventsIs413WhileDecoding: the reported bomb (1,014,751 small
// events, 2.5 MB gzip'd, under the decompressed limit) is refused with 413
// naming the event limit, and the decoder stops at the limit: what it
// held is the body and the events up to the limit, not a parse of all of
// them (3 GB when the body was parsed whole).
func TestTooManyEventsIs413WhileDecoding(t *testing.T) {
	const bomb = 1_014_751
	raw := smallEvents(bomb)
	body := gzipBytes(t, raw)
	var mem heldMemory
	_, err := DecodeBatch(bytes.NewReader(body), "application/json", "gzip", Limits{Memory: &mem}, testNow)
	if err == nil || requestStatus(t, err) != http.StatusRequestEntityTooLarge || !strings.Contains(err.Error(), "more than 50000 events") {
		t.Fatalf("bomb: %v, want 413 naming the 50000-event limit", err)
	}
	limit := 2*int64(len(raw)) + DefaultMaxEvents*footprint(3, 60)
	if mem.held > limit {
		t.Errorf("the decoder held %d MB for a body it refused, want under %d MB: it did not stop at the limit", mem.held>>20, limit>>20)
	}
	t.Logf("JSON bomb of %d bytes (%d gzip'd): %d MB held before the 413", len(raw), len(body), mem.held>>20)

	// msgpack announces its count: refused before an event is decoded.
	el, err := msgpack.Marshal(map[string]any{"data": map[string]any{"service": "api", "status": 200, "i": 123456}})
	if err != nil {
		t.Fatal(err)
	}
	mp := append([]byte{0xdd, bomb >> 24, bomb >> 16 & 0xff, bomb >> 8 & 0xff, bomb & 0xff}, bytes.Repeat(el, bomb)...)
	mem = heldMemory{}
	_, err = DecodeBatch(bytes.NewReader(zstdBytes(t, mp)), "application/msgpack", "zstd", Limits{Memory: &mem}, testNow)
	if err == nil || requestStatus(t, err) != http.StatusRequestEntityTooLarge || !strings.Contains(err.Error(), "more than 50000 events") {
		t.Fatalf("msgpack bomb: %v, want 413 naming the 50000-event limit", err)
	}
	if mem.held > 2*int64(len(mp)) {
		t.Errorf("the decoder held %d MB for a msgpack body of %d MB it refused by its count", mem.held>>20, len(mp)>>20)
	}

	// At the limit exactly, a batch is taken; a lower limit is kept too.
	items, err := DecodeBatch(bytes.NewReader(smallEvents(1000)), "", "", Limits{MaxEvents: 1000}, testNow)
	if err != nil || len(items) != 1000 {
		t.Errorf("1000 events at a limit of 1000: %d items, %v", len(items), err)
	}
	_, err = DecodeBatch(bytes.NewReader(smallEvents(1001)), "", "", Limits{MaxEvents: 1000}, testNow)
	if err == nil || requestStatus(t, err) != http.StatusRequestEntityTooLarge || !strings.Contains(err.Error(), "more than 1000 events") {
		t.Errorf("1001 events at a limit of 1000: %v", err)
	}
}

// TestDecodingStopsWhenMemoryIsRefused: the memory a request holds is
// asked for as it grows, and a refusal stops decoding with the refusal
// itself: while the body is decompressed (a bomb of zeros is stopped at
// the memory granted, not at the body limit) and while events are decoded.
func TestDecodingStopsWhenMemoryIsRefused(t *testing.T) {
	zeros := gzipBytes(t, make([]byte, 50<<20))
	mem := heldMemory{max: 4 << 20}
	_, err := DecodeBatch(bytes.NewReader(zeros), "", "gzip", Limits{Memory: &mem}, testNow)
	if !errors.Is(err, errHeld) {
		t.Errorf("decompressing past the memory granted: %v, want the refusal", err)
	}
	if mem.held > 4<<20 {
		t.Errorf("held %d bytes past the %d granted", mem.held, 4<<20)
	}

	raw := smallEvents(20_000)
	for _, ct := range []string{"application/json", "application/msgpack"} {
		body := raw
		if ct == "application/msgpack" {
			items, err := DecodeBatch(bytes.NewReader(raw), "", "", Limits{}, testNow)
			if err != nil {
				t.Fatal(err)
			}
			evs := make([]map[string]any, len(items))
			for i, it := range items {
				evs[i] = map[string]any{"data": it.Event.Fields}
			}
			body, _ = msgpack.Marshal(evs)
		}
		mem := heldMemory{max: 4 << 20}
		_, err := DecodeBatch(bytes.NewReader(body), ct, "", Limits{Memory: &mem}, testNow)
		if !errors.Is(err, errHeld) {
			t.Errorf("%s: 20,000 events with 4 MiB granted: %v, want the refusal", ct, err)
		}
		calls := mem.calls
		// Without a refusal, the same body is taken, and told in steps.
		mem = heldMemory{}
		if _, err := DecodeBatch(bytes.NewReader(body), ct, "", Limits{Memory: &mem}, testNow); err != nil {
			t.Fatalf("%s: %v", ct, err)
		}
		if calls >= mem.calls || mem.calls > 64 {
			t.Errorf("%s: %d calls until the refusal, %d for the whole body: want fewer, and few (steps of %d bytes)", ct, calls, mem.calls, meterStep)
		}
	}
}

// TestFootprintCoversTheHeap: what decoding tells Memory covers the heap
// the decoded batch really holds, for events from empty to wide, so that
// counting it against the ceiling is not counting too little.
func TestFootprintCoversTheHeap(t *testing.T) {
	shapes := map[string]func(i int) string{
		"empty":   func(int) string { return `{}` },
		"small":   func(i int) string { return fmt.Sprintf(`{"service":"api","status":200,"i":%d}`, i) },
		"nested":  func(int) string { return `{"a":[1,2],"b":{"c":{"d":1,"e":2,"f":3,"g":4}},"h":null}` },
		"strings": func(i int) string { return fmt.Sprintf(`{"s":"%s","n":%d}`, strings.Repeat("x", 2000), i) },
		"wide": func(i int) string {
			var b strings.Builder
			b.WriteByte('{')
			for f := range 40 {
				if f > 0 {
					b.WriteByte(',')
				}
				if f%2 == 0 {
					fmt.Fprintf(&b, `"field_%02d":"value-%d"`, f, i%97)
				} else {
					fmt.Fprintf(&b, `"field_%02d":%d.5`, f, i*f)
				}
			}
			return b.String() + "}"
		},
	}
	for name, data := range shapes {
		const n = 20_000
		var b bytes.Buffer
		b.WriteByte('[')
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"data":%s}`, data(i))
		}
		b.WriteByte(']')
		body := b.Bytes()
		var before, after runtime.MemStats
		runtime.GC() // twice: the decoders pooled by earlier calls are freed
		runtime.GC()
		runtime.ReadMemStats(&before)
		var mem heldMemory
		items, err := DecodeBatch(bytes.NewReader(body), "", "", Limits{Memory: &mem}, testNow)
		if err != nil || len(items) != n {
			t.Fatalf("%s: %d items, %v", name, len(items), err)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		live := int64(after.HeapAlloc) - int64(before.HeapAlloc)
		runtime.KeepAlive(items)
		runtime.KeepAlive(body)
		t.Logf("%s: %d bytes of JSON an event, %d held on the heap, %d counted", name, len(body)/n, live/n, mem.held/n)
		if mem.held < live {
			t.Errorf("%s: counted %d bytes an event, the heap holds %d", name, mem.held/n, live/n)
		}
	}
}
