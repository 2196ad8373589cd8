package bench

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sort"
	"strings"
	"time"

	"github.com/prodex/prodex/internal/event"
	"github.com/prodex/prodex/internal/problem"
	"github.com/prodex/prodex/internal/query"
	"github.com/prodex/prodex/internal/store"
	"github.com/prodex/prodex/internal/store/clickhouse"
	"github.com/prodex/prodex/internal/store/duckdb"
)

// Store is where the query and explain benchmarks keep their events: the
// embedded store in Dir, or ClickHouse at URL. Loaded events stay, so that
// a rerun finds them.
type Store struct {
	Dir string
	URL string // clickhouse://HOST:PORT/DATABASE[?cluster=NAME]; "" for the embedded store
	// Open opens the embedded store (as the server would, with its advice
	// when another process holds it).
	Open func(dir string) (*duckdb.Store, error)
	// Progress is told how the loading goes (nil: not told).
	Progress io.Writer
}

// open opens the ClickHouse store at URL, or else the embedded store in
// Dir: one of the two it returns is nil.
func (s Store) open() (*duckdb.Store, *clickhouse.Store, error) {
	if s.URL == "" {
		st, err := s.Open(s.Dir)
		return st, nil, err
	}
	addr, opts, err := clickhouse.ParseURL(s.URL)
	if err != nil {
		return nil, nil, err
	}
	ch, err := clickhouse.Open(context.Background(), addr, opts)
	return nil, ch, err
}

func (s Store) progress() io.Writer {
	if s.Progress == nil {
		return io.Discard
	}
	return s.Progress
}

// Query loads synthetic events into a store (once; later runs reuse them)
// and times one question, COUNT and P99 by service by minute, through
// Prodex's engine against the same question written by hand in the
// store's SQL, in the same process.
type Query struct {
	Store  Store
	Events int           // to store
	Span   time.Duration // the events are spread over
	Runs   int           // timed runs of each query; the median is reported
}

// Run loads the events, times the queries and writes the report to w.
func (b Query) Run(ctx context.Context, w io.Writer) error {
	// Yesterday from 04:00 UTC: inside retention, and the same
	// range all day, so that reruns find the data loaded.
	y := time.Now().UTC().AddDate(0, 0, -1)
	start := time.Date(y.Year(), y.Month(), y.Day(), 4, 0, 0, 0, time.UTC)
	end := start.Add(b.Span)
	dst, ch, err := b.Store.open()
	if err != nil {
		return err
	}
	var st benchStore
	var direct func() ([]directQuery, error)
	if ch != nil {
		defer ch.Close()
		st, direct = ch, func() ([]directQuery, error) { return handWrittenClickHouse(ch, start, end) }
		fmt.Fprintf(w, "ClickHouse, %d shard(s)\n", ch.Shards())
	} else {
		defer dst.Close()
		st, direct = dst, func() ([]directQuery, error) { return handWritten(dst, start, end) }
	}
	if err := benchLoad(st, b.Events, start, b.Span, b.Store.progress()); err != nil {
		return err
	}
	spec := fmt.Sprintf(`{"start_time":%d,"end_time":%d,"granularity":60,"breakdowns":["service"],"calculations":[{"op":"COUNT"},{"op":"P99","column":"duration_ms"}]}`, start.Unix(), end.Unix())
	prodex := func() (int, error) {
		s, err := query.Parse([]byte(spec))
		if err != nil {
			return 0, err
		}
		if err := s.Resolve(end); err != nil {
			return 0, err
		}
		res, err := query.Ask(ctx, st, "benchq", s)
		if err != nil {
			return 0, err
		}
		return len(res.Series) + len(res.Results), nil
	}
	others, err := direct()
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "%d events over %s; question: COUNT, P99(duration_ms) by service, per minute and overall\n", b.Events, b.Span)
	all := append([]directQuery{{"prodex query engine", prodex}}, others...)
	med, rows, err := timeRuns(b.Runs, all)
	if err != nil {
		return err
	}
	for i, q := range all {
		fmt.Fprintf(w, "%-40s %8.3fs  (%d rows)", q.name, med[i].Seconds(), rows[i])
		if i > 0 {
			fmt.Fprintf(w, "  prodex/direct = %.2f×", med[0].Seconds()/med[i].Seconds())
		}
		fmt.Fprintln(w)
	}
	return nil
}

