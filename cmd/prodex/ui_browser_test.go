package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// browser starts Debian's headless Chromium for a test.
func browser(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium is not installed: run ./scripts/test.sh, which installs Debian's chromium")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.WindowSize(1280, 900), chromedp.Flag("disable-dev-shm-usage", true))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	ctx, cancel3 := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(cancel3)
	// Every page must run without a script error or a console error.
	var mu sync.Mutex
	var problems []string
	if err := chromedp.Listen(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			msg := d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			problems = append(problems, fmt.Sprintf("exception at %s:%d: %s", d.URL, d.LineNumber, msg))
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError {
				var args []string
				for _, a := range ev.Args {
					args = append(args, string(a.Value))
				}
				problems = append(problems, "console.error: "+strings.Join(args, " "))
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, p := range problems {
			t.Errorf("browser: %s", p)
		}
	})
	return ctx
}

// artifact is where a test's screenshots go: $PRODEX_ARTIFACTS, or the
// test's temporary directory.
func artifact(t *testing.T, name string) string {
	dir := os.Getenv("PRODEX_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	}
	os.MkdirAll(dir, 0o755)
	return filepath.Join(dir, name)
}

// TestUISLOPages signs in with ?key=, checks that the SLO overview shows
// the numbers the API gives, that markup in names and descriptions is
// shown as text, opens an SLO page with its burndown chart, and saves
// screenshots.
func TestUISLOPages(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	key := newKey(t, data, "admin")
	s := startServer(t, data, "--eval-interval", "500ms")
	defer s.stop()
	applySLO(t, s, key, `apiVersion: prodex/v1
kind: SLO
metadata: {name: checkout-availability}
spec:
  dataset: checkout
  description: "<img src=x onerror=alert(1)><b>Checkout</b> requests succeed"
  target: 99.9
  window: 30d
  sli: {good: status_code < 500}
---
apiVersion: prodex/v1
kind: SLO
metadata: {name: search-latency}
spec: {dataset: search, target: 99, window: 7d, sli: {good: duration_ms < 300}}
---
apiVersion: prodex/v1
kind: Risk
metadata: {name: db-failover}
spec: {slo: checkout-availability, ettd: 30m, ettr: 60m, frequency_per_year: 4, impact_percent: 50}
---
apiVersion: prodex/v1
kind: Risk
metadata: {name: bad-deploy}
spec: {slo: checkout-availability, ettd: 10m, ettr: 20m, frequency_per_year: 12, impact_percent: 100}
`)
	now := time.Now()
	sendEvents(t, s, key, "checkout", 3000, 0, now.Add(-3*time.Minute), 30*time.Minute)
	sendEvents(t, s, key, "checkout", 1000, 10, now, 2*time.Minute) // pages
	sendEvents(t, s, key, "search", 500, 0, now, 30*time.Minute)
	if code := call(t, "POST", s.url+"/1/markers/checkout", key, map[string]any{"type": "deploy", "message": "<script>alert(2)</script>"}, nil); code != 201 {
		t.Fatalf("marker: %d", code)
	}
	rcvPage := func() bool {
		var alerts []struct{ Severity, State string }
		call(t, "GET", s.url+"/api/v1/alerts?slo=checkout-availability", key, nil, &alerts)
		for _, a := range alerts {
			if a.Severity == "page" && a.State == "firing" {
				return true
			}
		}
		return false
	}
	for deadline := time.Now().Add(15 * time.Second); !rcvPage(); time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no page")
		}
	}
	var st struct {
		SLI       float64 `json:"sli"`
		Remaining float64 `json:"budget_remaining_percent"`
	}
	call(t, "GET", s.url+"/api/v1/slos/checkout-availability/status", key, nil, &st)

	ctx := browser(t)
	step := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		step(err)
		return v
	}
	step(chromedp.Do(ctx, chromedp.Navigate(s.url+"/?key="+key), chromedp.WaitVisible(chromedp.CSS(`#slos tbody tr`))))
	rows, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#slos tbody tr")].map(r => r.dataset.slo)`))
	step(err)
	sli, budget := text(`tr[data-slo="checkout-availability"] .sli`), text(`tr[data-slo="checkout-availability"] .budget`)
	alert, who := text(`tr[data-slo="checkout-availability"] .alert`), text(`#who`)
	overview, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	step(err)
	// Keyboard: the SLO links are reachable with Tab and open with Enter.
	step(chromedp.Do(ctx, chromedp.Focus(chromedp.CSS(`a[href="#/slo/search-latency"]`)), chromedp.KeyEvent("\r"),
		chromedp.WaitVisible(chromedp.CSS(`#burndown canvas`)), chromedp.Navigate(s.url+"/#/"), chromedp.WaitVisible(chromedp.CSS(`#slos tbody tr`))))
	step(chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`a[href="#/slo/checkout-availability"]`)), chromedp.WaitVisible(chromedp.CSS(`#burndown canvas`)),
		chromedp.WaitVisible(chromedp.CSS(`#daily canvas`)), chromedp.WaitVisible(chromedp.CSS(`#burn canvas`)), chromedp.WaitVisible(chromedp.CSS(`#slo-heat canvas`)),
		chromedp.WaitVisible(chromedp.CSS(`#explain-table tbody tr`))))
	legend, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#burn .u-legend`)))
	step(err)
	if !strings.Contains(legend, "page at 1h ≥ 14.4") || !strings.Contains(legend, "page at 6h ≥ 6") {
		t.Errorf("burn-rate chart legend: %q", legend)
	}
	firstColumn, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#explain-table tbody tr").dataset.column`))
	step(err)
	var ex struct {
		Columns []struct{ Column string } `json:"columns"`
	}
	call(t, "POST", s.url+"/api/v1/explain/checkout", key, map[string]any{"time_range": 3600, "selection": map[string]any{"slo": "checkout-availability"}}, &ex)
	if len(ex.Columns) == 0 || firstColumn != ex.Columns[0].Column {
		t.Errorf("explain panel starts with %q, the API with %+v", firstColumn, ex.Columns)
	}
	desc := text(`.description`)
	page, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	step(err)
	os.WriteFile(artifact(t, "slo-overview.png"), overview, 0o644)
	os.WriteFile(artifact(t, "slo-page.png"), page, 0o644)
	// The paging SLO comes first; the numbers are the API's.
	if strings.Join(rows, ",") != "checkout-availability,search-latency" {
		t.Errorf("order: %v", rows)
	}
	if want := fmt.Sprintf("%.3f %%", st.SLI); sli != want {
		t.Errorf("SLI shown %q, API %q", sli, want)
	}
	if want := fmt.Sprintf("%.2f %%", st.Remaining); budget != want {
		t.Errorf("budget shown %q, API %q", budget, want)
	}
	if alert != "page firing" || !strings.HasPrefix(who, "key ") {
		t.Errorf("alert %q, who %q", alert, who)
	}
	if !strings.Contains(desc, "<img src=x onerror=alert(1)><b>Checkout</b>") {
		t.Errorf("description not shown as text: %q", desc)
	}
	// Nothing the data held became an element, and nothing ran.
	injected, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`!!document.querySelector("main img, main b, main script")`))
	if err != nil || injected {
		t.Errorf("markup from data became elements: %v %v", injected, err)
	}

	// The risk register, and a what-if with a slider.
	step(chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#risk-link`)), chromedp.WaitVisible(chromedp.CSS(`#risks tbody tr`))))
	order, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#risks tbody tr")].map(r => r.dataset.risk + "=" + r.querySelector(".per-year").textContent)`))
	step(err)
	if strings.Join(order, ",") != "bad-deploy=360.0,db-failover=180.0" {
		t.Errorf("register shows %v", order)
	}
	step(chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`tr[data-risk="db-failover"] button`)), chromedp.WaitVisible(chromedp.CSS(`#wi-ettd`))))
	_, err = chromedp.Run(ctx, chromedp.Evaluate[bool](`(i => { i.value = "5"; i.dispatchEvent(new Event("input")); return true })(document.querySelector("#wi-ettd"))`))
	step(err)
	var result string
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(result, "130.0 bad minutes a year"); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("what-if shows %q", result)
		}
		result, err = chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#what-if-result`)))
		step(err)
	}
	if !strings.Contains(result, "180.0 → 130.0") || !strings.Contains(result, "saves 50.0") {
		t.Errorf("what-if: %q", result)
	}
	risks, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	step(err)
	os.WriteFile(artifact(t, "risk-register.png"), risks, 0o644)

	// The incident the page opened, with its timeline.
	step(chromedp.Do(ctx, chromedp.Navigate(s.url+"/#/incidents"), chromedp.WaitVisible(chromedp.CSS(`#incidents tbody tr a`)),
		chromedp.Click(chromedp.CSS(`#incidents tbody tr a`)), chromedp.WaitVisible(chromedp.CSS(`#timeline li[data-kind="alert"]`))))
	kinds, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#timeline li")].map(l => l.dataset.kind)`))
	step(err)
	if !strings.Contains(strings.Join(kinds, ","), "marker") {
		t.Errorf("timeline kinds: %v", kinds)
	}
	inc, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	step(err)
	os.WriteFile(artifact(t, "incident.png"), inc, 0o644)
}

