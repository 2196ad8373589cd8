package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"syscall"
	"time"
)

// ErrSelf refuses a notification whose receiver is the Prodex server
// itself: an SLO's webhook must not become a way to call the server's own
// API from inside it.
var ErrSelf = errors.New("the receiver is this Prodex server's own address")

// selfGuard refuses connections to the server's own listeners. It checks
// the address actually dialled, after name resolution and on every
// redirect, so no host name or redirect gets around it.
type selfGuard struct {
	own []*net.TCPAddr
	// local reports whether ip is one of this machine's addresses (for
	// listeners on 0.0.0.0 or ::).
	local func(ip net.IP) bool
}

func (g selfGuard) control(network, address string, _ syscall.RawConn) error {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return nil
	}
	for _, a := range g.own {
		if fmt.Sprint(a.Port) != port {
			continue
		}
		if a.IP.Equal(ip) || (a.IP.IsUnspecified() || a.IP == nil) && (ip.IsLoopback() || ip.IsUnspecified() || g.local(ip)) {
			return fmt.Errorf("%w (%s)", ErrSelf, address)
		}
	}
	return nil
}

// localIP reports whether ip belongs to one of this machine's interfaces.
func localIP(ip net.IP) bool {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.Equal(ip) {
			return true
		}
	}
	return false
}

// guardedClient is the default HTTP client, refusing the addresses in own.
// An address that does not resolve is one the server could not listen on
// either; it is logged and left out.
func guardedClient(own []string, log *slog.Logger) *http.Client {
	g := selfGuard{local: localIP}
	for _, s := range own {
		a, err := net.ResolveTCPAddr("tcp", s)
		if err != nil {
			log.Warn("own address does not resolve; notifications are not kept from it", "addr", s, "err", err)
			continue
		}
		g.own = append(g.own, a)
	}
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second, Control: g.control}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		return d.DialContext(ctx, network, addr)
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: tr}
}
