package rules

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// WriteText writes a status as prodex slo status prints it: SLI, error
// budget, time to exhaustion, burn rates and open alerts, one a line.
func (st Status) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "SLO %s: target %g%% over %s\n", st.SLO, st.Target, st.Window)
	fmt.Fprintf(w, "SLI               %s (%d good of %d eligible; %d events could not be evaluated)\n", st.SLIText(), st.Good, st.Eligible, st.Invalid)
	fmt.Fprintf(w, "error budget      %.2f%% left (%d of %.0f bad events used)\n", st.BudgetRemainingPercent, st.BudgetUsed, st.BudgetTotal)
	fmt.Fprintf(w, "exhausted in      %s\n", st.ExhaustionText())
	var ws []string
	for _, win := range []string{"5m", "30m", "1h", "6h", "1d", "3d"} {
		ws = append(ws, fmt.Sprintf("%s %.2f", win, st.BurnRate[win]))
	}
	fmt.Fprintf(w, "burn rate         %s\n", strings.Join(ws, "  "))
	_, err := fmt.Fprintf(w, "alerts            %s\n", st.AlertsText())
	return err
}

// SLIText is the SLI in percent, or that the SLO has no events.
func (st Status) SLIText() string {
	if st.SLI == nil {
		return "no events"
	}
	return fmt.Sprintf("%.3f%%", *st.SLI)
}

// ExhaustionText is when the budget runs out at the current burn rate,
// to the minute.
func (st Status) ExhaustionText() string {
	if st.ExhaustionSeconds == nil {
		return "never at the current rate"
	}
	return (time.Duration(*st.ExhaustionSeconds) * time.Second).Round(time.Minute).String()
}

// AlertsText lists the open alerts by severity and detail, or "none".
func (st Status) AlertsText() string {
	if len(st.Alerts) == 0 {
		return "none"
	}
	var out []string
	for _, a := range st.Alerts {
		out = append(out, strings.ToUpper(string(a.Severity))+" "+a.Detail)
	}
	return strings.Join(out, "; ")
}
