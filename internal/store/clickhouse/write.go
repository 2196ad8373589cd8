package clickhouse

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/prodex/prodex/internal/event"
	"github.com/prodex/prodex/internal/problem"
	"github.com/prodex/prodex/internal/schema"
	"github.com/prodex/prodex/internal/store"
)

// Append stores batches of events, filling each batch's Errs with the
// events it rejects (older than the dataset's retention) and its Notes with
// the new fields it leaves out at the dataset's column limit. Values are reconciled with their field's type as the
// embedded store does (schema.Coerce). Each dataset's events go to one
// shard in one insert; Append returns once ClickHouse has written them.
func (s *Store) Append(ctx context.Context, batches []*event.Batch) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	now := time.Now()
	// One insert per dataset, whatever the number of requests gathered:
	// every insert is a part for ClickHouse to merge.
	var order []string
	byDataset := map[string][]*event.Batch{}
	for _, b := range batches {
		if len(b.Errs) != len(b.Events) {
			b.Errs = make([]error, len(b.Events))
		}
		if byDataset[b.Dataset] == nil {
			order = append(order, b.Dataset)
		}
		byDataset[b.Dataset] = append(byDataset[b.Dataset], b)
	}
	for _, name := range order {
		if err := s.appendDataset(ctx, name, byDataset[name], now); err != nil {
			return err
		}
	}
	return nil
}

// plan is one batch's columns: the typed columns it writes, in order.
type plan struct {
	cols  []string
	index map[string]int // typed column → position after ts, sr
	need  map[string]newCol
}

// newCol is a typed column a batch writes: its field and type.
type newCol struct {
	field string
	typ   schema.Type
}

// appendDataset inserts the events of batches bs, all of dataset name.
func (s *Store) appendDataset(ctx context.Context, name string, bs []*event.Batch, now time.Time) error {
	ds, err := s.dataset(ctx, name, now)
	if err != nil {
		return err
	}
	s.mu.RLock()
	retention := ds.retention
	types := map[string]schema.Type{} // field → type after this batch
	known := len(ds.fields)
	for name, f := range ds.fields {
		types[name] = f.typ()
	}
	s.mu.RUnlock()

	oldest := now.Add(-retention)
	fresh := map[string]bool{}
	// The batch's columns, filled as the events are read: slot of each
	// (field, type), and ts, sr of the n events kept.
	type slotKey struct {
		field string
		typ   schema.Type
	}
	slots := map[slotKey]int{}
	p := plan{index: map[string]int{}, need: map[string]newCol{}}
	var cols []*columnBuf
	var ts, sr []int64
	n := 0
	for _, b := range bs {
		for i := range b.Events {
			if b.Errs[i] != nil {
				continue
			}
			ev := &b.Events[i]
			if ev.Time.Before(oldest) {
				b.Errs[i] = fmt.Errorf("event time %s is older than the dataset's retention (%s)", ev.Time.UTC().Format(time.RFC3339), retention)
				continue
			}
			if known+len(fresh)+len(ev.Fields) > s.opts.MaxColumns {
				store.FitColumns(b, i, ds.name, s.opts.MaxColumns, known+len(fresh), func(name string) bool {
					_, ok := types[name]
					return ok
				})
			}
			for name, v := range ev.Fields {
				t, ok := schema.TypeOf(v)
				if !ok {
					continue
				}
				cur, ok := types[name]
				if !ok {
					cur = t
					fresh[name] = true
				}
				out := v
				for {
					o, promote := schema.Coerce(cur, v)
					if promote == "" {
						out = o
						break
					}
					cur = promote
				}
				types[name] = cur
				k, ok := slots[slotKey{name, cur}]
				if !ok {
					col := column(fieldBase(name), cur)
					k = len(p.cols)
					slots[slotKey{name, cur}] = k
					p.index[col] = k
					p.cols = append(p.cols, col)
					p.need[col] = newCol{name, cur}
					cols = append(cols, &columnBuf{typ: cur})
				}
				cols[k].set(n, out)
			}
			ts = append(ts, ev.Time.UnixMicro())
			sr = append(sr, ev.SampleRate)
			n++
		}
	}
	if err := s.ensureColumns(ctx, ds, p.need, now); err != nil {
		return err
	}

	conn := s.writers[s.next%len(s.writers)]
	s.next++
	if n > 0 {
		// The batch id keys the SLO counts the server makes of this insert
		// (see counts.go): random, so nodes need not agree on one.
		id := rand.Uint64() | 1
		pb := make([]uint64, n)
		for i := range pb {
			pb[i] = id
		}
		data := []any{ts, sr, pb}
		for _, c := range cols {
			data = append(data, c.column(n))
		}
		q := "INSERT INTO " + s.qualified(ds.table) + " (ts, sr, pb"
		for _, c := range p.cols {
			q += ", " + ident(c)
		}
		// Column by column through the native batch: row by row through
		// database/sql, events of 50 fields went in at 20k/s.
		if err := sendBatch(ctx, conn, q+")", data); err != nil {
			return fmt.Errorf("insert into %s: %w", ds.name, err)
		}
	}
	if n > 0 {
		s.mu.Lock()
		for _, c := range p.need {
			if f := ds.fields[c.field]; f != nil && f.lastSeen.Before(now) {
				f.lastSeen, f.seenNew = now.UTC(), true
			}
		}
		s.mu.Unlock()
	}
	return nil
}

