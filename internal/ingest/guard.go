package ingest

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// ErrMemory means the process is at its memory ceiling (HTTP 503): ingest
// waits for memory to come back rather than being killed for it.
var ErrMemory = errors.New("the server is at its memory ceiling, retry later")

// ErrDiskFull means the data directory's disk is nearly full (HTTP 507):
// refusing before it is full keeps a commit from failing half-way.
var ErrDiskFull = errors.New("the data disk is nearly full; events are refused until space is freed")

// ErrTooManyRequests means too many request bodies are being read at once
// (HTTP 429).
var ErrTooManyRequests = errors.New("too many ingest requests in flight, retry later")

// Refusal says how an HTTP client should be told of a Submit or Admit
// error: its status and the seconds after which to retry.
func Refusal(err error) (status, retryAfter int) {
	switch {
	case errors.Is(err, ErrBusy), errors.Is(err, ErrTooManyRequests):
		return http.StatusTooManyRequests, 1
	case errors.Is(err, ErrMemory):
		return http.StatusServiceUnavailable, 2
	case errors.Is(err, ErrDecodeMemory):
		return http.StatusServiceUnavailable, 1
	case errors.Is(err, ErrDiskFull), errors.Is(err, ErrWriteFailed):
		return http.StatusInsufficientStorage, 30
	default: // shutting down, or the commit failed
		return http.StatusServiceUnavailable, 5
	}
}

// GuardOptions bound what ingest may use of the machine. Zero values turn
// a bound off.
type GuardOptions struct {
	// MemoryCeiling is the resident memory (bytes) the process should stay
	// under; ingest is refused from ShedAt of it.
	MemoryCeiling int64
	// MinFreeDisk is the free space (bytes) Dir's disk must keep.
	MinFreeDisk int64
	Dir         string
	// MaxInFlight caps the ingest requests being read and decoded at once;
	// MaxInFlightPerEnv and MaxInFlightPerKey (0: MaxInFlight) cap those of
	// one environment and of one API key, so that one tenant cannot hold
	// every slot.
	MaxInFlight       int64
	MaxInFlightPerEnv int64
	MaxInFlightPerKey int64
	// DecodeMemory caps the memory the requests being decoded hold
	// together, counted as it grows (see Ticket.Grow); 0 counts without
	// a cap.
	DecodeMemory int64
	// Every is how often memory and disk are sampled (default 100 ms).
	Every time.Duration
	// OnMemoryHigh, when set, is called at every sample that finds the
	// process at CancelAt of MemoryCeiling or above, before ingest is
	// refused at ShedAt: the server gives memory back (by cancelling a
	// query).
	OnMemoryHigh func()
	// OnDisk, when set, is told when the disk goes below MinFreeDisk (low)
	// and when it comes back above it.
	OnDisk func(low bool)

	// rss and free read the process's resident bytes and the disk's free
	// bytes; tests replace them.
	rss  func() (int64, error)
	free func(dir string) (int64, error)
}

// ShedAt is the share of the memory ceiling from which ingest is refused:
// the margin absorbs what arrives between two samples.
const ShedAt = 0.9

// CancelAt is the share of the memory ceiling from which OnMemoryHigh is
// called. It is below ShedAt so that queries give memory back before
// ingest is refused: a query's memory comes back when it ends, and a
// refused event is lost unless its sender retries. With ingest refused
// from 85 %, as queries were cancelled only from 90 %, the soak's
// legitimate ingest kept 35 % of its rate under a heavy query.
const CancelAt = 0.85

// HeavyAt is the share of the memory ceiling from which a heavy query
// waits to start (see Roomy): started higher, it would only be cancelled.
const HeavyAt = 0.7

// Guard admits ingest only while memory and disk allow it. Its state is
// sampled in the background, so Admit costs two atomic loads.
type Guard struct {
	opts     GuardOptions
	memOver  atomic.Bool // at ShedAt
	high     bool        // at CancelAt at the last sample (sample's goroutine only)
	diskOver atomic.Bool
	slots    slots
	decoding atomic.Int64 // bytes the tickets hold
	rss      atomic.Int64
	free     atomic.Int64
	sampled  atomic.Bool
	lastErr  atomic.Pointer[string]
}

// NewGuard makes a guard and takes its first sample, so that a server
// started on a full disk refuses from its first request.
func NewGuard(o GuardOptions) *Guard {
	if o.Every <= 0 {
		o.Every = 100 * time.Millisecond
	}
	if o.rss == nil {
		o.rss = residentBytes
	}
	if o.free == nil {
		o.free = freeBytes
	}
	if o.MaxInFlightPerEnv <= 0 || o.MaxInFlightPerEnv > o.MaxInFlight {
		o.MaxInFlightPerEnv = o.MaxInFlight
	}
	if o.MaxInFlightPerKey <= 0 || o.MaxInFlightPerKey > o.MaxInFlightPerEnv {
		o.MaxInFlightPerKey = o.MaxInFlightPerEnv
	}
	g := &Guard{opts: o}
	g.sample()
	return g
}

