package clickhouse

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prodex/prodex/internal/event"
	"github.com/prodex/prodex/internal/problem"
	"github.com/prodex/prodex/internal/sli"
	"github.com/prodex/prodex/internal/store"
)

// SLO counts. ClickHouse counts an SLO's events as they are inserted: each
// counter is a materialized view on every shard's event table that sums,
// per insert, the weights of the inserted events by minute into px_counts
// (eligible, good, invalid), keyed by (SLO, generation, minute, batch id).
// Every insert carries a random batch id (column pb), so the view's rows
// and a backfill's (which recounts stored events grouped the same way)
// have the same keys: counted twice, they are read once. Reads take, per
// (minute, batch), the row of the highest version: a view recreated after
// a field the SLI reads gained a typed column has a higher version, so a
// batch both views counted is read as the newer one counted it.
//
// A backfill reads the table once; an insert another node began before
// the view existed can end after that read, so 20 s later the parts
// written since are counted again (whole parts hold whole inserts, so each
// is counted in full, once).
//
// A view remade for a field's new type also counts again, later, the
// inserts that wrote the new column: a node that did not yet know the SLO
// may have inserted them through the old view, which read them as
// missing.
//
// No node does the counting: any node's inserts are counted by the
// server, and every node reads the counts (OnCounts polls the minutes
// counted in the last minute). The SQL a view runs never raises an error
// (sli.CompileClickHouse guarantees it): on 18.16 a failing view fails the
// INSERT after the events were written, and a retry would double them.

// counter is a registered SLO counter and the view that counts it.
type counter struct {
	store.Counter
	key, gen string   // hashes: the SLO's name; its dataset and SLI
	ver      uint64   // version of the view: grows with the SLI fields' typed columns
	view     string   // the view's name
	cols     []string // the typed columns the view reads
}

// countsTable is the table the views write to, on every shard.
const countsTable = "px_counts"

// countWindow is how far back OnCounts looks for newly counted minutes,
// by the server's clock: a minute is reported again on every poll within
// it, so a slow insert that lands late is still seen.
const countWindow = 60

// countEvery is how often the counts are polled for OnCounts.
const countEvery = time.Second

type counting struct {
	mu       sync.Mutex // serialises counter changes
	counters map[string]*counter
	onCounts func([]store.MinuteCount)
	started  bool
}

func counterGen(c store.Counter) string {
	return hash(c.Dataset + "\x00" + c.Eligible + "\x00" + c.Good)[:12]
}

// weight is an event's weight in the counts: its sample rate, at most
// event.MaxSampleRate (larger ones were stored by versions without that
// limit; an existing view keeps the statement it was made with).
var weight = "least(sr, toInt64(" + strconv.Itoa(event.MaxSampleRate) + "))"

// countSelect is the view's (and the backfill's) statement for a counter
// over a dataset's catalog, its version and the typed columns it reads;
// where, when set, keeps some rows (generated SQL, no user text).
func (s *Store) countSelect(c *counter, cat *Catalog, where string) (string, uint64, []string, error) {
	good, gp, err := sli.CompileClickHouse(c.Good, cat)
	if err != nil {
		return "", 0, nil, fmt.Errorf("sli.good: %w", err)
	}
	elig, ep := "toUInt8(1)", []string(nil)
	if c.Eligible != "" {
		if elig, ep, err = sli.CompileClickHouse(c.Eligible, cat); err != nil {
			return "", 0, nil, fmt.Errorf("sli.eligible: %w", err)
		}
	}
	// The SLI reads each field as the catalog does, through an alias:
	// the view must read the table itself (18.16 fails every insert of a
	// view over a subquery), and WITH puts the field's expression under
	// the name the compiled SQL uses, with no text substitution.
	var with, cols []string
	ver := uint64(1)
	seen := map[string]bool{}
	for _, p := range append(gp, ep...) {
		if seen[p] {
			continue
		}
		seen[p] = true
		with = append(with, cat.read(p)+" AS "+ident(p))
		ver += uint64(len(cat.typed[p]))
		for t := range cat.typed[p] {
			cols = append(cols, column(p, t))
		}
	}
	with = append(with, "("+elig+") AS px_e", "("+good+") AS px_g")
	q := "WITH " + strings.Join(with, ", ") +
		" SELECT '" + c.key + "' AS slo, '" + c.gen + "' AS gen, intDiv(ts, 60000000) AS minute, pb, toUInt64(" + strconv.FormatUint(ver, 10) + ") AS ver, toUInt32(now()) AS at," +
		" sumIf(" + weight + ", ifNull(px_e, 0) = 1 AND isNotNull(px_g)) AS eligible," +
		" sumIf(" + weight + ", ifNull(px_e, 0) = 1 AND ifNull(px_g, 0) = 1) AS good," +
		" sumIf(" + weight + ", isNull(px_e) OR (ifNull(px_e, 0) = 1 AND isNull(px_g))) AS invalid" +
		" FROM " + s.qualified(tableName(c.Dataset))
	if where != "" {
		q += " WHERE " + where
	}
	q += " GROUP BY minute, pb"
	return q, ver, cols, nil
}

