package api

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prodex/prodex/internal/event"
	"github.com/prodex/prodex/internal/trace"
)

// maxTraceEvents bounds the events read per dataset for one trace.
const maxTraceEvents = 10000

// getTrace answers GET /api/v1/traces/{trace_id}: the span tree of a trace
// from every dataset that has trace ids (or those ?dataset= names, comma
// separated), optionally within ?start_time= and ?end_time= (Unix seconds).
func (s *Server) getTrace(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("trace_id")
	if id == "" || len(id) > 256 {
		s.fail(w, r, badRequest("trace id must be 1 to 256 characters"))
		return
	}
	start, end := time.Unix(0, 0), s.Now().Add(2*time.Hour)
	for name, t := range map[string]*time.Time{"start_time": &start, "end_time": &end} {
		if v := r.URL.Query().Get(name); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				s.fail(w, r, badRequest(name+" must be Unix seconds, got "+strconv.Quote(v)))
				return
			}
			*t = time.Unix(n, 0)
		}
	}
	if !start.Before(end) {
		s.fail(w, r, badRequest("start_time must be before end_time"))
		return
	}
	var names []string
	if v := r.URL.Query().Get("dataset"); v != "" {
		for _, n := range strings.Split(v, ",") {
			ds, err := event.NormalizeDataset(strings.TrimSpace(n))
			if err != nil {
				s.fail(w, r, badRequest(err.Error()))
				return
			}
			if _, err := s.Events.Columns(ds); err != nil {
				s.fail(w, r, storeError(ds, err))
				return
			}
			names = append(names, ds)
		}
	} else {
		for _, d := range s.Events.Datasets() {
			names = append(names, d.Name)
		}
	}
	ctx, cancel := s.queryContext(r)
	defer cancel()
	var evs []trace.Event
	truncated := false
	began := time.Now()
	for _, ds := range names {
		found, err := s.Events.Find(ctx, ds, "trace.trace_id", id, start, end, maxTraceEvents)
		if err != nil {
			s.observe("trace", began, err)
			if ctx.Err() != nil {
				s.fail(w, r, s.stopped(ctx, "trace lookup"))
				return
			}
			s.fail(w, r, fmt.Errorf("trace lookup failed on dataset %s: %w", ds, err))
			return
		}
		truncated = truncated || len(found) == maxTraceEvents
		for _, e := range found {
			evs = append(evs, trace.Event{Dataset: ds, Event: e})
		}
	}
	s.observe("trace", began, nil)
	if len(evs) == 0 {
		s.fail(w, r, httpError(http.StatusNotFound, "no events of trace "+strconv.Quote(id)))
		return
	}
	writeJSON(w, http.StatusOK, struct {
		*trace.Tree
		Truncated bool `json:"truncated"`
	}{trace.Build(id, evs), truncated})
}
