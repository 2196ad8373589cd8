package duckdb

import (
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prodex/prodex/internal/event"
	"github.com/prodex/prodex/internal/problem"
	"github.com/prodex/prodex/internal/schema"
	"github.com/prodex/prodex/internal/store"
)

// Catalog is a read-only snapshot of one dataset's columns and segments,
// taken when a query starts so that concurrent writes do not change what
// the query sees of the schema.
type Catalog struct {
	name     string
	cols     map[string]schema.Column
	segments []segmentView
}

type segmentView struct {
	table        string
	day          int32
	minTS, maxTS int64
	maxSR        int64
	cols         map[string]schema.Type
}

// Catalog returns a snapshot of a dataset's catalog, for the readers
// above the store (see store.Source).
func (s *Store) Catalog(name string) (store.Catalog, error) {
	c, err := s.catalog(name)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Dialect is the SQL the store's database speaks.
func (s *Store) Dialect() store.Dialect { return store.DuckDB }

// catalog returns a snapshot of a dataset's catalog.
func (s *Store) catalog(name string) (*Catalog, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	ds := s.datasets[name]
	if ds == nil {
		return nil, problem.ErrNotFound
	}
	c := &Catalog{name: name, cols: make(map[string]schema.Column, len(ds.cols))}
	for n, col := range ds.cols {
		c.cols[n] = *col
	}
	for _, seg := range ds.segments {
		if seg.rows == 0 {
			continue
		}
		cols := make(map[string]schema.Type, len(seg.cols))
		for p, t := range seg.cols {
			cols[p] = t
		}
		c.segments = append(c.segments, segmentView{table: seg.table, day: seg.day, minTS: seg.minTS, maxTS: seg.maxTS, maxSR: seg.maxSR, cols: cols})
	}
	sort.Slice(c.segments, func(i, j int) bool { return c.segments[i].table < c.segments[j].table })
	return c, nil
}

// Column returns the column of a user field name.
func (c *Catalog) Column(name string) (schema.Column, bool) {
	col, ok := c.cols[name]
	return col, ok
}

// Columns lists every column, sorted by name.
func (c *Catalog) Columns() []schema.Column {
	out := make([]schema.Column, 0, len(c.cols))
	for _, col := range c.cols {
		out = append(out, col)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (c *Catalog) overlapping(start, end time.Time) []segmentView {
	s, e := start.UnixMicro(), end.UnixMicro()
	var out []segmentView
	for _, seg := range c.segments {
		dayStart := int64(seg.day) * usPerDay
		if dayStart+usPerDay > s && dayStart < e {
			out = append(out, seg)
		}
	}
	return out
}

// Weighted reports whether any event in [start, end) may have a sample
// rate above 1.
func (c *Catalog) Weighted(start, end time.Time) bool {
	for _, seg := range c.overlapping(start, end) {
		if seg.maxSR > 1 {
			return true
		}
	}
	return false
}

// From returns a parenthesised table expression, without alias, yielding
// ts, sr and the given physical columns (typed as the catalog says) for the
// events with start ≤ ts < end. A segment that lacks a column yields NULL
// for it; one that stored it under an older type is cast. Only names the
// store generated and integers appear in the text.
func (c *Catalog) From(phys []string, start, end time.Time) string {
	types := make([]schema.Type, len(phys))
	for i, p := range phys {
		types[i] = schema.String
		for _, col := range c.cols {
			if col.Phys == p {
				types[i] = col.Type
				break
			}
		}
	}
	s, e := strconv.FormatInt(start.UnixMicro(), 10), strconv.FormatInt(end.UnixMicro(), 10)
	var b strings.Builder
	b.WriteString("(")
	segs := c.overlapping(start, end)
	if len(segs) == 0 {
		b.WriteString("SELECT NULL::BIGINT AS ts, NULL::BIGINT AS sr")
		for i, p := range phys {
			b.WriteString(", NULL::" + sqlType(types[i]) + " AS " + ident(p))
		}
		b.WriteString(" WHERE false)")
		return b.String()
	}
	for k, seg := range segs {
		if k > 0 {
			b.WriteString(" UNION ALL ")
		}
		b.WriteString("SELECT ts, " + srColumn(seg.maxSR) + segmentColumns(seg.cols, phys, types))
		b.WriteString(" FROM " + ident(seg.table))
		// A segment holds one UTC day; rows may arrive after this snapshot,
		// so only a day wholly inside the range can skip the time filter.
		if dayStart := int64(seg.day) * usPerDay; dayStart < start.UnixMicro() || dayStart+usPerDay > end.UnixMicro() {
			b.WriteString(" WHERE ts >= " + s + " AND ts < " + e)
		}
	}
	b.WriteString(")")
	return b.String()
}

// srColumn reads the sample rate of a segment whose largest is maxSR:
// rates above event.MaxSampleRate, which versions without that limit
// stored, count as the maximum, so that the weighted sums over such a
// segment stay in range. Segments without them read sr as it is.
func srColumn(maxSR int64) string {
	if maxSR <= event.MaxSampleRate {
		return "sr"
	}
	m := strconv.Itoa(event.MaxSampleRate)
	return "CASE WHEN sr > " + m + " THEN " + m + " ELSE sr END AS sr"
}
