package rules

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/prodex/prodex/internal/notify"
)

// TestReceiverSecretsWriteOnly: Get and List show receivers redacted; the
// evaluator keeps the secrets; a definition read back and applied again is
// unchanged; a dry run of a new secret says that it changes without showing
// it, and applying it stores it; a redacted form the SLO does not hold is
// refused.
func TestReceiverSecretsWriteOnly(t *testing.T) {
	ctx := context.Background()
	st, err := openEmbedded(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	m := newOutboxManager(t, st, &lost{})
	d := outboxSLO("https://hooks.example.com/hook?token=hook-token-1234")
	d.Notify = append(d.Notify, notify.Target{Type: "pagerduty", RoutingKey: "routing-key-5678"})
	d.Notify[0].Secret = "hmac-secret-9012"
	secrets := []string{"hook-token-1234", "routing-key-5678", "hmac-secret-9012"}
	if _, err := m.Apply(ctx, d, false); err != nil {
		t.Fatal(err)
	}
	shows := func(what string, v any) {
		t.Helper()
		s := fmt.Sprintf("%+v", v)
		for _, sec := range secrets {
			if strings.Contains(s, sec) {
				t.Errorf("%s shows %q: %s", what, sec, s)
			}
		}
	}
	got, _ := m.Get("checkout")
	shows("Get", got)
	shows("List", m.List())
	if got.Notify[0].URL != "…1234" || got.Notify[0].Secret != "…9012" || got.Notify[1].RoutingKey != "…5678" {
		t.Errorf("Get: %+v", got.Notify)
	}
	m.mu.RLock()
	kept := m.slos["checkout"].def.Notify
	m.mu.RUnlock()
	if kept[0].Secret != "hmac-secret-9012" || kept[1].RoutingKey != "routing-key-5678" {
		t.Errorf("the evaluator's definition lost its secrets: %+v", kept)
	}

	// Read back and applied again: nothing changes.
	if ch, err := m.Apply(ctx, got, false); err != nil || ch.Action != "unchanged" {
		t.Errorf("re-applying the redacted definition: %+v %v", ch, err)
	}
	// A new secret with the same last four characters: the dry run says
	// that it changes, without either secret.
	next := got
	next.Notify = []notify.Target{got.Notify[0], got.Notify[1]}
	next.Notify[0].Secret = "another-secret-9012"
	ch, err := m.Apply(ctx, next, true)
	if err != nil || ch.Action != "updated" || len(ch.Diff) != 1 || !strings.Contains(ch.Diff[0], "secret changed") {
		t.Errorf("dry run of a new secret: %+v %v", ch, err)
	}
	secrets = append(secrets, "another-secret-9012")
	shows("the dry run's diff", ch.Diff)
	// Another change shows the receivers redacted.
	next.Notify[1].URL = "https://events.example.com/v2/enqueue"
	ch, _ = m.Apply(ctx, next, true)
	shows("the dry run's diff", ch.Diff)
	if _, err := m.Apply(ctx, next, false); err != nil {
		t.Fatal(err)
	}
	m.mu.RLock()
	kept = m.slos["checkout"].def.Notify
	m.mu.RUnlock()
	if kept[0].Secret != "another-secret-9012" || kept[0].URL != d.Notify[0].URL || kept[1].RoutingKey != "routing-key-5678" {
		t.Errorf("after applying a new secret: %+v", kept)
	}

	// A redacted form of nothing the SLO holds.
	bad := got
	bad.Notify = []notify.Target{{Type: "slack", URL: "…0000"}}
	if _, err := m.Apply(ctx, bad, true); err == nil || !strings.HasPrefix(err.Error(), "spec.notify[0].url: ") {
		t.Errorf("an unknown redacted form: %v", err)
	}
	fresh := bad
	fresh.Name = "new-one"
	if _, err := m.Apply(ctx, fresh, false); err == nil {
		t.Error("a new SLO took a redacted form")
	}
}
