package server

import (
	"context"
	"testing"
)

// TestFailedStartReopens: a start that fails at its listener closes its
// stores only once the environments' loops have ended, so the store opens
// again in the same process. (DuckDB keeps a database while any query on
// it runs, and a later open of the same file waits for it; a housekeeping
// sweep still running at close left it waiting for ever, about once in a
// few hundred starts, so this guard catches a regression only sometimes.)
func TestFailedStartReopens(t *testing.T) {
	s, err := New(testConfig(t.TempDir(), nil))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	for range 30 {
		dir := t.TempDir()
		c := testConfig(dir, nil)
		c.Listen = s.Addr().String()
		if _, err := New(c); err == nil {
			t.Fatal("a second server listened on the first one's address")
		}
		again, err := New(testConfig(dir, nil))
		if err != nil {
			t.Fatal(err)
		}
		again.Shutdown(context.Background())
	}
}
