package testserver

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// The servers are gone when the test that started them ends.
func TestStoppedInCleanup(t *testing.T) {
	var chAddr, pgAddr, zkAddr string
	t.Run("start", func(t *testing.T) {
		c := ClickHouse(t, 1)
		chAddr = c.Addrs[0]
		zkAddr = ZooKeeper(t)
		cfg, err := pgx.ParseConfig(Postgres(t))
		if err != nil {
			t.Fatal(err)
		}
		pgAddr = fmt.Sprintf("%s:%d", cfg.Host, cfg.Port)
	})
	if chAddr == "" || pgAddr == "" || zkAddr == "" {
		t.Fatal("servers did not start")
	}
	for _, addr := range []string{chAddr, pgAddr, zkAddr} {
		if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			conn.Close()
			t.Errorf("%s still accepts connections after the test ended", addr)
		}
	}
}

func TestSkipWithoutServers(t *testing.T) {
	for name, start := range map[string]func(testing.TB){
		"clickhouse":            func(t testing.TB) { ClickHouse(t, 1) },
		"postgres":              func(t testing.TB) { Postgres(t) },
		"zookeeper":             func(t testing.TB) { ZooKeeper(t) },
		"clickhouse-replicated": func(t testing.TB) { ClickHouseReplicated(t, 1, 2) },
	} {
		t.Run(name, func(t *testing.T) {
			t.Setenv(NoServersEnv, "1")
			start(t)
			t.Errorf("%s=1 did not skip", NoServersEnv)
		})
	}
}
