package meta

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
)

// OpenPostgres connects to the database at dsn (a postgres:// URL or
// key=value string) for environment env's tables, in a schema of their own
// ("" is the default environment, in the connection's schema), and creates
// what is missing of them. Several nodes may open the same database at
// once.
func OpenPostgres(ctx context.Context, dsn, env string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if env != "" {
		if err := createSchema(ctx, cfg.ConnConfig.Copy(), envSchema(env)); err != nil {
			return nil, fmt.Errorf("postgres: create schema for environment %s: %w", env, err)
		}
		cfg.ConnConfig.RuntimeParams["search_path"] = envSchema(env)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	// database/sql over the pool, which keeps pgx's pool settings (and
	// those a DSN gives, pool_max_conns and the like).
	db := stdlib.OpenDBFromPool(pool)
	closeAll := func() error {
		err := db.Close()
		pool.Close()
		return err
	}
	s, err := open(ctx, db, postgres, nil, closeAll)
	if err != nil {
		closeAll()
		return nil, err
	}
	return s, nil
}

// envSchema is the schema holding environment env's tables.
func envSchema(env string) string { return envPrefix + env }

const envPrefix = "prodex_env_"

// createSchema creates a schema, under the schema lock: two nodes may
// create it at once.
func createSchema(ctx context.Context, cfg *pgx.ConnConfig, schema string) error {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(schemaLock)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+pgx.Identifier{schema}.Sanitize())
		return err
	})
}

// schemaLock is the advisory lock held while creating the tables:
// CREATE TABLE IF NOT EXISTS is not safe against itself (two nodes starting
// at once can both miss the table and one fail on the catalog's unique
// index), so nodes create the schema one after the other.
const schemaLock = 0x70726f6465780001 // "prodex" 0 1

// postgres is the dialect of the store several nodes share. Documents are
// bytea, so that they read back byte for byte; identifiers that results
// are ordered by are COLLATE "C", so that they sort by bytes, as DuckDB
// sorts, whatever the database's locale.
var postgres = &dialect{
	name: "postgres",
	schema: []string{
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

		`CREATE TABLE IF NOT EXISTS px_sessions (hash text PRIMARY KEY, key_id text NOT NULL, created_us bigint NOT NULL, seen_us bigint NOT NULL)`,
		`CREATE INDEX IF NOT EXISTS px_sessions_key ON px_sessions (key_id)`,
	},
	lock: fmt.Sprintf(`SELECT pg_advisory_xact_lock(%d)`, int64(schemaLock)),
	// Documents are bytea, bound as bytes (a nil slice would be NULL).
	doc:     func(b []byte) any { return orEmpty(b) },
	collate: ` COLLATE "C"`,
	escape:  `E'\\'`,
	leases:  func(db *sql.DB) leaser { return sqlLeases{db} },
	envs: func(ctx context.Context, db *sql.DB) ([]string, error) {
		rows, err := db.QueryContext(ctx, `SELECT substr(nspname, $2) FROM pg_namespace WHERE starts_with(nspname, $1) ORDER BY 1`, envPrefix, len(envPrefix)+1)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var env string
			if err := rows.Scan(&env); err != nil {
				return nil, err
			}
			out = append(out, env)
		}
		return out, rows.Err()
	},
}

// sqlLeases keeps the leases in px_leases, where several nodes elect the
// one that evaluates alerts. The database's clock decides expiry, so that
// the nodes' clocks need not agree; until is on that clock.
type sqlLeases struct{ db *sql.DB }

func (l sqlLeases) lease(ctx context.Context, name, holder string, ttl time.Duration) (held bool, until time.Time, err error) {
	if ttl <= 0 {
		return false, time.Time{}, fmt.Errorf("lease %s: ttl %v is not positive", name, ttl)
	}
	// One statement, so that two nodes cannot both take the lease:
	// the conflict path locks the row and rechecks its WHERE.
	err = l.db.QueryRowContext(ctx, `INSERT INTO px_leases (name, holder, expires)
		VALUES ($1, $2, statement_timestamp() + $3 * interval '1 microsecond')
		ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, expires = EXCLUDED.expires
		WHERE px_leases.holder = EXCLUDED.holder OR px_leases.expires < statement_timestamp()
		RETURNING expires`, name, holder, ttl.Microseconds()).Scan(&until)
	if err == nil {
		return true, until, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return false, time.Time{}, err
	}
	// Refused: another holder's lease runs (or it was just released,
	// which the next call finds).
	err = l.db.QueryRowContext(ctx, `SELECT expires FROM px_leases WHERE name = $1`, name).Scan(&until)
	if errors.Is(err, sql.ErrNoRows) {
		return false, time.Time{}, nil
	}
	return false, until, err
}

func (l sqlLeases) release(ctx context.Context, name, holder string) error {
	_, err := l.db.ExecContext(ctx, `DELETE FROM px_leases WHERE name = $1 AND holder = $2`, name, holder)
	return err
}
