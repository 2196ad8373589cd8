package openapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	liberrors "github.com/pb33f/libopenapi-validator/errors"
)

// ValidateDocument checks doc against the OpenAPI specification's own
// schema, as a third party reads it.
func ValidateDocument(doc []byte) error {
	d, err := libopenapi.NewDocument(doc)
	if err != nil {
		return err
	}
	v, errs := validator.NewValidator(d)
	if len(errs) > 0 {
		return fmt.Errorf("%v", errs)
	}
	if ok, verrs := v.ValidateDocument(); !ok {
		return fmt.Errorf("%s", describe(verrs))
	}
	return nil
}

// Checker holds HTTP answers to a document: each one to a route of the
// document must have a status the operation lists, with a body of its
// schema; an answer under one of Prefixes to no route must be an error
// in the API's shape (a 404 or a 405).
type Checker struct {
	Prefixes []string

	v   validator.Validator
	mux *http.ServeMux // the document's operations, routed as the server routes

	mu         sync.Mutex
	checked    int
	violations []string
}

// NewChecker reads the OpenAPI document doc.
func NewChecker(doc []byte, prefixes ...string) (*Checker, error) {
	d, err := libopenapi.NewDocument(doc)
	if err != nil {
		return nil, err
	}
	v, errs := validator.NewValidator(d)
	if len(errs) > 0 {
		return nil, fmt.Errorf("%v", errs)
	}
	var parsed struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(doc, &parsed); err != nil {
		return nil, err
	}
	c := &Checker{Prefixes: prefixes, v: v, mux: http.NewServeMux()}
	for path, ops := range parsed.Paths {
		if strings.HasSuffix(path, "/") {
			path += "{$}"
		}
		for m := range ops {
			c.mux.HandleFunc(strings.ToUpper(m)+" "+path, func(http.ResponseWriter, *http.Request) {})
		}
	}
	return c, nil
}

// Check checks one answer, whose body has been read.
func (c *Checker) Check(req *http.Request, resp *http.Response, body []byte) {
	if req.Method == http.MethodHead {
		return // no body; the matrix test holds HEAD to GET's statuses
	}
	_, pattern := c.mux.Handler(req)
	under := false
	for _, p := range c.Prefixes {
		under = under || strings.HasPrefix(req.URL.Path, p)
	}
	var problem string
	switch {
	case pattern != "":
		r := *resp
		r.Body = io.NopCloser(bytes.NewReader(body))
		c.mu.Lock()
		ok, errs := c.v.ValidateHttpResponse(req, &r)
		c.mu.Unlock()
		if !ok {
			problem = describe(errs)
		}
	case !under:
		return
	default:
		var e struct {
			Error *string `json:"error"`
		}
		if resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusMethodNotAllowed ||
			json.Unmarshal(body, &e) != nil || e.Error == nil {
			problem = "no route of the document, and not a 404 or 405 error"
		}
	}
	if resp.Header.Get("X-Request-Id") == "" {
		problem += "; no X-Request-Id header"
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.checked++
	if problem != "" {
		c.violations = append(c.violations, fmt.Sprintf("%s %s → %d %s: %s\n    body: %s", req.Method, req.URL.RequestURI(),
			resp.StatusCode, resp.Header.Get("Content-Type"), strings.TrimPrefix(problem, "; "), clip(body)))
	}
}

// Transport checks every answer that next carries.
func (c *Checker) Transport(next http.RoundTripper) http.RoundTripper {
	return roundTripper(func(req *http.Request) (*http.Response, error) {
		resp, err := next.RoundTrip(req)
		if err != nil {
			return resp, err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(body))
		if err == nil {
			c.Check(req, resp, body)
		}
		return resp, nil
	})
}

// Report is how many answers were checked and what was wrong with some.
func (c *Checker) Report() (checked int, violations []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.checked, append([]string(nil), c.violations...)
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func describe(errs []*liberrors.ValidationError) string {
	var b strings.Builder
	for i, e := range errs {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(e.Message)
		if e.Reason != "" && e.Reason != e.Message {
			b.WriteString(": " + e.Reason)
		}
		for _, s := range e.SchemaValidationErrors {
			fmt.Fprintf(&b, " [%s: %s]", s.FieldPath, s.Reason)
		}
	}
	return b.String()
}

func clip(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}
