// Package meta is Prodex's metadata store: the SLO definitions, risks,
// alerts and their outbox, notes, incidents, markers, keys and users, query
// history and audit log. It is written once over database/sql and runs on
// two engines: DuckDB, in the embedded store's own database file (one
// node), and PostgreSQL, which several stateless nodes share. What differs
// between them is a dialect (duckdb.go, postgres.go): the tables' DDL,
// how a document is bound, collation and LIKE escapes, and the leader
// lease. Package metatest runs one suite against both.
//
// Both engines keep the same tables and columns, so that existing data
// directories and databases open unchanged: documents the store does not
// interpret are VARCHAR on DuckDB and bytea on PostgreSQL (jsonb would
// reorder and respace them); times are bigint microseconds; identifiers
// that results are ordered by sort by bytes on both. Every value is a
// bound parameter ($1, $2, … on both engines).
package meta

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"sync"
	"time"
)

// Store is the metadata store. It is safe for concurrent use.
type Store struct {
	db     *sql.DB
	d      *dialect
	guard  func(write func() error) error
	leases leaser
	close  func() error

	// queryInsert serialises the inserts into px_queries where the
	// dialect asks for it (see dialect.serialInserts).
	queryInsert sync.Mutex
}

// dialect is what differs between the engines.
type dialect struct {
	name string
	// schema creates what is missing of the tables, in order.
	schema []string
	// lock, when set, is run first in the transaction that creates the
	// tables, so that nodes starting at once create them one after the
	// other.
	lock string
	// doc is a document as a bound value, for the column type that
	// holds documents.
	doc func(b []byte) any
	// collate follows an ORDER BY of names, so that they sort by bytes.
	collate string
	// escape is the literal of the LIKE escape character, a backslash.
	escape string
	// serialInserts serialises inserts of a new query id: two DuckDB
	// transactions inserting the same new id at once conflict even with
	// ON CONFLICT DO NOTHING. The lock is held for one small insert.
	serialInserts bool
	// uncancelled writes run to their end whatever becomes of the caller's
	// context. On DuckDB a statement interrupted inside a transaction can
	// leave its pooled connection in a transaction that no one ends (the
	// interrupt may land on the ROLLBACK or COMMIT after it), and the next
	// transaction begun on it fails; the writes are small, so finishing
	// them costs little.
	uncancelled bool
	// leases returns the dialect's leader leases.
	leases func(db *sql.DB) leaser
	// envs lists the environments with tables in the database, or nil.
	envs func(ctx context.Context, db *sql.DB) ([]string, error)
}

// leaser keeps the leader leases (see Store.Lease).
type leaser interface {
	lease(ctx context.Context, name, holder string, ttl time.Duration) (held bool, until time.Time, err error)
	release(ctx context.Context, name, holder string) error
}

// open makes the store over db and creates what is missing of its tables.
func open(ctx context.Context, db *sql.DB, d *dialect, guard func(func() error) error, closeDB func() error) (*Store, error) {
	if guard == nil {
		guard = func(write func() error) error { return write() }
	}
	s := &Store{db: db, d: d, guard: guard, leases: d.leases(db), close: closeDB}
	if err := s.migrate(ctx); err != nil {
		return nil, fmt.Errorf("%s: migrate: %w", d.name, err)
	}
	return s, nil
}

func (s *Store) migrate(ctx context.Context) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if s.d.lock != "" {
		if _, err := tx.ExecContext(ctx, s.d.lock); err != nil {
			return fmt.Errorf("lock schema: %w", err)
		}
	}
	for _, q := range s.d.schema {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// Close closes what the store opened: the connections to PostgreSQL; on
// DuckDB nothing, the database being the event store's.
func (s *Store) Close() error {
	if s.close == nil {
		return nil
	}
	return s.close()
}

// Environments lists the environments that have tables in the database,
// by name: on PostgreSQL, where each has a schema of its own. On DuckDB it
// is nil: an environment there is a data directory of its own.
func (s *Store) Environments(ctx context.Context) ([]string, error) {
	if s.d.envs == nil {
		return nil, nil
	}
	return s.d.envs(ctx, s.db)
}

// exec runs one write through the guard.
func (s *Store) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	ctx = s.writeContext(ctx)
	var res sql.Result
	err := s.guard(func() (err error) {
		res, err = s.db.ExecContext(ctx, q, args...)
		return err
	})
	return res, err
}

// inTx runs f in a transaction and commits it, through the guard; f's
// statements take the context it is given (see writeContext).
func (s *Store) inTx(ctx context.Context, f func(context.Context, *sql.Tx) error) error {
	ctx = s.writeContext(ctx)
	return s.guard(func() error {
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		if err := f(ctx, tx); err != nil {
			return err
		}
		return tx.Commit()
	})
}

// writeContext is the context a write runs with (see dialect.uncancelled).
func (s *Store) writeContext(ctx context.Context) context.Context {
	if s.d.uncancelled {
		return context.WithoutCancel(ctx)
	}
	return ctx
}

// affected is the number of rows a write changed; a driver that cannot
// tell counts as one, so that nothing is reported missing by mistake.
func affected(res sql.Result) int64 {
	n, err := res.RowsAffected()
	if err != nil {
		return 1
	}
	return n
}

// params binds values and returns their placeholders.
type params struct{ args []any }

func (p *params) bind(v any) string {
	p.args = append(p.args, v)
	return "$" + strconv.Itoa(len(p.args))
}

// orEmpty keeps an empty document empty rather than nil.
func orEmpty(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
