package api

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/prodex/prodex/internal/explain"
	"github.com/prodex/prodex/internal/problem"
	"github.com/prodex/prodex/internal/query"
	"github.com/prodex/prodex/internal/slo"
)

// postExplain compares a selection of events with its baseline.
func (s *Server) postExplain(w http.ResponseWriter, r *http.Request) {
	ds, err := dataset(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxSpecBytes))
	if err != nil {
		s.fail(w, r, httpError(http.StatusRequestEntityTooLarge, "explain request larger than 1 MiB"))
		return
	}
	req, err := explain.Parse(body)
	if err != nil {
		s.fail(w, r, badRequest(err.Error()))
		return
	}
	lookup := func(name string) (slo.SLO, bool) {
		if s.SLOs == nil {
			return slo.SLO{}, false
		}
		d, ok := s.SLOs.Get(name)
		return d, ok && d.Dataset == ds
	}
	ctx, cancel := s.classContext(r, query.Class{Heavy: true})
	defer cancel()
	began := time.Now()
	ans, err := explain.Ask(ctx, s.Events, ds, req, s.Now(), lookup)
	if errors.Is(err, problem.ErrNotFound) {
		s.fail(w, r, storeError(ds, err))
		return
	}
	s.observe("explain", began, err)
	if err != nil {
		if ctx.Err() != nil {
			s.fail(w, r, s.stopped(ctx, "explain"))
			return
		}
		var dbe *explain.DBError
		if errors.As(err, &dbe) && query.OutOfMemory(err) {
			s.fail(w, r, queryTooLarge("explain"))
			return
		}
		// The request's faults are refusals (problem.Invalid); anything
		// else, the engine's errors included, is the server's: a 500 with
		// the request's id, the detail in the log.
		s.fail(w, r, fmt.Errorf("explain failed on dataset %s: %w", ds, err))
		return
	}
	writeJSON(w, http.StatusOK, ans)
}
