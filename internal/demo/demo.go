// Package demo runs Prodex with a synthetic shop: five services sending
// wide events, deploy markers, and SLOs that page a local receiver; after a
// while a bad deploy slows checkout on one build, and the demo shows Prodex
// page, open an incident and explain it, with the commands to look further.
package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/prodex/prodex/internal/client"
	"github.com/prodex/prodex/internal/explain"
	"github.com/prodex/prodex/internal/marker"
	"github.com/prodex/prodex/internal/notify"
)

// Options say where and how the demo runs.
type Options struct {
	Data           string // data directory
	Listen         string // the server's address
	Rate           int    // live events per second
	BadDeployAfter time.Duration
	For            time.Duration // then it stops; 0: until Ctrl-C
	// Binary is the prodex binary, which the demo runs as its server
	// (prodex serve), logging to demo-server.log in the data directory.
	Binary string
	// CreateKey makes an admin key in the data directory's embedded store,
	// before the server starts there.
	CreateKey func(dir string) (string, error)
}

// workload generates the shop's events.
type workload struct {
	mu  sync.Mutex
	rng *rand.Rand
	bad bool // build 4512 is out on db-3 and db-4
}

var (
	services  = []string{"frontend", "checkout", "catalog", "search", "payments"}
	endpoints = map[string][]string{
		"frontend": {"/", "/cart", "/product"}, "checkout": {"/checkout", "/checkout/confirm"},
		"catalog": {"/items", "/items/{id}"}, "search": {"/search"}, "payments": {"/charge", "/refund"},
	}
	regions = []string{"eu-west-1", "us-east-1", "ap-south-1"}
)

// event is one request's event at a time.
func (d *workload) event(at time.Time) client.Event {
	d.mu.Lock()
	defer d.mu.Unlock()
	r := d.rng
	svc := services[r.IntN(len(services))]
	if r.IntN(3) == 0 {
		svc = "checkout" // the busiest service
	}
	eps := endpoints[svc]
	host := fmt.Sprintf("db-%d", 1+r.IntN(6))
	build := 4511
	if d.bad && (host == "db-3" || host == "db-4") {
		build = 4512
	}
	dur := 20 + r.ExpFloat64()*40
	status := 200
	if r.IntN(10000) < 3 {
		status = 503
	}
	if svc == "checkout" && build == 4512 && r.IntN(10) < 7 {
		dur = 400 + r.ExpFloat64()*900 // the regression
	}
	ev, _ := client.NewEvent(at, map[string]any{
		"service": svc, "endpoint": eps[r.IntN(len(eps))], "status_code": status, "duration_ms": dur,
		"build_id": build, "host": host, "region": regions[r.IntN(len(regions))],
		"user_id": fmt.Sprintf("u-%d", r.IntN(50000)), "cart_items": r.IntN(8), "cache_hit": r.IntN(4) > 0,
		"http.method": []string{"GET", "GET", "POST"}[r.IntN(3)], "az": fmt.Sprintf("az-%d", 1+r.IntN(3)),
	})
	return ev
}

