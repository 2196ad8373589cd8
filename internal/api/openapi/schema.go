// Package openapi writes the OpenAPI 3.1 document of Prodex's HTTP API
// from a table of its routes and the Go types its handlers read and write,
// renders the document's reference as Markdown, and checks HTTP answers
// against it. The API embeds the document it writes; nothing here runs in
// the server.
package openapi

import (
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"
	"unicode"
)

// Schema is a JSON Schema (2020-12, the dialect of OpenAPI 3.1), kept as
// plain JSON values so that the document is written as it is built.
type Schema = map[string]any

// Named is a schema with its name under components/schemas ("" to inline
// it where it is used).
type Named struct {
	Name   string
	Schema Schema
}

// Reflector makes the schemas of Go types as encoding/json writes them:
// exported fields under their json names, embedded structs promoted,
// omitempty fields optional and every other one required, and nil
// pointers, slices and maps null. Named struct types become schemas of
// their own under components/schemas, which the others reference.
type Reflector struct {
	// Names overrides the schema name of a type; others are named by
	// package and type (see name).
	Names map[reflect.Type]string
	// Custom is the schema of each type that writes its own JSON
	// (MarshalJSON or MarshalText, such as durations written "30d"):
	// reflecting its Go fields would describe something else, so such a
	// type missing here is an error rather than a wrong schema.
	Custom map[reflect.Type]Named

	defs  map[string]Schema
	owner map[string]reflect.Type // the type each name was given to
	// requests are the names of request bodies' schemas (see Body).
	requests map[string]bool
	errs     []string
}

var (
	jsonMarshaler   = reflect.TypeFor[json.Marshaler]()
	textMarshaler   = reflect.TypeFor[encoding.TextMarshaler]()
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
	timeType        = reflect.TypeFor[time.Time]()
	rawType         = reflect.TypeFor[json.RawMessage]()
)

// Ref is a reference to the schema named name.
func Ref(name string) Schema { return Schema{"$ref": "#/components/schemas/" + name} }

// Defs are the named schemas made so far.
func (r *Reflector) Defs() map[string]Schema { return r.defs }

// Err reports every type that could not be described.
func (r *Reflector) Err() error {
	if len(r.errs) == 0 {
		return nil
	}
	sort.Strings(r.errs)
	return fmt.Errorf("%s", strings.Join(r.errs, "\n"))
}

// Define gives schema s the name name, as a type would have it.
func (r *Reflector) Define(name string, s Schema) Schema {
	r.init()
	if _, dup := r.defs[name]; dup {
		r.errs = append(r.errs, "schema "+name+" is defined twice")
	}
	r.defs[name] = s
	return Ref(name)
}

func (r *Reflector) init() {
	if r.defs == nil {
		r.defs, r.owner, r.requests = map[string]Schema{}, map[string]reflect.Type{}, map[string]bool{}
	}
}

