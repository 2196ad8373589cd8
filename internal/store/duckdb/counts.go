package duckdb

import (
	"context"
	"database/sql/driver"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/prodex/prodex/internal/schema"
	"github.com/prodex/prodex/internal/sli"
)

// Counter is an SLI whose per-minute counts the store keeps: they are
// computed by the database from the rows each commit appends, in the same
// transaction, so that the counts and the events are durable together and
// a kill -9 can neither lose nor double them.
type Counter struct {
	Name     string // the SLO
	Dataset  string
	Eligible string // CEL expression; empty: every event
	Good     string // CEL expression
}

// MinuteCount is one SLO's weighted counts in one minute: totals so far.
// An event whose expressions cannot be evaluated is not eligible; it is
// counted as invalid.
type MinuteCount struct {
	Name                    string
	Minute                  int64 // Unix time / 60
	Eligible, Good, Invalid int64
}

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
		return fmt.Errorf("sli.good: %w", err)
	}
	if c.Eligible != "" {
		if err := sli.Check(c.Eligible); err != nil {
			return fmt.Errorf("sli.eligible: %w", err)
		}
	}
	s.cmu.Lock()
	defer s.cmu.Unlock()
	s.wmu.Lock()
	defer s.wmu.Unlock()
	// With no commit possible, bring every counter up to the stored rows:
	// a backfill over all of them then matches the marks exactly.
	if err := s.countPending(ctx); err != nil {
		return err
	}
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
	_, err := s.db.ExecContext(ctx, `DELETE FROM px_slo_counts WHERE name = ?`, name)
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
	return s.countPending(ctx)
}

// countLoop follows the commits until Close.
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
		if err := s.CountPending(context.Background()); err != nil {
			// The rows stay uncounted and are retried; a failure is
			// rare (a column retyped under the query) and passes.
			s.countErr.Store(err.Error())
		}
	}
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

// countQuery returns a query of (name, minute, eligible, good, invalid)
// for the counters over src, a table expression with ts, sr and their
// columns.
//
// Evaluating the expressions is most of what counting costs, so each
// distinct expression is evaluated once per row, however many SLOs use
// it. Rows are then grouped by minute and the expressions' values (true,
// false or NULL) — few combinations, as they follow a few fields — and only
// those groups are classified per SLO (not eligible, bad, good, invalid)
// and summed.
func countQuery(cs []*counter, src string) string {
	var exprs []string
	index := map[string]string{}
	col := func(sql string) string {
		if sql == "TRUE" {
			return "TRUE"
		}
		if x, ok := index[sql]; ok {
			return x
		}
		x := fmt.Sprintf("x%d", len(exprs))
		index[sql] = x
		exprs = append(exprs, "("+sql+") AS "+x)
		return x
	}
	items := make([]string, len(cs))
	for k, c := range cs {
		e, g := col(c.eligible), col(c.good)
		items[k] = fmt.Sprintf("{'name': '%s', 'c': CASE WHEN %s IS NULL THEN 3 WHEN NOT %s THEN 0 WHEN %s IS NULL THEN 3 WHEN %s THEN 2 ELSE 1 END}",
			sqlString(c.Name), e, e, g, g)
	}
	keys := make([]string, len(exprs))
	for i := range exprs {
		keys[i] = fmt.Sprintf("x%d", i)
	}
	return `SELECT x.name, m, coalesce(sum(w) FILTER (WHERE x.c IN (1, 2)), 0)::BIGINT, coalesce(sum(w) FILTER (WHERE x.c = 2), 0)::BIGINT, ` +
		`coalesce(sum(w) FILTER (WHERE x.c = 3), 0)::BIGINT FROM (SELECT m, w, unnest([` + strings.Join(items, ", ") + `]) AS x FROM (` +
		`SELECT ts // 60000000 AS m, ` + strings.Join(append(keys, ""), ", ") + `sum(sr) AS w FROM (SELECT ` + strings.Join(append([]string{"ts", "sr"}, exprs...), ", ") + ` FROM ` + src + `) GROUP BY ALL)) ` +
		`GROUP BY x.name, m HAVING sum(w) FILTER (WHERE x.c > 0) > 0`
}

// compile (re)compiles a counter's expressions against cols when the
// dataset's columns changed since it last did.
func (c *counter) compile(cols sli.Columns, gen int64) error {
	if c.gen == gen && gen >= 0 {
		return nil
	}
	good, p1, err := sli.Compile(c.Good, cols)
	if err != nil {
		return fmt.Errorf("SLO %s: sli.good: %w", c.Name, err)
	}
	elig, p2 := "TRUE", []string(nil)
	if c.Eligible != "" {
		if elig, p2, err = sli.Compile(c.Eligible, cols); err != nil {
			return fmt.Errorf("SLO %s: sli.eligible: %w", c.Name, err)
		}
	}
	c.good, c.eligible, c.phys, c.gen = good, elig, append(p1, p2...), gen
	return nil
}

