// Package client is a typed Go client of Prodex's HTTP API, as the command
// line, the demo and the benchmarks use it. Answers decode into the API's
// own types: the domain types the handlers encode (query.Result,
// rules.Status, risk.Register, marker.Marker, …) and, where a route answers
// a wrapper, the api package's (api.QueryAnswer, api.GateAnswer, …), so that
// there is no second copy of any answer's fields to drift.
//
// Where a command prints an answer as the server gave it, a method ending
// in JSON returns the answer's bytes unchanged: decoding and encoding again
// would drop what the type leaves out (the markers added to query and SLO
// status answers) and round large integers through float64.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Client talks to one Prodex server with one API key.
type Client struct {
	Server string // base URL, e.g. http://127.0.0.1:8080
	Key    string // API key, sent as X-Honeycomb-Team
	// HTTP sends the requests; nil means a client with a 5-minute timeout,
	// long enough for a slow query.
	HTTP *http.Client
}

// ErrNoKey is returned, before anything is sent, by a client without a key.
var ErrNoKey = errors.New("no API key: pass --key or set PRODEX_KEY")

// Error is an answer other than 2xx: its status line and the server's
// message, printed as "404 Not Found: SLO x does not exist".
type Error struct {
	StatusCode int
	Status     string // e.g. "404 Not Found"
	Message    string // the answer's "error" field, or else its body
}

func (e *Error) Error() string { return e.Status + ": " + e.Message }

// URL is the server's base URL without a trailing slash.
func (c *Client) URL() string { return strings.TrimRight(c.Server, "/") }

// Health reports whether the server answers /healthz, which needs no key:
// nil once it is up.
func (c *Client) Health(ctx context.Context) error {
	_, err := c.exchange(ctx, "GET", "/healthz", "", nil)
	return err
}

// call sends body (nil for none) as JSON and decodes the answer into out
// (nil to ignore it).
func (c *Client) call(ctx context.Context, method, path string, body, out any) error {
	raw, err := c.do(ctx, method, path, body)
	if err != nil || out == nil || len(raw) == 0 {
		return err
	}
	return json.Unmarshal(raw, out)
}

// do sends body (nil for none) as JSON and returns the answer's bytes.
func (c *Client) do(ctx context.Context, method, path string, body any) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	return c.send(ctx, method, path, "application/json", rd)
}

// send sends a body of the given content type with the key and returns
// the answer's bytes; a non-2xx answer is an *Error.
func (c *Client) send(ctx context.Context, method, path, contentType string, body io.Reader) ([]byte, error) {
	if c.Key == "" {
		return nil, ErrNoKey
	}
	return c.exchange(ctx, method, path, contentType, body)
}

func (c *Client) exchange(ctx context.Context, method, path, contentType string, body io.Reader) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.URL()+path, body)
	if err != nil {
		return nil, err
	}
	if c.Key != "" {
		req.Header.Set("X-Honeycomb-Team", c.Key)
	}
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 5 * time.Minute}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		e := &Error{StatusCode: resp.StatusCode, Status: resp.Status, Message: strings.TrimSpace(string(data))}
		var msg struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(data, &msg) == nil && msg.Error != "" {
			e.Message = msg.Error
		}
		return nil, e
	}
	return data, nil
}

// decode is the typed form of an answer fetched as JSON.
func decode[T any](raw []byte, err error) (T, error) {
	var v T
	if err != nil {
		return v, err
	}
	return v, json.Unmarshal(raw, &v)
}

// esc escapes one path segment: a name or an id.
func esc(s string) string { return url.PathEscape(s) }

// withQuery appends the non-empty parameters of v to path.
func withQuery(path string, v url.Values) string {
	if len(v) == 0 {
		return path
	}
	return path + "?" + v.Encode()
}
