package duckdb

import (
	"context"
	"fmt"
	"time"
)

// DropExpired drops, per dataset, the day segments wholly older than the
// dataset's retention: whole tables, never row deletes. It returns the
// number of segments dropped.
func (s *Store) DropExpired(ctx context.Context, now time.Time) (int, error) {
	// The SLI counter first counts what it has not, then waits.
	s.cmu.Lock()
	defer s.cmu.Unlock()
	if err := s.countPending(ctx); err != nil {
		return 0, err
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	type victim struct {
		ds  *dataset
		seg *segment
	}
	var victims []victim
	s.mu.RLock()
	for _, ds := range s.datasets {
		cutoff := now.Add(-ds.retention).UnixMicro()
		for _, seg := range ds.segments {
			if (int64(seg.day)+1)*usPerDay <= cutoff {
				victims = append(victims, victim{ds, seg})
			}
		}
	}
	s.mu.RUnlock()
	dropped := 0
	wctx := uncancelled(ctx) // one segment's drop runs to its end
	for _, v := range victims {
		if err := ctx.Err(); err != nil {
			return dropped, err
		}
		if v.seg.app != nil {
			v.seg.app.Close()
			v.seg.app = nil
		}
		tx, err := s.db.BeginTx(wctx, nil)
		if err != nil {
			return dropped, err
		}
		if _, err := tx.ExecContext(wctx, `DROP TABLE IF EXISTS `+ident(v.seg.table)); err != nil {
			tx.Rollback()
			return dropped, fmt.Errorf("drop %s: %w", v.seg.table, err)
		}
		if _, err := tx.ExecContext(wctx, `DELETE FROM px_segments WHERE tbl = ?`, v.seg.table); err != nil {
			tx.Rollback()
			return dropped, err
		}
		if _, err := tx.ExecContext(wctx, `DELETE FROM px_slo_marks WHERE tbl = ?`, v.seg.table); err != nil {
			tx.Rollback()
			return dropped, err
		}
		if err := s.commitTx(tx); err != nil {
			return dropped, err
		}
		delete(s.marks, v.seg.table)
		s.mu.Lock()
		delete(v.ds.segments, v.seg.table)
		if v.ds.current[v.seg.day] == v.seg {
			delete(v.ds.current, v.seg.day)
		}
		s.mu.Unlock()
		dropped++
	}
	return dropped, nil
}
