package openapi

import (
	"fmt"
	"sort"
	"strings"
)

// Markdown is the document's reference as a Markdown table: each
// operation's method, path, scope, summary, request and answers, by path.
func Markdown(doc *Document) string {
	type row struct{ path, method string }
	var rows []row
	for p, ops := range doc.Paths {
		for m := range ops {
			rows = append(rows, row{p, m})
		}
	}
	order := map[string]int{"get": 0, "post": 1, "put": 2, "patch": 3, "delete": 4}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].path != rows[j].path {
			return rows[i].path < rows[j].path
		}
		return order[rows[i].method] < order[rows[j].method]
	})
	var b strings.Builder
	b.WriteString("| Method | Path | Scope | Summary | Request | Answers |\n|---|---|---|---|---|---|\n")
	for _, r := range rows {
		op := doc.Paths[r.path][r.method]
		scope := op.Scope
		if op.RootOnly {
			scope += " (default environment)"
		}
		req := ""
		if op.RequestBody != nil {
			req = contentNames(op.RequestBody.Content)
		}
		var codes []string
		for c := range op.Responses {
			codes = append(codes, c)
		}
		sort.Strings(codes)
		var answers []string
		for _, c := range codes {
			a, resp := c, op.Responses[c]
			if shared, ok := doc.Components.Responses[strings.TrimPrefix(resp.Ref, "#/components/responses/")]; ok {
				resp = shared
			}
			if n := contentNames(resp.Content); n != "" {
				a += " " + n
			}
			answers = append(answers, a)
		}
		fmt.Fprintf(&b, "| %s | `%s` | %s | %s | %s | %s |\n", strings.ToUpper(r.method), r.path, scope,
			cell(op.Summary), req, strings.Join(answers, ", "))
	}
	return b.String()
}

// contentNames names what a content holds: its JSON schema's name, or
// its media types.
func contentNames(content map[string]*MediaType) string {
	if len(content) == 0 {
		return ""
	}
	if mt, ok := content["application/json"]; ok && len(content) == 1 {
		return SchemaName(mt.Schema)
	}
	var types []string
	for t, mt := range content {
		if n := SchemaName(mt.Schema); t == "application/json" && n != "object" && n != "any" {
			t = n
		}
		types = append(types, t)
	}
	sort.Strings(types)
	return strings.Join(types, " or ")
}

// SchemaName is a short name for s: its reference's name, [X] for an
// array of X, "X or null", else its type.
func SchemaName(s Schema) string {
	if ref, ok := s["$ref"].(string); ok {
		return ref[strings.LastIndexByte(ref, '/')+1:]
	}
	if alts, ok := s["anyOf"].([]any); ok {
		var names []string
		for _, a := range alts {
			names = append(names, SchemaName(a.(Schema)))
		}
		return strings.Join(names, " or ")
	}
	switch t := s["type"].(type) {
	case string:
		if t == "array" {
			return "[" + SchemaName(s["items"].(Schema)) + "]"
		}
		return t
	case []any:
		var names []string
		for _, x := range t {
			if x == "array" {
				x = "[" + SchemaName(s["items"].(Schema)) + "]"
			}
			names = append(names, fmt.Sprint(x))
		}
		return strings.Join(names, " or ")
	}
	return "any"
}

func cell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
