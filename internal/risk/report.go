package risk

import (
	"fmt"
	"strconv"
	"strings"
)

// Markdown renders a register as a Markdown document for a planning
// meeting. Text from risks is escaped so it cannot break the table or
// inject markup.
func Markdown(reg Register) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Risks to SLO %s\n\n", mdText(reg.SLO))
	fmt.Fprintf(&b, "Target %g %% over %s: a budget of %.1f bad minutes per window, %.1f per year.\n\n", reg.Target, mdText(reg.Window), reg.WindowBudgetMinutes, reg.YearBudgetMinutes)
	verdict := "fit in the budget"
	if !reg.Achievable {
		verdict = "**exceed the budget: the SLO is not achievable with today's risks**"
	}
	fmt.Fprintf(&b, "All risks together cost %.1f bad minutes a year, %.1f %% of the budget, and %s; headroom %.1f minutes (%.1f %%).\n\n",
		reg.TotalBadMinutesPerYear, reg.TotalBudgetPercent, verdict, reg.HeadroomMinutes, reg.HeadroomPercent)
	b.WriteString("| # | Risk | Status | Owner | ETTD | ETTR | Per year | Impact | Bad min / incident | Bad min / year | % of budget | Cumulative % | Flags |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, e := range reg.Risks {
		fmt.Fprintf(&b, "| %d | %s | %s | %s | %s | %s | %.3g | %g %% | %.1f | %.1f | %.1f | %.1f | %s |\n",
			e.Rank, mdText(e.Risk.Name), e.Risk.Status, mdText(e.Risk.Owner), e.Risk.ETTD, e.Risk.ETTR, e.Risk.FrequencyPerYear,
			e.Risk.ImpactPercent, e.BadMinutesPerIncident, e.BadMinutesPerYear, e.YearBudgetPercent, e.CumulativePercent, mdText(strings.Join(flags(e), "; ")))
	}
	var notes []string
	for _, e := range reg.Risks {
		if e.Observed != nil && len(e.Observed.Suggestions) > 0 {
			notes = append(notes, fmt.Sprintf("- %s (%d incidents observed): %s", mdText(e.Risk.Name), e.Observed.Incidents, mdText(strings.Join(e.Observed.Suggestions, "; "))))
		}
	}
	if len(notes) > 0 {
		b.WriteString("\n## Estimates that incidents contradict\n\n" + strings.Join(notes, "\n") + "\n")
	}
	return b.String()
}

func flags(e Entry) []string {
	var f []string
	if e.ThreatensSLO {
		f = append(f, "threatens the SLO")
	}
	if e.IncidentTooCostly {
		f = append(f, fmt.Sprintf("one incident spends %.0f %% of a window's budget", e.IncidentBudgetPercent))
	}
	return f
}

// mdText escapes text for a Markdown table cell: markup characters are
// backslash-escaped and line breaks become spaces.
func mdText(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '\n', '\r':
			b.WriteByte(' ')
		case '\\', '`', '*', '_', '{', '}', '[', ']', '(', ')', '#', '+', '-', '.', '!', '|', '<', '>', '&', '~':
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// CSV renders a register as CSV rows, a header first. Cells that a
// spreadsheet would run as a formula are prefixed with a quote.
func CSV(reg Register) [][]string {
	rows := [][]string{{"rank", "risk", "slo", "status", "owner", "ettd_minutes", "ettr_minutes", "frequency_per_year", "impact_percent",
		"bad_minutes_per_incident", "bad_minutes_per_year", "year_budget_percent", "cumulative_percent", "incident_budget_percent",
		"threatens_slo", "incident_too_costly", "observed_incidents", "observed_ttd_minutes", "observed_ttr_minutes", "observed_impact_percent", "description"}}
	num := func(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
	for _, e := range reg.Risks {
		obs := []string{"0", "", "", ""}
		if o := e.Observed; o != nil {
			obs = []string{strconv.Itoa(o.Incidents), num(o.TTD.Minutes()), num(o.TTR.Minutes()), num(o.ImpactPercent)}
		}
		row := []string{strconv.Itoa(e.Rank), cell(e.Risk.Name), cell(e.Risk.SLO), e.Risk.Status, cell(e.Risk.Owner), num(e.Risk.ETTD.Minutes()),
			num(e.Risk.ETTR.Minutes()), num(e.Risk.FrequencyPerYear), num(e.Risk.ImpactPercent), num(e.BadMinutesPerIncident), num(e.BadMinutesPerYear),
			num(e.YearBudgetPercent), num(e.CumulativePercent), num(e.IncidentBudgetPercent), strconv.FormatBool(e.ThreatensSLO),
			strconv.FormatBool(e.IncidentTooCostly)}
		rows = append(rows, append(append(row, obs...), cell(e.Risk.Description)))
	}
	return rows
}

func cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