// countRows is a query to time, answering the number of rows it gave.
func countRows(db *sql.DB, q string) func() (int, error) {
	return func() (int, error) {
		rows, err := db.Query(q)
		if err != nil {
			return 0, err
		}
		defer rows.Close()
		n := 0
		for rows.Next() {
			n++
		}
		return n, rows.Err()
	}
}

// stored counts a dataset's events in [start, end): 0 when it does not
// exist yet.
func stored(st benchStore, dataset string, start, end time.Time) (int, error) {
	s, err := query.Parse([]byte(fmt.Sprintf(`{"start_time":%d,"end_time":%d,"calculations":[{"op":"COUNT"}]}`, start.Unix(), end.Unix())))
	if err == nil {
		err = s.Resolve(end)
	}
	if err != nil {
		return 0, err
	}
	res, err := query.Ask(context.Background(), st, dataset, s)
	if errors.Is(err, problem.ErrNotFound) {
		return 0, nil
	}
	if err != nil || len(res.Results) != 1 {
		return 0, err
	}
	c, _ := res.Results[0].Data["COUNT"].(int64)
	return int(c), nil
}

// benchStore is what the query benchmark needs of an event store.
type benchStore interface {
	Append(ctx context.Context, batches []*event.Batch) error
	store.Source
}

// timeRuns runs each query once to warm up, then runs them in turn, runs
// times, so that the machine's drift affects all alike; it returns each
// query's median time and row count.
func timeRuns(runs int, qs []directQuery) ([]time.Duration, []int, error) {
	rows := make([]int, len(qs))
	for i, q := range qs {
		n, err := q.run()
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", q.name, err)
		}
		rows[i] = n
	}
	ds := make([][]time.Duration, len(qs))
	for r := 0; r < runs; r++ {
		for i, q := range qs {
			t := time.Now()
			if _, err := q.run(); err != nil {
				return nil, nil, err
			}
			ds[i] = append(ds[i], time.Since(t))
		}
	}
	med := make([]time.Duration, len(qs))
	for i, d := range ds {
		sort.Slice(d, func(a, b int) bool { return d[a] < d[b] })
		med[i] = d[runs/2]
	}
	return med, rows, nil
}

// benchLoad appends events through the store's own write path until the
// dataset holds n of them.
func benchLoad(st benchStore, n int, start time.Time, span time.Duration, progress io.Writer) error {
	have, err := stored(st, "benchq", start, start.Add(span))
	if err != nil {
		return err
	}
	services := []string{"checkout", "cart", "search", "auth", "payments", "catalog", "shipping", "profile"}
	endpoints := []string{"/", "/api/items", "/api/cart", "/api/pay", "/login", "/search"}
	rng := rand.New(rand.NewPCG(uint64(have), 9))
	const batch = 100_000
	t0 := time.Now()
	for done := have; done < n; {
		k := min(batch, n-done)
		evs := make([]event.Event, k)
		for i := range evs {
			j := done + i
			// spread evenly over the span, in order
			ts := start.Add(time.Duration(int64(span) / int64(n) * int64(j)))
			svc := rng.IntN(len(services))
			status := int64(200)
			if rng.IntN(100) == 0 {
				status = 503
			}
			evs[i] = event.Event{Time: ts, SampleRate: 1, Fields: map[string]any{
				"service":     services[svc],
				"endpoint":    endpoints[rng.IntN(len(endpoints))],
				"status_code": status,
				"duration_ms": rng.ExpFloat64() * float64(20+10*svc),
				"host":        fmt.Sprintf("host-%02d", rng.IntN(40)),
				"build_id":    int64(4500 + rng.IntN(20)),
			}}
		}
		b := &event.Batch{Dataset: "benchq", Events: evs}
		if err := st.Append(context.Background(), []*event.Batch{b}); err != nil {
			return err
		}
		for _, err := range b.Errs {
			if err != nil {
				return fmt.Errorf("event rejected: %w", err)
			}
		}
		done += k
		if done%(10*batch) == 0 || done == n {
			el := time.Since(t0)
			fmt.Fprintf(progress, "loaded %d/%d events (%.0f events/s through Store.Append)\n", done, n, float64(done-have)/el.Seconds())
		}
	}
	return nil
}

