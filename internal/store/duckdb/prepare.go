package duckdb

import (
	"context"
	"database/sql/driver"
	"fmt"
	"math"
	"time"

	"github.com/prodex/prodex/internal/event"
	"github.com/prodex/prodex/internal/schema"
)

// Prepare makes the datasets, columns and segments that the batches'
// events need and the store lacks, before the batches are queued for a
// commit (the ingest writer calls it from the request). The catalog rows
// are written under the write lock, for the few milliseconds a statement
// of a few hundred rows takes; the segment tables, whose cost grows with
// their width, are created outside it, so that a dataset gaining many
// columns never holds the commits of the others. Batches that need
// nothing cost a look at the catalog. Prepare makes Append's per-event
// decisions (events older than the retention, fields left out at the
// column limit) and leaves them in the batches' Errs and Notes.
func (s *Store) Prepare(ctx context.Context, batches []*event.Batch) error {
	if s.settled(batches) {
		return nil
	}
	s.smu.Lock()
	defer s.smu.Unlock()
	// As a commit's, its transactions run to their end once begun: a
	// client leaving must not cut a schema change in two.
	ctx = context.WithoutCancel(ctx)
	segs, err := s.prepareCatalog(ctx, batches)
	if err != nil || len(segs) == 0 {
		return err
	}
	return s.prepareSegments(ctx, segs)
}

// settled reports whether every event of the batches fits the columns of
// its dataset and of its day's segment as they are.
func (s *Store) settled(batches []*event.Batch) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, b := range batches {
		ds := s.datasets[b.Dataset]
		if ds == nil {
			return false
		}
		day, seg := int32(math.MinInt32), (*segment)(nil)
		for i := range b.Events {
			if i < len(b.Errs) && b.Errs[i] != nil {
				continue
			}
			ev := &b.Events[i]
			if d := dayOf(ev.Time.UnixMicro()); d != day {
				day, seg = d, ds.current[d]
			}
			if seg == nil {
				return false
			}
			for name, v := range ev.Fields {
				if v == nil {
					continue
				}
				c := ds.cols[name]
				if c == nil {
					return false
				}
				if t, _ := schema.TypeOf(v); t != c.Type {
					if _, promote := schema.Coerce(c.Type, v); promote != "" {
						return false
					}
				}
				if seg.cols[c.Phys] != c.Type {
					return false
				}
			}
		}
	}
	return true
}

// preparedSegment is a segment Prepare creates for a dataset's day.
type preparedSegment struct {
	ds  *dataset
	seg *segment
}

// prepareCatalog plans the batches as a commit would and, under the write
// lock, commits and publishes their new datasets and columns. It returns
// the new segments the commit would create.
func (s *Store) prepareCatalog(ctx context.Context, batches []*event.Batch) ([]preparedSegment, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.poisoned.Load() {
		return nil, ErrDiskFailure
	}
	w := newWrite(time.Now())
	for _, b := range batches {
		if len(b.Errs) != len(b.Events) {
			b.Errs = make([]error, len(b.Events))
		}
		s.plan(w, b)
	}
	changed := len(w.fresh) > 0
	for ds, cols := range w.cols {
		changed = changed || schemaChanges(ds, cols)
	}
	if changed {
		tx, err := s.wconn.(driver.ConnBeginTx).BeginTx(ctx, driver.TxOptions{})
		if err != nil {
			return nil, fmt.Errorf("begin: %w", err)
		}
		if err := s.writeCatalog(s.execOn(ctx, s.wconn), w); err != nil {
			tx.Rollback()
			s.failed(err)
			return nil, err
		}
		if err := tx.Commit(); err != nil {
			s.failed(err)
			return nil, fmt.Errorf("commit: %w", err)
		}
		s.mu.Lock()
		s.publishCatalog(w)
		s.mu.Unlock()
	}
	var out []preparedSegment
	for ds, days := range w.needed {
		types := w.physTypes(ds)
		for day, need := range days {
			phys := sortedKeys(need)
			seg := ds.current[day]
			missing := missingColumns(seg, phys, types)
			// Segments full of rows are for the commit to follow.
			if len(missing) > 0 && s.wantsNew(seg, len(missing)) {
				out = append(out, preparedSegment{ds, s.newSegment(ds, day, seg, phys, types)})
			}
		}
	}
	return out, nil
}

// prepareSegments creates the segments in one transaction on a connection
// of their own, outside the write lock, then publishes them under it.
func (s *Store) prepareSegments(ctx context.Context, segs []preparedSegment) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	exec := func(q string, args ...any) error {
		_, err := tx.ExecContext(ctx, q, args...)
		return err
	}
	for _, p := range segs {
		if err := s.createSegment(exec, p.ds, p.seg); err != nil {
			tx.Rollback()
			s.failed(err)
			return fmt.Errorf("create segment %s: %w", p.seg.table, err)
		}
	}
	if err := s.commitTx(tx); err != nil {
		return err
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range segs {
		s.publishSegment(p.ds, p.seg)
	}
	return nil
}

// execOn runs statements on a driver connection.
func (s *Store) execOn(ctx context.Context, c driver.Conn) execFunc {
	ex := c.(driver.ExecerContext)
	return func(q string, args ...any) error {
		nvs := make([]driver.NamedValue, len(args))
		for i, a := range args {
			nvs[i] = driver.NamedValue{Ordinal: i + 1, Value: a}
		}
		_, err := ex.ExecContext(ctx, q, nvs)
		return err
	}
}
