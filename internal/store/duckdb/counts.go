package duckdb

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/prodex/prodex/internal/problem"
	"github.com/prodex/prodex/internal/schema"
	"github.com/prodex/prodex/internal/sli"
	"github.com/prodex/prodex/internal/store"
)

// Counter and MinuteCount are shared by the event stores (package store).
// This store's counter goroutine follows the commits: it counts the rows
// appended since each segment's mark and stores the counts with the new
// mark in one transaction, so that a kill -9 can neither lose nor double
// them.
type (
	Counter     = store.Counter
	MinuteCount = store.MinuteCount
)

// counter is a registered Counter with its SQL, compiled against the
// dataset's columns of generation gen.
type counter struct {
	Counter
	gen            int64
	eligible, good string // SQL; NULL when not evaluable
	phys           []string
}

// SetCounter registers c, replacing a counter of the same name. With
// backfill its counts are recomputed from every stored event; otherwise the
// persisted counts stand. Either way install receives the full counts while
// no commit can run, so a caller that then applies each commit's totals
// (OnCounts) misses none.
func (s *Store) SetCounter(ctx context.Context, c Counter, backfill bool, install func([]MinuteCount)) error {
	if err := sli.Check(c.Good); err != nil {
		return problem.Wrap(problem.Invalid, fmt.Errorf("sli.good: %w", err))
	}
	if c.Eligible != "" {
		if err := sli.Check(c.Eligible); err != nil {
			return problem.Wrap(problem.Invalid, fmt.Errorf("sli.eligible: %w", err))
		}
	}
	s.cmu.Lock()
	defer s.cmu.Unlock()
	s.wmu.Lock()
	defer s.wmu.Unlock()
	// With no commit possible, bring every counter up to the stored rows:
	// a backfill over all of them then matches the marks exactly. Only a
	// failure in the counter's own dataset stands in its way: it would
	// move the marks past rows the dataset's other counters have not
	// counted. Another dataset's is the counter loop's to report.
	if s.poisoned.Load() {
		// The tables may read empty now: counting them would be wrong.
		return ErrDiskFailure
	}
	failed := s.countPending(ctx)
	if err := failed[c.Dataset]; err != nil && backfill {
		return err
	}
	s.noteCountFailures(failed)
	if backfill {
		if err := s.backfill(ctx, c); err != nil {
			return err
		}
	}
	counts, err := s.loadCounts(ctx, c.Name)
	if err != nil {
		return err
	}
	s.mu.Lock()
	if s.counters == nil {
		s.counters = map[string]*counter{}
	}
	s.counters[c.Name] = &counter{Counter: c, gen: -1}
	s.mu.Unlock()
	if install != nil {
		install(counts)
	}
	return nil
}

// RemoveCounter stops counting for name and deletes its counts.
func (s *Store) RemoveCounter(ctx context.Context, name string) error {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	s.mu.Lock()
	delete(s.counters, name)
	s.mu.Unlock()
	_, err := s.exec(ctx, `DELETE FROM px_slo_counts WHERE name = ?`, name)
	return err
}

// OnCounts sets the function that receives, after each commit and before
// the next, the new totals of every minute the commit counted.
func (s *Store) OnCounts(f func([]MinuteCount)) {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	s.onCounts = f
}

// CountPending counts the rows committed since the counter last ran. The
// counter runs by itself after commits; this waits for it.
func (s *Store) CountPending(ctx context.Context) error {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	if s.poisoned.Load() {
		// The tables may read empty now: counting them would be wrong.
		return ErrDiskFailure
	}
	return countFailures(s.countPending(ctx))
}

// countLoop follows the commits until Close, counting at most once per
// CountInterval.
func (s *Store) countLoop() {
	defer close(s.countDone)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-s.countStop:
			return
		case <-s.countSignal:
		case <-tick.C:
		}
		start := time.Now()
		if err := s.CountPending(context.Background()); err != nil && !errors.Is(err, ErrDiskFailure) {
			// The rows stay uncounted and are retried; a failure is
			// rare (a column retyped under the query) and passes.
			s.countErr.Store(err.Error())
			s.failed(err)
		}
		select {
		case <-s.countStop:
			return
		case <-time.After(s.opts.CountInterval - time.Since(start)):
		}
	}
}

// noteCountFailures keeps the counting failures that a caller other than
// the counter loop met, for CountError to report.
func (s *Store) noteCountFailures(failed map[string]error) {
	if err := countFailures(failed); err != nil {
		s.countErr.Store(err.Error())
	}
}

