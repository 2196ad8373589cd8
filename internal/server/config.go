// Package server assembles a Prodex server from its parts: the stores
// (embedded DuckDB, or ClickHouse and PostgreSQL shared by several nodes),
// one set of running parts per environment (writer, alert rules, API),
// the ingest guard, the listeners and the housekeeping loops. prodex serve
// fills a Config from its flags, calls New and then Run.
package server

import (
	"fmt"
	"io"
	"log/slog"
	"math"
	"strings"
	"time"

	"github.com/dustin/go-humanize"

	"github.com/prodex/prodex/internal/api"
	"github.com/prodex/prodex/internal/auth"
	"github.com/prodex/prodex/internal/event"
	"github.com/prodex/prodex/internal/ingest"
	"github.com/prodex/prodex/internal/store"
)

// Config is how a server runs. Each field but the last few is one flag of
// prodex serve, named in its comment; error messages name the flag too,
// since that is where a person fixes them.
type Config struct {
	Data                string        // --data: data directory of the embedded store
	Listen              string        // --listen: address of the API
	MaxColumns          int           // --max-columns
	Retention           time.Duration // --retention: default retention of new datasets
	HistoryRetention    time.Duration // --history-retention: how long query runs stay
	QueryTimeout        time.Duration // --query-timeout
	MaxQueued           int64         // --max-queued: events waiting for a commit before 429
	ExternalURL         string        // --external-url: default http://LISTEN
	EvalInterval        time.Duration // --eval-interval: of the SLO alert rules
	DebugListen         string        // --debug-listen: pprof, off when empty
	OTLPHTTP            string        // --otlp-http: empty is off
	OTLPGRPC            string        // --otlp-grpc: empty is off
	OTLPDataset         string        // --otlp-dataset: one dataset for all OTLP data
	KeyHeader           string        // --key-header: another header an API key may come in
	Threads             int           // --threads: DuckDB worker threads
	CheckpointThreshold string        // --checkpoint-threshold: DuckDB WAL size
	MemoryLimit         string        // --memory-limit: DuckDB's, per environment
	MemoryCeiling       string        // --memory-ceiling: resident memory to stay under
	MinFreeDisk         string        // --min-free-disk: "0" is off
	MaxInFlight         int64         // --max-inflight: ingest requests decoded at once
	MaxInFlightPerEnv   int64         // --max-inflight-per-env: 0 is three quarters of MaxInFlight
	MaxInFlightPerKey   int64         // --max-inflight-per-key: 0 is half of MaxInFlight
	DecodeMemory        string        // --decode-memory: "" is a quarter of the ceiling, else 1GiB
	MaxRequestEvents    int           // --max-request-events: events in one ingest request
	MaxRequestBytes     string        // --max-request-bytes: one ingest body, decompressed
	BodyTimeout         time.Duration // --body-timeout: longest an ingest body may take to arrive
	MinBodyRate         string        // --min-body-rate: bytes a second an ingest body must keep
	Store               string        // --store: clickhouse://… shared by several nodes
	Meta                string        // --meta: postgres://… shared by several nodes
	CommitInterval      time.Duration // --commit-interval
	SessionIdle         time.Duration // --session-idle: a web UI session unused this long ends
	SessionLifetime     time.Duration // --session-lifetime: a web UI session ends this long after sign-in
	// CommitIntervalSet says CommitInterval was given: when it was not,
	// nodes on ClickHouse commit at most every 200ms (the embedded store
	// at once).
	CommitIntervalSet bool

	// Log receives the server's log (default: JSON on standard error).
	Log *slog.Logger
	// Stderr is where the bootstrap admin key is printed (default: nowhere).
	Stderr io.Writer
	// OnDrained is called during shutdown once the listeners stopped and
	// before the environments close (prodex serve restores the default
	// signal handling there, so that a second signal ends a close that
	// hangs).
	OnDrained func()
}

