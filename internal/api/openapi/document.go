package openapi

import (
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Route is one operation of the API: what a route table says of it, and
// what the server's source says (Scope, RootOnly).
type Route struct {
	Pattern     string // "METHOD /path" as registered on the mux
	ID          string // operationId: stable, for generated clients
	Tag         string
	Summary     string
	Description string
	// Scope is the key scope the route needs: ingest, query, edit, admin,
	// Any (any valid key) or Public (none).
	Scope string
	// RootOnly: keys of the default environment only.
	RootOnly bool
	// OTLP: refusals are OTLP's Status, not the API's error.
	OTLP bool
	// Cookieless: the route takes its key from a header only, never from
	// a cookie (the Security schemes in a cookie are left out).
	Cookieless bool
	Params     []Param // query and header parameters; path ones come from Pattern
	Body       *Body
	Answers    []Answer
}

// Scopes besides the key scopes.
const (
	Any    = "any"
	Public = "public"
)

// Param is a query or header parameter.
type Param struct {
	Name        string
	In          string // query (default) or header
	Description string
	Schema      Schema // default string
	Required    bool
}

// Body is a request body: JSON of Type, whose top-level fields are all
// optional but Required (handlers decode with encoding/json, which asks
// for none; they check what they need), or Content as given.
type Body struct {
	Type        reflect.Type
	Name        string // the body schema's name; "" for the type's own
	Required    []string
	Content     map[string]Schema // media type → schema, instead of Type
	Description string
	Optional    bool
}

// Answer is one status a route answers. An error status without Type or
// Content answers the API's error (OTLP's Status on OTLP routes).
type Answer struct {
	Status      int
	Description string
	Type        reflect.Type
	Schema      Schema            // instead of Type
	Content     map[string]Schema // media type → schema, instead of JSON
	Headers     []string          // response headers besides X-Request-Id
}

// Info is what the document says of itself.
type Info struct {
	Title       string `json:"title"`
	Version     string `json:"version"`
	Description string `json:"description,omitempty"`
}

// Document is an OpenAPI 3.1 document.
type Document struct {
	OpenAPI    string                           `json:"openapi"`
	Info       Info                             `json:"info"`
	Tags       []Tag                            `json:"tags,omitempty"`
	Paths      map[string]map[string]*Operation `json:"paths"`
	Components Components                       `json:"components"`
}

// Tag names a group of operations.
type Tag struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

// Operation is one method on one path.
type Operation struct {
	OperationID string                `json:"operationId"`
	Tags        []string              `json:"tags,omitempty"`
	Summary     string                `json:"summary"`
	Description string                `json:"description,omitempty"`
	Parameters  []Parameter           `json:"parameters,omitempty"`
	RequestBody *RequestBody          `json:"requestBody,omitempty"`
	Responses   map[string]*Response  `json:"responses"`
	Security    []map[string][]string `json:"security"`
	Scope       string                `json:"x-prodex-scope"`
	RootOnly    bool                  `json:"x-prodex-root-only,omitempty"`
}

// Parameter is a path, query or header parameter.
type Parameter struct {
	Name        string `json:"name"`
	In          string `json:"in"`
	Description string `json:"description,omitempty"`
	Required    bool   `json:"required,omitempty"`
	Schema      Schema `json:"schema"`
}

// RequestBody is what a request carries.
type RequestBody struct {
	Description string                `json:"description,omitempty"`
	Required    bool                  `json:"required"`
	Content     map[string]*MediaType `json:"content"`
}

// Response is one status's answer, or a reference to a shared one.
type Response struct {
	Ref         string                `json:"$ref,omitempty"`
	Description string                `json:"description,omitempty"`
	Headers     map[string]Schema     `json:"headers,omitempty"`
	Content     map[string]*MediaType `json:"content,omitempty"`
}

// MediaType holds a content's schema.
type MediaType struct {
	Schema Schema `json:"schema"`
}

// Components are the document's named parts.
type Components struct {
	Schemas         map[string]Schema         `json:"schemas"`
	Responses       map[string]*Response      `json:"responses,omitempty"`
	SecuritySchemes map[string]SecurityScheme `json:"securitySchemes"`
	Headers         map[string]Header         `json:"headers"`
}

// SecurityScheme is one way of presenting a key.
type SecurityScheme struct {
	Type         string `json:"type"`
	Description  string `json:"description,omitempty"`
	Name         string `json:"name,omitempty"`
	In           string `json:"in,omitempty"`
	Scheme       string `json:"scheme,omitempty"`
	BearerFormat string `json:"bearerFormat,omitempty"`
}

// Header is a response header.
type Header struct {
	Description string `json:"description"`
	Required    bool   `json:"required,omitempty"`
	Schema      Schema `json:"schema"`
}

// Spec is everything Build needs besides the routes.
type Spec struct {
	Info Info
	Tags []Tag
	// PathParams describes the path parameters by name.
	PathParams map[string]string
	// Security are the ways of presenting a key, each allowed on every
	// route that needs one.
	Security map[string]SecurityScheme
	// Headers are the response headers Answers may name; every answer
	// has RequestID.
	Headers   map[string]Header
	RequestID string
	// Error and InternalError are the error answers' schemas (the latter
	// for a 500 outside /1/, which carries the request id); OTLPError is
	// an OTLP route's.
	Error, InternalError, OTLPError Schema
}

var wildcardRE = regexp.MustCompile(`\{([^}.$]+)(\.\.\.)?\}`)

// Path is the OpenAPI path of a mux pattern's path: "/" for "/{$}", a
// trailing-slash prefix "/ui/" as "/ui/{path}", "{rest...}" as "{rest}".
func Path(pattern string) (method, path string) {
	method, path, _ = strings.Cut(pattern, " ")
	switch {
	case strings.HasSuffix(path, "/{$}"):
		path = strings.TrimSuffix(path, "{$}")
	case strings.HasSuffix(path, "/") && path != "/":
		path += "{path}"
	}
	return method, wildcardRE.ReplaceAllString(path, "{$1}")
}

// Build writes the document of routes; r holds the schemas made so far,
// and receives those of the routes' types.
func Build(spec Spec, routes []Route, r *Reflector) (*Document, error) {
	doc := &Document{OpenAPI: "3.1.0", Info: spec.Info, Tags: spec.Tags, Paths: map[string]map[string]*Operation{}}
	var errs []string
	ids := map[string]string{}
	for _, rt := range routes {
		method, path := Path(rt.Pattern)
		op, err := operation(spec, rt, path, r)
		if err != nil {
			errs = append(errs, rt.Pattern+": "+err.Error())
			continue
		}
		if prev, dup := ids[op.OperationID]; dup {
			errs = append(errs, fmt.Sprintf("%s: operationId %s is %s's too", rt.Pattern, op.OperationID, prev))
		}
		ids[op.OperationID] = rt.Pattern
		m := strings.ToLower(method)
		if doc.Paths[path] == nil {
			doc.Paths[path] = map[string]*Operation{}
		}
		if doc.Paths[path][m] != nil {
			errs = append(errs, rt.Pattern+": listed twice")
		}
		doc.Paths[path][m] = op
	}
	if err := r.Err(); err != nil {
		errs = append(errs, err.Error())
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	doc.Components = Components{Schemas: r.Defs(), SecuritySchemes: spec.Security, Headers: spec.Headers, Responses: map[string]*Response{}}
	for name, a := range map[string]struct {
		desc   string
		schema Schema
	}{
		"Unauthorized":           {"No valid key of this environment.", spec.Error},
		"InternalError":          {"The server failed; the log has the detail under the request id.", spec.InternalError},
		"HoneycombInternalError": {"The server failed; the log has the detail under the request id (X-Request-Id).", spec.Error},
		"OTLPUnauthorized":       {"No valid key of this environment.", spec.OTLPError},
		"OTLPInternalError":      {"The server failed.", spec.OTLPError},
	} {
		doc.Components.Responses[name] = &Response{Description: a.desc,
			Headers: map[string]Schema{spec.RequestID: {"$ref": "#/components/headers/" + spec.RequestID}},
			Content: errorContent(a.schema, strings.HasPrefix(name, "OTLP"))}
	}
	return doc, nil
}

func operation(spec Spec, rt Route, path string, r *Reflector) (*Operation, error) {
	if rt.ID == "" || rt.Summary == "" {
		return nil, fmt.Errorf("needs an ID and a summary")
	}
	op := &Operation{OperationID: rt.ID, Summary: rt.Summary, Description: rt.Description, Scope: rt.Scope, RootOnly: rt.RootOnly,
		Responses: map[string]*Response{}, Security: []map[string][]string{}}
	if rt.Tag != "" {
		op.Tags = []string{rt.Tag}
	}
	for _, m := range wildcardRE.FindAllStringSubmatch(path, -1) {
		desc, ok := spec.PathParams[m[1]]
		if !ok {
			return nil, fmt.Errorf("path parameter {%s} is not described in PathParams", m[1])
		}
		op.Parameters = append(op.Parameters, Parameter{Name: m[1], In: "path", Description: desc, Required: true, Schema: Schema{"type": "string"}})
	}
	for _, p := range rt.Params {
		in := p.In
		if in == "" {
			in = "query"
		}
		s := p.Schema
		if s == nil {
			s = Schema{"type": "string"}
		}
		op.Parameters = append(op.Parameters, Parameter{Name: p.Name, In: in, Description: p.Description, Required: p.Required, Schema: s})
	}
	switch rt.Scope {
	case Public:
	case Any, "ingest", "query", "edit", "admin":
		roles := []string{}
		if rt.Scope != Any {
			roles = []string{rt.Scope}
		}
		var names []string
		for n, sc := range spec.Security {
			if rt.Cookieless && sc.In == "cookie" {
				continue
			}
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			op.Security = append(op.Security, map[string][]string{n: roles})
		}
	default:
		return nil, fmt.Errorf("unknown scope %q", rt.Scope)
	}
	if b := rt.Body; b != nil {
		rb := &RequestBody{Description: b.Description, Required: !b.Optional, Content: map[string]*MediaType{}}
		for mt, s := range b.Content {
			rb.Content[mt] = &MediaType{Schema: s}
		}
		if b.Type != nil {
			rb.Content["application/json"] = &MediaType{Schema: requestSchema(r, b)}
		}
		op.RequestBody = rb
	}
	answers := append([]Answer(nil), rt.Answers...)
	has := map[int]bool{}
	for _, a := range answers {
		has[a.Status] = true
	}
	if rt.Scope != Public {
		if !has[401] {
			name := "Unauthorized"
			if rt.OTLP {
				name = "OTLPUnauthorized"
			}
			op.Responses["401"] = &Response{Ref: "#/components/responses/" + name}
		}
		if !has[403] {
			why := "The key's scope does not allow this route"
			if rt.RootOnly {
				why += ", or the key is not of the default environment"
			}
			if m, _, _ := strings.Cut(rt.Pattern, " "); m != http.MethodGet && !rt.Cookieless {
				why += ", or the key came in the UI's session cookie without the X-Prodex-UI header"
			}
			answers = append(answers, Answer{Status: 403, Description: why + "."})
		}
		if !has[500] {
			name := "InternalError"
			switch {
			case rt.OTLP:
				name = "OTLPInternalError"
			case strings.HasPrefix(path, "/1/"):
				name = "HoneycombInternalError"
			}
			op.Responses["500"] = &Response{Ref: "#/components/responses/" + name}
		}
	}
	for _, a := range answers {
		if a.Description == "" {
			a.Description = http.StatusText(a.Status)
		}
		resp := &Response{Description: a.Description, Headers: map[string]Schema{}}
		for _, h := range append([]string{spec.RequestID}, a.Headers...) {
			if _, ok := spec.Headers[h]; !ok {
				return nil, fmt.Errorf("header %s is not in Spec.Headers", h)
			}
			resp.Headers[h] = Schema{"$ref": "#/components/headers/" + h}
		}
		switch {
		case a.Content != nil:
			resp.Content = map[string]*MediaType{}
			for mt, s := range a.Content {
				resp.Content[mt] = &MediaType{Schema: s}
			}
		case a.Type != nil:
			resp.Content = map[string]*MediaType{"application/json": {Schema: r.Of(a.Type)}}
		case a.Schema != nil:
			resp.Content = map[string]*MediaType{"application/json": {Schema: a.Schema}}
		case a.Status >= 400:
			s := spec.Error
			switch {
			case rt.OTLP:
				s = spec.OTLPError
			case a.Status == 500 && !strings.HasPrefix(path, "/1/"):
				s = spec.InternalError
			}
			resp.Content = errorContent(s, rt.OTLP)
		}
		op.Responses[strconv.Itoa(a.Status)] = resp
	}
	return op, nil
}

// errorContent is an error answer's content: JSON of schema s, or for
// OTLP also protobuf (a Status in the request's encoding).
func errorContent(s Schema, otlp bool) map[string]*MediaType {
	c := map[string]*MediaType{"application/json": {Schema: s}}
	if otlp {
		c["application/x-protobuf"] = &MediaType{Schema: Schema{"type": "string", "format": "binary"}}
	}
	return c
}

// requestSchema is the schema of a JSON request body: the type's own, but
// with only the body's Required fields required, under the body's name.
func requestSchema(r *Reflector, b *Body) Schema {
	t := b.Type
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return r.Of(t)
	}
	s := r.object(t)
	props := s["properties"].(Schema)
	delete(s, "required")
	for _, f := range b.Required {
		if _, ok := props[f]; !ok {
			r.errs = append(r.errs, fmt.Sprintf("request body %s: required field %s is not one of the type's", b.Name, f))
		}
	}
	if len(b.Required) > 0 {
		s["required"] = b.Required
	}
	name := b.Name
	if name == "" {
		if t.Name() == "" {
			r.errs = append(r.errs, fmt.Sprintf("request body of type %s needs a Name", t))
			return s
		}
		name = r.name(t)
	}
	if _, ok := r.owner[name]; ok {
		if !r.requests[name] {
			r.errs = append(r.errs, fmt.Sprintf("request body %s has the name of another schema: give the body a Name of its own", name))
		} else if fmt.Sprint(r.defs[name]) != fmt.Sprint(s) {
			r.errs = append(r.errs, fmt.Sprintf("request body %s is described twice, differently", name))
		}
		return Ref(name)
	}
	r.owner[name] = t
	r.requests[name] = true
	r.defs[name] = s
	return Ref(name)
}