// countCatalog is a dataset's catalog, empty while it has no events.
func (s *Store) countCatalog(name string) (*Catalog, error) {
	cat, err := s.catalog(name)
	if err == problem.ErrNotFound {
		return s.catalogOf(name, nil), nil
	}
	return cat, err
}

// viewPrefix starts the names of a counter's views.
func viewPrefix(key string) string { return "v_" + key + "_" }

// SetCounter registers c and makes sure ClickHouse counts it: its view
// exists on every shard (created once, whichever node asks first). With
// backfill every stored event is counted again. install receives the
// full counts.
func (s *Store) SetCounter(ctx context.Context, c store.Counter, backfill bool, install func([]store.MinuteCount)) error {
	if err := sli.Check(c.Good); err != nil {
		return problem.Wrap(problem.Invalid, fmt.Errorf("sli.good: %w", err))
	}
	if c.Eligible != "" {
		if err := sli.Check(c.Eligible); err != nil {
			return problem.Wrap(problem.Invalid, fmt.Errorf("sli.eligible: %w", err))
		}
	}
	k := &counter{Counter: c, key: hash(c.Name), gen: counterGen(c)}
	// The dataset's tables must exist for the view to read them; a
	// dataset not written yet stays unlisted until it is.
	if _, err := s.lookup(ctx, c.Dataset); err == problem.ErrNotFound {
		if err := s.createTables(ctx, c.Dataset); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	var since map[*sql.DB]uint32
	if backfill {
		var err error
		if since, err = s.serverTimes(ctx); err != nil {
			return err
		}
	}
	s.counts.mu.Lock()
	if old := s.counts.counters[c.Name]; old != nil && old.gen == k.gen {
		k.ver, k.view = old.ver, old.view
	}
	err := s.ensureView(ctx, k, true)
	s.counts.mu.Unlock()
	if err != nil {
		return err
	}
	if backfill {
		if err := s.backfillCounter(ctx, k); err != nil {
			return err
		}
		s.catchUp(k, since, nil)
	}
	s.counts.mu.Lock()
	defer s.counts.mu.Unlock()
	if s.counts.counters == nil {
		s.counts.counters = map[string]*counter{}
	}
	s.counts.counters[c.Name] = k
	if install != nil {
		// Under the lock, so that no poll's older totals follow these.
		counts, err := s.readCounts(ctx, []*counter{k}, false)
		if err != nil {
			return err
		}
		install(counts)
	}
	return nil
}

// countersSaw makes the views of a dataset's counters read the columns
// this node just added to it, before it inserts into them.
func (s *Store) countersSaw(ctx context.Context, dataset string) error {
	s.counts.mu.Lock()
	defer s.counts.mu.Unlock()
	for _, k := range s.counts.counters {
		if k.Dataset == dataset {
			if err := s.ensureView(ctx, k, false); err != nil {
				return err
			}
		}
	}
	return nil
}

// ensureView creates the counter's view for the dataset's current columns
// where it is missing, and drops the counter's views of an older version
// and, with others, those of other generations (an SLI changed here; a
// node that has not yet seen the change must not undo it).
func (s *Store) ensureView(ctx context.Context, k *counter, others bool) error {
	cat, err := s.countCatalog(k.Dataset)
	if err != nil {
		return err
	}
	q, ver, cols, err := s.countSelect(k, cat, "")
	if err != nil {
		return err
	}
	if ver < k.ver {
		return nil // this node's catalog is behind another's view
	}
	name := viewPrefix(k.key) + k.gen + "_" + strconv.FormatUint(ver, 10) + "_" + hash(q)[:8]
	if name == k.view && !others {
		return nil
	}
	// Every replica: an insert counts on the replica it went to.
	err = s.everyServer(ctx, func(srv server) error {
		db := srv.db
		if _, err := db.ExecContext(ctx, "CREATE MATERIALIZED VIEW IF NOT EXISTS "+s.qualified(name)+" TO "+s.qualified(countsTable)+" AS "+q); err != nil && !exists(err) {
			return err
		}
		return s.dropViews(ctx, db, k.key, func(other string) bool {
			parts := strings.Split(strings.TrimPrefix(other, viewPrefix(k.key)), "_")
			if len(parts) != 3 || parts[0] != k.gen {
				return others
			}
			v, _ := strconv.ParseUint(parts[1], 10, 64)
			return v < ver
		})
	})
	if err != nil {
		return fmt.Errorf("SLO %s: counting view: %w", k.Name, err)
	}
	if k.ver > 0 && ver > k.ver {
		// Remade for a field's new type: a node that did not know the
		// SLO may have inserted events of that type through the old view,
		// which read them as missing. Those inserts (the ones with a value
		// in a new column) are counted again, through this view.
		var added []string
		for _, c := range cols {
			if !slices.Contains(k.cols, c) {
				added = append(added, c)
			}
		}
		if since, err := s.serverTimes(ctx); err == nil && len(added) > 0 {
			for db := range since {
				since[db] -= remadeMargin
			}
			s.catchUp(k, since, added)
		}
	}
	k.ver, k.view, k.cols = ver, name, cols
	return nil
}

// remadeMargin is how far before a view is remade the inserts it counts
// again may have been written (seconds): the other nodes' catalogs and
// polls follow within a few seconds.
const remadeMargin = 60

// dropViews drops the views of the counter with key that drop selects.
func (s *Store) dropViews(ctx context.Context, db *sql.DB, key string, drop func(name string) bool) error {
	var names []string
	err := queryRows(ctx, db, `SELECT name FROM system.tables WHERE database = ? AND startsWith(name, ?)`, []any{s.opts.Database, viewPrefix(key)}, func(r *sql.Rows) error {
		var n string
		err := r.Scan(&n)
		names = append(names, n)
		return err
	})
	if err != nil {
		return err
	}
	for _, n := range names {
		if drop(n) {
			if _, err := db.ExecContext(ctx, "DROP TABLE IF EXISTS "+s.qualified(n)); err != nil {
				return err
			}
		}
	}
	return nil
}

// backfillCounter counts every stored event again on every shard, into
// the keys the view writes.
func (s *Store) backfillCounter(ctx context.Context, k *counter) error {
	// Batches inserted while the view was being created may have missed
	// it; this node's own are finished once it holds the write lock.
	// Another node's insert begun before the view existed may end after
	// the backfill read the table: catchUp counts it later.
	s.wmu.Lock()
	s.wmu.Unlock() //nolint:staticcheck // a barrier, not a critical section
	return s.recount(ctx, k, nil, nil)
}

// catchUpAfter is how long after a backfill the parts written meanwhile
// are counted again: longer than an insert takes.
var catchUpAfter = 20 * time.Second

// recount counts a counter's events again on every shard, into the keys
// the view writes: all of them, or those of the parts each shard wrote
// since its server time in since, and of those only the inserts that
// wrote one of the columns in only (if any).
func (s *Store) recount(ctx context.Context, k *counter, since map[*sql.DB]uint32, only []string) error {
	cat, err := s.countCatalog(k.Dataset)
	if err != nil {
		return err
	}
	return s.each(ctx, func(db *sql.DB) error {
		where := ""
		if since != nil {
			// A part holds whole inserts, so each (minute, batch) of
			// these parts is counted in full; database and table are
			// checked names and a hash, the time a number.
			where = "_part IN (SELECT name FROM system.parts WHERE database = '" + s.opts.Database + "' AND table = '" + tableName(k.Dataset) +
				"' AND active AND modification_time >= toDateTime(" + strconv.FormatUint(uint64(since[db]), 10) + "))"
		}
		if len(only) > 0 {
			var some []string
			for _, c := range only {
				some = append(some, "isNotNull("+ident(c)+")")
			}
			where = "pb IN (SELECT pb FROM " + s.qualified(tableName(k.Dataset)) + " WHERE " + where + " AND (" + strings.Join(some, " OR ") + "))"
		}
		q, _, _, err := s.countSelect(k, cat, where)
		if err != nil {
			return err
		}
		if _, err := db.ExecContext(ctx, "INSERT INTO "+s.qualified(countsTable)+" "+q); err != nil {
			return fmt.Errorf("SLO %s: backfill: %w", k.Name, err)
		}
		return nil
	})
}

// serverTimes reads each shard's clock (seconds), which dates its parts.
func (s *Store) serverTimes(ctx context.Context) (map[*sql.DB]uint32, error) {
	out := map[*sql.DB]uint32{}
	err := s.each(ctx, func(db *sql.DB) error {
		var t uint32
		err := db.QueryRowContext(ctx, "SELECT toUInt32(now())").Scan(&t)
		out[db] = t - 5 // a margin for a part dated as its write began
		return err
	})
	return out, err
}

// catchUp counts again, catchUpAfter from now, the parts written since
// the times in since (taken before the view was made), unless the store
// closes first.
func (s *Store) catchUp(k *counter, since map[*sql.DB]uint32, only []string) {
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		select {
		case <-s.stop:
			return
		case <-time.After(catchUpAfter):
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := s.recount(ctx, k, since, only); err != nil {
			s.countErr.Store(err.Error())
		}
	}()
}

// RemoveCounter stops counting name: its views are dropped and its counts
// deleted. Removing an unknown counter does nothing.
func (s *Store) RemoveCounter(ctx context.Context, name string) error {
	s.counts.mu.Lock()
	defer s.counts.mu.Unlock()
	delete(s.counts.counters, name)
	key := hash(name)
	err := s.everyServer(ctx, func(srv server) error {
		return s.dropViews(ctx, srv.db, key, func(string) bool { return true })
	})
	if err != nil {
		return err
	}
	return s.each(ctx, func(db *sql.DB) error {
		// key is a hash: hex digits only.
		_, err := db.ExecContext(ctx, "ALTER TABLE "+s.qualified(countsTable)+" DELETE WHERE slo = '"+key+"'")
		return err
	})
}

// ForgetCounter stops this node following name, leaving its views and
// counts to the node that removes it (its SLO was deleted elsewhere).
func (s *Store) ForgetCounter(name string) {
	s.counts.mu.Lock()
	defer s.counts.mu.Unlock()
	delete(s.counts.counters, name)
}

// OnCounts sets the function that receives, about every second, the
// totals of every minute counted lately.
func (s *Store) OnCounts(f func([]store.MinuteCount)) {
	s.counts.mu.Lock()
	defer s.counts.mu.Unlock()
	s.counts.onCounts = f
	if !s.counts.started {
		s.counts.started = true
		s.bg.Add(1)
		go s.countLoop()
	}
}

func (s *Store) countLoop() {
	defer s.bg.Done()
	t := time.NewTicker(countEvery)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := s.PollCounts(ctx); err != nil {
			s.countErr.Store(err.Error())
		}
		cancel()
	}
}

