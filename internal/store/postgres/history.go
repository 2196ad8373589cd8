package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/prodex/prodex/internal/history"
	"github.com/prodex/prodex/internal/store"
)

// Query history: px_queries holds each distinct question once, by id;
// px_query_runs one row per run, px_saved_queries the team's collection.
// Both refer to their query by id and take its dataset and spec from it.
// Every value is a bound parameter.

// RecordRun stores a run and, the first time its id is seen, its query.
// One statement does both, so a run is never stored without its query.
func (m *Meta) RecordRun(ctx context.Context, q history.Query, run history.Run) error {
	if q.ID == "" || run.QueryID != q.ID {
		return fmt.Errorf("record run: query id %q does not match the run's %q", q.ID, run.QueryID)
	}
	_, err := m.pool.Exec(ctx, `WITH q AS (
			INSERT INTO px_queries (id, dataset, spec, created_us) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING)
		INSERT INTO px_query_runs (id, query_id, dataset, author, ran_us, duration_ms, row_count, error_text)
		VALUES ($5, $1, $6, $7, $8, $9, $10, $11)`,
		q.ID, q.Dataset, string(q.Spec), q.CreatedAt.UnixMicro(),
		run.ID, run.Dataset, run.Author, run.RanAt.UnixMicro(), run.DurationMS, int64(run.Rows), run.Error)
	if err != nil {
		return fmt.Errorf("record run of query %s: %w", q.ID, err)
	}
	return nil
}

// StoredQuery returns the query with that id, or store.ErrNotFound.
func (m *Meta) StoredQuery(ctx context.Context, id string) (history.Query, error) {
	var q history.Query
	var spec string
	var created int64
	err := m.pool.QueryRow(ctx, `SELECT id, dataset, spec, created_us FROM px_queries WHERE id = $1`, id).Scan(&q.ID, &q.Dataset, &spec, &created)
	if noRows(err) {
		return history.Query{}, store.ErrNotFound
	}
	if err != nil {
		return history.Query{}, err
	}
	q.Spec, q.CreatedAt = []byte(spec), time.UnixMicro(created).UTC()
	return q, nil
}

// where gathers the conditions of a statement and their bound values.
type where struct {
	conds []string
	args  []any
}

// arg binds v and returns its placeholder.
func (w *where) arg(v any) string {
	w.args = append(w.args, v)
	return "$" + strconv.Itoa(len(w.args))
}

