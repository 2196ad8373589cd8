package ingest

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/prodex/prodex/internal/event"
)

// TestSlotsPerEnvironmentAndKey: one key holds at most its share of the
// requests in flight and one environment its share, so that a tenant
// whose requests hang leaves the others slots; each refusal is a 429
// naming whose bound it met.
func TestSlotsPerEnvironmentAndKey(t *testing.T) {
	g := (&fakeMachine{}).guard(GuardOptions{MaxInFlight: 8, MaxInFlightPerEnv: 6, MaxInFlightPerKey: 4})
	var held []*Ticket
	take := func(env, key string, want string) {
		t.Helper()
		tk, err := g.Admit(env, key)
		switch {
		case want == "" && err != nil:
			t.Fatalf("%s/%s: %v", env, key, err)
		case want == "":
			held = append(held, tk)
		case !errors.Is(err, ErrTooManyRequests) || !strings.Contains(err.Error(), want):
			t.Fatalf("%s/%s: %v, want a refusal naming %q", env, key, err, want)
		default:
			if status, after := Refusal(err); status != http.StatusTooManyRequests || after != 1 {
				t.Errorf("%s/%s: answered %d, Retry-After %d", env, key, status, after)
			}
		}
	}
	for range 4 {
		take("", "a", "")
	}
	take("", "a", "this API key has 4 ingest requests in flight")
	take("", "b", "")
	take("", "b", "")
	take("", "c", "this environment has 6 ingest requests in flight")
	take("staging", "d", "")
	take("staging", "d", "")
	take("staging", "e", "8 ingest requests are in flight")
	if n := g.State().InFlight; n != 8 {
		t.Errorf("in flight %d, want 8", n)
	}
	held[0].Done() // one of a's
	take("", "a", "")
	for _, tk := range held {
		tk.Done()
	}
	if n := g.State().InFlight; n != 0 {
		t.Errorf("in flight %d after every release", n)
	}
}

// TestTicketCountsDecodeMemory: the memory a request's decoding holds is
// counted as it grows against DecodeMemory: past it a request is refused
// with 503 and Retry-After while others hold it, with 413 when it alone
// would need more; the memory comes back with Done, and the process at
// its ceiling refuses any growth.
func TestTicketCountsDecodeMemory(t *testing.T) {
	m := &fakeMachine{}
	m.free.Store(1 << 30)
	g := m.guard(GuardOptions{MemoryCeiling: 10_000, DecodeMemory: 1000})
	a, _ := g.Admit("", "a")
	b, _ := g.Admit("", "b")
	if err := a.Grow(600); err != nil {
		t.Fatal(err)
	}
	err := b.Grow(500)
	if !errors.Is(err, ErrDecodeMemory) {
		t.Fatalf("past the decode memory others hold: %v", err)
	}
	if status, after := Refusal(err); status != http.StatusServiceUnavailable || after != 1 {
		t.Errorf("answered %d, Retry-After %d", status, after)
	}
	if err := b.Grow(400); err != nil {
		t.Fatalf("within it: %v", err)
	}
	var re *event.RequestError
	if err := a.Grow(500); !errors.As(err, &re) || re.Status != http.StatusRequestEntityTooLarge || !strings.Contains(re.Msg, "1000 B") {
		t.Fatalf("one request needing more than all of it: %v", err)
	}
	if n := g.State().DecodingBytes; n != 1000 {
		t.Errorf("decoding %d bytes, want 1000", n)
	}
	a.Done()
	if err := b.Grow(500); err != nil {
		t.Errorf("after the other's Done: %v", err)
	}
	m.rss.Store(9000) // over 85 % of the ceiling
	g.sample()
	if err := b.Grow(1); !errors.Is(err, ErrMemory) {
		t.Errorf("at the ceiling: %v", err)
	}
	b.Done()
	if n := g.State().DecodingBytes; n != 0 {
		t.Errorf("decoding %d bytes after every Done", n)
	}
	// A writer counts the refusal as a memory one.
	w := NewWriter(&slowStore{}, Options{Guard: g})
	defer w.Close()
	w.Refuse(ErrDecodeMemory)
	if r := w.Refused(); r["memory"] != 1 {
		t.Errorf("refusals %v", r)
	}
	// And counts the slot against the key its context names.
	g2 := (&fakeMachine{}).guard(GuardOptions{MaxInFlight: 4, MaxInFlightPerKey: 1})
	w2 := NewWriter(&slowStore{}, Options{Guard: g2, Env: "staging"})
	defer w2.Close()
	tk, err := w2.Admit(WithKey(context.Background(), "k1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w2.Admit(WithKey(context.Background(), "k1")); !errors.Is(err, ErrTooManyRequests) {
		t.Errorf("the key's second request: %v", err)
	}
	if _, err := w2.Admit(WithKey(context.Background(), "k2")); err != nil {
		t.Errorf("another key's: %v", err)
	}
	tk.Done()
}
