package api

import (
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/prodex/prodex/internal/explain"
	"github.com/prodex/prodex/internal/slo"
	"github.com/prodex/prodex/internal/store"
)

// postExplain compares a selection of events with its baseline.
func (s *Server) postExplain(w http.ResponseWriter, r *http.Request) {
	ds, ok := dataset(w, r)
	if !ok {
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxSpecBytes))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "explain request larger than 1 MiB")
		return
	}
	req, err := explain.Parse(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	lookup := func(name string) (slo.SLO, bool) {
		if s.SLOs == nil {
			return slo.SLO{}, false
		}
		d, ok := s.SLOs.Get(name)
		return d, ok && d.Dataset == ds
	}
	ctx, cancel := s.queryContext(r)
	defer cancel()
	began := time.Now()
	ans, err := explain.Ask(ctx, s.Events, ds, req, s.Now(), lookup)
	if errors.Is(err, store.ErrNotFound) {
		storeOK(w, ds, err)
		return
	}
	s.observe("explain", began, err)
	if err != nil {
		if ctx.Err() != nil {
			s.stopped(w, ctx, "explain")
			return
		}
		var dbe *explain.DBError
		if errors.As(err, &dbe) {
			s.Log.Error("explain failed", "dataset", ds, "err", err)
			writeError(w, http.StatusInternalServerError, err.Error())
			return
		}
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, ans)
}
