package clickhouse

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// DropExpired drops, per dataset and shard, the day partitions wholly
// older than the dataset's retention: whole partitions, never row
// deletes. It returns the number of partitions dropped. A partition or
// shard that fails is tried again at the next sweep and stops no other
// (the error names each).
func (s *Store) DropExpired(ctx context.Context, now time.Time) (int, error) {
	if err := s.reload(ctx); err != nil {
		return 0, err
	}
	s.mu.RLock()
	cutoff := map[string]int64{} // local table → first day kept
	names := map[string]string{}
	for _, ds := range s.datasets {
		cutoff[ds.table] = floorDay(now.Add(-ds.retention).UnixMicro()) / usPerDay
		names[ds.table] = ds.name
	}
	s.mu.RUnlock()
	dropped := 0
	var errs []error
	_ = s.each(ctx, func(db *sql.DB) error { // each shard's errors go to errs
		if ctx.Err() != nil {
			errs = append(errs, ctx.Err())
			return ctx.Err()
		}
		type part struct {
			table string
			day   int64
		}
		var victims []part
		err := queryRows(ctx, db, `SELECT DISTINCT table, partition FROM system.parts WHERE database = ? AND active AND startsWith(table, 'e_')`, []any{s.opts.Database}, func(rows *sql.Rows) error {
			var table, partition string
			if err := rows.Scan(&table, &partition); err != nil {
				return err
			}
			day, err := strconv.ParseInt(partition, 10, 64)
			if first, ok := cutoff[table]; err == nil && ok && day < first {
				victims = append(victims, part{table, day})
			}
			return nil
		})
		if err != nil {
			errs = append(errs, err)
			return nil
		}
		for _, v := range victims {
			// The partition ID is the day number the table computed:
			// an integer, formatted here, not user text.
			if _, err := db.ExecContext(ctx, "ALTER TABLE "+s.qualified(v.table)+" DROP PARTITION "+strconv.FormatInt(v.day, 10)); err != nil {
				errs = append(errs, fmt.Errorf("drop day %d of %s: %w", v.day, names[v.table], err))
				continue
			}
			dropped++
		}
		return nil
	})
	return dropped, errors.Join(errs...)
}
