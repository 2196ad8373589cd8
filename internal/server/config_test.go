package server

import (
	"reflect"
	"testing"
	"time"
)

// TestDefaults pins what prodex serve runs with when given no flags: the
// flags take their defaults from here, and a change would change them.
func TestDefaults(t *testing.T) {
	want := Config{
		Data: "data", Listen: "127.0.0.1:8080", MaxColumns: 2000, Retention: 60 * 24 * time.Hour, HistoryRetention: 90 * 24 * time.Hour,
		QueryTimeout: time.Minute, MaxQueued: 200000, EvalInterval: time.Second, OTLPHTTP: "127.0.0.1:4318", OTLPGRPC: "127.0.0.1:4317",
		CheckpointThreshold: "256MB", MinFreeDisk: "512MB", MaxInFlight: 64,
		SessionIdle: 12 * time.Hour, SessionLifetime: 7 * 24 * time.Hour,
		MaxRequestEvents: 50000, MaxRequestBytes: "64MiB", BodyTimeout: time.Minute, MinBodyRate: "64KiB",
	}
	got := Defaults()
	if !reflect.DeepEqual(got, want) { // funcs are equal when both nil
		t.Errorf("Defaults() = %+v\nwant %+v", got, want)
	}
	if err := got.check(); err != nil {
		t.Errorf("the defaults do not pass the checks: %v", err)
	}
	o, _ := got.guardOptions()
	if o.MinFreeDisk != 512_000_000 || o.MemoryCeiling != 0 || o.MaxInFlight != 64 || o.MaxInFlightPerEnv != 48 || o.MaxInFlightPerKey != 32 ||
		o.DecodeMemory != 1<<30 || o.Dir != "data" {
		t.Errorf("guard options of the defaults: %+v", o)
	}
	lim, pace, _ := got.requestLimits()
	if lim.MaxEvents != 50_000 || lim.MaxBodyBytes != 64<<20 || lim.MaxEventBytes != 1<<20 || pace.Timeout != time.Minute || pace.MinRate != 64<<10 {
		t.Errorf("request limits of the defaults: %+v %+v", lim, pace)
	}
	// With a memory ceiling, decoding may hold a quarter of it.
	got.MemoryCeiling = "1GB"
	if o, _ := got.guardOptions(); o.DecodeMemory != 250_000_000 {
		t.Errorf("decode memory at a 1GB ceiling: %d", o.DecodeMemory)
	}
	if got.externalURL() != "http://127.0.0.1:8080" || got.commitInterval() != 0 {
		t.Errorf("external URL %q, commit interval %v", got.externalURL(), got.commitInterval())
	}
}

