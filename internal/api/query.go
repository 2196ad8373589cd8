package api

import (
	"context"
	"io"
	"net/http"

	"github.com/prodex/prodex/internal/query"
)

const maxSpecBytes = 1 << 20

func (s *Server) postQuery(w http.ResponseWriter, r *http.Request) {
	ds, ok := dataset(w, r)
	if !ok {
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxSpecBytes))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "query spec larger than 1 MiB")
		return
	}
	spec, err := query.Parse(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if err := spec.Resolve(s.Now()); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	cat, err := s.Store.Catalog(ds)
	if !storeOK(w, ds, err) {
		return
	}
	plan, err := query.Compile(spec, cat)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.QueryTimeout)
	defer cancel()
	res, err := plan.Run(ctx, s.Store.DB())
	if err != nil {
		if ctx.Err() != nil {
			writeError(w, http.StatusGatewayTimeout, "query exceeded its time limit of "+s.QueryTimeout.String())
			return
		}
		s.Log.Error("query failed", "dataset", ds, "err", err)
		writeError(w, http.StatusInternalServerError, "query failed: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, res)
}
