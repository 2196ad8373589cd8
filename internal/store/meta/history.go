package meta

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/prodex/prodex/internal/history"
	"github.com/prodex/prodex/internal/problem"
)

// Query history: px_queries holds each distinct question once, by id;
// px_query_runs one row per run, px_saved_queries the team's collection.
// Both refer to their query by id and take its dataset and spec from it.

// RecordRun stores a run and, the first time its id is seen, its query.
// The query is stored first, so that a run is never stored without it.
func (s *Store) RecordRun(ctx context.Context, q history.Query, run history.Run) error {
	if q.ID == "" || run.QueryID != q.ID {
		return fmt.Errorf("record run: query id %q does not match the run's %q", q.ID, run.QueryID)
	}
	if s.d.serialInserts {
		s.queryInsert.Lock()
	}
	_, err := s.exec(ctx, `INSERT INTO px_queries (id, dataset, spec, created_us) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING`,
		q.ID, q.Dataset, string(q.Spec), q.CreatedAt.UnixMicro())
	if s.d.serialInserts {
		s.queryInsert.Unlock()
	}
	if err != nil {
		return fmt.Errorf("record query %s: %w", q.ID, err)
	}
	_, err = s.exec(ctx, `INSERT INTO px_query_runs (id, query_id, dataset, author, ran_us, duration_ms, row_count, error_text)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		run.ID, run.QueryID, run.Dataset, run.Author, run.RanAt.UnixMicro(), run.DurationMS, int64(run.Rows), run.Error)
	if err != nil {
		return fmt.Errorf("record run of query %s: %w", q.ID, err)
	}
	return nil
}

// StoredQuery returns the query with that id, or problem.ErrNotFound.
func (s *Store) StoredQuery(ctx context.Context, id string) (history.Query, error) {
	var q history.Query
	var spec string
	var created int64
	err := s.db.QueryRowContext(ctx, `SELECT id, dataset, spec, created_us FROM px_queries WHERE id = $1`, id).Scan(&q.ID, &q.Dataset, &spec, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return history.Query{}, problem.ErrNotFound
	}
	if err != nil {
		return history.Query{}, err
	}
	q.Spec, q.CreatedAt = []byte(spec), time.UnixMicro(created).UTC()
	return q, nil
}

// where gathers the conditions of a statement and their bound values.
type where struct {
	params
	conds []string
}

func (w *where) String() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// like is the condition that x contains the text bound at p, ignoring case.
func (s *Store) like(x, p string) string { return x + ` ILIKE ` + p + ` ESCAPE ` + s.d.escape }

// Runs lists the runs f selects, newest first.
func (s *Store) Runs(ctx context.Context, f history.RunFilter) ([]history.Run, error) {
	var w where
	if f.Dataset != "" {
		w.conds = append(w.conds, `r.dataset = `+w.bind(f.Dataset))
	}
	if f.Author != "" {
		w.conds = append(w.conds, `lower(r.author) = lower(`+w.bind(f.Author)+`)`)
	}
	if f.Text != "" {
		p := w.bind(history.LikePattern(f.Text))
		w.conds = append(w.conds, `(`+s.like(`r.dataset`, p)+` OR `+s.like(`r.author`, p)+` OR `+s.like(`q.spec`, p)+`)`)
	}
	if !f.Since.IsZero() {
		w.conds = append(w.conds, `r.ran_us >= `+w.bind(f.Since.UnixMicro()))
	}
	if !f.Until.IsZero() {
		w.conds = append(w.conds, `r.ran_us < `+w.bind(f.Until.UnixMicro()))
	}
	cond := w.String()
	rows, err := s.db.QueryContext(ctx, `SELECT r.id, r.query_id, r.dataset, r.author, q.spec, r.ran_us, r.duration_ms, r.row_count, r.error_text
		FROM px_query_runs r JOIN px_queries q ON q.id = r.query_id`+cond+`
		ORDER BY r.ran_us DESC, r.id LIMIT `+w.bind(f.EffectiveLimit()), w.args...)
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
// (problem.ErrNotFound otherwise). Dataset and Spec are taken from the query.
func (s *Store) CreateSavedQuery(ctx context.Context, sq history.Saved) (history.Saved, error) {
	// The insert reads the query it refers to, so a query dropped at the
	// same moment cannot be saved half.
	res, err := s.exec(ctx, `INSERT INTO px_saved_queries (id, name, description, query_id, author, created_us, updated_us)
		SELECT $1, $2, $3, id, $4, $5, $6 FROM px_queries WHERE id = $7`,
		sq.ID, sq.Name, sq.Description, sq.Author, sq.CreatedAt.UnixMicro(), sq.UpdatedAt.UnixMicro(), sq.QueryID)
	if err != nil {
		return history.Saved{}, err
	}
	if affected(res) == 0 {
		return history.Saved{}, problem.ErrNotFound
	}
	return s.SavedQuery(ctx, sq.ID)
}

// SavedQuery returns the saved query with that id, or problem.ErrNotFound.
func (s *Store) SavedQuery(ctx context.Context, id string) (history.Saved, error) {
	var w where
	w.conds = append(w.conds, `sq.id = `+w.bind(id))
	list, err := s.savedQueries(ctx, &w, 1)
	if err != nil {
		return history.Saved{}, err
	}
	if len(list) == 0 {
		return history.Saved{}, problem.ErrNotFound
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
	var w where
	if text != "" {
		p := w.bind(history.LikePattern(text))
		w.conds = append(w.conds, `(`+s.like(`sq.name`, p)+` OR `+s.like(`sq.description`, p)+`)`)
	}
	return s.savedQueries(ctx, &w, limit)
}

// savedQueries lists the saved queries that w selects, at most limit. The
// names are compared lower-cased, byte by byte, on both engines.
func (s *Store) savedQueries(ctx context.Context, w *where, limit int) ([]history.Saved, error) {
	cond := w.String()
	rows, err := s.db.QueryContext(ctx, savedColumns+cond+` ORDER BY lower(sq.name)`+s.d.collate+`, sq.id LIMIT `+w.bind(limit), w.args...)
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
// (problem.ErrNotFound when there is none with that id).
func (s *Store) UpdateSavedQuery(ctx context.Context, id, name, description string, updated time.Time) (history.Saved, error) {
	res, err := s.exec(ctx, `UPDATE px_saved_queries SET name = $1, description = $2, updated_us = $3 WHERE id = $4`,
		name, description, updated.UnixMicro(), id)
	if err != nil {
		return history.Saved{}, err
	}
	if affected(res) == 0 {
		return history.Saved{}, problem.ErrNotFound
	}
	return s.SavedQuery(ctx, id)
}

// DeleteSavedQuery removes a saved query (problem.ErrNotFound when there is
// none with that id). Its query and runs stay: they are history.
func (s *Store) DeleteSavedQuery(ctx context.Context, id string) error {
	res, err := s.exec(ctx, `DELETE FROM px_saved_queries WHERE id = $1`, id)
	if err != nil {
		return err
	}
	if affected(res) == 0 {
		return problem.ErrNotFound
	}
	return nil
}

// DropRunsBefore deletes the query runs made before t, and the queries
// that neither a remaining run nor a saved query refers to; it returns the
// runs dropped. History would otherwise grow with every query forever.
func (s *Store) DropRunsBefore(ctx context.Context, t time.Time) (int64, error) {
	var n int64
	err := s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM px_query_runs WHERE ran_us < $1`, t.UnixMicro())
		if err != nil {
			return err
		}
		if n = affected(res); n == 0 {
			return nil
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM px_queries q WHERE created_us < $1
			AND NOT EXISTS (SELECT 1 FROM px_query_runs r WHERE r.query_id = q.id)
			AND NOT EXISTS (SELECT 1 FROM px_saved_queries v WHERE v.query_id = q.id)`, t.UnixMicro())
		return err
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}
