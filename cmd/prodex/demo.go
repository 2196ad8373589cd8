package main

import (
	"bytes"
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
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/prodex/prodex/internal/auth"
	"github.com/prodex/prodex/internal/store/duckdb"
)

// demoCmd runs a server with a synthetic shop: several services sending
// wide events, deploy markers, SLOs that page a local receiver, and a bad
// deploy that slows checkout on one build, so a newcomer sees Prodex find
// it within minutes.
func demoCmd() *cobra.Command {
	var dataDir, listen string
	var rate int
	var badAfter, runFor time.Duration
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run Prodex with a synthetic shop whose bad deploy burns an SLO, pages, and is explained",
		Long: `Starts prodex serve on the embedded store with a synthetic workload: five
services sending wide events (an hour of history first, then live traffic),
deploy markers, and two SLOs on checkout that page a local webhook receiver.
After --bad-deploy-after, build 4512 goes out to two hosts and makes checkout
slow there: the latency SLO burns, the page arrives, an incident opens, and
explain points at the build. Everything it does is printed, with the
commands to look further. Stop it with Ctrl-C.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if dataDir == "" {
				d, err := os.MkdirTemp("", "prodex-demo-")
				if err != nil {
					return err
				}
				dataDir = d
			}
			return runDemo(cmd.Context(), dataDir, listen, rate, badAfter, runFor)
		},
	}
	cmd.Flags().StringVar(&dataDir, "data", "", "data directory (default: a new temporary one)")
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:8080", "address of the server")
	cmd.Flags().IntVar(&rate, "rate", 300, "live events per second")
	cmd.Flags().DurationVar(&badAfter, "bad-deploy-after", 30*time.Second, "when the bad deploy goes out")
	cmd.Flags().DurationVar(&runFor, "for", 0, "stop after this long (default: until Ctrl-C)")
	return cmd
}

// demoShop generates the shop's events.
type demoShop struct {
	mu  sync.Mutex
	rng *rand.Rand
	bad bool // build 4512 is out on db-3 and db-4
}

var (
	demoServices  = []string{"frontend", "checkout", "catalog", "search", "payments"}
	demoEndpoints = map[string][]string{
		"frontend": {"/", "/cart", "/product"}, "checkout": {"/checkout", "/checkout/confirm"},
		"catalog": {"/items", "/items/{id}"}, "search": {"/search"}, "payments": {"/charge", "/refund"},
	}
	demoRegions = []string{"eu-west-1", "us-east-1", "ap-south-1"}
)

func (d *demoShop) event(at time.Time) map[string]any {
	d.mu.Lock()
	defer d.mu.Unlock()
	r := d.rng
	svc := demoServices[r.IntN(len(demoServices))]
	if r.IntN(3) == 0 {
		svc = "checkout" // the busiest service
	}
	eps := demoEndpoints[svc]
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
	return map[string]any{"time": at.Format(time.RFC3339Nano), "data": map[string]any{
		"service": svc, "endpoint": eps[r.IntN(len(eps))], "status_code": status, "duration_ms": dur,
		"build_id": build, "host": host, "region": demoRegions[r.IntN(len(demoRegions))],
		"user_id": fmt.Sprintf("u-%d", r.IntN(50000)), "cart_items": r.IntN(8), "cache_hit": r.IntN(4) > 0,
		"http.method": []string{"GET", "GET", "POST"}[r.IntN(3)], "az": fmt.Sprintf("az-%d", 1+r.IntN(3)),
	}}
}

func runDemo(ctx context.Context, dataDir, listen string, rate int, badAfter, runFor time.Duration) error {
	say := func(format string, args ...any) {
		fmt.Printf("%s  %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
	}
	// A key straight into the data directory, so the demo can set up.
	st, err := openEmbedded(dataDir, duckdb.Options{})
	if err != nil {
		return err
	}
	ring, err := auth.NewKeyring(context.Background(), st.meta)
	if err != nil {
		st.close()
		return err
	}
	key, _, err := ring.Create(context.Background(), auth.Admin, "demo")
	st.close()
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
		var m struct{ SLO, Severity, State, Summary string }
		json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&m)
		say("RECEIVER got a %s %s for SLO %s: %s", m.Severity, m.State, m.SLO, m.Summary)
		if m.Severity == "page" && m.State == "firing" {
			select {
			case paged <- m.SLO:
			default:
			}
		}
	}))

	self, err := os.Executable()
	if err != nil {
		return err
	}
	srv := exec.Command(self, "serve", "--data", dataDir, "--listen", listen, "--otlp-http", "", "--otlp-grpc", "", "--eval-interval", "1s")
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
	c := client{server: "http://" + listen, key: key}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if resp, err := http.Get(c.server + "/healthz"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the server did not start; see %s", logFile.Name())
		}
	}
	say("Prodex is serving on %s (data in %s, server log in demo-server.log)", c.server, dataDir)
	say("API key: %s", key)
	say("open %s/?key=%s in a browser to watch the SLOs", c.server, key)

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
	if err := c.raw("POST", "/api/v1/apply", "application/yaml", strings.NewReader(slos), nil); err != nil {
		return fmt.Errorf("apply the demo SLOs: %w", err)
	}
	say("SLOs checkout-latency (99.5 %% under 300 ms) and checkout-availability (99.9 %%) page http://%s", rl.Addr())

	shop := &demoShop{rng: rand.New(rand.NewPCG(7, 11))}
	send := func(evs []map[string]any) error {
		body, _ := json.Marshal(evs)
		return c.raw("POST", "/1/batch/shop", "application/json", bytes.NewReader(body), nil)
	}
	// Six hours of history, with this morning's deploy of build 4511.
	now := time.Now()
	for i := 0; i < 360; i++ {
		var evs []map[string]any
		for k := 0; k < 500; k++ {
			evs = append(evs, shop.event(now.Add(-6*time.Hour+time.Duration(i)*time.Minute+time.Duration(k)*time.Minute/500)))
		}
		if err := send(evs); err != nil {
			return fmt.Errorf("send history: %w", err)
		}
	}
	c.do("POST", "/1/markers/shop", map[string]any{"type": "deploy", "message": "build 4511", "start_time": now.Add(-5 * time.Hour).Unix()}, nil)
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
			go demoExplain(c, name, say)
		case <-tick.C:
			if !deployed && time.Since(start) >= badAfter {
				deployed = true
				shop.mu.Lock()
				shop.bad = true
				shop.mu.Unlock()
				c.do("POST", "/1/markers/shop", map[string]any{"type": "deploy", "message": "build 4512 to db-3, db-4"}, nil)
				say("DEPLOY build 4512 goes out to db-3 and db-4 (marker added); checkout gets slow there")
			}
			var evs []map[string]any
			for k := 0; k < rate/5; k++ {
				evs = append(evs, shop.event(time.Now()))
			}
			if err := send(evs); err != nil {
				say("sending failed: %v", err)
			}
		}
	}
}

// demoExplain shows what Prodex says once the page arrived.
func demoExplain(c client, sloName string, say func(string, ...any)) {
	time.Sleep(2 * time.Second)
	var st struct {
		SLI        *float64           `json:"sli"`
		Remaining  float64            `json:"budget_remaining_percent"`
		BurnRate   map[string]float64 `json:"burn_rate"`
		Exhaustion *float64           `json:"exhaustion_seconds"`
	}
	if err := c.do("GET", "/api/v1/slos/"+sloName+"/status", nil, &st); err == nil {
		ex := "never at this rate"
		if st.Exhaustion != nil {
			ex = (time.Duration(*st.Exhaustion) * time.Second).Round(time.Minute).String()
		}
		say("STATUS %s: burn rate %.1f over 5m, %.1f %% budget left, exhausted in %s", sloName, st.BurnRate["5m"], st.Remaining, ex)
	}
	var ex struct {
		Columns []struct {
			Column string  `json:"column"`
			Score  float64 `json:"score"`
			Values []struct {
				Value     any     `json:"value"`
				Selection float64 `json:"selection_share"`
				Baseline  float64 `json:"baseline_share"`
			} `json:"values"`
		} `json:"columns"`
	}
	if err := c.do("POST", "/api/v1/explain/shop", map[string]any{"time_range": 900, "selection": map[string]any{"slo": sloName}}, &ex); err != nil {
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
			if x.Selection-x.Baseline > v.Selection-v.Baseline {
				v = x
			}
		}
		shown++
		say("EXPLAIN #%d %s = %v: %.0f %% of the bad events, %.0f %% of the good ones (score %.2f)", shown, col.Column, v.Value, 100*v.Selection, 100*v.Baseline, col.Score)
	}
	var incs []struct{ ID, Title string }
	if err := c.do("GET", "/api/v1/incidents?status=investigating", nil, &incs); err == nil && len(incs) > 0 {
		say("INCIDENT %s opened: %s", incs[0].ID, incs[0].Title)
	}
	say("look further: PRODEX_SERVER=%s PRODEX_KEY=%s prodex slo status %s", c.server, c.key, sloName)
	say("             prodex explain shop --slo %s; prodex query shop --calc 'P99(duration_ms)' --by build_id --last 15m; prodex incident list", sloName)
}
