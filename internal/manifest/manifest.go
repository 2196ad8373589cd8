// Package manifest reads definitions as code: a YAML stream of documents
// (a JSON document is YAML too) in the Kubernetes shape — apiVersion,
// kind, metadata, spec — as SLOs and risks are written. It splits the
// stream, turns each document into JSON, and decodes strictly, so that
// every error names the document and the field at fault.
package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"
)

// Doc is one non-empty document of a stream.
type Doc struct {
	N    int    // position among the non-empty documents, from 1
	JSON []byte // the document as JSON
	// APIVersion, Kind and Name are the document's own, "" when absent
	// or not strings.
	APIVersion, Kind, Name string
}

// Change is what applying one definition did: created, updated (Diff
// lists the fields that differ) or unchanged. Kind is the document's kind
// when a stream of several kinds is applied.
type Change struct {
	Kind   string   `json:"kind,omitempty"`
	Name   string   `json:"name"`
	Action string   `json:"action"` // created, updated or unchanged
	Diff   []string `json:"diff,omitempty"`
}

// What describes the document for messages: `prodex/v1 SLO "name"`.
func (d Doc) What() string {
	w := d.APIVersion
	if d.Kind != "" {
		w += " " + d.Kind
		if d.Name != "" {
			w += " " + strconv.Quote(d.Name)
		}
	}
	return w
}

// Errorf wraps err with the document's position and, once known, what
// it is.
func (d Doc) Errorf(known bool, err error) error {
	if known && d.What() != "" {
		return fmt.Errorf("document %d (%s): %w", d.N, d.What(), err)
	}
	return fmt.Errorf("document %d: %w", d.N, err)
}

// Quote shows a document value in a message; "(missing)" when empty.
func Quote(v string) string {
	if v == "" {
		return "(missing)"
	}
	return strconv.Quote(v)
}

// Split reads the stream's documents, skipping those holding only
// comments. A document that is not valid YAML or not a mapping is an
// error naming it.
func Split(data []byte) ([]Doc, error) {
	var out []Doc
	for _, d := range splitDocuments(string(data)) {
		if blank(d.text) {
			continue
		}
		doc := Doc{N: len(out) + 1}
		js, err := toJSON(d)
		if err != nil {
			return nil, doc.Errorf(false, err)
		}
		var head struct {
			APIVersion any `json:"apiVersion"`
			Kind       any `json:"kind"`
			Metadata   any `json:"metadata"`
		}
		if err := json.Unmarshal(js, &head); err != nil {
			return nil, doc.Errorf(false, errors.New("want a mapping with apiVersion, kind, metadata and spec"))
		}
		doc.JSON = js
		doc.APIVersion, _ = head.APIVersion.(string)
		doc.Kind, _ = head.Kind.(string)
		if m, ok := head.Metadata.(map[string]any); ok {
			doc.Name, _ = m["name"].(string)
		}
		out = append(out, doc)
	}
	return out, nil
}

// toJSON converts a document to JSON, counting lines in messages from the
// top of the stream.
func toJSON(d document) ([]byte, error) {
	js := []byte(strings.TrimSpace(d.text))
	if json.Valid(js) { // pretty JSON with tabs is not YAML
		return js, nil
	}
	js, err := yaml.YAMLToJSONStrict([]byte(d.text))
	if err != nil {
		msg := yamlLine.ReplaceAllStringFunc(strings.TrimPrefix(err.Error(), "yaml: "), func(m string) string {
			n, _ := strconv.Atoi(m[len("line "):])
			return "line " + strconv.Itoa(n+d.line-1)
		})
		return nil, fmt.Errorf("invalid YAML: %s", msg)
	}
	return js, nil
}

type document struct {
	text string
	line int // of the document's first line in the stream, from 1
}

// splitDocuments splits a YAML stream at its "---" (document start) and
// "..." (document end) markers. Anything after "--- " on the marker's
// line belongs to the new document.
func splitDocuments(data string) []document {
	var docs []document
	var cur strings.Builder
	start := 1
	for i, line := range strings.SplitAfter(data, "\n") {
		l := strings.TrimRight(line, "\r\n")
		switch {
		case marker(l, "---"):
			docs = append(docs, document{cur.String(), start})
			cur.Reset()
			start = i + 1
			cur.WriteString(strings.TrimPrefix(l, "---") + "\n")
		case marker(l, "..."):
			docs = append(docs, document{cur.String(), start})
			cur.Reset()
			start = i + 2
		default:
			cur.WriteString(line)
		}
	}
	return append(docs, document{cur.String(), start})
}

