package api

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// pacedServer echoes the length of each body it reads at s's pace.
func pacedServer(t *testing.T, pace Pace) *httptest.Server {
	s := &Server{Pace: pace}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.paced(w, r)
		b, err := io.ReadAll(r.Body)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		fmt.Fprint(w, len(b))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// send writes a request of a body of n bytes on c, a chunk every gap,
// and reads the answer.
func send(t *testing.T, c net.Conn, r *bufio.Reader, n, chunk int, gap time.Duration) (int, string) {
	t.Helper()
	fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", n)
	for sent := 0; sent < n; sent += chunk {
		c.Write([]byte(strings.Repeat("x", min(chunk, n-sent))))
		time.Sleep(gap)
	}
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestSlowBodyIs408: a body that stops arriving is answered 408 naming the
// pace once its grace has passed; one that keeps the least rate is read
// whole, and its connection then waits for the next request without the
// deadline of this one.
func TestSlowBodyIs408(t *testing.T) {
	srv := pacedServer(t, Pace{Timeout: 10 * time.Second, MinRate: 1000, Grace: 300 * time.Millisecond})
	dial := func() (net.Conn, *bufio.Reader) {
		c, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetDeadline(time.Now().Add(30 * time.Second))
		return c, bufio.NewReader(c)
	}

	// A body promised and never sent.
	c, r := dial()
	began := time.Now()
	fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n[")
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(b), "arrived too slowly") || !strings.Contains(string(b), "1000 B/s") {
		t.Errorf("a body never sent: %d %s", resp.StatusCode, b)
	}
	if took := time.Since(began); took > 5*time.Second {
		t.Errorf("answered after %v, with a 300ms grace", took)
	}

	// 2,000 bytes a second, over the least rate of 1,000: read whole.
	c, r = dial()
	if code, body := send(t, c, r, 2400, 200, 100*time.Millisecond); code != 200 || body != "2400" {
		t.Errorf("a body at twice the least rate: %d %s", code, body)
	}
	// The connection idles past the grace, then takes another request.
	time.Sleep(time.Second)
	if code, body := send(t, c, r, 10, 10, 0); code != 200 || body != "10" {
		t.Errorf("the next request on the connection: %d %s", code, body)
	}

	// 200 bytes a second: cut off once the grace is spent.
	c, r = dial()
	if code, body := send(t, c, r, 400, 20, 100*time.Millisecond); code != http.StatusRequestTimeout {
		t.Errorf("a body at a fifth of the least rate: %d %s", code, body)
	}
}

// TestPaceDefaults pins the pace of an ingest body.
func TestPaceDefaults(t *testing.T) {
	if p := (Pace{}).norm(); p != (Pace{Timeout: time.Minute, MinRate: 64 << 10, Grace: 5 * time.Second}) {
		t.Errorf("default pace %+v", p)
	}
	if p := (Pace{Timeout: 2 * time.Second}).norm(); p.Grace != 2*time.Second {
		t.Errorf("the grace is at most the timeout: %+v", p)
	}
}