// TestCheck: a bad flag is refused with the message prodex serve has
// always given, naming the flag.
func TestCheck(t *testing.T) {
	const ch, pg = "clickhouse://127.0.0.1:9000/prodex", "postgres://prodex@127.0.0.1:5432/prodex"
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string // "" for no error
	}{
		{"store not clickhouse", func(c *Config) { c.Store, c.Meta = "mysql://h/db", pg },
			`--store: want clickhouse://HOST:9000/DATABASE with --meta postgres://…, got "mysql://h/db"`},
		{"meta without store", func(c *Config) { c.Meta = pg },
			`--store: want clickhouse://HOST:9000/DATABASE with --meta postgres://…, got ""`},
		{"store without meta", func(c *Config) { c.Store = ch },
			`--meta: want postgres://USER@HOST:5432/DATABASE with --store clickhouse://…, got ""`},
		{"meta not postgres", func(c *Config) { c.Store, c.Meta = ch, "mysql://x" },
			`--meta: want postgres://USER@HOST:5432/DATABASE with --store clickhouse://…, got "mysql://x"`},
		{"postgresql scheme", func(c *Config) { c.Store, c.Meta = ch, "postgresql://u@h/db" }, ""},
		{"ceiling not a size", func(c *Config) { c.MemoryCeiling = "12XB" }, `--memory-ceiling: "12XB" is not a size like 512MB or 8GiB`},
		{"ceiling too small", func(c *Config) { c.MemoryCeiling = "100MB" }, "--memory-ceiling: 100MB is too small; Prodex needs at least 256MB"},
		{"ceiling", func(c *Config) { c.MemoryCeiling = "8GiB" }, ""},
		{"ceiling 0 is none", func(c *Config) { c.MemoryCeiling = "0" }, ""},
		{"free disk not a size", func(c *Config) { c.MinFreeDisk = "abc" }, `--min-free-disk: "abc" is not a size like 512MB or 8GiB`},
		{"free disk 0 is off", func(c *Config) { c.MinFreeDisk = "0" }, ""},
		// A node on the shared stores has no data disk to watch.
		{"free disk ignored when shared", func(c *Config) { c.Store, c.Meta, c.MinFreeDisk = ch, pg, "abc" }, ""},
		{"inflight", func(c *Config) { c.MaxInFlight = 0 }, "--max-inflight: must be at least 1"},
		{"session idle", func(c *Config) { c.SessionIdle = 0 }, "--session-idle: must be positive, got 0s"},
		{"session lifetime", func(c *Config) { c.SessionLifetime = -time.Hour }, "--session-lifetime: must be positive, got -1h0m0s"},
		{"inflight per key", func(c *Config) { c.MaxInFlightPerKey = 65 }, "--max-inflight-per-key: must be between 1 and --max-inflight (64), or 0 for its default share"},
		{"inflight per env", func(c *Config) { c.MaxInFlightPerEnv = -1 }, "--max-inflight-per-env: must be between 1 and --max-inflight (64), or 0 for its default share"},
		{"decode memory", func(c *Config) { c.DecodeMemory = "1MB" }, `--decode-memory: "1MB" is not a size of 16MiB or more, like 256MB or 1GiB`},
		{"request events", func(c *Config) { c.MaxRequestEvents = 0 }, "--max-request-events: must be at least 1"},
		{"request bytes", func(c *Config) { c.MaxRequestBytes = "2GiB" }, `--max-request-bytes: "2GiB" is not a size from 1MiB to 1GiB, like 64MiB`},
		{"body timeout", func(c *Config) { c.BodyTimeout = time.Millisecond }, "--body-timeout: 1ms is too short; give a body a second at least"},
		{"body rate", func(c *Config) { c.MinBodyRate = "fast" }, `--min-body-rate: "fast" is not a rate in bytes a second, like 64KiB`},
		{"otlp dataset", func(c *Config) { c.OTLPDataset = "BAD/NAME" },
			`--otlp-dataset: dataset name "BAD/NAME" may only contain letters, digits, '-', '_' and '.'`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Defaults()
			tc.edit(&c)
			err := c.check()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.want != "" && (err == nil || err.Error() != tc.want):
				t.Errorf("got %v\nwant %s", err, tc.want)
			}
		})
	}
}

// TestSharedDefaults: a node on ClickHouse commits at most every 200ms
// unless told otherwise, and watches no data disk.
func TestSharedDefaults(t *testing.T) {
	c := Defaults()
	c.Store, c.Meta = "clickhouse://h:9000/db", "postgres://u@h/db"
	if got := c.commitInterval(); got != 200*time.Millisecond {
		t.Errorf("commit interval %v, want 200ms", got)
	}
	c.CommitInterval, c.CommitIntervalSet = 0, true
	if got := c.commitInterval(); got != 0 {
		t.Errorf("commit interval asked 0, got %v", got)
	}
	if o, err := c.guardOptions(); err != nil || o.MinFreeDisk != 0 {
		t.Errorf("guard options %+v, %v", o, err)
	}
	c.ExternalURL = "https://prodex.example"
	if c.externalURL() != "https://prodex.example" {
		t.Errorf("external URL %q", c.externalURL())
	}
}

// TestMemorySplit: the Go heap and DuckDB each get 40 % of the ceiling;
// an explicit --memory-limit leaves DuckDB's alone.
func TestMemorySplit(t *testing.T) {
	c := Defaults()
	if g, d, l := c.memorySplit(0); g != 0 || d != 0 || l != "" {
		t.Errorf("no ceiling: %d %d %q", g, d, l)
	}
	if g, d, l := c.memorySplit(8e9); g != 3.2e9 || d != 3.2e9 || l != "3200MB" {
		t.Errorf("8GB: %d %d %q", g, d, l)
	}
	c.MemoryLimit = "2GB"
	if g, d, l := c.memorySplit(8e9); g != 3.2e9 || d != 0 || l != "2GB" {
		t.Errorf("8GB with a limit: %d %d %q", g, d, l)
	}
}
