package duckdb

import (
	"context"
	"database/sql/driver"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/duckdb/duckdb-go/v2"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/prodex/prodex/internal/event"
	"github.com/prodex/prodex/internal/ingest"
	"github.com/prodex/prodex/internal/otlp"
	"github.com/prodex/prodex/internal/schema"
)

// capture is an otlp.Sink that keeps what it is given.
type capture struct{ got [][]*event.Batch }

func (c *capture) SubmitAll(_ context.Context, bs []*event.Batch) error {
	c.got = append(c.got, bs)
	return nil
}

func (c *capture) Admit(context.Context) (*ingest.Ticket, error) {
	return (*ingest.Guard)(nil).Admit("", "")
}

// spanGroups converts synthetic OTLP requests of 500 spans (5 services)
// into the batches the receiver submits, 8 requests per group commit as
// the server gathers them with 16 clients.
func spanGroups(b *testing.B, groups int) [][]*event.Batch {
	rng := rand.New(rand.NewPCG(1, 2))
	sink := &capture{}
	rc := &otlp.Receiver{Sink: sink}
	for i := 0; i < groups*8; i++ {
		req := ptraceotlp.NewExportRequestFromTraces(otlp.SyntheticTraces(rng, time.Now(), 500))
		if _, err := rc.ExportTraces(context.Background(), req); err != nil {
			b.Fatal(err)
		}
	}
	out := make([][]*event.Batch, groups)
	for i, bs := range sink.got {
		out[i/8] = append(out[i/8], bs...)
	}
	return out
}

func spanCount(g []*event.Batch) int {
	n := 0
	for _, b := range g {
		n += len(b.Events)
	}
	return n
}

// BenchmarkAppendSpans is the embedded store's share of OTLP ingest: group
// commits of 4,000 spans of about 30 fields into 5 datasets, through the
// store ("store") and, for comparison, the same rows appended with DuckDB's
// appender straight into one table per dataset and committed ("duckdb"),
// which is the least the store can cost.
func BenchmarkAppendSpans(b *testing.B) {
	groups := spanGroups(b, 25)
	b.Run("store", func(b *testing.B) {
		s, err := Open(b.TempDir(), Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		spans := 0
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			g := groups[i%len(groups)]
			for _, bt := range g {
				bt.Errs = nil
			}
			if err := s.Append(context.Background(), g); err != nil {
				b.Fatal(err)
			}
			spans += spanCount(g)
		}
		b.ReportMetric(float64(spans)/b.Elapsed().Seconds(), "spans/s")
	})
	b.Run("duckdb", func(b *testing.B) {
		direct := newDirect(b, groups)
		spans := 0
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			spans += direct.commit(b, i%len(groups))
		}
		b.ReportMetric(float64(spans)/b.Elapsed().Seconds(), "spans/s")
	})
}

// direct appends prepared rows with DuckDB's appender, one table per
// dataset with every column the dataset's events have.
type direct struct {
	conn driver.Conn
	apps map[string]*duckdb.Appender
	rows []map[string][][]driver.Value // per group, per dataset
}

func newDirect(b *testing.B, groups [][]*event.Batch) *direct {
	c, err := duckdb.NewConnector(filepath.Join(b.TempDir(), "direct.db"), nil)
	if err != nil {
		b.Fatal(err)
	}
	conn, err := c.Connect(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close(); c.Close() })
	exec := func(q string) {
		if _, err := conn.(driver.ExecerContext).ExecContext(context.Background(), q, nil); err != nil {
			b.Fatal(err)
		}
	}
	exec("SET checkpoint_threshold = '256MB'") // as the store does
	cols := map[string]map[string]schema.Type{}
	for _, g := range groups {
		for _, bt := range g {
			if cols[bt.Dataset] == nil {
				cols[bt.Dataset] = map[string]schema.Type{}
			}
			for _, e := range bt.Events {
				for k, v := range e.Fields {
					if t, ok := schema.TypeOf(v); ok {
						if old, seen := cols[bt.Dataset][k]; seen && old != t {
							b.Fatalf("%s.%s is %s and %s", bt.Dataset, k, old, t)
						}
						cols[bt.Dataset][k] = t
					}
				}
			}
		}
	}
	d := &direct{conn: conn, apps: map[string]*duckdb.Appender{}}
	order := map[string][]string{}
	for ds, cs := range cols {
		order[ds] = sortedKeys(cs)
		ddl := "CREATE TABLE " + ident(ds) + " (ts BIGINT NOT NULL, sr BIGINT NOT NULL"
		for _, k := range order[ds] {
			ddl += ", " + ident(k) + " " + sqlType(cs[k])
		}
		exec(ddl + ")")
		app, err := duckdb.NewAppenderFromConn(conn, "", ds)
		if err != nil {
			b.Fatal(err)
		}
		d.apps[ds] = app
	}
	for _, g := range groups {
		byDS := map[string][][]driver.Value{}
		for _, bt := range g {
			for _, e := range bt.Events {
				row := make([]driver.Value, 2+len(order[bt.Dataset]))
				row[0], row[1] = e.Time.UnixMicro(), e.SampleRate
				for j, k := range order[bt.Dataset] {
					v := e.Fields[k]
					if s, ok := v.(string); ok {
						v = varchar(s)
					}
					row[2+j] = v
				}
				byDS[bt.Dataset] = append(byDS[bt.Dataset], row)
			}
		}
		d.rows = append(d.rows, byDS)
	}
	return d
}

func (d *direct) commit(b *testing.B, group int) int {
	tx, err := d.conn.(driver.ConnBeginTx).BeginTx(context.Background(), driver.TxOptions{})
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	dss := make([]string, 0, len(d.rows[group]))
	for ds := range d.rows[group] {
		dss = append(dss, ds)
	}
	sort.Strings(dss)
	for _, ds := range dss {
		for _, row := range d.rows[group][ds] {
			if err := d.apps[ds].AppendRow(row...); err != nil {
				b.Fatal(fmt.Errorf("%s: %w", ds, err))
			}
			n++
		}
		if err := d.apps[ds].Flush(); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	return n
}

var _ otlp.Sink = (*capture)(nil)