func marker(line, m string) bool {
	rest, ok := strings.CutPrefix(line, m)
	return ok && (rest == "" || rest[0] == ' ' || rest[0] == '\t')
}

// blank reports whether a document holds only comments and directives.
func blank(doc string) bool {
	for l := range strings.SplitSeq(doc, "\n") {
		if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "#") && !strings.HasPrefix(l, "%") {
			return false
		}
	}
	return true
}

var yamlLine = regexp.MustCompile(`line (\d+)`)

// DecodeStrict decodes JSON into v, which points to a struct. Unlike
// json.Decoder.DisallowUnknownFields it names the full path of the field
// at fault (spec.alerts.burn_rates[0].severty), also for errors of
// custom types (spec.window: invalid window "36h"), and field names are
// case-sensitive.
func DecodeStrict(js []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	var tree any
	if err := dec.Decode(&tree); err != nil {
		return err
	}
	if err := checkTree(tree, reflect.TypeOf(v).Elem(), ""); err != nil {
		return err
	}
	if err := json.Unmarshal(js, v); err != nil { // checkTree should have caught it
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return fmt.Errorf("%s: want %s", te.Field, te.Type)
		}
		return err
	}
	return nil
}

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

// checkTree checks a decoded JSON value against the type it will be
// decoded into.
func checkTree(x any, t reflect.Type, path string) error {
	if x == nil {
		return nil // null leaves the zero value
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		b, _ := json.Marshal(x)
		if err := reflect.New(t).Interface().(json.Unmarshaler).UnmarshalJSON(b); err != nil {
			return fmt.Errorf("%s: %v", path, err)
		}
		return nil
	}
	switch t.Kind() {
	case reflect.Pointer:
		return checkTree(x, t.Elem(), path)
	case reflect.Interface:
		return nil
	case reflect.Struct:
		m, ok := x.(map[string]any)
		if !ok {
			return wrongType(path, "a mapping", x)
		}
		fields := map[string]reflect.Type{}
		var names []string
		for f := range t.Fields() {
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if f.IsExported() && name != "-" && name != "" {
				fields[name] = f.Type
				names = append(names, name)
			}
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			ft, ok := fields[k]
			if !ok {
				return fmt.Errorf("%s: unknown field (want one of %s)", join(path, k), strings.Join(names, ", "))
			}
			if err := checkTree(m[k], ft, join(path, k)); err != nil {
				return err
			}
		}
		return nil
	case reflect.Map:
		m, ok := x.(map[string]any)
		if !ok {
			return wrongType(path, "a mapping", x)
		}
		for k, v := range m {
			if err := checkTree(v, t.Elem(), join(path, k)); err != nil {
				return err
			}
		}
		return nil
	case reflect.Slice:
		list, ok := x.([]any)
		if !ok {
			return wrongType(path, "a list", x)
		}
		for i, v := range list {
			if err := checkTree(v, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		return nil
	case reflect.String:
		if _, ok := x.(string); !ok {
			return wrongType(path, "a string (quote it)", x)
		}
	case reflect.Bool:
		if _, ok := x.(bool); !ok {
			return wrongType(path, "true or false", x)
		}
	case reflect.Float32, reflect.Float64:
		n, ok := x.(json.Number)
		if !ok {
			return wrongType(path, "a number", x)
		}
		if f, err := n.Float64(); err != nil || math.IsInf(f, 0) {
			return fmt.Errorf("%s: %s is out of range", path, n)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, ok := x.(json.Number)
		if !ok {
			return wrongType(path, "an integer", x)
		}
		if _, err := strconv.ParseInt(n.String(), 10, t.Bits()); err != nil {
			return fmt.Errorf("%s: want an integer, got %s", path, n)
		}
	}
	return nil
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func wrongType(path, want string, got any) error {
	var kind string
	switch got.(type) {
	case map[string]any:
		kind = "a mapping"
	case []any:
		kind = "a list"
	case string:
		kind = "a string"
	case bool:
		kind = "a boolean"
	default:
		kind = "a number"
	}
	return fmt.Errorf("%s: want %s, got %s", path, want, kind)
}
