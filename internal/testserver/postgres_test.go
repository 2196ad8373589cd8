package testserver

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestPostgres(t *testing.T) {
	began := time.Now()
	dsn := Postgres(t)
	t.Logf("PostgreSQL started in %v: %s", time.Since(began).Round(time.Millisecond), dsn)
	if !strings.HasPrefix(dsn, "postgres://"+PostgresUser+"@127.0.0.1:") || !strings.HasSuffix(dsn, "/"+PostgresDatabase+"?sslmode=disable") {
		t.Errorf("dsn = %q", dsn)
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var db string
	if err := conn.QueryRow(ctx, "SELECT current_database()").Scan(&db); err != nil || db != PostgresDatabase {
		t.Fatalf("current_database() = %q, %v", db, err)
	}
	if _, err := conn.Exec(ctx, `CREATE TABLE dataset (id bigserial PRIMARY KEY, name text NOT NULL UNIQUE, created timestamptz NOT NULL DEFAULT now())`); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"checkout", "søk ✓"} {
		if _, err := conn.Exec(ctx, `INSERT INTO dataset (name) VALUES ($1)`, name); err != nil {
			t.Fatal(err)
		}
	}
	rows, _ := conn.Query(ctx, `SELECT name FROM dataset ORDER BY id`)
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(names, "|") != "checkout|søk ✓" {
		t.Errorf("names = %q", names)
	}
	if _, err := conn.Exec(ctx, `INSERT INTO dataset (name) VALUES ('checkout')`); err == nil {
		t.Error("duplicate name accepted")
	}
	// Text collates by a language (en-US), not by bytes, unless asked to.
	var language, bytewise string
	if err := conn.QueryRow(ctx, `SELECT string_agg(v, ' ' ORDER BY v), string_agg(v, ' ' ORDER BY v COLLATE "C")
		FROM unnest(ARRAY['b', 'B', 'a', 'A']) AS v`).Scan(&language, &bytewise); err != nil {
		t.Fatal(err)
	}
	if language != "a A b B" || bytewise != "A B a b" {
		t.Errorf("ORDER BY: %q, COLLATE \"C\": %q; want \"a A b B\" and \"A B a b\"", language, bytewise)
	}
}

func TestVersionLess(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want bool
	}{{"9.6", "15", true}, {"15", "9.6", false}, {"15", "16", true}, {"16", "16", false}, {"10", "9", false}} {
		if got := versionLess(c.a, c.b); got != c.want {
			t.Errorf("versionLess(%q, %q) = %v", c.a, c.b, got)
		}
	}
}