// backfill recomputes a counter's counts from every stored event, in one
// transaction. The caller holds wmu.
func (s *Store) backfill(ctx context.Context, c Counter) error {
	cat, err := s.Catalog(c.Dataset)
	tx, terr := s.db.BeginTx(ctx, nil)
	if terr != nil {
		return terr
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM px_slo_counts WHERE name = ?`, c.Name); err != nil {
		return err
	}
	if err == nil { // a dataset not yet written has nothing to count
		cc := &counter{Counter: c}
		if err := cc.compile(cat, -1); err != nil {
			return err
		}
		// Minutes with only ineligible valid events are not stored, as
		// in countNewRows.
		q := `INSERT INTO px_slo_counts ` + countQuery([]*counter{cc}, cat.From(cc.phys, time.UnixMicro(0), time.UnixMicro(1<<62)))
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("backfill %s: %w", c.Name, err)
		}
	}
	return tx.Commit()
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
	table    string
	from, to int64 // row ids
	segCols  map[string]schema.Type
	dsCols   snapColumns
	gen      int64
	counters []*counter
}

// countPending counts, for every segment of a dataset with counters, the
// rows committed since its mark, storing the counts and the new mark in
// one transaction. The caller holds cmu.
func (s *Store) countPending(ctx context.Context) error {
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
			jobs = append(jobs, countJob{table: seg.table, from: s.marks[seg.table], to: seg.rows, segCols: segCols, dsCols: cols, gen: ds.gen, counters: cs})
		}
	}
	s.mu.RUnlock()
	sort.Slice(jobs, func(i, j int) bool { return jobs[i].table < jobs[j].table })
	for _, j := range jobs {
		totals, err := s.countJob(ctx, j)
		if err != nil {
			return fmt.Errorf("count SLIs of %s: %w", j.table, err)
		}
		s.marks[j.table] = j.to
		if s.onCounts != nil && len(totals) > 0 {
			s.onCounts(totals)
		}
	}
	return nil
}

// countJob counts one segment's new rows in a transaction on the
// counter's connection.
func (s *Store) countJob(ctx context.Context, j countJob) ([]MinuteCount, error) {
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
	// One statement counts the rows per minute and SLO and adds them to
	// the stored counts, returning the new totals. Its text only changes
	// with the SLIs and the segment's columns, so it is prepared once and
	// reused: planning it is most of its cost.
	q := `INSERT INTO px_slo_counts ` + countQuery(j.counters, `(SELECT ts, sr`+segmentColumns(j.segCols, phys, types)+` FROM `+ident(j.table)+` WHERE rowid >= $1 AND rowid < $2)`) +
		` ON CONFLICT (name, minute) DO UPDATE SET eligible = eligible + excluded.eligible, good = good + excluded.good, invalid = invalid + excluded.invalid` +
		` RETURNING name, minute, eligible, good, invalid`
	tx, err := s.cconn.(driver.ConnBeginTx).BeginTx(ctx, driver.TxOptions{})
	if err != nil {
		return nil, err
	}
	out, err := s.countStmt(ctx, q, j.from, j.to)
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
	return out, nil
}

// countStmt runs a count statement, prepared once per text on the
// counter's connection.
func (s *Store) countStmt(ctx context.Context, q string, from, to int64) ([]MinuteCount, error) {
	st := s.countStmts[q]
	if st == nil {
		if len(s.countStmts) >= 256 {
			s.closeCountStmts()
		}
		var err error
		if st, err = s.cconn.(driver.ConnPrepareContext).PrepareContext(ctx, q); err != nil {
			return nil, err
		}
		if s.countStmts == nil {
			s.countStmts = map[string]driver.Stmt{}
		}
		s.countStmts[q] = st
	}
	rows, err := st.(driver.StmtQueryContext).QueryContext(ctx, []driver.NamedValue{{Ordinal: 1, Value: from}, {Ordinal: 2, Value: to}})
	if err != nil {
		// Let the next commit prepare it afresh.
		st.Close()
		delete(s.countStmts, q)
		return nil, err
	}
	defer rows.Close()
	dest := make([]driver.Value, 5)
	var out []MinuteCount
	for {
		if err := rows.Next(dest); err == io.EOF {
			return out, nil
		} else if err != nil {
			return nil, err
		}
		m := MinuteCount{}
		m.Name, _ = dest[0].(string)
		m.Minute, _ = dest[1].(int64)
		m.Eligible, _ = dest[2].(int64)
		m.Good, _ = dest[3].(int64)
		m.Invalid, _ = dest[4].(int64)
		out = append(out, m)
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
