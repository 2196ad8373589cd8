package client

import (
	"context"
	"net/url"
	"strconv"

	"github.com/prodex/prodex/internal/api"
	"github.com/prodex/prodex/internal/explain"
	"github.com/prodex/prodex/internal/history"
	"github.com/prodex/prodex/internal/query"
)

// Query asks a question of a dataset.
func (c *Client) Query(ctx context.Context, dataset string, spec *query.Spec) (api.QueryAnswer, error) {
	return decode[api.QueryAnswer](c.QueryJSON(ctx, dataset, spec))
}

// QueryJSON is Query's answer as the server wrote it, markers included.
func (c *Client) QueryJSON(ctx context.Context, dataset string, spec *query.Spec) ([]byte, error) {
	return c.do(ctx, "POST", "/api/v1/query/"+esc(dataset), spec)
}

// StoredQuery is the question a query id (from a permalink, the history or
// a saved query) stands for.
func (c *Client) StoredQuery(ctx context.Context, id string) (history.Query, error) {
	var q history.Query
	return q, c.call(ctx, "GET", "/api/v1/queries/"+esc(id), nil, &q)
}

// RunStoredQuery asks a stored query again, over its own interval.
func (c *Client) RunStoredQuery(ctx context.Context, id string) (api.QueryAnswer, error) {
	return decode[api.QueryAnswer](c.RunStoredQueryJSON(ctx, id))
}

// RunStoredQueryJSON is RunStoredQuery's answer as the server wrote it.
func (c *Client) RunStoredQueryJSON(ctx context.Context, id string) ([]byte, error) {
	return c.do(ctx, "POST", "/api/v1/queries/"+esc(id)+"/run", nil)
}

// Explain ranks a dataset's columns by how differently their values are
// spread in a selection of events than in the rest.
func (c *Client) Explain(ctx context.Context, dataset string, r *explain.Request) (explain.Answer, error) {
	return decode[explain.Answer](c.ExplainJSON(ctx, dataset, r))
}

// ExplainJSON is Explain's answer as the server wrote it.
func (c *Client) ExplainJSON(ctx context.Context, dataset string, r *explain.Request) ([]byte, error) {
	return c.do(ctx, "POST", "/api/v1/explain/"+esc(dataset), r)
}

// History lists the query runs f selects, newest first.
func (c *Client) History(ctx context.Context, f history.RunFilter) ([]history.Run, error) {
	return decode[[]history.Run](c.HistoryJSON(ctx, f))
}

// HistoryJSON is History's answer as the server wrote it.
func (c *Client) HistoryJSON(ctx context.Context, f history.RunFilter) ([]byte, error) {
	v := url.Values{}
	for k, x := range map[string]string{"dataset": f.Dataset, "author": f.Author, "q": f.Text} {
		if x != "" {
			v.Set(k, x)
		}
	}
	if !f.Since.IsZero() {
		v.Set("since", strconv.FormatInt(f.Since.Unix(), 10))
	}
	if !f.Until.IsZero() {
		v.Set("until", strconv.FormatInt(f.Until.Unix(), 10))
	}
	if f.Limit != 0 {
		v.Set("limit", strconv.Itoa(f.Limit))
	}
	return c.do(ctx, "GET", withQuery("/api/v1/history", v), nil)
}

// SavedQueries lists the team's saved queries by name, those whose name or
// description contains search when it is not empty.
func (c *Client) SavedQueries(ctx context.Context, search string) ([]history.Saved, error) {
	return decode[[]history.Saved](c.SavedQueriesJSON(ctx, search))
}

// SavedQueriesJSON is SavedQueries' answer as the server wrote it.
func (c *Client) SavedQueriesJSON(ctx context.Context, search string) ([]byte, error) {
	v := url.Values{}
	if search != "" {
		v.Set("q", search)
	}
	return c.do(ctx, "GET", withQuery("/api/v1/saved-queries", v), nil)
}

// SaveQuery saves a query that has run under a name.
func (c *Client) SaveQuery(ctx context.Context, queryID, name, description string) (history.Saved, error) {
	var s history.Saved
	body := map[string]string{"query_id": queryID, "name": name, "description": description}
	return s, c.call(ctx, "POST", "/api/v1/saved-queries", body, &s)
}

// DeleteSavedQuery deletes a saved query; the query and its runs stay.
func (c *Client) DeleteSavedQuery(ctx context.Context, id string) error {
	return c.call(ctx, "DELETE", "/api/v1/saved-queries/"+esc(id), nil, nil)
}