// Run samples memory and disk until ctx ends.
func (g *Guard) Run(ctx context.Context) {
	t := time.NewTicker(g.opts.Every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			g.sample()
		}
	}
}

func (g *Guard) sample() {
	{
		n, err := g.opts.rss()
		if err != nil {
			g.failed("reading memory: " + err.Error())
		} else {
			g.rss.Store(n)
			if g.at(CancelAt) && !g.high {
				// Give back what the collector and the C heap can
				// before cancelling or shedding: freed memory not yet
				// returned is often all that is over. Once per rise:
				// repeated every second while memory stayed high, the
				// forced collections cost ingest CPU and gave back
				// little (20 MB of 500 MB held after queries).
				debug.FreeOSMemory()
				releaseCHeap()
				if n2, err := g.opts.rss(); err == nil {
					g.rss.Store(n2)
				}
			}
			g.high = g.at(CancelAt)
			g.memOver.Store(g.at(ShedAt))
			if g.high && g.opts.OnMemoryHigh != nil {
				g.opts.OnMemoryHigh()
			}
		}
	}
	if g.opts.Dir != "" {
		n, err := g.opts.free(g.opts.Dir)
		if err != nil {
			g.failed("reading free disk space: " + err.Error())
		} else {
			g.free.Store(n)
			low := g.opts.MinFreeDisk > 0 && n < g.opts.MinFreeDisk
			if g.diskOver.Swap(low) != low && g.opts.OnDisk != nil {
				g.opts.OnDisk(low)
			}
		}
	}
	g.sampled.Store(true)
}

func (g *Guard) failed(msg string) { g.lastErr.Store(&msg) }

// Roomy reports whether the last sample found the process below HeavyAt
// of its memory ceiling (always, without one): whether a heavy query may
// start.
func (g *Guard) Roomy() bool { return g == nil || !g.at(HeavyAt) }

// at reports whether the last sample found the process at share of its
// memory ceiling or above (never, without one).
func (g *Guard) at(share float64) bool {
	return g.opts.MemoryCeiling > 0 && float64(g.rss.Load()) >= share*float64(g.opts.MemoryCeiling)
}

// Calm reports whether the last sample found the process below CancelAt
// of its memory ceiling (always, without one): whether a query that will
// not be cancelled may start.
func (g *Guard) Calm() bool { return g == nil || !g.at(CancelAt) }

// check is Admit for work already read: it reserves nothing.
func (g *Guard) check() error {
	if g == nil {
		return nil
	}
	if g.diskOver.Load() {
		return ErrDiskFull
	}
	if g.memOver.Load() {
		return ErrMemory
	}
	return nil
}

// GuardState is a snapshot for /readyz and /metrics.
type GuardState struct {
	ResidentBytes int64  `json:"resident_bytes,omitempty"`
	MemoryCeiling int64  `json:"memory_ceiling_bytes,omitempty"`
	FreeDiskBytes int64  `json:"free_disk_bytes,omitempty"`
	MinFreeDisk   int64  `json:"min_free_disk_bytes,omitempty"`
	InFlight      int64  `json:"in_flight_requests"`
	DecodingBytes int64  `json:"decoding_bytes"`
	MemoryOver    bool   `json:"memory_over"`
	DiskOver      bool   `json:"disk_over"`
	SampleError   string `json:"sample_error,omitempty"`
}

// State reports the last sample.
func (g *Guard) State() GuardState {
	if g == nil {
		return GuardState{}
	}
	s := GuardState{ResidentBytes: g.rss.Load(), MemoryCeiling: g.opts.MemoryCeiling, FreeDiskBytes: g.free.Load(),
		MinFreeDisk: g.opts.MinFreeDisk, InFlight: g.slots.inFlight(), DecodingBytes: g.decoding.Load(), MemoryOver: g.memOver.Load(), DiskOver: g.diskOver.Load()}
	if e := g.lastErr.Load(); e != nil {
		s.SampleError = *e
	}
	return s
}

// Sample reports the last sample's figures (for metrics).
func (g *Guard) Sample() (resident, ceiling, freeDisk, minFreeDisk, inFlight int64) {
	return g.rss.Load(), g.opts.MemoryCeiling, g.free.Load(), g.opts.MinFreeDisk, g.slots.inFlight()
}

// residentBytes reads the process's resident set size. On systems without
// /proc it falls back to the memory the Go runtime holds.
func residentBytes() (int64, error) {
	n, err := ResidentOf(0)
	var unreadable *fs.PathError
	if errors.As(err, &unreadable) {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return int64(ms.Sys - ms.HeapReleased), nil
	}
	return n, err
}

// ResidentOf reads a process's resident memory from /proc (pid 0: this
// process).
func ResidentOf(pid int) (int64, error) {
	path := "/proc/self/statm"
	if pid != 0 {
		path = "/proc/" + strconv.Itoa(pid) + "/statm"
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0, fmt.Errorf("unexpected %s: %q", path, b)
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return 0, err
	}
	return pages * int64(os.Getpagesize()), nil
}

// freeBytes is the space an unprivileged writer may still use on dir's disk.
func freeBytes(dir string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}
