package notify

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestSelfGuardControl(t *testing.T) {
	own := func(s string) *net.TCPAddr { a, _ := net.ResolveTCPAddr("tcp", s); return a }
	lan := net.ParseIP("10.1.2.3")
	g := selfGuard{own: []*net.TCPAddr{own("127.0.0.1:8080"), own("0.0.0.0:4318"), own("[::]:9090")},
		local: func(ip net.IP) bool { return ip.Equal(lan) }}
	for _, c := range []struct {
		addr    string
		refused bool
	}{
		{"127.0.0.1:8080", true},
		{"127.0.0.1:8081", false},
		{"127.0.0.2:8080", false}, // the listener is on 127.0.0.1 only
		{"127.0.0.5:4318", true},  // 0.0.0.0 listens on every loopback address
		{"10.1.2.3:4318", true},   // and on the machine's own addresses
		{"10.9.9.9:4318", false},  // another machine
		{"[::1]:9090", true},
		{"10.1.2.3:9090", true},
		{"93.184.216.34:443", false},
	} {
		err := g.control("tcp", c.addr, nil)
		if refused := errors.Is(err, ErrSelf); refused != c.refused {
			t.Errorf("%s: refused %v (%v), want %v", c.addr, refused, err, c.refused)
		}
	}
}

// TestSelfRefusedEvenThroughRedirect: a receiver at the server's own
// address is refused at once, without retries, also when another receiver
// redirects to it; other receivers still get their messages.
func TestSelfRefusedEvenThroughRedirect(t *testing.T) {
	var hits atomic.Int64
	self := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer self.Close()
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, self.URL+"/api/v1/keys", http.StatusTemporaryRedirect)
	}))
	defer redirect.Close()
	c := newCapture(t)
	own := strings.TrimPrefix(self.URL, "http://")
	n := New(Options{Backoff: time.Millisecond, MaxRetries: 3, Log: quiet, Own: []string{own}})
	n.Send(Target{Type: "webhook", URL: self.URL + "/api/v1/keys"}, msg("firing"))
	n.Send(Target{Type: "webhook", URL: redirect.URL}, msg("firing"))
	n.Send(Target{Type: "webhook", URL: c.srv.URL}, msg("firing"))
	if err := n.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if hits.Load() != 0 {
		t.Errorf("the server's own address got %d requests", hits.Load())
	}
	if sent, failed := n.Stats(); sent != 1 || failed != 2 {
		t.Errorf("stats: %d sent, %d failed; want 1 and 2", sent, failed)
	}
}
