package rules

import (
	"strings"
	"testing"

	"github.com/prodex/prodex/internal/slo"
)

func TestStatusText(t *testing.T) {
	sli, exhaust := 99.87654, 5*3600.0+29*60+40
	st := Status{Status: slo.Status{SLO: "checkout-availability", Target: 99.9, Window: "30d", SLI: &sli, Eligible: 10000, Good: 9988, BudgetTotal: 10,
		BudgetUsed: 12, BudgetRemainingPercent: -20, BurnRate: map[string]float64{"5m": 14.4, "1h": 2}, ExhaustionSeconds: &exhaust},
		Invalid: 3, Alerts: []*Episode{{Severity: slo.Page, Detail: "burn 14.4x over 5m and 1h"}, {Severity: slo.Ticket, Detail: "slow burn"}}}
	var b strings.Builder
	if err := st.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	want := "" +
		"SLO checkout-availability: target 99.9% over 30d\n" +
		"SLI               99.877% (9988 good of 10000 eligible; 3 events could not be evaluated)\n" +
		"error budget      -20.00% left (12 of 10 bad events used)\n" +
		"exhausted in      5h30m0s\n" +
		"burn rate         5m 14.40  30m 0.00  1h 2.00  6h 0.00  1d 0.00  3d 0.00\n" +
		"alerts            PAGE burn 14.4x over 5m and 1h; TICKET slow burn\n"
	if b.String() != want {
		t.Errorf("status:\n%s\nwant:\n%s", b.String(), want)
	}
	var idle Status
	if idle.SLIText() != "no events" || idle.ExhaustionText() != "never at the current rate" || idle.AlertsText() != "none" {
		t.Errorf("no events: %q %q %q", idle.SLIText(), idle.ExhaustionText(), idle.AlertsText())
	}
}
