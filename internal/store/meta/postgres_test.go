package meta

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/prodex/prodex/internal/store/metatest"
	"github.com/prodex/prodex/internal/testserver"
)

// TestPostgres runs every test against one server: starting one takes
// about a second, a fresh database for each case a few tens of ms.
func TestPostgres(t *testing.T) {
	server := testserver.Postgres(t)
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, server)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	n := 0
	// fresh returns the DSN of a new, empty database.
	fresh := func(t *testing.T) string {
		t.Helper()
		n++
		name := fmt.Sprintf("prodex_test_%d", n)
		if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
			t.Fatal(err)
		}
		return withDatabase(t, server, name)
	}
	t.Run("Conformance", func(t *testing.T) {
		metatest.Run(t, func(t *testing.T) metatest.Store {
			return openPostgres(t, fresh(t))
		})
	})
	t.Run("OpenTwiceAtOnce", func(t *testing.T) { testOpenTwiceAtOnce(t, fresh(t)) })
	t.Run("Environments", func(t *testing.T) { testEnvironments(t, fresh(t)) })
}

// testEnvironments: an environment's tables are its own, in a schema
// that Environments lists; opening one twice at once is fine.
func testEnvironments(t *testing.T, dsn string) {
	ctx := context.Background()
	root := openPostgres(t, dsn)
	var wg sync.WaitGroup
	envs := make([]*Store, 2)
	for i := range envs {
		wg.Go(func() {
			m, err := OpenPostgres(ctx, dsn, "staging-2")
			if err != nil {
				t.Error(err)
				return
			}
			t.Cleanup(func() { m.Close() })
			envs[i] = m
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	if err := envs[0].PutSLO(ctx, "only-staging", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	for what, m := range map[string]*Store{"root": root, "staging again": envs[1]} {
		slos, err := m.SLOs(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := slos["only-staging"]; ok != (what != "root") {
			t.Errorf("%s sees SLOs %v", what, slos)
		}
	}
	got, err := root.Environments(ctx)
	if err != nil || len(got) != 1 || got[0] != "staging-2" {
		t.Errorf("environments %v, %v; want [staging-2]", got, err)
	}
}

// withDatabase is dsn naming database name instead.
func withDatabase(t *testing.T, dsn, name string) string {
	t.Helper()
	if !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
		return dsn + " dbname=" + name // key=value form: the last one counts
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

func openPostgres(t *testing.T, dsn string) *Store {
	t.Helper()
	m, err := OpenPostgres(context.Background(), dsn, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// testOpenTwiceAtOnce: nodes starting together on an empty database all
// open it, the schema created once under the advisory lock, and see each
// other's writes.
func testOpenTwiceAtOnce(t *testing.T, dsn string) {
	const nodes = 4
	metas := make([]*Store, nodes)
	errs := make([]error, nodes)
	var wg sync.WaitGroup
	for i := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			metas[i], errs[i] = OpenPostgres(context.Background(), dsn, "")
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
		t.Cleanup(func() { metas[i].Close() })
	}
	ctx := context.Background()
	if err := metas[0].PutSLO(ctx, "checkout", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	slos, err := metas[nodes-1].SLOs(ctx)
	if err != nil || len(slos) != 1 {
		t.Errorf("another node sees %d SLOs, %v", len(slos), err)
	}
}
