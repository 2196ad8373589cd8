package meta

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/prodex/prodex/internal/auth"
	"github.com/prodex/prodex/internal/history"
	"github.com/prodex/prodex/internal/marker"
	"github.com/prodex/prodex/internal/store"
	"github.com/prodex/prodex/internal/store/duckdb"
	"github.com/prodex/prodex/internal/store/metatest"
)

var _ metatest.Store = (*Store)(nil)

// embedded is the metadata store in a DuckDB store's database, as the
// embedded node opens it.
type embedded struct {
	*Store
	duck *duckdb.Store
}

func openEmbedded(dir string) (*embedded, error) {
	duck, err := duckdb.Open(dir, duckdb.Options{})
	if err != nil {
		return nil, err
	}
	m, err := OpenDuckDB(context.Background(), duck.DB(), duck.GuardWrite)
	if err != nil {
		duck.Close()
		return nil, err
	}
	return &embedded{Store: m, duck: duck}, nil
}

func (e *embedded) Close() error { return errors.Join(e.Store.Close(), e.duck.Close()) }

func (e *embedded) DB() *sql.DB { return e.duck.DB() }

// TestMetaConformance runs the metadata stores' shared suite.
func TestMetaConformance(t *testing.T) {
	metatest.Run(t, func(t *testing.T) metatest.Store {
		s, err := openEmbedded(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Error(err)
			}
		})
		return s
	})
}