// Run runs the demo until ctx ends, Ctrl-C, or o.For has passed, telling
// what happens on out.
func Run(ctx context.Context, o Options, out io.Writer) error {
	dataDir, listen, rate, badAfter, runFor := o.Data, o.Listen, o.Rate, o.BadDeployAfter, o.For
	var mu sync.Mutex // one line at a time, from the receiver too
	say := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(out, "%s  %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
	}
	// A key straight into the data directory, so the demo can set up.
	key, err := o.CreateKey(dataDir)
	if err != nil {
		return err
	}

	// The local receiver the SLOs page.
	rl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	paged := make(chan string, 8)
	go http.Serve(rl, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m notify.Message // the webhook's body
		json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&m)
		say("RECEIVER got a %s %s for SLO %s: %s", m.Severity, m.State, m.SLO, m.Summary)
		if m.Severity == "page" && m.State == "firing" {
			select {
			case paged <- m.SLO:
			default:
			}
		}
	}))

	srv := exec.Command(o.Binary, "serve", "--data", dataDir, "--listen", listen, "--otlp-http", "", "--otlp-grpc", "", "--eval-interval", "1s")
	logFile, err := os.Create(filepath.Join(dataDir, "demo-server.log"))
	if err != nil {
		return err
	}
	defer logFile.Close()
	srv.Stdout, srv.Stderr = logFile, logFile
	if err := srv.Start(); err != nil {
		return err
	}
	defer func() {
		srv.Process.Signal(syscall.SIGTERM)
		srv.Wait()
	}()
	c := &client.Client{Server: "http://" + listen, Key: key}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if c.Health(ctx) == nil {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the server did not start; see %s", logFile.Name())
		}
	}
	say("Prodex is serving on %s (data in %s, server log in demo-server.log)", c.Server, dataDir)
	say("API key: %s", key)
	say("open %s/?key=%s in a browser to watch the SLOs", c.Server, key)

	slos := fmt.Sprintf(`apiVersion: prodex/v1
kind: SLO
metadata: {name: checkout-latency}
spec:
  dataset: shop
  description: Checkout answers within 300 ms
  target: 99.5
  window: 7d
  sli: {eligible: 'service == "checkout"', good: duration_ms < 300}
  notify: [{type: webhook, url: "http://%[1]s/hook"}]
---
apiVersion: prodex/v1
kind: SLO
metadata: {name: checkout-availability}
spec:
  dataset: shop
  description: Checkout requests succeed
  target: 99.9
  window: 30d
  sli: {eligible: 'service == "checkout"', good: status_code < 500}
  notify: [{type: webhook, url: "http://%[1]s/hook"}]
---
apiVersion: prodex/v1
kind: Risk
metadata: {name: bad-deploy}
spec: {slo: checkout-latency, ettd: 20m, ettr: 30m, frequency_per_year: 12, impact_percent: 30, owner: checkout-team}
`, rl.Addr())
	if _, err := c.Apply(ctx, []byte(slos), false); err != nil {
		return fmt.Errorf("apply the demo SLOs: %w", err)
	}
	say("SLOs checkout-latency (99.5 %% under 300 ms) and checkout-availability (99.9 %%) page http://%s", rl.Addr())

	shop := &workload{rng: rand.New(rand.NewPCG(7, 11))}
	send := func(evs []client.Event) error {
		_, err := c.Batch(ctx, "shop", evs)
		return err
	}
	// Six hours of history, with this morning's deploy of build 4511.
	now := time.Now()
	for i := 0; i < 360; i++ {
		var evs []client.Event
		for k := 0; k < 500; k++ {
			evs = append(evs, shop.event(now.Add(-6*time.Hour+time.Duration(i)*time.Minute+time.Duration(k)*time.Minute/500)))
		}
		if err := send(evs); err != nil {
			return fmt.Errorf("send history: %w", err)
		}
	}
	c.CreateMarker(ctx, "shop", deploy("build 4511", now.Add(-5*time.Hour)))
	say("sent six hours of history: 180,000 wide events from 5 services; deploy marker build 4511")

	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if runFor > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, runFor)
		defer cancel()
	}
	start := time.Now()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	deployed, explained := false, false
	say("live traffic: %d events/s; the bad deploy goes out in %s", rate, badAfter)
	for {
		select {
		case <-ctx.Done():
			say("stopping; the data stays in %s", dataDir)
			return nil
		case name := <-paged:
			if explained {
				continue
			}
			explained = true
			go explainPage(ctx, c, name, say)
		case <-tick.C:
			if !deployed && time.Since(start) >= badAfter {
				deployed = true
				shop.mu.Lock()
				shop.bad = true
				shop.mu.Unlock()
				c.CreateMarker(ctx, "shop", deploy("build 4512 to db-3, db-4", time.Time{}))
				say("DEPLOY build 4512 goes out to db-3 and db-4 (marker added); checkout gets slow there")
			}
			var evs []client.Event
			for k := 0; k < rate/5; k++ {
				evs = append(evs, shop.event(time.Now()))
			}
			if err := send(evs); err != nil {
				say("sending failed: %v", err)
			}
		}
	}
}

// deploy is a deploy marker; a zero time means now.
func deploy(msg string, at time.Time) marker.Input {
	typ := "deploy"
	in := marker.Input{Type: &typ, Message: &msg}
	if !at.IsZero() {
		start := at.Unix()
		in.StartTime = &start
	}
	return in
}

// explainPage shows what Prodex says once the page arrived.
func explainPage(ctx context.Context, c *client.Client, sloName string, say func(string, ...any)) {
	time.Sleep(2 * time.Second)
	if st, err := c.SLOStatus(ctx, sloName); err == nil {
		ex := "never at this rate"
		if st.ExhaustionSeconds != nil {
			ex = (time.Duration(*st.ExhaustionSeconds) * time.Second).Round(time.Minute).String()
		}
		say("STATUS %s: burn rate %.1f over 5m, %.1f %% budget left, exhausted in %s", sloName, st.BurnRate["5m"], st.BudgetRemainingPercent, ex)
	}
	ex, err := c.Explain(ctx, "shop", &explain.Request{TimeRange: 900, Selection: explain.Selection{SLO: sloName}})
	if err != nil {
		say("explain failed: %v", err)
		return
	}
	// The columns the SLI itself reads differ by definition; show the
	// others, each with the value most over-represented among bad events.
	shown := 0
	for _, col := range ex.Columns {
		if shown == 3 || col.Column == "duration_ms" || col.Column == "service" || len(col.Values) == 0 {
			continue
		}
		v := col.Values[0]
		for _, x := range col.Values {
			if x.SelectionShare-x.BaselineShare > v.SelectionShare-v.BaselineShare {
				v = x
			}
		}
		shown++
		say("EXPLAIN #%d %s = %v: %.0f %% of the bad events, %.0f %% of the good ones (score %.2f)", shown, col.Column, v.Value, 100*v.SelectionShare, 100*v.BaselineShare, col.Score)
	}
	if incs, err := c.Incidents(ctx, "investigating"); err == nil && len(incs) > 0 {
		say("INCIDENT %s opened: %s", incs[0].ID, incs[0].Title)
	}
	say("look further: PRODEX_SERVER=%s PRODEX_KEY=%s prodex slo status %s", c.Server, c.Key, sloName)
	say("             prodex explain shop --slo %s; prodex query shop --calc 'P99(duration_ms)' --by build_id --last 15m; prodex incident list", sloName)
}
