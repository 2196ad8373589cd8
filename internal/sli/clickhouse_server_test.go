package sli_test

import (
	"database/sql"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/prodex/prodex/internal/testserver"
)

// startClickHouse starts a ClickHouse server of its own (Debian's 18.16
// in CI) and returns a client of it; the server stops when the test ends.
// testserver gives it a fresh temp directory, free loopback ports and a
// <yandex> config of its own, so that it never meets another session's
// server.
func startClickHouse(t *testing.T) *sql.DB {
	t.Helper()
	cl := testserver.ClickHouse(t, 1)
	db := clickhouse.OpenDB(&clickhouse.Options{Addr: cl.Addrs, Protocol: clickhouse.Native})
	t.Cleanup(func() { db.Close() })
	return db
}
