package duckdb

import (
	"fmt"
	"sort"
	"strings"

	"github.com/prodex/prodex/internal/schema"
)

// How a day's segment gets the columns its events need. DuckDB's cost of
// ALTER TABLE … ADD COLUMN grows with the table's width (12 ms at 1,000
// columns, 116 ms at 5,000, 350 ms at 10,000; DuckDB 1.4 on the
// development machine) and, within one transaction, with every ALTER
// before it: 2,000 of them took 9 s on a table of 2 columns and 205 s on
// one of 8,000, holding 13.6 GB until the commit. CREATE TABLE costs about
// 8 µs a column. So up to alterMax columns go to a small segment narrower
// than alterWidth with ALTER; otherwise a new segment is created, in one
// statement, with the old one's columns and the new ones.
const (
	alterMax   = 8
	alterWidth = 1000
	// maxKeptAppenderColumns: an appender holds a 2,048-row vector per
	// column (16 KB for a BIGINT), so only narrower segments keep theirs
	// from one commit to the next.
	maxKeptAppenderColumns = 128
	// catalogRows is the most rows one catalog statement writes.
	catalogRows = 200
)

// execFunc runs a statement of the transaction at hand.
type execFunc func(q string, args ...any) error

// segPlan is where a commit's events go: each dataset's segment per day,
// the segments it creates (with their dataset), and the columns it adds
// to or retypes in existing ones.
type segPlan struct {
	segFor  map[*dataset]map[int32]*segment
	newSegs map[*segment]*dataset
	altered map[*segment]map[string]schema.Type
}

// missingColumns are the columns of phys that seg (nil: none) lacks or
// holds under another type than types gives them.
func missingColumns(seg *segment, phys []string, types map[string]schema.Type) []string {
	if seg == nil {
		return phys
	}
	var out []string
	for _, p := range phys {
		if t, ok := seg.cols[p]; !ok || t != types[p] {
			out = append(out, p)
		}
	}
	return out
}

// wantsNew reports whether the events of a day whose segment is seg (nil:
// none yet), lacking missing columns, go to a new segment.
func (s *Store) wantsNew(seg *segment, missing int) bool {
	return seg == nil || seg.rows >= s.opts.SegmentRows ||
		(missing > 0 && (seg.rows >= s.opts.AlterRows || missing > alterMax || len(seg.cols) >= alterWidth))
}

// newSegment describes the segment of ds's day that follows seg (nil: the
// day's first): it holds phys and, unless seg is full, seg's columns too,
// so that the events that went to seg need no change there. Each column
// has the type the dataset gives it after the write (types, else the
// catalog). The caller holds wmu.
func (s *Store) newSegment(ds *dataset, day int32, seg *segment, phys []string, types map[string]schema.Type) *segment {
	cols := make(map[string]schema.Type, len(phys))
	for _, p := range phys {
		cols[p] = types[p]
	}
	if seg != nil && seg.rows < s.opts.SegmentRows {
		var catalog map[string]schema.Type
		for p, t := range seg.cols {
			if _, ok := cols[p]; ok {
				continue
			}
			if wt, ok := types[p]; ok {
				t = wt
			} else {
				if catalog == nil {
					catalog = make(map[string]schema.Type, len(ds.cols))
					for _, c := range ds.cols {
						catalog[c.Phys] = c.Type
					}
				}
				if ct, ok := catalog[p]; ok {
					t = ct
				}
			}
			cols[p] = t
		}
	}
	seq := ds.nextSeq(day)
	ns := &segment{table: fmt.Sprintf("ev_%d_%d_%d", ds.id, day, seq), day: day, seq: seq, cols: cols}
	for p := range cols {
		ns.order = append(ns.order, p)
	}
	sort.Slice(ns.order, func(i, j int) bool { return physNum(ns.order[i]) < physNum(ns.order[j]) })
	return ns
}

// createSegment creates a segment's table, with all its columns in one
// statement, and its catalog row.
func (s *Store) createSegment(exec execFunc, ds *dataset, seg *segment) error {
	var b strings.Builder
	b.WriteString(`CREATE TABLE ` + ident(seg.table) + ` (ts BIGINT NOT NULL, sr BIGINT NOT NULL`)
	for _, p := range seg.order {
		b.WriteString(", " + ident(p) + " " + sqlType(seg.cols[p]))
	}
	b.WriteString(")")
	s.schemaChanged()
	if err := exec(b.String()); err != nil {
		return err
	}
	return exec(`INSERT INTO px_segments VALUES (?, ?, ?, ?)`, seg.table, ds.id, int64(seg.day), int64(seg.seq))
}