// countFailures joins the failures of countPending, by dataset name, into
// one error (nil for none).
func countFailures(failed map[string]error) error {
	names := make([]string, 0, len(failed))
	for n := range failed {
		names = append(names, n)
	}
	sort.Strings(names)
	errs := make([]error, len(names))
	for i, n := range names {
		errs[i] = failed[n]
	}
	return errors.Join(errs...)
}

// CountError is the last error the counter met, if any ("" when none).
func (s *Store) CountError() string {
	v, _ := s.countErr.Load().(string)
	return v
}

// loadMarks reads how far each segment has been counted.
func (s *Store) loadMarks() error {
	rows, err := s.db.Query(`SELECT tbl, counted FROM px_slo_marks`)
	if err != nil {
		return err
	}
	defer rows.Close()
	s.marks = map[string]int64{}
	for rows.Next() {
		var t string
		var n int64
		if err := rows.Scan(&t, &n); err != nil {
			return err
		}
		s.marks[t] = n
	}
	return rows.Err()
}

// compile (re)compiles a counter's expressions against cols when the
// dataset's columns changed since it last did.
func (c *counter) compile(cols sli.Columns, gen int64) error {
	if c.gen == gen && gen >= 0 {
		return nil
	}
	// An expression that does not compile is the definition's fault.
	good, p1, err := sli.Compile(c.Good, cols)
	if err != nil {
		return problem.Wrap(problem.Invalid, fmt.Errorf("SLO %s: sli.good: %w", c.Name, err))
	}
	elig, p2 := "TRUE", []string(nil)
	if c.Eligible != "" {
		if elig, p2, err = sli.Compile(c.Eligible, cols); err != nil {
			return problem.Wrap(problem.Invalid, fmt.Errorf("SLO %s: sli.eligible: %w", c.Name, err))
		}
	}
	c.good, c.eligible, c.phys, c.gen = good, elig, append(p1, p2...), gen
	return nil
}

// backfill recomputes a counter's counts from every stored event, in one
// transaction on the counter's connection. The caller holds cmu and wmu.
func (s *Store) backfill(ctx context.Context, c Counter) error {
	ctx = uncancelled(ctx)
	cat, catErr := s.catalog(c.Dataset)
	marks := map[string]int64{}
	s.mu.RLock()
	if ds := s.datasets[c.Dataset]; ds != nil {
		for _, seg := range ds.segments {
			marks[seg.table] = seg.rows
		}
	}
	s.mu.RUnlock()
	tx, err := s.cconn.(driver.ConnBeginTx).BeginTx(ctx, driver.TxOptions{})
	if err != nil {
		return err
	}
	err = func() error {
		if _, err := s.cconn.(driver.ExecerContext).ExecContext(ctx, `DELETE FROM px_slo_counts WHERE name = $1`,
			[]driver.NamedValue{{Ordinal: 1, Value: c.Name}}); err != nil {
			return err
		}
		if catErr != nil { // a dataset not yet written has nothing to count
			return nil
		}
		cc := &counter{Counter: c}
		if err := cc.compile(cat, -1); err != nil {
			return err
		}
		counts, err := s.tally(ctx, []*counter{cc}, cat.From(cc.phys, time.UnixMicro(0), time.UnixMicro(1<<62)))
		if err == nil {
			_, err = s.addCounts(ctx, counts)
		}
		if err != nil {
			return fmt.Errorf("backfill %s: %w", c.Name, err)
		}
		// Every stored row of the dataset is now counted: its segments'
		// marks move to their ends, or a dataset that had no counter
		// before would have its rows counted again by the streaming.
		for table, rows := range marks {
			if _, err := s.cconn.(driver.ExecerContext).ExecContext(ctx, `INSERT INTO px_slo_marks VALUES ($1, $2) ON CONFLICT (tbl) DO UPDATE SET counted = excluded.counted`,
				[]driver.NamedValue{{Ordinal: 1, Value: table}, {Ordinal: 2, Value: rows}}); err != nil {
				return err
			}
		}
		return nil
	}()
	if err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	for table, rows := range marks {
		s.marks[table] = rows
	}
	return nil
}

