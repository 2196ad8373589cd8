// The layout of the code, as tests: packages follow the data flow (ingest
// → store → query, slo, explain → api → server → cmd), each importing only
// packages of its own layer or below, and no file grows past what a reader
// takes in at once.
package internal_test

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/prodex/prodex/"

// layer places every package (by its path in the module) in the data
// flow. A new package must be placed here, which is the point: where it
// stands is decided, not drifted into.
var layer = map[string]int{
	// Value types and leaf services that import no layer above them.
	"internal/event": 0, "internal/schema": 0, "internal/problem": 0, "internal/duration": 0,
	"internal/manifest": 0, "internal/auth": 0, "internal/notify": 0, "internal/metrics": 0,
	"internal/ui": 0, "internal/note": 0, "internal/marker": 0, "internal/sli": 0, "internal/history": 0,

	"internal/ingest": 1, "internal/otlp": 1,

	"internal/store": 2, "internal/store/duckdb": 2, "internal/store/clickhouse": 2, "internal/store/meta": 2,

	"internal/query": 3, "internal/slo": 3, "internal/explain": 3, "internal/trace": 3,
	"internal/incident": 3, "internal/risk": 3, "internal/rules": 3, "internal/apply": 3,

	"internal/api": 4,

	// Writes the API's OpenAPI document and checks answers against it
	// (for the tests); it knows no Prodex package.
	"internal/api/openapi": 0,

	"internal/server": 5, "internal/client": 5, "internal/bench": 5, "internal/demo": 5,

	"cmd/prodex": 6,
}

// harness packages exist for tests (servers to test against, suites every
// store runs) and may import anything.
var harness = map[string]bool{"internal/testserver": true, "internal/store/metatest": true, "internal/store/storetest": true}

// eventStoreMay is all an event store may import: it holds events and
// SLI counts, and knows nothing of queries, explain, history, markers or
// keys.
var eventStoreMay = map[string]bool{"internal/event": true, "internal/schema": true, "internal/sli": true, "internal/problem": true, "internal/store": true}

// packages maps each package directory of the module (relative, with /)
// to the module packages its non-test files import.
func packages(t *testing.T) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	fset := token.NewFileSet()
	for _, top := range []string{".", "../cmd"} {
		err := filepath.WalkDir(top, func(path string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && (d.Name() == "testdata" || d.Name() == "node_modules") {
				return filepath.SkipDir
			}
			if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
			if err != nil {
				return err
			}
			dir := filepath.ToSlash(filepath.Dir(path))
			if top == "." {
				dir = "internal/" + strings.TrimPrefix(dir, "./")
			} else {
				dir = strings.TrimPrefix(dir, "../")
			}
			dir = strings.TrimSuffix(dir, "/.")
			if _, ok := out[dir]; !ok {
				out[dir] = nil
			}
			for _, imp := range f.Imports {
				p, _ := strconv.Unquote(imp.Path.Value)
				if strings.HasPrefix(p, module) {
					out[dir] = append(out[dir], strings.TrimPrefix(p, module))
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func TestPackagesImportOnlyTheirLayerOrBelow(t *testing.T) {
	pkgs := packages(t)
	if len(pkgs) < 20 {
		t.Fatalf("found only %d packages: %v", len(pkgs), pkgs)
	}
	var names []string
	for p := range pkgs {
		names = append(names, p)
	}
	sort.Strings(names)
	for _, p := range names {
		if harness[p] {
			continue
		}
		own, ok := layer[p]
		if !ok {
			t.Errorf("package %s has no place in the data flow: add it to layer", p)
			continue
		}
		for _, imp := range pkgs[p] {
			if harness[imp] {
				t.Errorf("%s imports the test harness %s", p, imp)
				continue
			}
			if l, ok := layer[imp]; ok && l > own {
				t.Errorf("%s (layer %d) imports %s, which stands above it (layer %d)", p, own, imp, l)
			}
		}
	}
	for p := range layer {
		if _, ok := pkgs[p]; !ok {
			t.Errorf("layer names %s, which is not a package (any more): remove it", p)
		}
	}
}

func TestEventStoresHoldEventsAndCountsOnly(t *testing.T) {
	pkgs := packages(t)
	for _, p := range []string{"internal/store/duckdb", "internal/store/clickhouse"} {
		if _, ok := pkgs[p]; !ok {
			t.Fatalf("no package %s", p)
		}
		for _, imp := range pkgs[p] {
			if !eventStoreMay[imp] {
				t.Errorf("event store %s imports %s", p, imp)
			}
		}
	}
}

// maxLines is the most lines a non-test Go file may have.
const maxLines = 600

func TestNoFileOverMaxLines(t *testing.T) {
	for _, top := range []string{".", "../cmd"} {
		err := filepath.WalkDir(top, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			if n := strings.Count(string(b), "\n"); n > maxLines {
				t.Errorf("%s has %d lines; split it along its seams (at most %d)", path, n, maxLines)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}