func (w *where) String() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// Runs lists the runs f selects, newest first.
func (m *Meta) Runs(ctx context.Context, f history.RunFilter) ([]history.Run, error) {
	var w where
	if f.Dataset != "" {
		w.conds = append(w.conds, `r.dataset = `+w.arg(f.Dataset))
	}
	if f.Author != "" {
		w.conds = append(w.conds, `lower(r.author) = lower(`+w.arg(f.Author)+`)`)
	}
	if f.Text != "" {
		p := w.arg(history.LikePattern(f.Text))
		w.conds = append(w.conds, `(r.dataset ILIKE `+p+` ESCAPE E'\\' OR r.author ILIKE `+p+` ESCAPE E'\\' OR q.spec ILIKE `+p+` ESCAPE E'\\')`)
	}
	if !f.Since.IsZero() {
		w.conds = append(w.conds, `r.ran_us >= `+w.arg(f.Since.UnixMicro()))
	}
	if !f.Until.IsZero() {
		w.conds = append(w.conds, `r.ran_us < `+w.arg(f.Until.UnixMicro()))
	}
	cond := w.String()
	rows, err := m.pool.Query(ctx, `SELECT r.id, r.query_id, r.dataset, r.author, q.spec, r.ran_us, r.duration_ms, r.row_count, r.error_text
		FROM px_query_runs r JOIN px_queries q ON q.id = r.query_id`+cond+`
		ORDER BY r.ran_us DESC, r.id LIMIT `+w.arg(f.EffectiveLimit()), w.args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []history.Run{}
	for rows.Next() {
		var r history.Run
		var spec string
		var ran, n int64
		if err := rows.Scan(&r.ID, &r.QueryID, &r.Dataset, &r.Author, &spec, &ran, &r.DurationMS, &n, &r.Error); err != nil {
			return nil, err
		}
		r.Spec, r.RanAt, r.Rows = []byte(spec), time.UnixMicro(ran).UTC(), int(n)
		out = append(out, r)
	}
	return out, rows.Err()
}

const savedColumns = `SELECT sq.id, sq.name, sq.description, sq.query_id, q.dataset, sq.author, q.spec, sq.created_us, sq.updated_us
	FROM px_saved_queries sq JOIN px_queries q ON q.id = sq.query_id`

// CreateSavedQuery adds a saved query; its query must be stored already
// (store.ErrNotFound otherwise). Dataset and Spec are taken from the query.
func (m *Meta) CreateSavedQuery(ctx context.Context, sq history.Saved) (history.Saved, error) {
	// The insert reads the query it refers to, so a query dropped at the
	// same moment cannot be saved half.
	tag, err := m.pool.Exec(ctx, `INSERT INTO px_saved_queries (id, name, description, query_id, author, created_us, updated_us)
		SELECT $1, $2, $3, id, $4, $5, $6 FROM px_queries WHERE id = $7`,
		sq.ID, sq.Name, sq.Description, sq.Author, sq.CreatedAt.UnixMicro(), sq.UpdatedAt.UnixMicro(), sq.QueryID)
	if err != nil {
		return history.Saved{}, err
	}
	if tag.RowsAffected() == 0 {
		return history.Saved{}, store.ErrNotFound
	}
	return m.SavedQuery(ctx, sq.ID)
}

// SavedQuery returns the saved query with that id, or store.ErrNotFound.
func (m *Meta) SavedQuery(ctx context.Context, id string) (history.Saved, error) {
	list, err := m.savedQueries(ctx, `WHERE sq.id = $1`, 1, id)
	if err != nil {
		return history.Saved{}, err
	}
	if len(list) == 0 {
		return history.Saved{}, store.ErrNotFound
	}
	return list[0], nil
}

// SavedQueries lists saved queries by name, those whose name or
// description contains text (case-insensitively) when text is not empty;
// at most limit (default and cap: history.MaxLimit).
func (m *Meta) SavedQueries(ctx context.Context, text string, limit int) ([]history.Saved, error) {
	if limit <= 0 || limit > history.MaxLimit {
		limit = history.MaxLimit
	}
	if text == "" {
		return m.savedQueries(ctx, ``, limit)
	}
	return m.savedQueries(ctx, `WHERE (sq.name ILIKE $1 ESCAPE E'\\' OR sq.description ILIKE $1 ESCAPE E'\\')`, limit, history.LikePattern(text))
}

// savedQueries lists the saved queries that cond selects; cond's
// placeholders are $1 up to len(args), limit is bound after them. The
// names are compared lower-cased, byte by byte (COLLATE "C"), as DuckDB
// compares them.
func (m *Meta) savedQueries(ctx context.Context, cond string, limit int, args ...any) ([]history.Saved, error) {
	args = append(args, limit)
	rows, err := m.pool.Query(ctx, savedColumns+" "+cond+` ORDER BY lower(sq.name) COLLATE "C", sq.id LIMIT $`+strconv.Itoa(len(args)), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []history.Saved{}
	for rows.Next() {
		var sq history.Saved
		var spec string
		var created, updated int64
		if err := rows.Scan(&sq.ID, &sq.Name, &sq.Description, &sq.QueryID, &sq.Dataset, &sq.Author, &spec, &created, &updated); err != nil {
			return nil, err
		}
		sq.Spec, sq.CreatedAt, sq.UpdatedAt = []byte(spec), time.UnixMicro(created).UTC(), time.UnixMicro(updated).UTC()
		out = append(out, sq)
	}
	return out, rows.Err()
}

// UpdateSavedQuery changes a saved query's name and description
// (store.ErrNotFound when there is none with that id).
func (m *Meta) UpdateSavedQuery(ctx context.Context, id, name, description string, updated time.Time) (history.Saved, error) {
	tag, err := m.pool.Exec(ctx, `UPDATE px_saved_queries SET name = $1, description = $2, updated_us = $3 WHERE id = $4`,
		name, description, updated.UnixMicro(), id)
	if err != nil {
		return history.Saved{}, err
	}
	if tag.RowsAffected() == 0 {
		return history.Saved{}, store.ErrNotFound
	}
	return m.SavedQuery(ctx, id)
}

// DeleteSavedQuery removes a saved query (store.ErrNotFound when there is
// none with that id). Its query and runs stay: they are history.
func (m *Meta) DeleteSavedQuery(ctx context.Context, id string) error {
	tag, err := m.pool.Exec(ctx, `DELETE FROM px_saved_queries WHERE id = $1`, id)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

// DropRunsBefore deletes the query runs made before t, and the queries
// that neither a remaining run nor a saved query refers to; it returns the
// runs dropped. History would otherwise grow with every query forever.
func (m *Meta) DropRunsBefore(ctx context.Context, t time.Time) (int64, error) {
	var n int64
	err := pgx.BeginFunc(ctx, m.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM px_query_runs WHERE ran_us < $1`, t.UnixMicro())
		if err != nil {
			return err
		}
		n = tag.RowsAffected()
		if n == 0 {
			return nil
		}
		_, err = tx.Exec(ctx, `DELETE FROM px_queries q WHERE created_us < $1
			AND NOT EXISTS (SELECT 1 FROM px_query_runs r WHERE r.query_id = q.id)
			AND NOT EXISTS (SELECT 1 FROM px_saved_queries v WHERE v.query_id = q.id)`, t.UnixMicro())
		return err
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}
