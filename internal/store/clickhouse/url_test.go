package clickhouse

import (
	"context"
	"strings"
	"testing"
)

func TestParseURL(t *testing.T) {
	for raw, want := range map[string]string{
		"clickhouse://db1:9000/prodex?cluster=two": "db1:9000 prodex two",
		"clickhouse://db1/prodex":                  "db1:9000 prodex ",
		"clickhouse://db1":                         "db1:9000  ",
	} {
		addr, o, err := ParseURL(raw)
		if got := addr + " " + o.Database + " " + o.Cluster; err != nil || got != want {
			t.Errorf("%s: %q, %v; want %q", raw, got, err, want)
		}
	}
	for raw, msg := range map[string]string{
		"postgres://db1/x":                  "want clickhouse://",
		"clickhouse:///x":                   "no host",
		"clickhouse://db1/x`y":              "database name",
		"clickhouse://db1/x?cluster=a;DROP": "semicolon",
		"clickhouse://db1/x?cluster=a%20b":  "cluster name",
		"clickhouse://db1/x?secure=true":    "unknown parameter",
	} {
		if _, _, err := ParseURL(raw); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%s: %v, want an error about %s", raw, err, msg)
		}
	}
	// Options given directly are checked too, before any connection.
	if _, err := Open(context.Background(), "127.0.0.1:1", Options{Database: "a`b"}); err == nil || !strings.Contains(err.Error(), "database name") {
		t.Errorf("Open with a bad database name: %v", err)
	}
	if _, err := Open(context.Background(), "127.0.0.1:1", Options{Cluster: "x y"}); err == nil || !strings.Contains(err.Error(), "cluster name") {
		t.Errorf("Open with a bad cluster name: %v", err)
	}
}