// Defaults is the configuration prodex serve runs with when given no flags.
func Defaults() Config {
	return Config{
		Data:                "data",
		Listen:              "127.0.0.1:8080",
		MaxColumns:          store.DefaultMaxColumns,
		Retention:           60 * 24 * time.Hour,
		HistoryRetention:    90 * 24 * time.Hour,
		QueryTimeout:        60 * time.Second,
		MaxQueued:           200000,
		EvalInterval:        time.Second,
		OTLPHTTP:            "127.0.0.1:4318",
		OTLPGRPC:            "127.0.0.1:4317",
		CheckpointThreshold: "256MB",
		MinFreeDisk:         "512MB",
		MaxInFlight:         64,
		SessionIdle:         auth.DefaultSessionIdle,
		SessionLifetime:     auth.DefaultSessionLifetime,
		MaxRequestEvents:    event.DefaultMaxEvents,
		MaxRequestBytes:     "64MiB",
		BodyTimeout:         api.DefaultBodyTimeout,
		MinBodyRate:         "64KiB",
	}
}

// defaultDecodeMemory is the memory requests being decoded may hold
// together when there is no memory ceiling to take a quarter of.
const defaultDecodeMemory = 1 << 30

// sharedCommitInterval is the least time between two commits on
// ClickHouse unless --commit-interval says otherwise: its inserts are
// dearer than DuckDB's, and a request waits for its commit.
const sharedCommitInterval = 200 * time.Millisecond

// shared says whether the node keeps its data in the stores several nodes
// share rather than in the data directory.
func (c Config) shared() bool { return c.Store != "" || c.Meta != "" }

// check validates the flags before anything is opened, with the messages
// prodex serve has always given.
func (c Config) check() error {
	if c.shared() {
		switch {
		case !strings.HasPrefix(c.Store, "clickhouse://"):
			return fmt.Errorf("--store: want clickhouse://HOST:9000/DATABASE with --meta postgres://…, got %q", c.Store)
		case !strings.HasPrefix(c.Meta, "postgres://") && !strings.HasPrefix(c.Meta, "postgresql://"):
			return fmt.Errorf("--meta: want postgres://USER@HOST:5432/DATABASE with --store clickhouse://…, got %q", c.Meta)
		}
	}
	if _, err := c.guardOptions(); err != nil {
		return err
	}
	if c.SessionIdle <= 0 {
		return fmt.Errorf("--session-idle: must be positive, got %s", c.SessionIdle)
	}
	if c.SessionLifetime <= 0 {
		return fmt.Errorf("--session-lifetime: must be positive, got %s", c.SessionLifetime)
	}
	if _, _, err := c.requestLimits(); err != nil {
		return err
	}
	if err := store.CheckRetention(c.Retention); err != nil {
		return fmt.Errorf("--retention: %w", err)
	}
	if c.OTLPDataset != "" {
		if _, err := event.NormalizeDataset(c.OTLPDataset); err != nil {
			return fmt.Errorf("--otlp-dataset: %w", err)
		}
	}
	return nil
}