// TestWritesGuarded: every write goes through the guard, which the DuckDB
// store uses to refuse writes after a disk failure; reads do not.
func TestWritesGuarded(t *testing.T) {
	ctx := context.Background()
	duck, err := duckdb.Open(t.TempDir(), duckdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer duck.Close()
	refuse := errors.New("refused")
	var refusing bool
	m, err := OpenDuckDB(ctx, duck.DB(), func(write func() error) error {
		if refusing {
			return refuse
		}
		return write()
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.PutSLO(ctx, "a", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	refusing = true
	q := history.Query{ID: "q1", Dataset: "d", Spec: []byte("{}"), CreatedAt: time.Now()}
	for what, err := range map[string]error{
		"PutSLO":     m.PutSLO(ctx, "b", []byte("{}")),
		"PutAlert":   m.PutAlert(ctx, "al", "a", time.Now(), true, nil, store.Owed{ID: "o"}),
		"InsertKey":  m.InsertKey(ctx, auth.Key{ID: "k"}),
		"PutMarker":  m.PutMarker(ctx, marker.Marker{ID: "m", Dataset: "d"}),
		"RecordRun":  m.RecordRun(ctx, q, history.Run{ID: "r", QueryID: "q1"}),
		"Audit":      m.Audit(ctx, store.AuditEntry{}),
		"Settle":     m.Settle(ctx, "o"),
		"DeleteNote": m.DeleteNote(ctx, "n"),
	} {
		if !errors.Is(err, refuse) {
			t.Errorf("%s past a refusing guard: %v", what, err)
		}
	}
	if _, err := m.DropRunsBefore(ctx, time.Now()); !errors.Is(err, refuse) {
		t.Errorf("DropRunsBefore past a refusing guard: %v", err)
	}
	slos, err := m.SLOs(ctx)
	if err != nil || len(slos) != 1 {
		t.Errorf("read under a refusing guard: %v, %v", slos, err)
	}
}

// oldSchema is the metadata tables' DDL as data directories were first
// written, before keys had a user and an environment.
var oldSchema = []string{
	`CREATE TABLE px_keys (id VARCHAR, hash VARCHAR, scope VARCHAR, name VARCHAR, created_us BIGINT, revoked BOOLEAN)`,
	`CREATE TABLE px_slos (name VARCHAR PRIMARY KEY, body VARCHAR, updated_us BIGINT)`,
	`CREATE TABLE px_alerts (id VARCHAR PRIMARY KEY, slo VARCHAR, started_us BIGINT, open BOOLEAN, body VARCHAR)`,
	`CREATE TABLE px_risks (name VARCHAR PRIMARY KEY, body VARCHAR, updated_us BIGINT)`,
	`CREATE TABLE px_markers (id VARCHAR PRIMARY KEY, dataset VARCHAR, start_s BIGINT, end_s BIGINT, body VARCHAR)`,
	`CREATE TABLE px_queries (id VARCHAR PRIMARY KEY, dataset VARCHAR, spec VARCHAR, created_us BIGINT)`,
	`CREATE TABLE px_query_runs (id VARCHAR PRIMARY KEY, query_id VARCHAR, dataset VARCHAR, author VARCHAR, ran_us BIGINT, duration_ms DOUBLE, row_count BIGINT, error_text VARCHAR)`,
	`CREATE TABLE px_saved_queries (id VARCHAR PRIMARY KEY, name VARCHAR, description VARCHAR, query_id VARCHAR, author VARCHAR, created_us BIGINT, updated_us BIGINT)`,
	`CREATE TABLE px_notes (name VARCHAR PRIMARY KEY, body VARCHAR, updated_us BIGINT)`,
	`CREATE TABLE px_incidents (name VARCHAR PRIMARY KEY, body VARCHAR, updated_us BIGINT)`,
	`CREATE TABLE px_audit (time_us BIGINT, author VARCHAR, key_id VARCHAR, method VARCHAR, path VARCHAR, status INTEGER)`,
	`CREATE TABLE px_notifications_owed (id VARCHAR PRIMARY KEY, alert_id VARCHAR, target VARCHAR, message VARCHAR, created_us BIGINT, attempts INTEGER, last_error VARCHAR)`,
}

// TestOpensOldDataDirectory: a data directory whose metadata tables were
// written by hand with the first DDL, rows as the embedded store wrote
// them, opens and reads back; keys gain their user and environment.
func TestOpensOldDataDirectory(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	us := at.UnixMicro()
	duck, err := duckdb.Open(dir, duckdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range oldSchema {
		if _, err := duck.DB().Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	for _, r := range []struct {
		q    string
		args []any
	}{
		{`INSERT INTO px_keys VALUES ('k1', 'sha256:00', 'admin', 'bootstrap', ?, false)`, []any{us}},
		{`INSERT INTO px_slos VALUES ('checkout', '{"name": "checkout"}', ?)`, []any{us}},
		{`INSERT INTO px_risks VALUES ('db', '{"name":"db"}', ?)`, []any{us}},
		{`INSERT INTO px_notes VALUES ('n1', '{"id":"n1"}', ?)`, []any{us}},
		{`INSERT INTO px_incidents VALUES ('i1', '{"id":"i1"}', ?)`, []any{us}},
		{`INSERT INTO px_alerts VALUES ('a1', 'checkout', ?, true, '{"id":"a1"}')`, []any{us}},
		{`INSERT INTO px_notifications_owed VALUES ('o1', 'a1', '{"type":"webhook"}', '{"state":"firing"}', ?, 1, '')`, []any{us}},
		{`INSERT INTO px_markers VALUES ('m1', 'shop', ?, 0, '{"id":"m1","dataset":"shop","start_time":1740830400,"message":"deploy"}')`, []any{at.Unix()}},
		{`INSERT INTO px_queries VALUES ('q1', 'shop', '{"time_range":60}', ?)`, []any{us}},
		{`INSERT INTO px_query_runs VALUES ('r1', 'q1', 'shop', 'ana', ?, 1.5, 3, '')`, []any{us}},
		{`INSERT INTO px_saved_queries VALUES ('s1', 'Slow', '', 'q1', 'ana', ?, ?)`, []any{us, us}},
		{`INSERT INTO px_audit VALUES (?, 'ana', 'k1', 'POST', '/api/v1/slos', 200)`, []any{us}},
	} {
		if _, err := duck.DB().Exec(r.q, r.args...); err != nil {
			t.Fatalf("%s: %v", r.q, err)
		}
	}
	if err := duck.Close(); err != nil {
		t.Fatal(err)
	}

	s, err := openEmbedded(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	keys, err := s.LoadKeys(ctx)
	if err != nil || len(keys) != 1 || keys[0].ID != "k1" || keys[0].User != "" || keys[0].Env != "" || !keys[0].Created.Equal(at) {
		t.Errorf("keys %+v, %v", keys, err)
	}
	for what, f := range map[string]func(context.Context) (map[string][]byte, error){"slos": s.SLOs, "risks": s.Risks, "notes": s.Notes, "incidents": s.Incidents} {
		docs, err := f(ctx)
		if err != nil || len(docs) != 1 {
			t.Errorf("%s: %q, %v", what, docs, err)
		}
	}
	if slos, _ := s.SLOs(ctx); string(slos["checkout"]) != `{"name": "checkout"}` {
		t.Errorf("SLO body %q", slos["checkout"])
	}
	if alerts, err := s.Alerts(ctx, "checkout", true, 10); err != nil || len(alerts) != 1 || string(alerts[0]) != `{"id":"a1"}` {
		t.Errorf("alerts %q, %v", alerts, err)
	}
	if owed, err := s.Owed(ctx); err != nil || len(owed) != 1 || owed[0].AlertID != "a1" || string(owed[0].Message) != `{"state":"firing"}` || owed[0].Attempts != 1 {
		t.Errorf("owed %+v, %v", owed, err)
	}
	if ms, err := s.Markers(ctx, []string{"shop"}, at.Add(-time.Hour), at.Add(time.Hour)); err != nil || len(ms) != 1 || ms[0].Message != "deploy" {
		t.Errorf("markers %+v, %v", ms, err)
	}
	if runs, err := s.Runs(ctx, history.RunFilter{Text: "time_range"}); err != nil || len(runs) != 1 || runs[0].Author != "ana" || string(runs[0].Spec) != `{"time_range":60}` {
		t.Errorf("runs %+v, %v", runs, err)
	}
	if saved, err := s.SavedQueries(ctx, "slo", 0); err != nil || len(saved) != 1 || saved[0].Dataset != "shop" {
		t.Errorf("saved %+v, %v", saved, err)
	}
	if log, err := s.AuditLog(ctx, "ana", time.Time{}, 10); err != nil || len(log) != 1 || log[0].Status != 200 {
		t.Errorf("audit %+v, %v", log, err)
	}
	// Writes go to the old tables: a personal key keeps its user.
	if err := s.InsertKey(ctx, auth.Key{ID: "k2", Hash: "sha256:01", Scope: auth.Query, User: "ana", Env: "staging", Created: at}); err != nil {
		t.Fatal(err)
	}
	keys, _ = s.LoadKeys(ctx)
	i := slices.IndexFunc(keys, func(k auth.Key) bool { return k.ID == "k2" })
	if i < 0 || keys[i].User != "ana" || keys[i].Env != "staging" {
		t.Errorf("keys after an insert: %+v", keys)
	}
}