// TestUISessionNeedsTheUIHeader: the session cookie alone cannot change
// anything (a page of another site could make a browser send it).
func TestUISessionNeedsTheUIHeader(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	key := newKey(t, data, "admin")
	s := startServer(t, data)
	defer s.stop()
	session := sessionCookieName + "=" + signIn(t, s, key).Value
	for _, c := range []struct {
		headers map[string]string
		want    int
	}{
		{map[string]string{"Cookie": session, "Content-Type": "application/json"}, 403},
		{map[string]string{"Cookie": session, "X-Prodex-UI": "1", "Content-Type": "application/json"}, 201},
	} {
		code, body := rawPost(t, s.url+"/api/v1/incidents", c.headers, []byte(`{"title":"x"}`))
		if code != c.want {
			t.Errorf("%v: %d %s", c.headers, code, body)
		}
	}
}

// TestUISignsInAndOut: the page's form signs in with a key, the browser
// then holds only the session's HttpOnly cookie (never the key, which
// scripts cannot read either), and the page's "Sign out" ends the session
// on the server: its cookie, replayed, is refused.
func TestUISignsInAndOut(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	key := newKey(t, data, "admin")
	s := startServer(t, data)
	defer s.stop()
	ctx := browser(t)
	step := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	cookies := func() []*network.Cookie {
		t.Helper()
		res, err := chromedp.Run(ctx, func(ctx context.Context, tg *chromedp.Target) (network.GetCookiesResult, error) {
			return cdp.Call(ctx, tg, network.GetCookies, network.GetCookiesParams{URLs: []string{s.url}})
		})
		step(err)
		return res.Cookies
	}
	step(chromedp.Do(ctx, chromedp.Navigate(s.url+"/"), chromedp.WaitVisible(chromedp.CSS(`form.signin`)),
		chromedp.SendKeys(chromedp.CSS(`form.signin input[name=key]`), key), chromedp.Submit(chromedp.CSS(`form.signin`)),
		chromedp.WaitVisible(chromedp.CSS(`#signout`))))
	who, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#who`)))
	step(err)
	if !strings.Contains(who, "admin") {
		t.Errorf("signed in as %q", who)
	}
	loc, err := chromedp.Run(ctx, chromedp.Location())
	step(err)
	if strings.Contains(loc, key) {
		t.Errorf("the address keeps the key: %s", loc)
	}
	var session *network.Cookie
	for _, c := range cookies() {
		if strings.Contains(c.Value, key[3:]) {
			t.Errorf("cookie %s holds the key", c.Name)
		}
		if c.Name == sessionCookieName {
			session = c
		}
	}
	if session == nil || !session.HTTPOnly || session.SameSite != network.CookieSameSiteStrict {
		t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Strict", session)
	}
	script, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.cookie`))
	step(err)
	if script != "" {
		t.Errorf("scripts read cookies: %q", script)
	}

	step(chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#signout`)), chromedp.WaitVisible(chromedp.CSS(`form.signin`))))
	for _, c := range cookies() {
		if c.Name == sessionCookieName {
			t.Errorf("the session cookie outlived sign-out: %+v", c)
		}
	}
	if code, body := withCookie(t, "GET", s.url+"/1/auth", &http.Cookie{Name: sessionCookieName, Value: session.Value}, true, ""); code != 401 {
		t.Errorf("the signed-out session replayed: %d %s", code, body)
	}
}

