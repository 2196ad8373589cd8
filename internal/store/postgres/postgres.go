// Package postgres is Prodex's metadata store on PostgreSQL: the SLO
// definitions, risks, alerts and their outbox, notes, incidents, markers,
// keys and users, query history and audit log that the embedded DuckDB
// store keeps for one node, in a database that several stateless nodes
// share. Its methods have the DuckDB store's names, signatures and
// semantics, so that either can stand behind the same interface; package
// metatest runs one suite against both.
//
// Types: documents the store does not interpret are bytea, so that they
// read back byte for byte (jsonb would reorder and respace them); times are
// bigint microseconds as in DuckDB. Identifiers that results are ordered by
// are COLLATE "C", so that they sort by bytes, as DuckDB sorts, whatever
// the database's locale.
package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Meta is the metadata store on PostgreSQL. It is safe for concurrent use.
type Meta struct {
	pool *pgxpool.Pool
}

// Open connects to the database at dsn (a postgres:// URL or key=value
// string) and creates the store's tables if they are missing.
func Open(ctx context.Context, dsn string) (*Meta, error) {
	return OpenEnv(ctx, dsn, "")
}

// envSchema is the schema holding environment env's tables.
func envSchema(env string) string { return envPrefix + env }

const envPrefix = "prodex_env_"

// OpenEnv is Open for environment env's own tables, in a schema of their
// own ("" is the default environment, in the connection's schema).
func OpenEnv(ctx context.Context, dsn, env string) (*Meta, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if env != "" {
		schema := pgx.Identifier{envSchema(env)}.Sanitize()
		conn, err := pgx.ConnectConfig(ctx, cfg.ConnConfig.Copy())
		if err != nil {
			return nil, fmt.Errorf("postgres: %w", err)
		}
		// Under the schema lock: two nodes may create it at once.
		err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(schemaLock)); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+schema)
			return err
		})
		conn.Close(ctx)
		if err != nil {
			return nil, fmt.Errorf("postgres: create schema for environment %s: %w", env, err)
		}
		cfg.ConnConfig.RuntimeParams["search_path"] = envSchema(env)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	m := &Meta{pool: pool}
	if err := m.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return m, nil
}

// Environments lists the environments that have tables in the database,
// by name.
func (m *Meta) Environments(ctx context.Context) ([]string, error) {
	rows, err := m.pool.Query(ctx, `SELECT substr(nspname, $2) FROM pg_namespace WHERE starts_with(nspname, $1) ORDER BY 1`, envPrefix, len(envPrefix)+1)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// Close closes the connections. The error is always nil; it is there so
// that Meta closes as the DuckDB store does.
func (m *Meta) Close() error {
	m.pool.Close()
	return nil
}

// schemaLock is the advisory lock held while creating the tables:
// CREATE TABLE IF NOT EXISTS is not safe against itself (two nodes starting
// at once can both miss the table and one fail on the catalog's unique
// index), so nodes create the schema one after the other.
const schemaLock = 0x70726f6465780001 // "prodex" 0 1

var migrations = []string{
	`CREATE TABLE IF NOT EXISTS px_slos (name text COLLATE "C" PRIMARY KEY, body bytea NOT NULL, updated_us bigint NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS px_risks (name text COLLATE "C" PRIMARY KEY, body bytea NOT NULL, updated_us bigint NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS px_notes (name text COLLATE "C" PRIMARY KEY, body bytea NOT NULL, updated_us bigint NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS px_incidents (name text COLLATE "C" PRIMARY KEY, body bytea NOT NULL, updated_us bigint NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS px_users (name text COLLATE "C" PRIMARY KEY, body bytea NOT NULL, updated_us bigint NOT NULL)`,

	`CREATE TABLE IF NOT EXISTS px_alerts (id text COLLATE "C" PRIMARY KEY, slo text NOT NULL, started_us bigint NOT NULL,
		open boolean NOT NULL, body bytea NOT NULL)`,
	`CREATE INDEX IF NOT EXISTS px_alerts_started ON px_alerts (started_us DESC, id)`,
	`CREATE TABLE IF NOT EXISTS px_notifications_owed (id text COLLATE "C" PRIMARY KEY, alert_id text NOT NULL,
		target bytea NOT NULL, message bytea NOT NULL, created_us bigint NOT NULL, attempts integer NOT NULL, last_error text NOT NULL)`,

	`CREATE TABLE IF NOT EXISTS px_keys (id text PRIMARY KEY, hash text NOT NULL, scope text NOT NULL, name text NOT NULL,
		created_us bigint NOT NULL, revoked boolean NOT NULL, user_name text NOT NULL, env text NOT NULL)`,

	`CREATE TABLE IF NOT EXISTS px_markers (id text COLLATE "C" PRIMARY KEY, dataset text NOT NULL, start_s bigint NOT NULL,
		end_s bigint NOT NULL, body bytea NOT NULL)`,
	`CREATE INDEX IF NOT EXISTS px_markers_dataset ON px_markers (dataset, start_s)`,

	`CREATE TABLE IF NOT EXISTS px_queries (id text COLLATE "C" PRIMARY KEY, dataset text NOT NULL, spec text NOT NULL, created_us bigint NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS px_query_runs (id text COLLATE "C" PRIMARY KEY, query_id text COLLATE "C" NOT NULL, dataset text NOT NULL,
		author text NOT NULL, ran_us bigint NOT NULL, duration_ms double precision NOT NULL, row_count bigint NOT NULL, error_text text NOT NULL)`,
	`CREATE INDEX IF NOT EXISTS px_query_runs_ran ON px_query_runs (ran_us DESC, id)`,
	`CREATE INDEX IF NOT EXISTS px_query_runs_query ON px_query_runs (query_id)`,
	`CREATE TABLE IF NOT EXISTS px_saved_queries (id text COLLATE "C" PRIMARY KEY, name text NOT NULL, description text NOT NULL,
		query_id text COLLATE "C" NOT NULL, author text NOT NULL, created_us bigint NOT NULL, updated_us bigint NOT NULL)`,
	`CREATE INDEX IF NOT EXISTS px_saved_queries_query ON px_saved_queries (query_id)`,

	`CREATE TABLE IF NOT EXISTS px_audit (time_us bigint NOT NULL, author text NOT NULL, key_id text NOT NULL,
		method text NOT NULL, path text NOT NULL, status integer NOT NULL)`,
	`CREATE INDEX IF NOT EXISTS px_audit_time ON px_audit (time_us DESC)`,

	`CREATE TABLE IF NOT EXISTS px_leases (name text PRIMARY KEY, holder text NOT NULL, expires timestamptz NOT NULL)`,
}

// migrate creates what is missing of the schema, under schemaLock.
func (m *Meta) migrate(ctx context.Context) error {
	return pgx.BeginFunc(ctx, m.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(schemaLock)); err != nil {
			return fmt.Errorf("lock schema: %w", err)
		}
		for _, q := range migrations {
			if _, err := tx.Exec(ctx, q); err != nil {
				return fmt.Errorf("migrate: %w", err)
			}
		}
		return nil
	})
}

// orEmpty keeps an empty document empty: pgx sends a nil slice as NULL.
func orEmpty(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// noRows tells a lookup that found nothing.
func noRows(err error) bool { return errors.Is(err, pgx.ErrNoRows) }
