package duckdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/prodex/prodex/internal/history"
	"github.com/prodex/prodex/internal/store"
)

// Query history: px_queries holds each distinct question once, by id;
// px_query_runs one row per run, px_saved_queries the team's collection.
// Both refer to their query by id and take its dataset and spec from it.
// Every value is a bound parameter.

// queryInsert serialises the inserts into px_queries: two transactions
// inserting the same new id at once conflict in DuckDB even with ON
// CONFLICT DO NOTHING. The lock is held for one small insert.
var queryInsert sync.Mutex

// RecordRun stores a run and, the first time its id is seen, its query.
func (s *Store) RecordRun(ctx context.Context, q history.Query, run history.Run) error {
	if q.ID == "" || run.QueryID != q.ID {
		return fmt.Errorf("record run: query id %q does not match the run's %q", q.ID, run.QueryID)
	}
	queryInsert.Lock()
	_, err := s.exec(ctx, `INSERT INTO px_queries (id, dataset, spec, created_us) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
		q.ID, q.Dataset, string(q.Spec), q.CreatedAt.UnixMicro())
	queryInsert.Unlock()
	if err != nil {
		return fmt.Errorf("record query %s: %w", q.ID, err)
	}
	_, err = s.exec(ctx, `INSERT INTO px_query_runs (id, query_id, dataset, author, ran_us, duration_ms, row_count, error_text) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		run.ID, run.QueryID, run.Dataset, run.Author, run.RanAt.UnixMicro(), run.DurationMS, int64(run.Rows), run.Error)
	if err != nil {
		return fmt.Errorf("record run of query %s: %w", q.ID, err)
	}
	return nil
}

// StoredQuery returns the query with that id, or store.ErrNotFound.
func (s *Store) StoredQuery(ctx context.Context, id string) (history.Query, error) {
	var q history.Query
	var spec string
	var created int64
	err := s.db.QueryRowContext(ctx, `SELECT id, dataset, spec, created_us FROM px_queries WHERE id = ?`, id).Scan(&q.ID, &q.Dataset, &spec, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return q, store.ErrNotFound
	}
	if err != nil {
		return q, err
	}
	q.Spec, q.CreatedAt = []byte(spec), time.UnixMicro(created).UTC()
	return q, nil
}

// where gathers the conditions of a statement and their bound values.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

func (w *where) String() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// Runs lists the runs f selects, newest first.
func (s *Store) Runs(ctx context.Context, f history.RunFilter) ([]history.Run, error) {
	var w where
	if f.Dataset != "" {
		w.add(`r.dataset = ?`, f.Dataset)
	}
	if f.Author != "" {
		w.add(`lower(r.author) = lower(?)`, f.Author)
	}
	if f.Text != "" {
		p := history.LikePattern(f.Text)
		w.add(`(r.dataset ILIKE ? ESCAPE '\' OR r.author ILIKE ? ESCAPE '\' OR q.spec ILIKE ? ESCAPE '\')`, p, p, p)
	}
	if !f.Since.IsZero() {
		w.add(`r.ran_us >= ?`, f.Since.UnixMicro())
	}
	if !f.Until.IsZero() {
		w.add(`r.ran_us < ?`, f.Until.UnixMicro())
	}
	rows, err := s.db.QueryContext(ctx, `SELECT r.id, r.query_id, r.dataset, r.author, q.spec, r.ran_us, r.duration_ms, r.row_count, r.error_text
		FROM px_query_runs r JOIN px_queries q ON q.id = r.query_id`+w.String()+`
		ORDER BY r.ran_us DESC, r.id LIMIT ?`, append(w.args, f.EffectiveLimit())...)
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
func (s *Store) CreateSavedQuery(ctx context.Context, sq history.Saved) (history.Saved, error) {
	if _, err := s.StoredQuery(ctx, sq.QueryID); err != nil {
		return history.Saved{}, err
	}
	_, err := s.exec(ctx, `INSERT INTO px_saved_queries (id, name, description, query_id, author, created_us, updated_us) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		sq.ID, sq.Name, sq.Description, sq.QueryID, sq.Author, sq.CreatedAt.UnixMicro(), sq.UpdatedAt.UnixMicro())
	if err != nil {
		return history.Saved{}, err
	}
	return s.SavedQuery(ctx, sq.ID)
}

// SavedQuery returns the saved query with that id, or store.ErrNotFound.
func (s *Store) SavedQuery(ctx context.Context, id string) (history.Saved, error) {
	list, err := s.savedQueries(ctx, `WHERE sq.id = ?`, 1, id)
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
func (s *Store) SavedQueries(ctx context.Context, text string, limit int) ([]history.Saved, error) {
	if limit <= 0 || limit > history.MaxLimit {
		limit = history.MaxLimit
	}
	if text == "" {
		return s.savedQueries(ctx, ``, limit)
	}
	p := history.LikePattern(text)
	return s.savedQueries(ctx, `WHERE (sq.name ILIKE ? ESCAPE '\' OR sq.description ILIKE ? ESCAPE '\')`, limit, p, p)
}

func (s *Store) savedQueries(ctx context.Context, cond string, limit int, args ...any) ([]history.Saved, error) {
	rows, err := s.db.QueryContext(ctx, savedColumns+" "+cond+` ORDER BY lower(sq.name), sq.id LIMIT ?`, append(args, limit)...)
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
func (s *Store) UpdateSavedQuery(ctx context.Context, id, name, description string, updated time.Time) (history.Saved, error) {
	res, err := s.exec(ctx, `UPDATE px_saved_queries SET name = ?, description = ?, updated_us = ? WHERE id = ?`,
		name, description, updated.UnixMicro(), id)
	if err != nil {
		return history.Saved{}, err
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return history.Saved{}, store.ErrNotFound
	}
	return s.SavedQuery(ctx, id)
}

// DeleteSavedQuery removes a saved query (store.ErrNotFound when there is
// none with that id). Its query and runs stay: they are history.
func (s *Store) DeleteSavedQuery(ctx context.Context, id string) error {
	res, err := s.exec(ctx, `DELETE FROM px_saved_queries WHERE id = ?`, id)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// DropRunsBefore deletes the query runs made before t, and the queries
// that neither a remaining run nor a saved query refers to; it returns the
// runs dropped. History would otherwise grow with every query forever.
func (s *Store) DropRunsBefore(ctx context.Context, t time.Time) (int64, error) {
	res, err := s.exec(ctx, `DELETE FROM px_query_runs WHERE ran_us < ?`, t.UnixMicro())
	if err != nil {
		return 0, err
	}
	n, _ := res.RowsAffected()
	if n > 0 {
		if _, err := s.exec(ctx, `DELETE FROM px_queries q WHERE created_us < ?
			AND NOT EXISTS (SELECT 1 FROM px_query_runs r WHERE r.query_id = q.id)
			AND NOT EXISTS (SELECT 1 FROM px_saved_queries v WHERE v.query_id = q.id)`, t.UnixMicro()); err != nil {
			return n, err
		}
	}
	return n, nil
}
