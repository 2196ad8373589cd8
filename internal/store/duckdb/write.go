package duckdb

import (
	"context"
	"database/sql/driver"
	"fmt"
	"sort"
	"time"
	"unsafe"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/prodex/prodex/internal/event"
	"github.com/prodex/prodex/internal/schema"
)

const usPerDay = int64(24 * time.Hour / time.Microsecond)

func dayOf(us int64) int32 {
	d := us / usPerDay
	if us < 0 && us%usPerDay != 0 {
		d--
	}
	return int32(d)
}

// write is the plan of one group commit: catalog changes to make before
// appending, and the rows to append per segment.
type write struct {
	now      time.Time
	datasets map[string]*dataset         // every dataset touched, new ones included
	fresh    map[*dataset]bool           // datasets created by this write
	cols     map[*dataset]map[string]col // columns created or retyped by this write
	needed   map[*dataset]map[int32]map[string]bool
	touched  map[*schema.Column]bool
}

type col struct {
	name  string
	phys  string
	typ   schema.Type
	isNew bool
}

// Append stores the batches in one transaction; when it returns nil every
// event without an entry in its batch's Errs is durable. Per-event
// rejections (the dataset's column limit, an event older than retention) go
// to Errs; an error return means nothing was stored.
func (s *Store) Append(ctx context.Context, batches []*event.Batch) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.poisoned.Load() {
		return ErrDiskFailure
	}
	w := &write{
		now:      time.Now(),
		datasets: map[string]*dataset{},
		fresh:    map[*dataset]bool{},
		cols:     map[*dataset]map[string]col{},
		needed:   map[*dataset]map[int32]map[string]bool{},
		touched:  map[*schema.Column]bool{},
	}
	for _, b := range batches {
		if len(b.Errs) != len(b.Events) {
			b.Errs = make([]error, len(b.Events))
		}
		s.plan(w, b)
	}
	if err := s.commit(ctx, w, batches); err != nil {
		s.resetAppenders(w)
		s.failed(err)
		return err
	}
	return nil
}

// plan decides, for every event, which columns it needs with which types,
// rejecting events the dataset cannot take.
func (s *Store) plan(w *write, b *event.Batch) {
	ds := w.datasets[b.Dataset]
	if ds == nil {
		ds = s.datasets[b.Dataset] // only this goroutine mutates the map
		if ds == nil {
			ds = &dataset{id: s.nextID, name: b.Dataset, created: w.now.UTC(), retention: s.opts.Retention,
				cols: map[string]*schema.Column{}, segments: map[string]*segment{}, current: map[int32]*segment{}}
			s.nextID++
			w.fresh[ds] = true
		}
		w.datasets[b.Dataset] = ds
		w.cols[ds] = map[string]col{}
		w.needed[ds] = map[int32]map[string]bool{}
	}
	pending := w.cols[ds]
	oldest := w.now.Add(-ds.retention)
	for i := range b.Events {
		if b.Errs[i] != nil {
			continue
		}
		ev := &b.Events[i]
		if ev.Time.Before(oldest) {
			b.Errs[i] = fmt.Errorf("event time %s is older than the dataset's retention (%s)", ev.Time.UTC().Format(time.RFC3339), ds.retention)
			continue
		}
		fresh := 0
		// Count the event's new columns only when it could reach the limit.
		for name, v := range ev.Fields {
			if len(ds.order)+len(pending)+len(ev.Fields) <= s.opts.MaxColumns {
				break
			}
			if v == nil {
				continue
			}
			if _, ok := pending[name]; ok {
				continue
			}
			if _, ok := ds.cols[name]; !ok {
				fresh++
			}
		}
		if fresh > 0 && len(ds.order)+countNew(pending)+fresh > s.opts.MaxColumns {
			b.Errs[i] = fmt.Errorf("dataset %q has reached its limit of %d columns; the event adds %d new", ds.name, s.opts.MaxColumns, fresh)
			continue
		}
		day := dayOf(ev.Time.UnixMicro())
		need := w.needed[ds][day]
		if need == nil {
			need = map[string]bool{}
			w.needed[ds][day] = need
		}
		for name, v := range ev.Fields {
			t, ok := schema.TypeOf(v)
			if !ok {
				continue
			}
			c, ok := pending[name]
			changed := !ok
			if !ok {
				if ex := ds.cols[name]; ex != nil {
					c = col{name: name, phys: ex.Phys, typ: ex.Type}
				} else {
					c = col{name: name, phys: fmt.Sprintf("c%d", ds.nextPhys), typ: t, isNew: true}
					ds.nextPhys++
				}
			}
			// Most values already fit their column: skip the map writes.
			if c.typ != t {
				for {
					_, promote := schema.Coerce(c.typ, v)
					if promote == "" {
						break
					}
					c.typ = promote
					changed = true
				}
			}
			if changed {
				pending[name] = c
			}
			if !need[c.phys] {
				need[c.phys] = true
			}
		}
	}
}