// CountError is the last error polling the counts met ("" when none).
func (s *Store) CountError() string {
	v, _ := s.countErr.Load().(string)
	return v
}

// PollCounts hands OnCounts' function the totals of the minutes counted in
// the last minute, for every registered counter. The poll loop calls it.
func (s *Store) PollCounts(ctx context.Context) error {
	s.counts.mu.Lock()
	defer s.counts.mu.Unlock()
	f := s.counts.onCounts
	if f == nil || len(s.counts.counters) == 0 {
		return nil
	}
	ks := make([]*counter, 0, len(s.counts.counters))
	for _, k := range s.counts.counters {
		// A column another node added to a field the SLI reads makes a
		// newer view; the node that added it made it first.
		if err := s.ensureView(ctx, k, false); err != nil {
			return err
		}
		ks = append(ks, k)
	}
	out, err := s.readCounts(ctx, ks, true)
	if err != nil {
		return err
	}
	if len(out) > 0 {
		f(out)
	}
	return nil
}

// readCounts reads the per-minute totals of counters ks over every shard:
// of every minute, or with recent of the minutes counted in the last
// countWindow seconds. Keys, generations and minutes are hex and numbers:
// the lists are written into the SQL.
func (s *Store) readCounts(ctx context.Context, ks []*counter, recent bool) ([]store.MinuteCount, error) {
	byKey := map[[2]string]*counter{}
	var pairs []string
	for _, k := range ks {
		byKey[[2]string{k.key, k.gen}] = k
		pairs = append(pairs, "('"+k.key+"', '"+k.gen+"')")
	}
	if len(pairs) == 0 {
		return nil, nil
	}
	where := "(slo, gen) IN (" + strings.Join(pairs, ", ") + ")"
	if recent {
		// The minutes come from every shard first: a minute one shard
		// counted lately is totalled over all of them.
		seen := map[string]bool{}
		var minutes []string
		err := s.each(ctx, func(db *sql.DB) error {
			return queryRows(ctx, db, "SELECT DISTINCT slo, gen, minute FROM "+s.qualified(countsTable)+" WHERE "+where+
				" AND at >= toUInt32(now()) - "+strconv.Itoa(countWindow), nil, func(r *sql.Rows) error {
				var key, gen string
				var m int64
				if err := r.Scan(&key, &gen, &m); err != nil {
					return err
				}
				if t := "('" + key + "', '" + gen + "', " + strconv.FormatInt(m, 10) + ")"; byKey[[2]string{key, gen}] != nil && !seen[t] {
					seen[t] = true
					minutes = append(minutes, t)
				}
				return nil
			})
		})
		if err != nil || len(minutes) == 0 {
			return nil, err
		}
		where = "(slo, gen, minute) IN (" + strings.Join(minutes, ", ") + ")"
	}
	q := "SELECT slo, gen, minute, sum(e), sum(g), sum(i) FROM (SELECT slo, gen, minute, pb, argMax(eligible, ver) AS e, argMax(good, ver) AS g, argMax(invalid, ver) AS i FROM " +
		s.qualified(countsTable) + " WHERE " + where + " GROUP BY slo, gen, minute, pb) GROUP BY slo, gen, minute"
	type minuteKey struct {
		k      *counter
		minute int64
	}
	totals := map[minuteKey]*store.MinuteCount{}
	err := s.each(ctx, func(db *sql.DB) error {
		return queryRows(ctx, db, q, nil, func(r *sql.Rows) error {
			var key, gen string
			var m, e, g, i int64
			if err := r.Scan(&key, &gen, &m, &e, &g, &i); err != nil {
				return err
			}
			k := byKey[[2]string{key, gen}]
			if k == nil {
				return nil
			}
			c := totals[minuteKey{k, m}]
			if c == nil {
				c = &store.MinuteCount{Name: k.Name, Minute: m}
				totals[minuteKey{k, m}] = c
			}
			c.Eligible += e
			c.Good += g
			c.Invalid += i
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read SLO counts: %w", err)
	}
	out := make([]store.MinuteCount, 0, len(totals))
	for _, c := range totals {
		out = append(out, *c)
	}
	store.SortCounts(out)
	return out, nil
}