type directQuery struct {
	name string
	run  func() (int, error)
}

// handWritten is the same question as DuckDB SQL written directly against
// the segment tables, found through DuckDB's own catalog.
func handWritten(st *duckdb.Store, start, end time.Time) ([]directQuery, error) {
	db := st.DB()
	phys := map[string]string{}
	rows, err := db.Query(`SELECT c.name, c.phys FROM px_columns c JOIN px_datasets d ON d.id = c.dataset_id WHERE d.name = 'benchq'`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var n, p string
		if err := rows.Scan(&n, &p); err != nil {
			return nil, err
		}
		phys[n] = p
	}
	rows.Close()
	rows, err = db.Query(`SELECT s.tbl FROM px_segments s JOIN px_datasets d ON d.id = s.dataset_id WHERE d.name = 'benchq' ORDER BY 1`)
	if err != nil {
		return nil, err
	}
	var tables []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, err
		}
		tables = append(tables, t)
	}
	rows.Close()
	svc, dur := phys["service"], phys["duration_ms"]
	parts := make([]string, len(tables))
	for i, t := range tables {
		parts[i] = fmt.Sprintf(`SELECT ts, %q AS service, %q AS d FROM %q`, svc, dur, t)
	}
	from := "(" + strings.Join(parts, " UNION ALL ") + ")"
	where := fmt.Sprintf("ts >= %d AND ts < %d", start.UnixMicro(), end.UnixMicro())

	return []directQuery{
		{"direct SQL, same answer", countRows(db, `SELECT service, ts // 60000000 AS m, count(*), quantile_disc(d, 0.99) FROM `+from+` WHERE `+where+` GROUP BY GROUPING SETS ((service), (service, m))`)},
		{"direct SQL, series only", countRows(db, `SELECT service, ts // 60000000 AS m, count(*), quantile_disc(d, 0.99) FROM `+from+` WHERE `+where+` GROUP BY service, m`)},
	}, nil
}

// handWrittenClickHouse is the same question as ClickHouse SQL written
// directly against the dataset's (Distributed) table.
func handWrittenClickHouse(st *clickhouse.Store, start, end time.Time) ([]directQuery, error) {
	cat, err := st.Catalog("benchq")
	if err != nil {
		return nil, err
	}
	svc, ok1 := cat.Column("service")
	dur, ok2 := cat.Column("duration_ms")
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("benchq lacks service or duration_ms")
	}
	from := st.Table("benchq")
	s, d := "`"+svc.Phys+"_s`", "`"+dur.Phys+"_f`"
	where := fmt.Sprintf("ts >= %d AND ts < %d", start.UnixMicro(), end.UnixMicro())
	// The nearest rank Prodex answers is quantileExact at a level just
	// under 0.99 (see the ClickHouse compiler); at 0.99 itself it is
	// ClickHouse's own rank, one value higher where n·0.99 is whole.
	rank := "quantileExact(0.989999999999)(" + d + ")"

	both := func(p99 string) string {
		return `SELECT ` + s + `, intDiv(ts, 60000000) AS m, count(), ` + p99 + ` FROM ` + from + ` WHERE ` + where + ` GROUP BY ` + s + `, m
			UNION ALL SELECT ` + s + `, 0, count(), ` + p99 + ` FROM ` + from + ` WHERE ` + where + ` GROUP BY ` + s
	}
	return []directQuery{
		{"direct SQL, same answer", countRows(st.DB(), both(rank))},
		{"direct SQL, series only", countRows(st.DB(), `SELECT `+s+`, intDiv(ts, 60000000) AS m, count(), `+rank+` FROM `+from+` WHERE `+where+` GROUP BY `+s+`, m`)},
	}, nil
}
