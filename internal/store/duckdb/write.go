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
	"github.com/prodex/prodex/internal/store"
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
	cols     map[*dataset]map[string]col // every column the write's events use, by field
	added    map[*dataset]int            // columns the write creates
	needed   map[*dataset]map[int32]map[string]bool
}

func newWrite(now time.Time) *write {
	return &write{
		now:      now,
		datasets: map[string]*dataset{},
		fresh:    map[*dataset]bool{},
		cols:     map[*dataset]map[string]col{},
		added:    map[*dataset]int{},
		needed:   map[*dataset]map[int32]map[string]bool{},
	}
}

// physTypes maps each physical column the write uses in ds to its type
// after the write.
func (w *write) physTypes(ds *dataset) map[string]schema.Type {
	out := make(map[string]schema.Type, len(w.cols[ds]))
	for _, c := range w.cols[ds] {
		out[c.phys] = c.typ
	}
	return out
}

type col struct {
	name  string
	phys  string
	typ   schema.Type
	isNew bool
}

// Append stores the batches in one transaction; when it returns nil every
// event without an entry in its batch's Errs is durable. Per-event
// rejections (an event older than retention) go to Errs, and fields left
// out at the dataset's column limit to Notes; an error return means
// nothing was stored.
func (s *Store) Append(ctx context.Context, batches []*event.Batch) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.poisoned.Load() {
		return ErrDiskFailure
	}
	w := newWrite(time.Now())
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
// rejecting events the dataset cannot take and leaving out the new fields
// past its column limit.
func (s *Store) plan(w *write, b *event.Batch) {
	ds := w.datasets[b.Dataset]
	if ds == nil {
		ds = s.datasets[b.Dataset] // only the holder of wmu mutates the map
		if ds == nil {
			ds = &dataset{id: s.nextID, name: b.Dataset, created: w.now.UTC(), retention: s.opts.Retention,
				cols: map[string]*schema.Column{}, segments: map[string]*segment{}, current: map[int32]*segment{}, seqs: map[int32]int{}}
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
		// Count the event's new columns only when it could reach the limit.
		if len(ds.order)+w.added[ds]+len(ev.Fields) > s.opts.MaxColumns {
			s.fitColumns(w, ds, b, i)
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
					w.added[ds]++
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

// fitColumns leaves out of event i of b the new fields that would take ds
// past the column limit (store.FitColumns), counting the columns this
// write adds.
func (s *Store) fitColumns(w *write, ds *dataset, b *event.Batch, i int) {
	pending := w.cols[ds]
	store.FitColumns(b, i, ds.name, s.opts.MaxColumns, len(ds.order)+w.added[ds], func(name string) bool {
		if _, ok := pending[name]; ok {
			return true
		}
		_, ok := ds.cols[name]
		return ok
	})
}

// commit runs the plan in one transaction and, once committed, makes the
// catalog changes visible to readers.
func (s *Store) commit(ctx context.Context, w *write, batches []*event.Batch) error {
	ctx = uncancelled(ctx)
	tx, err := s.wconn.(driver.ConnBeginTx).BeginTx(ctx, driver.TxOptions{})
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	exec := s.execOn(ctx, s.wconn)
	rollback := func(err error) error {
		tx.Rollback()
		return err
	}
	if err := s.writeCatalog(exec, w); err != nil {
		return rollback(err)
	}
	sp, err := s.makeSegments(exec, w)
	if err != nil {
		return rollback(err)
	}
	segFor, newSegs, altered := sp.segFor, sp.newSegs, sp.altered

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
	fail := func(err error) error {
		for seg, app := range apps {
			if app != seg.app {
				app.Close()
			}
		}
		return rollback(err)
	}
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
						return fail(fmt.Errorf("appender %s: %w", seg.table, err))
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
				return fail(fmt.Errorf("append %s: %w", seg.table, err))
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
			return fail(fmt.Errorf("flush %s: %w", seg.table, err))
		}
	}
	if err := tx.Commit(); err != nil {
		for seg, app := range apps {
			if app != seg.app {
				app.Close()
			}
		}
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
	s.publishCatalog(w)
	for seg, ds := range newSegs {
		s.publishSegment(ds, seg)
	}
	for seg := range altered {
		seg.order, seg.cols = shape(seg)
	}
	for seg, app := range apps {
		// A wide segment's appender holds a vector per column: made
		// again for each commit rather than kept.
		if len(seg.order) <= maxKeptAppenderColumns {
			seg.app = app
		} else {
			app.Close()
			seg.app = nil
		}
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
