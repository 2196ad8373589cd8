package ingest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/dustin/go-humanize"

	"github.com/prodex/prodex/internal/event"
)

// ErrDecodeMemory means the requests being decoded already hold the memory
// the guard gives decoding (HTTP 503): one more would take the process
// towards its ceiling, so it waits for theirs to be given back.
var ErrDecodeMemory = errors.New("the requests being decoded hold all the memory the server gives decoding, retry later")

// inFlightError is a refusal for want of a slot: the server's, the
// environment's or the key's, each named with its bound.
type inFlightError struct{ msg string }

func (e *inFlightError) Error() string        { return e.msg }
func (e *inFlightError) Is(target error) bool { return target == ErrTooManyRequests }

type keyCtx struct{}

// WithKey marks ctx as a request made with the API key id: Admit counts
// its slot against the key's share.
func WithKey(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, keyCtx{}, id)
}

func keyOf(ctx context.Context) string {
	id, _ := ctx.Value(keyCtx{}).(string)
	return id
}

// slots counts the requests in flight for the whole server, each
// environment and each key, so that one tenant holding its share (for
// example with bodies that never finish) leaves the others theirs.
type slots struct {
	mu    sync.Mutex
	total int64
	env   map[string]int64
	key   map[string]int64
}

// take reserves a slot or says whose bound refuses it.
func (s *slots) take(o *GuardOptions, env, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.total >= o.MaxInFlight:
		return &inFlightError{fmt.Sprintf("%d ingest requests are in flight, the most the server reads at once; retry later", o.MaxInFlight)}
	case s.env[env] >= o.MaxInFlightPerEnv:
		return &inFlightError{fmt.Sprintf("this environment has %d ingest requests in flight, the most one environment may; retry later", o.MaxInFlightPerEnv)}
	case s.key[key] >= o.MaxInFlightPerKey:
		return &inFlightError{fmt.Sprintf("this API key has %d ingest requests in flight, the most one key may; retry later", o.MaxInFlightPerKey)}
	}
	if s.env == nil {
		s.env, s.key = map[string]int64{}, map[string]int64{}
	}
	s.total++
	s.env[env]++
	s.key[key]++
	return nil
}

func (s *slots) give(env, key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.total--
	if s.env[env]--; s.env[env] <= 0 {
		delete(s.env, env)
	}
	if s.key[key]--; s.key[key] <= 0 {
		delete(s.key, key)
	}
}

func (s *slots) inFlight() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

// Ticket is one ingest request let in: its slot and the decode memory it
// holds, counted against GuardOptions.DecodeMemory as it grows (it is the
// request's event.Memory). Done gives both back. A nil Ticket, or one of
// a nil Guard, holds nothing.
type Ticket struct {
	g        *Guard
	env, key string
	slot     bool
	held     int64
	done     bool
}

// Admit lets one ingest request of environment env, made with the key
// whose id is key, in, or says why not: the disk or memory is short, or
// the server, the environment or the key has all its requests in flight.
// The caller must call Done once the request's body is decoded (the
// writer's queue bounds its events from there) or it fails.
func (g *Guard) Admit(env, key string) (*Ticket, error) {
	if g == nil {
		return &Ticket{}, nil
	}
	if err := g.check(); err != nil {
		return nil, err
	}
	t := &Ticket{g: g, env: env, key: key}
	if g.opts.MaxInFlight > 0 {
		if err := g.slots.take(&g.opts, env, key); err != nil {
			return nil, err
		}
		t.slot = true
	}
	return t, nil
}

// Grow counts n more bytes held by the request: refused with ErrMemory
// when the process is at its ceiling, ErrDecodeMemory when the requests
// being decoded hold the guard's DecodeMemory, and a 413 when this
// request alone would need more than all of it.
func (t *Ticket) Grow(n int64) error {
	if t == nil || t.g == nil || n <= 0 {
		return nil
	}
	g := t.g
	if g.memOver.Load() {
		return ErrMemory
	}
	if max := g.opts.DecodeMemory; max > 0 {
		if t.held+n > max {
			return &event.RequestError{Status: http.StatusRequestEntityTooLarge, Msg: fmt.Sprintf(
				"decoding this request needs more than %s of memory, the most the server gives decoding; send smaller requests", humanize.IBytes(uint64(max)))}
		}
		if g.decoding.Add(n) > max {
			g.decoding.Add(-n)
			return ErrDecodeMemory
		}
	} else {
		g.decoding.Add(n)
	}
	t.held += n
	return nil
}

// Done gives the request's slot and memory back; calling it again does
// nothing.
func (t *Ticket) Done() {
	if t == nil || t.g == nil || t.done {
		return
	}
	t.done = true
	if t.slot {
		t.g.slots.give(t.env, t.key)
	}
	t.g.decoding.Add(-t.held)
}

var _ event.Memory = (*Ticket)(nil)