// guardOptions parses the flags that bound ingest. A node on the shared
// stores keeps no data: it has no data disk to watch.
func (c Config) guardOptions() (ingest.GuardOptions, error) {
	o := ingest.GuardOptions{Dir: c.Data, MaxInFlight: c.MaxInFlight}
	minFree := c.MinFreeDisk
	if c.shared() {
		minFree = "0"
	}
	for _, f := range []struct {
		flag, v string
		dst     *int64
	}{{"--memory-ceiling", c.MemoryCeiling, &o.MemoryCeiling}, {"--min-free-disk", minFree, &o.MinFreeDisk}} {
		if f.v == "" || f.v == "0" {
			continue
		}
		n, err := humanize.ParseBytes(f.v)
		if err != nil || n > math.MaxInt64 {
			return o, fmt.Errorf("%s: %q is not a size like 512MB or 8GiB", f.flag, f.v)
		}
		*f.dst = int64(n)
	}
	if o.MemoryCeiling > 0 && o.MemoryCeiling < 256<<20 {
		return o, fmt.Errorf("--memory-ceiling: %s is too small; Prodex needs at least 256MB", c.MemoryCeiling)
	}
	if c.MaxInFlight < 1 {
		return o, fmt.Errorf("--max-inflight: must be at least 1")
	}
	// One environment, and one key, may hold only a share of the slots,
	// so that a tenant whose requests hang leaves the others theirs.
	o.MaxInFlightPerEnv = max(1, c.MaxInFlight*3/4)
	o.MaxInFlightPerKey = max(1, c.MaxInFlight/2)
	for _, f := range []struct {
		flag string
		v    int64
		dst  *int64
	}{{"--max-inflight-per-env", c.MaxInFlightPerEnv, &o.MaxInFlightPerEnv}, {"--max-inflight-per-key", c.MaxInFlightPerKey, &o.MaxInFlightPerKey}} {
		switch {
		case f.v < 0 || f.v > c.MaxInFlight:
			return o, fmt.Errorf("%s: must be between 1 and --max-inflight (%d), or 0 for its default share", f.flag, c.MaxInFlight)
		case f.v > 0:
			*f.dst = f.v
		}
	}
	o.DecodeMemory = defaultDecodeMemory
	if o.MemoryCeiling > 0 {
		o.DecodeMemory = o.MemoryCeiling / 4
	}
	if c.DecodeMemory != "" {
		n, err := humanize.ParseBytes(c.DecodeMemory)
		if err != nil || n < 16<<20 || n > math.MaxInt64 {
			return o, fmt.Errorf("--decode-memory: %q is not a size of 16MiB or more, like 256MB or 1GiB", c.DecodeMemory)
		}
		o.DecodeMemory = int64(n)
	}
	return o, nil
}

// requestLimits parses the flags that bound one ingest request: its
// events and decompressed size, and the pace its body must keep.
func (c Config) requestLimits() (event.Limits, api.Pace, error) {
	lim := event.DefaultLimits()
	pace := api.Pace{Timeout: c.BodyTimeout}
	if c.MaxRequestEvents < 1 {
		return lim, pace, fmt.Errorf("--max-request-events: must be at least 1")
	}
	lim.MaxEvents = c.MaxRequestEvents
	n, err := humanize.ParseBytes(c.MaxRequestBytes)
	if err != nil || n < 1<<20 || n > 1<<30 {
		return lim, pace, fmt.Errorf("--max-request-bytes: %q is not a size from 1MiB to 1GiB, like 64MiB", c.MaxRequestBytes)
	}
	lim.MaxBodyBytes = int64(n)
	if c.BodyTimeout < time.Second {
		return lim, pace, fmt.Errorf("--body-timeout: %v is too short; give a body a second at least", c.BodyTimeout)
	}
	rate, err := humanize.ParseBytes(c.MinBodyRate)
	if err != nil || rate < 1 || rate > math.MaxInt64 {
		return lim, pace, fmt.Errorf("--min-body-rate: %q is not a rate in bytes a second, like 64KiB", c.MinBodyRate)
	}
	pace.MinRate = int64(rate)
	return lim, pace, nil
}

// commitInterval is the least time between two ingest commits.
func (c Config) commitInterval() time.Duration {
	if c.shared() && !c.CommitIntervalSet {
		return sharedCommitInterval
	}
	return c.CommitInterval
}

// externalURL is the URL people reach the server at, for links in
// notifications.
func (c Config) externalURL() string {
	if c.ExternalURL == "" {
		return "http://" + c.Listen
	}
	return c.ExternalURL
}

// memorySplit divides the memory ceiling: the Go heap and DuckDB's buffers
// each get 40 %, and the guard sheds ingest at 90 % of it. goLimit is the
// Go runtime's soft limit (0: leave it); dbShare, when set, is DuckDB's
// part, which the environments split as they start, and memoryLimit is
// the limit each DuckDB opens with.
func (c Config) memorySplit(ceiling int64) (goLimit, dbShare int64, memoryLimit string) {
	memoryLimit = c.MemoryLimit
	if ceiling <= 0 {
		return 0, 0, memoryLimit
	}
	goLimit = ceiling * 4 / 10
	if memoryLimit == "" {
		dbShare = ceiling * 4 / 10
		memoryLimit = fmt.Sprintf("%dMB", dbShare/1e6)
	}
	return goLimit, dbShare, memoryLimit
}
