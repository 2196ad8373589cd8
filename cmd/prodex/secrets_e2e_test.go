package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// signedReceiver records what arrives at each path and whether the
// webhook's signature holds under the secret it was given.
type signedReceiver struct {
	srv    *httptest.Server
	secret string
	mu     sync.Mutex
	got    map[string]int // path and query → notifications
	badSig int
}

func newSignedReceiver(t *testing.T, secret string) *signedReceiver {
	r := &signedReceiver{secret: secret, got: map[string]int{}}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		r.got[req.URL.RequestURI()]++
		if sig := req.Header.Get("X-Prodex-Signature"); sig != "" {
			h := hmac.New(sha256.New, []byte(r.secret))
			h.Write(body)
			if sig != "sha256="+hex.EncodeToString(h.Sum(nil)) {
				r.badSig++
			}
		}
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *signedReceiver) count(uri string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.got[uri]
}

// TestReceiverSecretsAreWriteOnly: Slack and webhook URLs, webhook HMAC
// secrets and PagerDuty routing keys go in and never come out — not to a
// query key nor an admin key, in one SLO or the list, through prodex slo
// get, in a --dry-run diff, the audit log or the server's log — while a
// read shows that each is set and its last four characters. A definition
// read back (redacted) and applied again keeps the stored secrets: the
// receivers still get their notifications, signed with the real secret.
func TestReceiverSecretsAreWriteOnly(t *testing.T) {
	t.Parallel()
	hmacSecret := "hmac-secret-value-3456"
	rcv := newSignedReceiver(t, hmacSecret)
	data := t.TempDir()
	admin := newKey(t, data, "admin")
	query := newKey(t, data, "query")
	s := startServer(t, data, "--eval-interval", "500ms")
	stopped := false
	defer func() {
		if !stopped {
			s.stop()
		}
	}()

	slackPath, hookURI, pdPath := "/services/T000/B000/slack-token-5678", "/hook?token=webhook-token-9012", "/pd/enqueue"
	slackURL, hookURL := rcv.srv.URL+slackPath, rcv.srv.URL+hookURI
	routingKey := "pd-routing-key-7890abcd"
	secrets := []string{"slack-token-5678", "webhook-token-9012", hmacSecret, routingKey}
	def := func(target string, hmacSecret string) string {
		return fmt.Sprintf(`apiVersion: prodex/v1
kind: SLO
metadata: {name: checkout}
spec:
  dataset: checkout
  target: %s
  window: 30d
  sli: {good: status_code < 500}
  notify:
    - {type: slack, url: %q}
    - {type: webhook, url: %q, secret: %q}
    - {type: pagerduty, url: %q, routing_key: %q}
`, target, slackURL, hookURL, hmacSecret, rcv.srv.URL+pdPath, routingKey)
	}
	if out := applySLO(t, s, admin, def("99.9", hmacSecret)); !strings.Contains(out, "created") {
		t.Fatalf("apply: %s", out)
	}
	leaks := func(where, text string) {
		t.Helper()
		for _, sec := range secrets {
			if strings.Contains(text, sec) {
				t.Errorf("%s shows the secret %q: %s", where, sec, clipText(text))
			}
		}
	}

	// Reads with every scope: redacted, showing each is set and its last
	// four characters.
	want := []map[string]any{
		{"type": "slack", "url": "…5678"},
		{"type": "webhook", "url": "…9012", "secret": "…3456"},
		{"type": "pagerduty", "url": rcv.srv.URL + pdPath, "routing_key": "…abcd"},
	}
	for _, key := range []string{query, admin} {
		var one json.RawMessage
		if code := call(t, "GET", s.url+"/api/v1/slos/checkout", key, nil, &one); code != 200 {
			t.Fatalf("GET slo: %d %s", code, one)
		}
		leaks("GET /api/v1/slos/checkout", string(one))
		var d struct{ Notify []map[string]any }
		json.Unmarshal(one, &d)
		if got, _ := json.Marshal(d.Notify); !jsonEqual(got, want) {
			t.Errorf("notify read as %s, want %v", got, want)
		}
		var all json.RawMessage
		call(t, "GET", s.url+"/api/v1/slos", key, nil, &all)
		leaks("GET /api/v1/slos", string(all))
		out, err := prodexCLI(t, nil, "slo", "get", "checkout", "--server", s.url, "--key", key)
		if err != nil {
			t.Fatal(err)
		}
		leaks("prodex slo get", out)
	}

	// A dry run of new secrets shows that they change, not what they are.
	newSecrets := def("99.9", "another-hmac-secret-0000")
	f := filepath.Join(t.TempDir(), "slo.yaml")
	os.WriteFile(f, []byte(newSecrets), 0o644)
	out, err := prodexCLI(t, nil, "apply", "-f", f, "--dry-run", "--server", s.url, "--key", admin)
	if err != nil || !strings.Contains(out, "would be updated") {
		t.Fatalf("dry run: %v %s", err, out)
	}
	if strings.Contains(out, "another-hmac-secret") || strings.Contains(out, hmacSecret) {
		t.Errorf("the dry run's diff shows a secret: %s", out)
	}

	// The redacted definition applied again changes nothing and keeps
	// the secrets, as JSON through PUT and as YAML through apply.
	var read map[string]any
	call(t, "GET", s.url+"/api/v1/slos/checkout", query, nil, &read)
	var ch struct{ Action string }
	if code := call(t, "PUT", s.url+"/api/v1/slos/checkout", admin, read, &ch); code != 200 || ch.Action != "unchanged" {
		t.Fatalf("PUT of the redacted definition: %d %+v", code, ch)
	}
	redacted := fmt.Sprintf(`apiVersion: prodex/v1
kind: SLO
metadata: {name: checkout}
spec:
  dataset: checkout
  target: 99.5
  window: 30d
  sli: {good: status_code < 500}
  notify:
    - {type: pagerduty, url: %q, routing_key: "…abcd"}
    - {type: slack, url: "…5678"}
    - {type: webhook, url: "…9012", secret: "…3456"}
`, rcv.srv.URL+pdPath)
	if out := applySLO(t, s, admin, redacted); !strings.Contains(out, "updated") || !strings.Contains(out, "target") {
		t.Fatalf("apply of the redacted form: %s", out)
	} else {
		leaks("apply's diff", out)
	}
	// A redacted form of a secret the SLO does not hold is refused.
	var e struct{ Error string }
	bad := map[string]any{"dataset": "checkout", "target": 99, "window": "30d", "sli": map[string]any{"good": "status_code < 500"},
		"notify": []map[string]any{{"type": "slack", "url": "…zzzz"}}}
	if code := call(t, "PUT", s.url+"/api/v1/slos/checkout", admin, bad, &e); code != 400 || !strings.Contains(e.Error, "spec.notify[0].url") {
		t.Errorf("unknown redacted form: %d %q", code, e.Error)
	}

	// A page reaches every receiver at its real address, signed with the
	// real secret.
	sendEvents(t, s, admin, "checkout", 1000, 5, time.Now(), 0)
	deadline := time.Now().Add(20 * time.Second)
	for rcv.count(slackPath) == 0 || rcv.count(hookURI) == 0 || rcv.count(pdPath) == 0 {
		if time.Now().After(deadline) {
			rcv.mu.Lock()
			t.Fatalf("notifications after 20s: %v", rcv.got)
		}
		time.Sleep(100 * time.Millisecond)
	}
	rcv.mu.Lock()
	if rcv.badSig != 0 {
		t.Errorf("%d webhook notifications not signed with the secret given", rcv.badSig)
	}
	rcv.mu.Unlock()

	// The audit log and the server's log hold none of them.
	var audit json.RawMessage
	call(t, "GET", s.url+"/api/v1/audit", admin, nil, &audit)
	leaks("the audit log", string(audit))
	s.stop()
	stopped = true
	leaks("the server's log", s.log.String())
}

// jsonEqual compares JSON with a value, as JSON.
func jsonEqual(got []byte, want any) bool {
	w, _ := json.Marshal(want)
	var a, b any
	json.Unmarshal(got, &a)
	json.Unmarshal(w, &b)
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}
