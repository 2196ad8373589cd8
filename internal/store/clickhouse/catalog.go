package clickhouse

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prodex/prodex/internal/problem"
	"github.com/prodex/prodex/internal/schema"
	"github.com/prodex/prodex/internal/store"
)

const usPerDay = int64(24 * time.Hour / time.Microsecond)

// reload reads the catalog: datasets from px_datasets, the fields' names
// and times from px_columns, and which typed columns each field has from
// the server's own table definitions.
// What this node knows and the server does not yet show (its last-seen
// times) is kept.
func (s *Store) reload(ctx context.Context) error {
	type dsRow struct {
		name      string
		created   int64
		retention int64
	}
	var dss []dsRow
	// From the first shard's first replica, which every catalog write and
	// column reaches first: another replica could still show an older
	// retention or miss a column.
	db := s.shards[0]
	err := queryRows(ctx, db, `SELECT name, min(created_us), argMax(retention_s, version) FROM `+s.qualified("px_datasets")+` GROUP BY name`, nil, func(rows *sql.Rows) error {
		var r dsRow
		err := rows.Scan(&r.name, &r.created, &r.retention)
		dss = append(dss, r)
		return err
	})
	if err != nil {
		return fmt.Errorf("read datasets: %w", err)
	}
	type colRow struct{ table, name, typ string }
	var cols []colRow
	err = queryRows(ctx, db, `SELECT table, name, type FROM system.columns WHERE database = ? AND startsWith(table, 'e_') AND startsWith(name, 'c')`, []any{s.opts.Database}, func(rows *sql.Rows) error {
		var r colRow
		err := rows.Scan(&r.table, &r.name, &r.typ)
		cols = append(cols, r)
		return err
	})
	if err != nil {
		return fmt.Errorf("read columns: %w", err)
	}
	type times struct{ created, seen int64 }
	seen := map[[2]string]times{}
	err = queryRows(ctx, db, `SELECT dataset, name, min(created_us), max(seen_us) FROM `+s.qualified("px_columns")+` GROUP BY dataset, name`, nil, func(rows *sql.Rows) error {
		var ds, name string
		var t times
		err := rows.Scan(&ds, &name, &t.created, &t.seen)
		seen[[2]string{ds, name}] = t
		return err
	})
	if err != nil {
		return fmt.Errorf("read column times: %w", err)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	byTable := map[string]*dataset{}
	for _, r := range dss {
		ds := s.datasets[r.name]
		if ds == nil {
			ds = &dataset{name: r.name, table: tableName(r.name), fields: map[string]*field{}}
			s.datasets[r.name] = ds
		}
		ds.created = time.UnixMicro(r.created).UTC()
		ds.retention = time.Duration(r.retention) * time.Second
		byTable[ds.table] = ds
	}
	// A column's field is the one px_columns names with its hash; a
	// column not named there yet (its node died between adding it and
	// recording it) is skipped until the field is written again.
	names := map[[2]string]string{} // dataset, base → field name
	for k := range seen {
		names[[2]string{k[0], fieldBase(k[1])}] = k[1]
	}
	for _, c := range cols {
		ds := byTable[c.table]
		t, ok := typeOfColumn(c.name, c.typ)
		if ds == nil || !ok {
			continue // not a field column, or a dataset still being created
		}
		name, ok := names[[2]string{ds.name, c.name[:len(c.name)-2]}]
		if !ok {
			continue
		}
		f := ds.fields[name]
		if f == nil {
			f = &field{name: name, base: fieldBase(name), typed: map[schema.Type]bool{}}
			ds.fields[name] = f
		}
		f.typed[t] = true
		tm := seen[[2]string{ds.name, name}]
		if f.created.IsZero() || tm.created < f.created.UnixMicro() {
			f.created = time.UnixMicro(tm.created).UTC()
		}
		if tm.seen > f.lastSeen.UnixMicro() {
			f.lastSeen = time.UnixMicro(tm.seen).UTC()
		}
	}
	s.loaded = time.Now()
	return nil
}

// typeOfColumn reads a field column's type from its name and SQL type.
func typeOfColumn(name, sqlType string) (schema.Type, bool) {
	if len(name) < 3 || name[len(name)-2] != '_' {
		return "", false
	}
	for t, l := range typeLetter {
		if name[len(name)-1:] == l && chType[t] == sqlType {
			return t, true
		}
	}
	return "", false
}

func (s *Store) refreshLoop() {
	defer close(s.done)
	tick := time.NewTicker(s.opts.Refresh)
	defer tick.Stop()
	saved := time.Now()
	for {
		select {
		case <-s.stop:
			return
		case <-tick.C:
			// A slow server delays the refresh rather than failing it.
			ctx, cancel := context.WithTimeout(context.Background(), max(s.opts.Refresh, 10*time.Second))
			s.reload(ctx) // a failed refresh keeps the catalog it had
			// Last-seen times need not be precise, and every save is an
			// insert (a part) on every shard: save them twice a minute.
			if time.Since(saved) >= saveEvery {
				s.SaveLastSeen(ctx)
				saved = time.Now()
			}
			cancel()
		}
	}
}

// saveEvery is how often the columns' last-seen times are saved.
const saveEvery = 30 * time.Second

// catalogWait bounds a catalog reload made for a request.
const catalogWait = 10 * time.Second

// lookup returns a dataset, reloading the catalog once when it is unknown:
// another node may have created it.
func (s *Store) lookup(ctx context.Context, name string) (*dataset, error) {
	s.mu.RLock()
	ds, recent := s.datasets[name], time.Since(s.loaded) < time.Second
	s.mu.RUnlock()
	if ds != nil {
		return ds, nil
	}
	if !recent {
		if err := s.reload(ctx); err != nil {
			return nil, err
		}
		s.mu.RLock()
		ds = s.datasets[name]
		s.mu.RUnlock()
	}
	if ds == nil {
		return nil, problem.ErrNotFound
	}
	return ds, nil
}

// Datasets lists the datasets, sorted by name.
func (s *Store) Datasets() []store.Dataset {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]store.Dataset, 0, len(s.datasets))
	for _, ds := range s.datasets {
		out = append(out, store.Dataset{Name: ds.name, Created: ds.created, Retention: ds.retention, Columns: len(ds.fields)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Columns lists a dataset's columns in creation order (then by name).
func (s *Store) Columns(name string) ([]schema.Column, error) {
	ctx, cancel := context.WithTimeout(context.Background(), catalogWait)
	defer cancel()
	ds, err := s.lookup(ctx, name)
	if err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]schema.Column, 0, len(ds.fields))
	for _, f := range ds.fields {
		out = append(out, schema.Column{Name: f.name, Type: f.typ(), Phys: f.base, Created: f.created, LastSeen: f.lastSeen})
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.Before(out[j].Created)
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

// SetRetention changes a dataset's retention.
func (s *Store) SetRetention(ctx context.Context, name string, d time.Duration) error {
	if err := store.CheckRetention(d); err != nil {
		return err
	}
	ds, err := s.lookup(ctx, name)
	if err != nil {
		return err
	}
	s.mu.RLock()
	created := ds.created
	s.mu.RUnlock()
	if err := s.putDataset(ctx, name, created, d); err != nil {
		return err
	}
	s.mu.Lock()
	ds.retention = d
	s.mu.Unlock()
	return nil
}

// putDataset writes a dataset's catalog row on every shard; the newest
// version wins.
func (s *Store) putDataset(ctx context.Context, name string, created time.Time, retention time.Duration) error {
	version := time.Now().UnixNano()
	return s.each(ctx, func(db *sql.DB) error {
		return insert(ctx, db, s.qualified("px_datasets")+` (name, created_us, retention_s, version)`,
			[]any{name, created.UnixMicro(), int64(retention / time.Second), version})
	})
}

// SaveLastSeen persists the columns' last-written times, kept in memory
// on the write path.
func (s *Store) SaveLastSeen(ctx context.Context) error {
	type row struct {
		ds, name      string
		created, seen int64
	}
	var rows []row
	s.mu.Lock()
	for _, ds := range s.datasets {
		for _, f := range ds.fields {
			if f.seenNew {
				rows = append(rows, row{ds.name, f.name, f.created.UnixMicro(), f.lastSeen.UnixMicro()})
				f.seenNew = false
			}
		}
	}
	s.mu.Unlock()
	if len(rows) == 0 {
		return nil
	}
	vals := make([][]any, len(rows))
	for i, r := range rows {
		vals[i] = []any{r.ds, r.name, r.created, r.seen}
	}
	return s.each(ctx, func(db *sql.DB) error {
		return insert(ctx, db, s.qualified("px_columns")+` (dataset, name, created_us, seen_us)`, vals...)
	})
}

// Catalog is a snapshot of one dataset's fields, for compiling a query.
type Catalog struct {
	s      *Store
	name   string
	table  string
	fields map[string]schema.Column
	typed  map[string]map[schema.Type]bool // by base
	widest map[string]schema.Type          // by base
}

// Catalog returns a snapshot of a dataset's catalog, for the readers
// above the store (see store.Source); it is also a query.TableCatalog.
func (s *Store) Catalog(name string) (store.Catalog, error) {
	c, err := s.catalog(name)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Dialect is the SQL the store's database speaks.
func (s *Store) Dialect() store.Dialect { return store.ClickHouse }

// catalog returns a snapshot of a dataset's catalog.
func (s *Store) catalog(name string) (*Catalog, error) {
	ctx, cancel := context.WithTimeout(context.Background(), catalogWait)
	defer cancel()
	ds, err := s.lookup(ctx, name)
	if err != nil {
		return nil, err
	}
	return s.catalogOf(name, ds), nil
}

// catalogOf snapshots ds (nil: a dataset without events).
func (s *Store) catalogOf(name string, ds *dataset) *Catalog {
	c := &Catalog{s: s, name: name, table: s.readTable(name), fields: map[string]schema.Column{}, typed: map[string]map[schema.Type]bool{}, widest: map[string]schema.Type{}}
	if ds == nil {
		return c
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, f := range ds.fields {
		c.fields[f.name] = schema.Column{Name: f.name, Type: f.typ(), Phys: f.base, Created: f.created, LastSeen: f.lastSeen}
		ts := map[schema.Type]bool{}
		for t := range f.typed {
			ts[t] = true
		}
		c.typed[f.base] = ts
		c.widest[f.base] = f.typ()
	}
	return c
}

// Column returns the column of a field name; Phys is the name From
// yields it under.
func (c *Catalog) Column(name string) (schema.Column, bool) {
	col, ok := c.fields[name]
	return col, ok
}

// Columns lists every column, sorted by name.
func (c *Catalog) Columns() []schema.Column {
	out := make([]schema.Column, 0, len(c.fields))
	for _, col := range c.fields {
		out = append(out, col)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Weighted reports whether any event of the UTC days [start, end) touches
// has a sample rate above 1. Days, not the exact interval, so that a query
// takes the same (weighted or plain) path on every store: the embedded
// one decides per day.
func (c *Catalog) Weighted(start, end time.Time) bool {
	s := floorDay(start.UnixMicro())
	e := floorDay(end.UnixMicro()-1) + usPerDay
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var n uint64
	err := c.s.db.QueryRowContext(ctx, `SELECT count() FROM (SELECT 1 FROM `+c.table+` WHERE ts >= ? AND ts < ? AND sr > 1 LIMIT 1)`, s, e).Scan(&n)
	// Unknown is weighted: the weighted aggregates are exact either way.
	return err != nil || n > 0
}

func floorDay(us int64) int64 {
	d := us / usPerDay
	if us < 0 && us%usPerDay != 0 {
		d--
	}
	return d * usPerDay
}

// From returns a parenthesised table expression yielding ts, sr and each
// asked field (by its Phys name) as its catalog type, for the events with
// start ≤ ts < end. A field stored under several types reads as its
// widest: the typed column written, converted. Only generated names and
// integers appear in the text.
func (c *Catalog) From(phys []string, start, end time.Time) string {
	var b strings.Builder
	b.WriteString("(SELECT ts, sr")
	for _, p := range phys {
		b.WriteString(", " + c.read(p) + " AS " + ident(p))
	}
	b.WriteString(" FROM " + c.table + " WHERE ts >= " + strconv.FormatInt(start.UnixMicro(), 10) + " AND ts < " + strconv.FormatInt(end.UnixMicro(), 10) + ")")
	return b.String()
}

// Table is the table the dataset's events are read from: with Expr, it
// lets a query read the Distributed table itself, which then aggregates
// on every shard (from a subquery, the events travel to the node asked).
func (c *Catalog) Table() string { return c.table }

// Expr is the expression of a field (by its Phys name) over Table.
func (c *Catalog) Expr(phys string) string { return c.read(phys) }

// read is the expression of a field as its widest type. Its typed columns
// hold one value at most per event (the one it was written as).
// ClickHouse 18.16 crashes on coalesce() over converted Nullable columns,
// so the choice is a multiIf.
func (c *Catalog) read(base string) string {
	ts, to := c.typed[base], c.widest[base]
	order := []schema.Type{to}
	for _, t := range []schema.Type{schema.String, schema.Float, schema.Integer, schema.Boolean} {
		if t != to {
			order = append(order, t)
		}
	}
	var arms []string
	for _, t := range order {
		if ts[t] {
			x := ident(column(base, t))
			arms = append(arms, "isNotNull("+x+")", convert(x, t, to))
		}
	}
	switch len(arms) {
	case 0:
		return "CAST(NULL AS " + chType[to] + ")"
	case 2:
		return arms[1]
	}
	return "multiIf(" + strings.Join(arms, ", ") + ", NULL)"
}

// convert turns column x of type from into type to, as the embedded store
// does: numbers widen to float, anything to its text (booleans as
// true/false).
func convert(x string, from, to schema.Type) string {
	if from == to {
		return x
	}
	switch to {
	case schema.Float:
		return "toFloat64(" + x + ")"
	case schema.String:
		if from == schema.Boolean {
			return "if(" + x + " = 1, 'true', 'false')"
		}
		return "toString(" + x + ")"
	}
	return x
}