// Of is the schema of t: a reference when t is a named struct.
func (r *Reflector) Of(t reflect.Type) Schema {
	r.init()
	if t.Kind() == reflect.Pointer {
		return r.Of(t.Elem())
	}
	if c, ok := r.Custom[t]; ok {
		return r.named(t, c.Name, func() Schema { return c.Schema })
	}
	switch t {
	case timeType:
		return Schema{"type": "string", "format": "date-time"}
	case rawType:
		return Schema{"description": "any JSON value"}
	}
	for _, m := range []reflect.Type{jsonMarshaler, textMarshaler, jsonUnmarshaler, textUnmarshaler} {
		if reflect.PointerTo(t).Implements(m) {
			r.errs = append(r.errs, fmt.Sprintf("type %s reads or writes its own JSON: give it a schema in Custom", t))
			return Schema{}
		}
	}
	switch t.Kind() {
	case reflect.Struct:
		if t.Name() == "" {
			return r.object(t)
		}
		return r.named(t, r.name(t), func() Schema { return r.object(t) })
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return Schema{"type": "string", "contentEncoding": "base64"}
		}
		return Schema{"type": "array", "items": r.Of(t.Elem())}
	case reflect.Map:
		if k := t.Key().Kind(); k != reflect.String {
			r.errs = append(r.errs, fmt.Sprintf("type %s: map keys of kind %s are not described", t, k))
		}
		s := Schema{"type": "object"}
		if t.Elem().Kind() != reflect.Interface {
			s["additionalProperties"] = r.Of(t.Elem())
		}
		return s
	case reflect.Interface:
		return Schema{}
	case reflect.String:
		return Schema{"type": "string"}
	case reflect.Bool:
		return Schema{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return Schema{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return Schema{"type": "number"}
	}
	r.errs = append(r.errs, fmt.Sprintf("type %s of kind %s is not described", t, t.Kind()))
	return Schema{}
}

// named defines t's schema under name once, made by make, and refers to
// it; name "" inlines it.
func (r *Reflector) named(t reflect.Type, name string, make func() Schema) Schema {
	if name == "" {
		return make()
	}
	if prev, ok := r.owner[name]; ok {
		if prev != t || r.requests[name] {
			r.errs = append(r.errs, fmt.Sprintf("schema name %s is given to both %s and %s: name one of them in Names", name, prev, t))
		}
		return Ref(name)
	}
	r.owner[name] = t
	r.defs[name] = nil // a type that refers to itself finds its name taken
	r.defs[name] = make()
	return Ref(name)
}

// name is a named type's schema name: Names', else the type's name,
// prefixed by its package's unless it already starts with it (risk.Risk
// is Risk, risk.Entry RiskEntry, query.Spec QuerySpec); package api's own
// types go by their names alone.
func (r *Reflector) name(t reflect.Type) string {
	if n, ok := r.Names[t]; ok {
		return n
	}
	n := t.Name()
	if i := strings.IndexByte(n, '['); i >= 0 { // generic instance
		n = n[:i]
	}
	n = upperFirst(n)
	pkg := t.PkgPath()[strings.LastIndexByte(t.PkgPath(), '/')+1:]
	if pkg == "api" || strings.HasPrefix(strings.ToLower(n), strings.ToLower(pkg)) {
		return n
	}
	if strings.ToLower(pkg) == "slo" {
		return "SLO" + n
	}
	return upperFirst(pkg) + n
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	r := []rune(s)
	r[0] = unicode.ToUpper(r[0])
	return string(r)
}

// object is the schema of struct type t's JSON object.
func (r *Reflector) object(t reflect.Type) Schema {
	props := Schema{}
	var required []string
	for _, f := range jsonFields(t) {
		s := r.Of(f.typ)
		if f.asString {
			s = Schema{"type": "string", "description": "a " + s["type"].(string) + " written as a string"}
		}
		if f.nullable {
			s = Nullable(s)
		}
		props[f.name] = s
		if !f.omitempty {
			required = append(required, f.name)
		}
	}
	s := Schema{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		s["required"] = required
	}
	return s
}

// Nullable is s allowing null too.
func Nullable(s Schema) Schema {
	if _, ref := s["$ref"]; ref || s["type"] == nil {
		if len(s) == 0 {
			return s // anything, null included
		}
		return Schema{"anyOf": []any{s, Schema{"type": "null"}}}
	}
	out := Schema{}
	for k, v := range s {
		out[k] = v
	}
	out["type"] = []any{s["type"], "null"}
	return out
}

// field is one member of a struct's JSON object.
type field struct {
	name      string
	typ       reflect.Type
	omitempty bool
	asString  bool
	nullable  bool
	depth     int
	tagged    bool
}

// jsonFields lists the fields encoding/json writes for struct type t, by
// its rules: tags name fields, "-" drops one, embedded structs without a
// name are promoted, and of fields of one name the shallowest wins (a
// tagged one among equals), while equals without a winner all vanish.
func jsonFields(t reflect.Type) []field {
	var all []field
	var walk func(t reflect.Type, depth int, seen map[reflect.Type]bool)
	walk = func(t reflect.Type, depth int, seen map[reflect.Type]bool) {
		if seen[t] {
			return
		}
		seen[t] = true
		defer delete(seen, t)
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			ft := f.Type
			if f.Anonymous {
				et := ft
				if et.Kind() == reflect.Pointer {
					et = et.Elem()
				}
				if !f.IsExported() && et.Kind() != reflect.Struct {
					continue
				}
				if name == "" && et.Kind() == reflect.Struct {
					if !f.IsExported() && ft.Kind() == reflect.Pointer {
						continue // encoding/json cannot set it, and skips it
					}
					walk(et, depth+1, seen)
					continue
				}
			} else if !f.IsExported() {
				continue
			}
			fd := field{name: name, typ: ft, depth: depth, tagged: name != ""}
			if fd.name == "" {
				fd.name = f.Name
			}
			for _, o := range strings.Split(opts, ",") {
				switch o {
				case "omitempty", "omitzero":
					fd.omitempty = true
				case "string":
					switch ft.Kind() {
					case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
						reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
						fd.asString = true
					}
				}
			}
			switch ft.Kind() {
			case reflect.Pointer, reflect.Slice, reflect.Map:
				fd.nullable = !fd.omitempty
			}
			all = append(all, fd)
		}
	}
	walk(t, 0, map[reflect.Type]bool{})
	var out []field
	byName := map[string][]field{}
	var order []string
	for _, f := range all {
		if _, ok := byName[f.name]; !ok {
			order = append(order, f.name)
		}
		byName[f.name] = append(byName[f.name], f)
	}
	for _, n := range order {
		fs := byName[n]
		sort.SliceStable(fs, func(i, j int) bool { return fs[i].depth < fs[j].depth })
		win := fs[0]
		if len(fs) > 1 && fs[1].depth == win.depth {
			var tagged []field
			for _, f := range fs {
				if f.depth == win.depth && f.tagged {
					tagged = append(tagged, f)
				}
			}
			if len(tagged) != 1 {
				continue // ambiguous: encoding/json writes none
			}
			win = tagged[0]
		}
		out = append(out, win)
	}
	return out
}
