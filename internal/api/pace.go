package api

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/dustin/go-humanize"

	"github.com/prodex/prodex/internal/event"
)

// Pace is how fast an ingest body must arrive. A request holds one of the
// slots of the requests in flight while its body is read: a sender that
// opens a request and then sends nothing must lose its slot, with a 408,
// rather than keep it from others.
type Pace struct {
	// Timeout is the longest a body may take, from when its request's
	// headers were read (default 60 s).
	Timeout time.Duration
	// MinRate is the least rate (bytes a second, as sent) a body must keep,
	// averaged since its headers were read, once Grace has passed
	// (default 64 KiB/s).
	MinRate int64
	// Grace is the time a body has before MinRate counts (default 5 s, at
	// most Timeout).
	Grace time.Duration
}

// Default pace of ingest bodies.
const (
	DefaultBodyTimeout = 60 * time.Second
	DefaultMinBodyRate = 64 << 10
	DefaultBodyGrace   = 5 * time.Second
)

func (p Pace) norm() Pace {
	if p.Timeout <= 0 {
		p.Timeout = DefaultBodyTimeout
	}
	if p.MinRate <= 0 {
		p.MinRate = DefaultMinBodyRate
	}
	if p.Grace <= 0 {
		p.Grace = DefaultBodyGrace
	}
	p.Grace = min(p.Grace, p.Timeout)
	return p
}

// paced makes r's body keep s.Pace: its connection's read deadline is
// moved on as bytes arrive, and a read that meets it fails with a 408
// (an *event.RequestError) naming the pace. Where the connection has no
// deadlines (a test's recorder), the body is read as it is.
func (s *Server) paced(w http.ResponseWriter, r *http.Request) {
	p := &pacedBody{body: r.Body, rc: http.NewResponseController(w), pace: s.Pace.norm(), start: time.Now()}
	p.set = p.deadline()
	if p.rc.SetReadDeadline(p.set) != nil {
		return
	}
	r.Body = p
}

// pacedBody is a request body read against a deadline that moves on with
// every byte: Grace + bytes/MinRate after the start, at most Timeout.
type pacedBody struct {
	body  io.ReadCloser
	rc    *http.ResponseController
	pace  Pace
	start time.Time
	n     int64     // bytes read
	set   time.Time // the deadline last set
	err   error
}

// deadline is when the body must have gone on past the bytes read.
func (p *pacedBody) deadline() time.Time {
	d := p.pace.Grace + time.Duration(float64(p.n)/float64(p.pace.MinRate)*float64(time.Second))
	return p.start.Add(min(d, p.pace.Timeout))
}

func (p *pacedBody) Read(b []byte) (int, error) {
	if p.err != nil {
		return 0, p.err
	}
	n, err := p.body.Read(b)
	p.n += int64(n)
	var ne net.Error
	switch {
	case err == io.EOF:
		// Read whole: the connection waits for the next request without
		// a deadline of this one's.
		p.rc.SetReadDeadline(time.Time{})
	case errors.As(err, &ne) && ne.Timeout():
		p.err = &event.RequestError{Status: http.StatusRequestTimeout, Msg: fmt.Sprintf(
			"the request body arrived too slowly: %d bytes in %s; a body must arrive within %s, at %s/s at least after its first %s",
			p.n, time.Since(p.start).Round(time.Millisecond), p.pace.Timeout, humanize.IBytes(uint64(p.pace.MinRate)), p.pace.Grace)}
		return n, p.err
	case n > 0:
		// Moving the deadline costs a timer update: do it when it has
		// moved on by 100 ms or more.
		if next := p.deadline(); next.Sub(p.set) >= 100*time.Millisecond {
			p.set = next
			p.rc.SetReadDeadline(next)
		}
	}
	return n, err
}

func (p *pacedBody) Close() error { return p.body.Close() }