// makeSegments gives every day the write touches a segment holding the
// columns its events need, with their types: the current one, altered in
// place, or a new one. The caller holds wmu.
func (s *Store) makeSegments(exec execFunc, w *write) (segPlan, error) {
	sp := segPlan{segFor: map[*dataset]map[int32]*segment{}, newSegs: map[*segment]*dataset{}, altered: map[*segment]map[string]schema.Type{}}
	for ds, days := range w.needed {
		sp.segFor[ds] = map[int32]*segment{}
		types := w.physTypes(ds)
		for day, need := range days {
			phys := sortedKeys(need)
			seg := ds.current[day]
			missing := missingColumns(seg, phys, types)
			switch {
			case s.wantsNew(seg, len(missing)):
				ns := s.newSegment(ds, day, seg, phys, types)
				if err := s.createSegment(exec, ds, ns); err != nil {
					return sp, err
				}
				sp.newSegs[ns] = ds
				seg = ns
			case len(missing) > 0:
				if seg.app != nil {
					seg.app.Close()
					seg.app = nil
				}
				alt := map[string]schema.Type{}
				for _, p := range missing {
					t := types[p]
					q := `ALTER TABLE ` + ident(seg.table) + ` ADD COLUMN ` + ident(p) + ` ` + sqlType(t)
					if _, ok := seg.cols[p]; ok {
						q = `ALTER TABLE ` + ident(seg.table) + ` ALTER ` + ident(p) + ` SET DATA TYPE ` + sqlType(t)
					}
					s.schemaChanged()
					if err := exec(q); err != nil {
						return sp, err
					}
					alt[p] = t
				}
				sp.altered[seg] = alt
			}
			sp.segFor[ds][day] = seg
		}
	}
	return sp, nil
}

// writeCatalog writes the catalog rows of a write's new datasets and of
// its new and retyped columns, many rows to a statement.
func (s *Store) writeCatalog(exec execFunc, w *write) error {
	nowUS := w.now.UnixMicro()
	for ds := range w.fresh {
		if err := exec(`INSERT INTO px_datasets VALUES (?, ?, ?, ?)`, ds.id, ds.name, ds.created.UnixMicro(), int64(ds.retention.Seconds())); err != nil {
			return err
		}
	}
	for ds, cols := range w.cols {
		var added, retyped [][]any
		for _, c := range sortedCols(cols) {
			if c.isNew {
				added = append(added, []any{ds.id, c.name, c.phys, string(c.typ), nowUS, nowUS})
			} else if ds.cols[c.name].Type != c.typ {
				retyped = append(retyped, []any{c.name, string(c.typ)})
			}
		}
		for len(added) > 0 {
			n := min(len(added), catalogRows)
			if err := exec(`INSERT INTO px_columns VALUES `+placeholders(n, 6), flat(added[:n])...); err != nil {
				return err
			}
			added = added[n:]
		}
		for len(retyped) > 0 {
			n := min(len(retyped), catalogRows)
			q := `UPDATE px_columns SET type = v.t FROM (VALUES ` + placeholders(n, 2) + `) AS v(n, t) WHERE px_columns.dataset_id = ? AND px_columns.name = v.n`
			if err := exec(q, append(flat(retyped[:n]), ds.id)...); err != nil {
				return err
			}
			retyped = retyped[n:]
		}
	}
	return nil
}

// publishCatalog makes a committed write's datasets and columns visible.
// The caller holds wmu and mu.
func (s *Store) publishCatalog(w *write) {
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
}

// publishSegment makes a committed segment of ds visible; it becomes its
// day's current segment unless a later one was made meanwhile. The caller
// holds wmu and mu.
func (s *Store) publishSegment(ds *dataset, seg *segment) {
	ds.segments[seg.table] = seg
	if cur := ds.current[seg.day]; cur == nil || seg.seq > cur.seq {
		if cur != nil && cur.app != nil {
			cur.app.Close()
			cur.app = nil
		}
		ds.current[seg.day] = seg
	}
}

// placeholders is n rows of k bound values: (?, ?), (?, ?).
func placeholders(n, k int) string {
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", k), ", ") + ")"
	return strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")
}

func flat(rows [][]any) []any {
	var out []any
	for _, r := range rows {
		out = append(out, r...)
	}
	return out
}
