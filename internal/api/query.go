package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prodex/prodex/internal/history"
	"github.com/prodex/prodex/internal/problem"
	"github.com/prodex/prodex/internal/query"
)

const maxSpecBytes = 1 << 20

func (s *Server) postQuery(w http.ResponseWriter, r *http.Request) {
	ds, err := dataset(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxSpecBytes))
	if err != nil {
		s.fail(w, r, httpError(http.StatusRequestEntityTooLarge, "query spec larger than 1 MiB"))
		return
	}
	spec, err := query.Parse(body)
	if err != nil {
		s.fail(w, r, badRequest(err.Error()))
		return
	}
	s.answerQuery(w, r, ds, spec)
}

// answerQuery runs spec on dataset ds, records the run in the query
// history and answers; postQuery and the re-run of a stored query share it.
func (s *Server) answerQuery(w http.ResponseWriter, r *http.Request, ds string, spec *query.Spec) {
	if err := spec.Resolve(s.Now()); err != nil {
		s.fail(w, r, badRequest(err.Error()))
		return
	}
	if spec.SLO != nil { // the SLO's own events: give the query its SLI
		def, ok := s.SLOs.Get(spec.SLO.Name)
		switch {
		case !ok:
			s.fail(w, r, badRequest("slo.name: no SLO named "+strconv.Quote(spec.SLO.Name)))
			return
		case def.Dataset != ds:
			s.fail(w, r, badRequest("slo.name: SLO "+def.Name+" is on dataset "+def.Dataset+", not "+ds))
			return
		}
		spec.SLO.Eligible, spec.SLO.Good = def.SLI.Eligible, def.SLI.Good
	}
	ctx, cancel := s.classContext(r, spec.Class())
	defer cancel()
	began := time.Now()
	res, err := query.Ask(ctx, s.Events, ds, spec)
	var bad *query.Error
	switch {
	case errors.Is(err, problem.ErrNotFound):
		s.fail(w, r, storeError(ds, err))
		return
	case errors.As(err, &bad): // the spec does not fit the dataset
		s.fail(w, r, badRequest(err.Error()))
		return
	}
	s.observe("query", began, err)
	if err != nil {
		if ctx.Err() != nil {
			stop := s.stopped(ctx, "query")
			s.fail(w, r, stop)
			s.recordRun(r, ds, spec, began, 0, stop.Error())
			return
		}
		// The history is read by every query key: it gets the request's
		// id, under which fail logs the engine's message.
		s.recordRun(r, ds, spec, began, 0, "query failed; request id "+requestID(w, r))
		if query.OutOfMemory(err) {
			s.fail(w, r, queryTooLarge("query"))
			return
		}
		s.fail(w, r, fmt.Errorf("query failed on dataset %s: %w", ds, err))
		return
	}
	id := s.recordRun(r, ds, spec, began, len(res.Results), "")
	ans := QueryAnswer{Result: res, QueryID: id}
	if id != "" {
		ans.Permalink = history.Permalink(id)
	}
	s.writeWithMarkers(w, r, ds, spec.Start, spec.End, ans)
}

// queryContext bounds a light query or trace lookup by the query time
// limit and lets the server cancel it at its memory ceiling.
func (s *Server) queryContext(r *http.Request) (context.Context, context.CancelFunc) {
	return s.classContext(r, query.Class{})
}

// classContext is queryContext for a query of any class: a heavy one
// (explain, see query.Spec.Heavy) first waits, within its time limit, for
// the heavy class's slot, and one that ranks for memory to be calm (see
// query.Class); when the limit passes meanwhile the context it returns
// has ended, and the caller answers as stopped says.
func (s *Server) classContext(r *http.Request, class query.Class) (context.Context, context.CancelFunc) {
	if class == (query.Class{}) {
		ctx, done := s.Running.Start(r.Context())
		ctx, cancel := context.WithTimeout(ctx, s.QueryTimeout)
		return ctx, func() { cancel(); done() }
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.QueryTimeout)
	ctx, done, _ := s.Running.StartClass(ctx, class)
	return ctx, func() { done(); cancel() }
}

// queryTooLarge answers a query the database refused for needing more than
// its memory limit: 503, since it may pass once fewer queries run.
func queryTooLarge(what string) error {
	return &apiError{status: http.StatusServiceUnavailable, retryAfter: 5,
		msg: what + " needed more memory than the database's memory limit (--memory-limit, by default 40 % of --memory-ceiling); narrow the time range, filter or group by fewer values, or retry later"}
}

// stopped is the answer for a query whose context ended before it did:
// 503 when it was cancelled to give memory back (a retry may pass), 504
// when it ran out of time.
func (s *Server) stopped(ctx context.Context, what string) error {
	for _, cause := range []error{query.ErrMemory, query.ErrSaturated} {
		if errors.Is(context.Cause(ctx), cause) {
			msg := what + " " + strings.TrimPrefix(cause.Error(), "query ")
			return &apiError{status: http.StatusServiceUnavailable, msg: msg, retryAfter: 5}
		}
	}
	return httpError(http.StatusGatewayTimeout, what+" exceeded its time limit of "+s.QueryTimeout.String())
}
