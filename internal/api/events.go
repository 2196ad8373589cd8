package api

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/prodex/prodex/internal/event"
	"github.com/prodex/prodex/internal/ingest"
	"github.com/prodex/prodex/internal/store"
)

func (s *Server) postBatch(w http.ResponseWriter, r *http.Request) {
	ds, ok := dataset(w, r)
	if !ok {
		return
	}
	release, err := s.Writer.Admit()
	if err != nil {
		writeSubmitError(w, err)
		return
	}
	defer release()
	items, err := event.DecodeBatch(r.Body, r.Header.Get("Content-Type"), r.Header.Get("Content-Encoding"), s.Limits, s.Now())
	if err != nil {
		writeDecodeError(w, err)
		return
	}
	b := &store.Batch{Dataset: ds, Events: make([]event.Event, 0, len(items))}
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
			writeSubmitError(w, err)
			return
		}
	}
	for j, i := range index {
		if j < len(b.Errs) && b.Errs[j] != nil {
			out[i] = BatchStatus{Status: http.StatusBadRequest, Error: b.Errs[j].Error()}
		} else {
			out[i] = BatchStatus{Status: http.StatusAccepted}
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) postEvent(w http.ResponseWriter, r *http.Request) {
	ds, ok := dataset(w, r)
	if !ok {
		return
	}
	release, err := s.Writer.Admit()
	if err != nil {
		writeSubmitError(w, err)
		return
	}
	defer release()
	ev, err := event.DecodeEvent(r.Body, r.Header.Get("Content-Type"), r.Header.Get("Content-Encoding"),
		r.Header.Get("X-Honeycomb-Event-Time"), r.Header.Get("X-Honeycomb-Samplerate"), s.Limits, s.Now())
	if err != nil {
		writeDecodeError(w, err)
		return
	}
	b := &store.Batch{Dataset: ds, Events: []event.Event{ev}}
	if err := s.Writer.Submit(r.Context(), b); err != nil {
		writeSubmitError(w, err)
		return
	}
	if b.Errs[0] != nil {
		writeError(w, http.StatusBadRequest, b.Errs[0].Error())
		return
	}
	writeJSON(w, http.StatusOK, struct{}{})
}

func writeDecodeError(w http.ResponseWriter, err error) {
	var re *event.RequestError
	if errors.As(err, &re) {
		writeError(w, re.Status, re.Msg)
		return
	}
	writeError(w, http.StatusBadRequest, err.Error())
}

func writeSubmitError(w http.ResponseWriter, err error) {
	status, after := ingest.Refusal(err)
	w.Header().Set("Retry-After", strconv.Itoa(after))
	msg := err.Error()
	if status == http.StatusServiceUnavailable && !errors.Is(err, ingest.ErrMemory) && !errors.Is(err, ingest.ErrClosed) {
		msg = "events were not stored: " + msg
	}
	writeError(w, status, msg)
}
