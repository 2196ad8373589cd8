package duckdb

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// DropExpired drops, per dataset, the day segments wholly older than the
// dataset's retention: whole tables, never row deletes. It returns the
// number of segments dropped. A segment that fails to drop is tried again
// at the next sweep and stops no other (the error names each); one whose
// rows could not all be counted is dropped all the same: what counting
// has failed on by the time it expires is not to be counted.
func (s *Store) DropExpired(ctx context.Context, now time.Time) (int, error) {
	// The SLI counter first counts what it has not, then waits.
	s.cmu.Lock()
	defer s.cmu.Unlock()
	if s.poisoned.Load() {
		// The tables may read empty now: nothing is counted or dropped
		// until writes succeed again.
		return 0, ErrDiskFailure
	}
	s.noteCountFailures(s.countPending(ctx))
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
	var errs []error
	for _, v := range victims {
		if ctx.Err() != nil {
			errs = append(errs, ctx.Err())
			break
		}
		if v.seg.app != nil {
			v.seg.app.Close()
			v.seg.app = nil
		}
		if err := s.dropSegment(ctx, v.seg.table); err != nil {
			errs = append(errs, fmt.Errorf("drop %s of dataset %s: %w", v.seg.table, v.ds.name, err))
			continue
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
	return dropped, errors.Join(errs...)
}

// dropSegment drops a segment's table and its catalog rows in one
// transaction, which runs to its end once begun (cancelling stops the
// sweep between segments only).
func (s *Store) dropSegment(ctx context.Context, table string) error {
	ctx = uncancelled(ctx)
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	for _, q := range []string{`DROP TABLE IF EXISTS ` + ident(table), `DELETE FROM px_segments WHERE tbl = $1`, `DELETE FROM px_slo_marks WHERE tbl = $1`} {
		var args []any
		if strings.Contains(q, "$1") {
			args = []any{table}
		}
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			tx.Rollback()
			return err
		}
	}
	return s.commitTx(tx)
}