func boolByte(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// columnBuf is one Nullable column of a batch, filled event by event; an
// event without the field leaves NULL.
type columnBuf struct {
	typ schema.Type
	i64 []*int64
	f64 []*float64
	str []*string
	u8  []*uint8
}

// set gives event k (counted from 0, in order) value v, of the column's
// type after schema.Coerce (booleans as bool).
func (c *columnBuf) set(k int, v any) {
	switch x := v.(type) {
	case int64:
		c.i64 = append(pad(c.i64, k), &x)
	case float64:
		c.f64 = append(pad(c.f64, k), &x)
	case string:
		c.str = append(pad(c.str, k), &x)
	case bool:
		b := boolByte(x)
		c.u8 = append(pad(c.u8, k), &b)
	}
}

// pad extends a column with NULLs to k values.
func pad[T any](col []*T, k int) []*T {
	for len(col) < k {
		col = append(col, nil)
	}
	return col
}

// column is the filled column, n values long, as the native batch takes
// it.
func (c *columnBuf) column(n int) any {
	switch c.typ {
	case schema.Integer:
		return pad(c.i64, n)
	case schema.Float:
		return pad(c.f64, n)
	case schema.Boolean:
		return pad(c.u8, n)
	}
	return pad(c.str, n)
}

// sendBatch inserts whole columns as one block.
func sendBatch(ctx context.Context, conn driver.Conn, insert string, cols []any) error {
	batch, err := conn.PrepareBatch(ctx, insert)
	if err != nil {
		return err
	}
	for i, c := range cols {
		if err := batch.Column(i).Append(c); err != nil {
			batch.Abort()
			return err
		}
	}
	return batch.Send()
}

// insert writes rows as one block. Rows go as a prepared batch, never as
// INSERT … VALUES with bound values, which 18.16 leaves waiting for a
// data block the client does not send.
func insert(ctx context.Context, db *sql.DB, into string, rows ...[]any) error {
	return inTx(ctx, db, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, "INSERT INTO "+into)
		if err != nil {
			return err
		}
		for _, r := range rows {
			if _, err := st.ExecContext(ctx, r...); err != nil {
				return err
			}
		}
		return nil
	})
}

