package server

import (
	"context"
	"log/slog"
	"strings"
	"time"
)

// housekeeper keeps one environment's stores tidy: it drops expired data
// and query history older than historyRetention, and persists column
// statistics.
type housekeeper struct {
	st               stores
	historyRetention time.Duration
	log              *slog.Logger
	now              func() time.Time
}

// sweep drops the expired segments and the query runs past their
// retention.
func (h housekeeper) sweep(ctx context.Context) {
	if n, err := h.st.events.DropExpired(ctx, h.now()); err != nil {
		h.log.Error("retention sweep failed", "err", err)
	} else if n > 0 {
		h.log.Info("retention dropped segments", "count", n)
	}
	if n, err := h.st.meta.DropRunsBefore(ctx, h.now().Add(-h.historyRetention)); err != nil {
		h.log.Error("query history sweep failed", "err", err)
	} else if n > 0 {
		h.log.Info("query history dropped runs", "count", n)
	}
}

// run sweeps at once and every 10 minutes, and saves column statistics
// every 30 seconds, until ctx ends.
func (h housekeeper) run(ctx context.Context) {
	st := h.st.events
	h.sweep(ctx)
	lastCountErr := ""
	save := time.NewTicker(30 * time.Second)
	ret := time.NewTicker(10 * time.Minute)
	defer save.Stop()
	defer ret.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-save.C:
			if err := st.SaveLastSeen(ctx); err != nil && ctx.Err() == nil {
				h.log.Error("saving column statistics failed", "err", err)
			}
			if e := st.CountError(); e != "" && e != lastCountErr {
				if strings.Contains(e, "write-write conflict") {
					// DuckDB refuses to update a count again while a query
					// that began before the last update still runs; the
					// next round counts the same rows.
					h.log.Warn("SLI counting met a query in progress; the rows will be counted again", "err", e)
				} else {
					h.log.Error("SLI counting failed; the rows will be counted again", "err", e)
				}
				lastCountErr = e
			}
		case <-ret.C:
			h.sweep(ctx)
		}
	}
}

// repeatEvery runs f every interval until ctx ends, for what a node
// follows of the others' changes; it logs when f starts failing (what
// is lost until it works again) and when it works again.
func repeatEvery(ctx context.Context, every time.Duration, log *slog.Logger, failing string, f func(context.Context) error) {
	t := time.NewTicker(every)
	defer t.Stop()
	failed := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := f(ctx)
		switch {
		case err != nil && !failed && ctx.Err() == nil:
			log.Error(failing, "err", err)
		case err == nil && failed:
			log.Info("working again: " + failing)
		}
		failed = err != nil
	}
}