// TestUIQueryHeatmapExplain builds a query in the browser, checks its
// results against the API, brushes the slow region of its heatmap to
// explain it, and follows the permalink.
func TestUIQueryHeatmapExplain(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	key := newKey(t, data, "admin")
	s := startServer(t, data)
	defer s.stop()
	now := time.Now()
	var evs []map[string]any
	for i := 0; i < 2000; i++ {
		build, dur := "4511", 20+float64(i%40)
		if i%10 == 0 {
			build, dur = "4512", 2000+float64(i%300)
		}
		evs = append(evs, map[string]any{"time": now.Add(-time.Duration(i) * time.Second).Format(time.RFC3339Nano),
			"data": map[string]any{"build_id": build, "duration_ms": dur, "region": []string{"eu", "us"}[i%2]}})
	}
	body, _ := json.Marshal(evs)
	if code, out := rawPost(t, s.url+"/1/batch/api", map[string]string{"X-Honeycomb-Team": key, "Content-Type": "application/json"}, body); code != 200 {
		t.Fatalf("send: %d %s", code, out)
	}
	ctx := browser(t)
	step := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	step(chromedp.Do(ctx, chromedp.Navigate(s.url+"/?key="+key), chromedp.WaitVisible(chromedp.CSS(`#who`)),
		chromedp.Navigate(s.url+"/#/query"), chromedp.WaitVisible(chromedp.CSS(`#q-form`)),
		chromedp.SetValue(chromedp.CSS(`#q-dataset`), "api"),
		chromedp.SetValue(chromedp.CSS(`#q-calcs`), "COUNT, P99(duration_ms), HEATMAP(duration_ms)"),
		chromedp.SetValue(chromedp.CSS(`#q-by`), "region"),
		chromedp.Click(chromedp.CSS(`#q-run`)),
		chromedp.WaitVisible(chromedp.CSS(`#q-results tbody tr`)),
		chromedp.WaitVisible(chromedp.CSS(`.chart[data-calc="HEATMAP(duration_ms)"] canvas`))))
	rows, err := chromedp.Run(ctx, chromedp.Evaluate[[][]string](`[...document.querySelectorAll("#q-results tbody tr")].map(r => [...r.cells].map(c => c.textContent))`))
	step(err)
	q := runQuery(t, s, key, "api", map[string]any{"time_range": 3600, "breakdowns": []string{"region"},
		"calculations": []map[string]any{{"op": "COUNT"}, {"op": "P99", "column": "duration_ms"}}})
	if len(rows) != len(q.Results) || len(rows) != 2 {
		t.Fatalf("results shown %v, API %+v", rows, q.Results)
	}
	for i, r := range q.Results {
		if rows[i][0] != r.Data["region"] || rows[i][1] != fmt.Sprint(r.Data["COUNT"]) {
			t.Errorf("row %d shown %v, API %v", i, rows[i], r.Data)
		}
	}
	link, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#q-permalink").href`))
	step(err)
	// Brush the upper half of the heatmap: the slow events.
	over := `.chart[data-calc="HEATMAP(duration_ms)"] .u-over`
	step(chromedp.Do(ctx, chromedp.ScrollIntoView(chromedp.CSS(over))))
	r, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](`(r => [r.left, r.top, r.right, r.bottom])(document.querySelector('`+over+`').getBoundingClientRect())`))
	step(err)
	x0, y0, x1, y1 := r[0]+2, r[1]+2, r[2]-2, (r[1]+r[3])/2
	step(chromedp.Do(ctx,
		chromedp.MouseEvent(input.DispatchMouseEventTypeMousePressed, x0, y0, chromedp.ButtonLeft),
		chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, (x0+x1)/2, (y0+y1)/2, chromedp.ButtonLeft),
		chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, x1, y1, chromedp.ButtonLeft),
		chromedp.MouseEvent(input.DispatchMouseEventTypeMouseReleased, x1, y1, chromedp.ButtonLeft)))
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	if _, err := chromedp.Run(wctx, chromedp.Steps(chromedp.WaitVisible(chromedp.CSS(`#heatmap-explain tbody tr`)))); err != nil {
		msg, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector(".explain-result").textContent`))
		wcancel()
		t.Fatalf("no explain after brushing the heatmap (%v, %v): %s", r, err, msg)
	}
	wcancel()
	top, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelector("#heatmap-explain tbody").rows].filter(r => r.dataset.column !== "duration_ms").slice(0, 1).map(r => r.dataset.column + "=" + r.querySelector(".value").textContent)`))
	step(err)
	if len(top) != 1 || top[0] != "build_id=4512" {
		t.Errorf("explain of the slow region: %v", top)
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	step(err)
	os.WriteFile(artifact(t, "query-heatmap-explain.png"), shot, 0o644)
	// The explain view of the region: a bar chart per column, and one
	// click to filter the query to the value that sets it apart.
	step(chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#heatmap-explain-link`)), chromedp.WaitVisible(chromedp.CSS(`.chart[data-column="build_id"] canvas`))))
	view, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	step(err)
	os.WriteFile(artifact(t, "explain-view.png"), view, 0o644)
	step(chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`a[href*="where=build_id%20%3D%204512"]`))))
	wctx2, wcancel2 := context.WithTimeout(ctx, 10*time.Second)
	if err := chromedp.Do(wctx2, chromedp.WaitVisible(chromedp.CSS(`#q-results tbody tr`))); err != nil {
		msg, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`location.hash + " :: " + document.querySelector("main").textContent.slice(0, 300)`))
		wcancel2()
		t.Fatalf("filter link: %v: %s", err, msg)
	}
	wcancel2()
	filtered, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#q-where").value + "|" + document.querySelector("#q-results tbody tr").cells[0].textContent`))
	step(err)
	if filtered != "build_id = 4512|200" {
		t.Errorf("filter from the explain view: %q", filtered)
	}
	// The permalink reproduces the query.
	step(chromedp.Do(ctx, chromedp.Navigate(s.url+"/"), chromedp.WaitVisible(chromedp.CSS(`#who`)),
		chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS(`#q-results tbody tr`))))
	again, err := chromedp.Run(ctx, chromedp.Evaluate[[][]string](`[...document.querySelectorAll("#q-results tbody tr")].map(r => [...r.cells].map(c => c.textContent))`))
	step(err)
	if fmt.Sprint(again) != fmt.Sprint(rows) {
		t.Errorf("permalink shows %v, the query showed %v", again, rows)
	}
	// The API's permalink /q/ID takes a browser to the same view.
	id := link[strings.LastIndex(link, "/")+1:]
	step(chromedp.Do(ctx, chromedp.Navigate(s.url+"/"), chromedp.WaitVisible(chromedp.CSS(`#who`)),
		chromedp.Navigate(s.url+"/q/"+id), chromedp.WaitVisible(chromedp.CSS(`#q-results tbody tr`))))
	again, err = chromedp.Run(ctx, chromedp.Evaluate[[][]string](`[...document.querySelectorAll("#q-results tbody tr")].map(r => [...r.cells].map(c => c.textContent))`))
	step(err)
	if fmt.Sprint(again) != fmt.Sprint(rows) {
		t.Errorf("/q/%s shows %v, the query showed %v", id, again, rows)
	}
}