func countNew(m map[string]col) int {
	n := 0
	for _, c := range m {
		if c.isNew {
			n++
		}
	}
	return n
}

// commit runs the plan in one transaction and, once committed, makes the
// catalog changes visible to readers.
func (s *Store) commit(ctx context.Context, w *write, batches []*event.Batch) error {
	ctx = uncancelled(ctx)
	tx, err := s.wconn.(driver.ConnBeginTx).BeginTx(ctx, driver.TxOptions{})
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	ex := s.wconn.(driver.ExecerContext)
	exec := func(q string, args ...driver.NamedValue) error {
		_, err := ex.ExecContext(ctx, q, args)
		return err
	}
	rollback := func(err error) error {
		tx.Rollback()
		return err
	}
	nowUS := w.now.UnixMicro()

	// Catalog rows for new datasets and new or retyped columns.
	type colState struct {
		ds  *dataset
		c   col
		typ schema.Type
	}
	for ds := range w.fresh {
		if err := exec(`INSERT INTO px_datasets VALUES (?, ?, ?, ?)`, nv(1, ds.id), nv(2, ds.name), nv(3, ds.created.UnixMicro()), nv(4, int64(ds.retention/time.Second))); err != nil {
			return rollback(err)
		}
	}
	for ds, cols := range w.cols {
		for _, c := range cols {
			if c.isNew {
				if err := exec(`INSERT INTO px_columns VALUES (?, ?, ?, ?, ?, ?)`, nv(1, ds.id), nv(2, c.name), nv(3, c.phys), nv(4, string(c.typ)), nv(5, nowUS), nv(6, nowUS)); err != nil {
					return rollback(err)
				}
			} else if ds.cols[c.name].Type != c.typ {
				if err := exec(`UPDATE px_columns SET type = ? WHERE dataset_id = ? AND name = ?`, nv(1, string(c.typ)), nv(2, ds.id), nv(3, c.name)); err != nil {
					return rollback(err)
				}
			}
		}
	}

	// Segments: make each written day's segment hold the needed columns
	// with their current types.
	typeOf := func(ds *dataset, phys string) schema.Type {
		for _, c := range w.cols[ds] {
			if c.phys == phys {
				return c.typ
			}
		}
		panic("duckdb: needed column without a plan")
	}
	newSegs := map[*segment]*dataset{}
	segFor := map[*dataset]map[int32]*segment{}
	altered := map[*segment]map[string]schema.Type{}
	for ds, days := range w.needed {
		segFor[ds] = map[int32]*segment{}
		for day, need := range days {
			phys := sortedKeys(need)
			seg := ds.current[day]
			var missing []string
			if seg != nil {
				for _, p := range phys {
					if t, ok := seg.cols[p]; !ok || t != typeOf(ds, p) {
						missing = append(missing, p)
					}
				}
			}
			switch {
			case seg == nil || seg.rows >= s.opts.SegmentRows || (len(missing) > 0 && seg.rows >= s.opts.AlterRows):
				seq := 0
				if seg != nil {
					seq = seg.seq + 1
				}
				ns := &segment{table: fmt.Sprintf("ev_%d_%d_%d", ds.id, day, seq), day: day, seq: seq, cols: map[string]schema.Type{}}
				ddl := `CREATE TABLE ` + ident(ns.table) + ` (ts BIGINT NOT NULL, sr BIGINT NOT NULL`
				for _, p := range phys {
					t := typeOf(ds, p)
					ddl += ", " + ident(p) + " " + sqlType(t)
					ns.cols[p] = t
					ns.order = append(ns.order, p)
				}
				if err := exec(ddl + ")"); err != nil {
					return rollback(err)
				}
				if err := exec(`INSERT INTO px_segments VALUES (?, ?, ?, ?)`, nv(1, ns.table), nv(2, ds.id), nv(3, int64(day)), nv(4, int64(seq))); err != nil {
					return rollback(err)
				}
				newSegs[ns] = ds
				seg = ns
			case len(missing) > 0:
				if seg.app != nil {
					seg.app.Close()
					seg.app = nil
				}
				alt := map[string]schema.Type{}
				for _, p := range missing {
					t := typeOf(ds, p)
					q := `ALTER TABLE ` + ident(seg.table) + ` ADD COLUMN ` + ident(p) + ` ` + sqlType(t)
					if _, ok := seg.cols[p]; ok {
						q = `ALTER TABLE ` + ident(seg.table) + ` ALTER ` + ident(p) + ` SET DATA TYPE ` + sqlType(t)
					}
					if err := exec(q); err != nil {
						return rollback(err)
					}
					alt[p] = t
				}
				altered[seg] = alt
			}
			segFor[ds][day] = seg
		}
	}

	// The shape each segment will have once committed.
	shape := func(seg *segment) ([]string, map[string]schema.Type) {
		if alt := altered[seg]; alt != nil {
			order := append([]string(nil), seg.order...)
			cols := make(map[string]schema.Type, len(seg.cols)+len(alt))
			for p, t := range seg.cols {
				cols[p] = t
			}
			for _, p := range sortedKeys(alt) {
				if _, ok := cols[p]; !ok {
					order = append(order, p)
				}
				cols[p] = alt[p]
			}
			return order, cols
		}
		return seg.order, seg.cols
	}

	// Append the rows.
	type stats struct {
		rows, minTS, maxTS, maxSR int64
	}
	st := map[*segment]*stats{}
	apps := map[*segment]*duckdb.Appender{}
	pos := map[*segment]map[string]int{}  // physical column → row position
	idx := map[*segment]map[string]slot{} // field name → row position and type
	rowBuf := map[*segment][]driver.Value{}
	for _, b := range batches {
		ds := w.datasets[b.Dataset]
		for i := range b.Events {
			if b.Errs[i] != nil {
				continue
			}
			ev := &b.Events[i]
			us := ev.Time.UnixMicro()
			seg := segFor[ds][dayOf(us)]
			app := apps[seg]
			if app == nil {
				order, _ := shape(seg)
				app = seg.app
				if app == nil || altered[seg] != nil || newSegs[seg] != nil {
					app, err = duckdb.NewAppenderFromConn(raw(s.wconn), "", seg.table)
					if err != nil {
						return rollback(fmt.Errorf("appender %s: %w", seg.table, err))
					}
				}
				apps[seg] = app
				m := make(map[string]int, len(order))
				for j, p := range order {
					m[p] = j + 2
				}
				pos[seg] = m
				idx[seg] = make(map[string]slot, len(order))
				rowBuf[seg] = make([]driver.Value, len(order)+2)
				st[seg] = &stats{minTS: us, maxTS: us}
			}
			row := rowBuf[seg]
			clear(row)
			sr := ev.SampleRate
			if sr < 1 {
				sr = 1
			}
			row[0], row[1] = us, sr
			slots := idx[seg]
			for name, v := range ev.Fields {
				if v == nil {
					continue
				}
				sl, ok := slots[name]
				if !ok {
					c := w.cols[ds][name]
					sl = slot{pos: pos[seg][c.phys], typ: c.typ}
					slots[name] = sl
				}
				if t, _ := schema.TypeOf(v); t != sl.typ {
					v, _ = schema.Coerce(sl.typ, v)
				}
				if x, ok := v.(string); ok {
					v = varchar(x)
				}
				row[sl.pos] = v
			}
			if err := app.AppendRow(row...); err != nil {
				return rollback(fmt.Errorf("append %s: %w", seg.table, err))
			}
			x := st[seg]
			x.rows++
			x.minTS = min(x.minTS, us)
			x.maxTS = max(x.maxTS, us)
			x.maxSR = max(x.maxSR, sr)
		}
	}
	for seg, app := range apps {
		if err := app.Flush(); err != nil {
			return rollback(fmt.Errorf("flush %s: %w", seg.table, err))
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	// Let the SLI counter follow.
	select {
	case s.countSignal <- struct{}{}:
	default:
	}

	// Committed: publish the catalog changes.
	s.mu.Lock()
	defer s.mu.Unlock()
	for ds := range w.fresh {
		s.datasets[ds.name] = ds
	}
	for ds, cols := range w.cols {
		if schemaChanges(ds, cols) {
			ds.gen++
		}
		for _, c := range sortedCols(cols) {
			if c.isNew {
				sc := &schema.Column{Name: c.name, Phys: c.phys, Type: c.typ, Created: w.now.UTC(), LastSeen: w.now.UTC()}
				ds.cols[c.name] = sc
				ds.order = append(ds.order, sc)
			} else {
				sc := ds.cols[c.name]
				sc.Type = c.typ
				sc.LastSeen = w.now.UTC()
			}
		}
	}
	for seg, ds := range newSegs {
		if old := ds.current[seg.day]; old != nil && old.app != nil {
			old.app.Close()
			old.app = nil
		}
		ds.segments[seg.table] = seg
		ds.current[seg.day] = seg
	}
	for seg := range altered {
		seg.order, seg.cols = shape(seg)
	}
	for seg, app := range apps {
		seg.app = app
		x := st[seg]
		if seg.rows == 0 {
			seg.minTS, seg.maxTS = x.minTS, x.maxTS
		} else {
			seg.minTS, seg.maxTS = min(seg.minTS, x.minTS), max(seg.maxTS, x.maxTS)
		}
		seg.rows += x.rows
		seg.maxSR = max(seg.maxSR, x.maxSR)
	}
	return nil
}

// resetAppenders drops the appenders a failed write may have left with
// buffered rows; they are recreated on the next write.
func (s *Store) resetAppenders(w *write) {
	for _, ds := range w.datasets {
		for _, seg := range ds.segments {
			if seg.app != nil {
				seg.app.Close()
				seg.app = nil
			}
		}
	}
}

// slot is where a field's value goes in a segment's row, and its type.
type slot struct {
	pos int
	typ schema.Type
}

// varchar is a string as the appender should get it: as bytes, which it
// copies with their length, where a string goes through a C string and
// ends at its first NUL. The bytes alias the string; the appender only
// reads them.
func varchar(s string) []byte {
	if s == "" {
		return []byte{}
	}
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

func nv(ord int, v any) driver.NamedValue { return driver.NamedValue{Ordinal: ord, Value: v} }

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sortedCols(m map[string]col) []col {
	out := make([]col, 0, len(m))
	for _, c := range m {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return physNum(out[i].phys) < physNum(out[j].phys) })
	return out
}

// physNum is the number in a physical column name ("c12" → 12), so columns
// sort in creation order.
func physNum(p string) int {
	n := 0
	for i := 1; i < len(p); i++ {
		n = n*10 + int(p[i]-'0')
	}
	return n
}
