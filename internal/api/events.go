package api

import (
	"errors"
	"net/http"

	"github.com/prodex/prodex/internal/auth"
	"github.com/prodex/prodex/internal/event"
	"github.com/prodex/prodex/internal/ingest"
)

func (s *Server) postBatch(w http.ResponseWriter, r *http.Request) {
	ds, err := dataset(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	t, err := s.admit(r)
	if err != nil {
		s.fail(w, r, submitError(err))
		return
	}
	defer t.Done()
	s.paced(w, r)
	lim := s.Limits
	lim.Memory = t
	items, err := event.DecodeBatch(r.Body, r.Header.Get("Content-Type"), r.Header.Get("Content-Encoding"), lim, s.Now())
	if err != nil {
		s.fail(w, r, s.decodeError(err))
		return
	}
	t.Done() // see postEvent
	b := &event.Batch{Dataset: ds, Events: make([]event.Event, 0, len(items))}
	index := make([]int, 0, len(items)) // batch position of each event in b
	out := make([]BatchStatus, len(items))
	for i, it := range items {
		if it.Err != nil {
			out[i] = BatchStatus{Status: http.StatusBadRequest, Error: it.Err.Error()}
			continue
		}
		b.Events = append(b.Events, it.Event)
		index = append(index, i)
	}
	if len(b.Events) > 0 {
		if err := s.Writer.Submit(r.Context(), b); err != nil {
			s.fail(w, r, submitError(err))
			return
		}
	}
	for j, i := range index {
		if j < len(b.Errs) && b.Errs[j] != nil {
			out[i] = BatchStatus{Status: http.StatusBadRequest, Error: b.Errs[j].Error()}
		} else {
			out[i] = BatchStatus{Status: http.StatusAccepted}
			if j < len(b.Notes) {
				out[i].Warning = b.Notes[j]
			}
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) postEvent(w http.ResponseWriter, r *http.Request) {
	ds, err := dataset(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	t, err := s.admit(r)
	if err != nil {
		s.fail(w, r, submitError(err))
		return
	}
	defer t.Done()
	s.paced(w, r)
	lim := s.Limits
	lim.Memory = t
	ev, err := event.DecodeEvent(r.Body, r.Header.Get("Content-Type"), r.Header.Get("Content-Encoding"),
		r.Header.Get("X-Honeycomb-Event-Time"), r.Header.Get("X-Honeycomb-Samplerate"), lim, s.Now())
	if err != nil {
		s.fail(w, r, s.decodeError(err))
		return
	}
	// Decoded, the request gives its slot and decoding memory back: they
	// bound bodies being read and decoded, and from here the writer's
	// queue (--max-queued) bounds its events. Held until the commit, the
	// slots let another key's slow senders cut this key's ingest by 40 %
	// in the soak: what was left of the environment's slots turned over
	// once per commit.
	t.Done()
	b := &event.Batch{Dataset: ds, Events: []event.Event{ev}}
	if err := s.Writer.Submit(r.Context(), b); err != nil {
		s.fail(w, r, submitError(err))
		return
	}
	if b.Errs[0] != nil {
		s.fail(w, r, badRequest(b.Errs[0].Error()))
		return
	}
	var ans EventAnswer
	if len(b.Notes) > 0 {
		ans.Warning = b.Notes[0]
	}
	writeJSON(w, http.StatusOK, ans)
}

// admit lets an ingest request in (see ingest.Writer.Admit), counted
// against its key's share of the requests in flight.
func (s *Server) admit(r *http.Request) (*ingest.Ticket, error) {
	k, _ := r.Context().Value(keyCtx{}).(auth.Key)
	return s.Writer.Admit(ingest.WithKey(r.Context(), k.ID))
}

// decodeError is the answer to a body that could not be decoded: a
// *event.RequestError says its status (413 too large, 408 too slow), the
// guard's refusal of more decode memory is a 503 with Retry-After, and
// anything else is a 400.
func (s *Server) decodeError(err error) error {
	var re *event.RequestError
	switch {
	case errors.As(err, &re):
		return err
	case errors.Is(err, ingest.ErrMemory), errors.Is(err, ingest.ErrDecodeMemory):
		return submitError(s.Writer.Refuse(err))
	}
	return badRequest(err.Error())
}

// submitError is the answer to events the writer refused or could not
// store, with when to retry.
func submitError(err error) error {
	status, after := ingest.Refusal(err)
	msg := err.Error()
	if status == http.StatusServiceUnavailable && !errors.Is(err, ingest.ErrMemory) && !errors.Is(err, ingest.ErrClosed) {
		msg = "events were not stored: " + msg
	}
	return &apiError{status: status, msg: msg, retryAfter: after}
}