// loadCounts returns a counter's persisted counts.
func (s *Store) loadCounts(ctx context.Context, name string) ([]MinuteCount, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT minute, eligible, good, invalid FROM px_slo_counts WHERE name = ? ORDER BY minute`, name)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []MinuteCount
	for rows.Next() {
		m := MinuteCount{Name: name}
		if err := rows.Scan(&m.Minute, &m.Eligible, &m.Good, &m.Invalid); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// snapColumns is a dataset's columns as of a snapshot.
type snapColumns map[string]schema.Column

func (c snapColumns) Column(name string) (schema.Column, bool) {
	col, ok := c[name]
	return col, ok
}

// countJob is one segment's rows to count.
type countJob struct {
	dataset  string
	table    string
	from, to int64 // row ids
	maxSR    int64 // the segment's largest sample rate
	segCols  map[string]schema.Type
	dsCols   snapColumns
	gen      int64
	counters []*counter
}

// countPending counts, for every segment of a dataset with counters, the
// rows committed since its mark, storing the counts and the new mark in
// one transaction. A segment that cannot be counted keeps its mark, to be
// counted again next time, and does not stop the others: the result names
// the datasets with such a segment, with why (nil when none). The caller
// holds cmu.
func (s *Store) countPending(ctx context.Context) map[string]error {
	if s.poisoned.Load() {
		return nil // the tables may read empty: nothing is counted, the marks stay
	}
	var jobs []countJob
	s.mu.RLock()
	byDS := map[string][]*counter{}
	for _, c := range s.counters {
		byDS[c.Dataset] = append(byDS[c.Dataset], c)
	}
	for name, cs := range byDS {
		ds := s.datasets[name]
		if ds == nil {
			continue
		}
		sort.Slice(cs, func(i, j int) bool { return cs[i].Name < cs[j].Name })
		var cols snapColumns
		for _, seg := range ds.segments {
			if seg.rows <= s.marks[seg.table] {
				continue
			}
			if cols == nil {
				cols = snapColumns{}
				for n, c := range ds.cols {
					cols[n] = *c
				}
			}
			segCols := make(map[string]schema.Type, len(seg.cols))
			for p, t := range seg.cols {
				segCols[p] = t
			}
			jobs = append(jobs, countJob{dataset: name, table: seg.table, from: s.marks[seg.table], to: seg.rows, maxSR: seg.maxSR, segCols: segCols, dsCols: cols, gen: ds.gen, counters: cs})
		}
	}
	s.mu.RUnlock()
	sort.Slice(jobs, func(i, j int) bool { return jobs[i].table < jobs[j].table })
	var failed map[string]error
	for _, j := range jobs {
		if ctx.Err() != nil {
			break // the jobs left are counted next time
		}
		totals, err := s.countJob(ctx, j)
		if err != nil {
			if failed == nil {
				failed = map[string]error{}
			}
			failed[j.dataset] = errors.Join(failed[j.dataset], fmt.Errorf("count SLIs of %s (dataset %s): %w", j.table, j.dataset, err))
			continue
		}
		s.marks[j.table] = j.to
		if s.onCounts != nil && len(totals) > 0 {
			s.onCounts(totals)
		}
	}
	return failed
}

// countJob counts one segment's new rows in a transaction on the
// counter's connection.
func (s *Store) countJob(ctx context.Context, j countJob) ([]MinuteCount, error) {
	ctx = uncancelled(ctx)
	var phys []string
	seen := map[string]bool{}
	for _, c := range j.counters {
		if err := c.compile(j.dsCols, j.gen); err != nil {
			return nil, err
		}
		for _, p := range c.phys {
			if !seen[p] {
				seen[p] = true
				phys = append(phys, p)
			}
		}
	}
	types := make([]schema.Type, len(phys))
	for i, p := range phys {
		types[i] = schema.String
		for _, c := range j.dsCols {
			if c.Phys == p {
				types[i] = c.Type
			}
		}
	}
	tx, err := s.cconn.(driver.ConnBeginTx).BeginTx(ctx, driver.TxOptions{})
	if err != nil {
		return nil, err
	}
	counts, err := s.tally(ctx, j.counters, `(SELECT ts, `+srColumn(j.maxSR)+segmentColumns(j.segCols, phys, types)+` FROM `+ident(j.table)+` WHERE rowid >= $1 AND rowid < $2)`, j.from, j.to)
	var totals []MinuteCount
	if err == nil {
		totals, err = s.addCounts(ctx, counts)
	}
	if err == nil {
		_, err = s.cconn.(driver.ExecerContext).ExecContext(ctx, `INSERT INTO px_slo_marks VALUES ($1, $2) ON CONFLICT (tbl) DO UPDATE SET counted = excluded.counted`,
			[]driver.NamedValue{{Ordinal: 1, Value: j.table}, {Ordinal: 2, Value: j.to}})
	}
	if err != nil {
		tx.Rollback()
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return totals, nil
}

// tally counts the rows of src for cs: per counter and minute, the
// eligible, good and invalid weights. Minutes with only ineligible events
// are left out.
func (s *Store) tally(ctx context.Context, cs []*counter, src string, args ...any) ([]MinuteCount, error) {
	p := planCount(cs, src)
	acc := map[countKey]*MinuteCount{}
	err := s.countQuery(ctx, p.sql, args, func(vals []driver.Value) { p.add(acc, vals) })
	if err != nil {
		return nil, err
	}
	out := make([]MinuteCount, 0, len(acc))
	for k, c := range acc {
		if c.Eligible == 0 && c.Invalid == 0 {
			continue
		}
		c.Name = cs[k.k].Name
		out = append(out, *c)
	}
	store.SortCounts(out)
	return out, nil
}

// addCounts adds counts to the stored ones and returns the new totals of
// the minutes it touched.
func (s *Store) addCounts(ctx context.Context, counts []MinuteCount) ([]MinuteCount, error) {
	if len(counts) == 0 {
		return nil, nil
	}
	names := make([]string, len(counts))
	cols := [4][]int64{}
	for i, c := range counts {
		names[i] = c.Name
		cols[0] = append(cols[0], c.Minute)
		cols[1] = append(cols[1], c.Eligible)
		cols[2] = append(cols[2], c.Good)
		cols[3] = append(cols[3], c.Invalid)
	}
	var out []MinuteCount
	err := s.countQuery(ctx, `INSERT INTO px_slo_counts SELECT unnest($1::VARCHAR[]), unnest($2::BIGINT[]), unnest($3::BIGINT[]), unnest($4::BIGINT[]), unnest($5::BIGINT[])`+
		` ON CONFLICT (name, minute) DO UPDATE SET eligible = eligible + excluded.eligible, good = good + excluded.good, invalid = invalid + excluded.invalid`+
		` RETURNING name, minute, eligible, good, invalid`, []any{names, cols[0], cols[1], cols[2], cols[3]},
		func(v []driver.Value) {
			m := MinuteCount{}
			m.Name, _ = v[0].(string)
			m.Minute, _ = v[1].(int64)
			m.Eligible, _ = v[2].(int64)
			m.Good, _ = v[3].(int64)
			m.Invalid, _ = v[4].(int64)
			out = append(out, m)
		})
	return out, err
}

// countQuery runs q with args on the counter's connection, passing each
// row to f. Statements are prepared once per text: the texts only change
// with the SLIs and the segments' columns.
func (s *Store) countQuery(ctx context.Context, q string, args []any, f func([]driver.Value)) error {
	st := s.countStmts[q]
	if st == nil {
		if len(s.countStmts) >= 256 {
			s.closeCountStmts()
		}
		var err error
		if st, err = s.cconn.(driver.ConnPrepareContext).PrepareContext(ctx, q); err != nil {
			return err
		}
		if s.countStmts == nil {
			s.countStmts = map[string]driver.Stmt{}
		}
		s.countStmts[q] = st
	}
	nv := make([]driver.NamedValue, len(args))
	for i, a := range args {
		nv[i] = driver.NamedValue{Ordinal: i + 1, Value: a}
	}
	rows, err := st.(driver.StmtQueryContext).QueryContext(ctx, nv)
	if err != nil {
		// Let the next commit prepare it afresh.
		st.Close()
		delete(s.countStmts, q)
		return err
	}
	defer rows.Close()
	dest := make([]driver.Value, len(rows.Columns()))
	for {
		if err := rows.Next(dest); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
		f(dest)
	}
}

// closeCountStmts drops the prepared count statements. The caller holds cmu.
func (s *Store) closeCountStmts() {
	for _, st := range s.countStmts {
		st.Close()
	}
	s.countStmts = nil
}

// schemaChanges reports whether a write adds or retypes columns of ds.
func schemaChanges(ds *dataset, cols map[string]col) bool {
	for _, c := range cols {
		if c.isNew || ds.cols[c.name] == nil || ds.cols[c.name].Type != c.typ {
			return true
		}
	}
	return false
}

// segmentColumns is the select list that reads phys (with the types the
// dataset now gives them) from a segment holding cols: a column the segment
// lacks is NULL, one it stores under an older type is cast.
func segmentColumns(cols map[string]schema.Type, phys []string, types []schema.Type) string {
	var b strings.Builder
	for i, p := range phys {
		want := sqlType(types[i])
		switch have, ok := cols[p]; {
		case !ok:
			b.WriteString(", NULL::" + want + " AS " + ident(p))
		case sqlType(have) != want:
			b.WriteString(", CAST(" + ident(p) + " AS " + want + ") AS " + ident(p))
		default:
			b.WriteString(", " + ident(p))
		}
	}
	return b.String()
}