func inTx(ctx context.Context, db *sql.DB, f func(*sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := f(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// dataset returns a dataset, creating its tables and catalog row when
// neither this node nor the server knows it.
func (s *Store) dataset(ctx context.Context, name string, now time.Time) (*dataset, error) {
	if ds, err := s.lookup(ctx, name); err == nil {
		return ds, nil
	} else if err != problem.ErrNotFound {
		return nil, err
	}
	if err := s.createTables(ctx, name); err != nil {
		return nil, err
	}
	if err := s.putDataset(ctx, name, now, s.opts.Retention); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ds := s.datasets[name]
	if ds == nil {
		ds = &dataset{name: name, table: tableName(name), created: now.UTC(), retention: s.opts.Retention, fields: map[string]*field{}}
		s.datasets[name] = ds
	}
	return ds, nil
}

// createTables creates a dataset's tables on every server where missing.
// Until its catalog row is written the dataset is not listed.
func (s *Store) createTables(ctx context.Context, name string) error {
	local, dist := s.qualified(tableName(name)), s.qualified(distName(name))
	err := s.everyServer(ctx, func(srv server) error {
		db := srv.db
		if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS `+local+` (ts Int64, sr Int64, pb UInt64) ENGINE = `+s.engine(srv, tableName(name), "MergeTree", "")+` PARTITION BY intDiv(ts, `+fmt.Sprint(usPerDay)+`) ORDER BY ts`); err != nil {
			return err
		}
		if s.opts.Cluster == "" {
			return nil
		}
		_, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS `+dist+` AS `+local+` ENGINE = Distributed(`+ident(s.opts.Cluster)+`, `+ident(s.opts.Database)+`, `+ident(tableName(name))+`)`)
		return err
	})
	if err != nil {
		return fmt.Errorf("create dataset %s: %w", name, err)
	}
	return nil
}

// ensureColumns adds the typed columns a batch writes that the dataset
// lacks, on every shard's local table and then on every server's
// Distributed table. A replicated table takes the column on its first
// replica and carries it to the others itself.
func (s *Store) ensureColumns(ctx context.Context, ds *dataset, need map[string]newCol, now time.Time) error {
	s.mu.RLock()
	var add []string
	for col, c := range need {
		if f := ds.fields[c.field]; f == nil || !f.typed[c.typ] {
			add = append(add, col)
		}
	}
	s.mu.RUnlock()
	if len(add) == 0 {
		return nil
	}
	sort.Strings(add)
	for len(add) > 0 {
		part := add[:min(len(add), alterColumns)]
		add = add[len(part):]
		err := s.everyServer(ctx, func(srv server) error {
			tables := s.tables(ds.name)
			if !srv.first {
				tables = tables[1:]
			}
			for _, t := range tables {
				if err := s.addColumns(ctx, srv.db, t, part, need); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("add %d columns to %s: %w", len(part), ds.name, err)
		}
		s.mu.Lock()
		for _, col := range part {
			name, typ := need[col].field, need[col].typ
			f := ds.fields[name]
			if f == nil {
				f = &field{name: name, base: fieldBase(name), typed: map[schema.Type]bool{}, created: now.UTC(), lastSeen: now.UTC(), seenNew: true}
				ds.fields[name] = f
			}
			f.typed[typ] = true
		}
		s.mu.Unlock()
	}
	if err := s.countersSaw(ctx, ds.name); err != nil {
		return err
	}
	// Name the new columns in px_columns now: other nodes (and this one
	// after a restart) learn a column's field from it. Column comments
	// would not do: 18.16 ignores COMMENT in ADD COLUMN, and a COMMENT
	// COLUMN racing another node's ALTER can be lost.
	return s.SaveLastSeen(ctx)
}

// alterColumns is the most columns one ALTER TABLE adds.
const alterColumns = 1000

// addColumns adds cols to table t in one ALTER TABLE: each ALTER is a
// schema change every server applies, so 2,000 new fields are one change,
// not 2,000. When another node added one of them first, they are added
// one at a time, skipping those that exist.
func (s *Store) addColumns(ctx context.Context, db *sql.DB, t string, cols []string, need map[string]newCol) error {
	add := func(cols []string) error {
		var b strings.Builder
		b.WriteString("ALTER TABLE " + t)
		for i, col := range cols {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString(" ADD COLUMN " + ident(col) + " " + chType[need[col].typ])
		}
		s.schemaChanges.Add(1)
		_, err := db.ExecContext(ctx, b.String())
		return err
	}
	err := add(cols)
	if err == nil || !exists(err) || len(cols) == 1 {
		if err != nil && exists(err) {
			err = nil
		}
		return err
	}
	for _, col := range cols {
		if err := add([]string{col}); err != nil && !exists(err) {
			return err
		}
	}
	return nil
}

// tables are a dataset's tables on each shard: local, then Distributed.
func (s *Store) tables(name string) []string {
	if s.opts.Cluster == "" {
		return []string{s.qualified(tableName(name))}
	}
	return []string{s.qualified(tableName(name)), s.qualified(distName(name))}
}
