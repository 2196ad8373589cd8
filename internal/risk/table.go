package risk

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteTable writes a register as prodex risk report prints it: a ranked
// text table under its SLO, the verdict, and what linked incidents
// measured.
func WriteTable(w io.Writer, reg Register) error {
	fmt.Fprintf(w, "Risks to SLO %s (%g%% over %s): budget %.1f bad minutes a year\n\n", reg.SLO, reg.Target, reg.Window, reg.YearBudgetMinutes)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tRISK\tSTATUS\tETTD\tETTR\t/YEAR\tIMPACT\tBAD MIN/INCIDENT\tBAD MIN/YEAR\t% BUDGET\tCUMULATIVE\tFLAGS")
	for _, e := range reg.Risks {
		var flags []string
		if e.ThreatensSLO {
			flags = append(flags, "THREATENS SLO")
		}
		if e.IncidentTooCostly {
			flags = append(flags, fmt.Sprintf("one incident = %.0f%% of window budget", e.IncidentBudgetPercent))
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%.3g\t%g%%\t%.1f\t%.1f\t%.1f%%\t%.1f%%\t%s\n", e.Rank, e.Risk.Name, e.Risk.Status, e.Risk.ETTD, e.Risk.ETTR,
			e.Risk.FrequencyPerYear, e.Risk.ImpactPercent, e.BadMinutesPerIncident, e.BadMinutesPerYear, e.YearBudgetPercent, e.CumulativePercent, strings.Join(flags, ", "))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	verdict := "the SLO is achievable"
	if !reg.Achievable {
		verdict = "the SLO is NOT achievable with these risks"
	}
	fmt.Fprintf(w, "\nTotal %.1f bad minutes a year = %.1f%% of the budget: %s (headroom %.1f minutes).\n", reg.TotalBadMinutesPerYear, reg.TotalBudgetPercent, verdict, reg.HeadroomMinutes)
	for _, e := range reg.Risks {
		if o := e.Observed; o != nil {
			fmt.Fprintf(w, "%s: %d incidents observed: TTD %s, TTR %s, impact %.1f%%", e.Risk.Name, o.Incidents, o.TTD, o.TTR, o.ImpactPercent)
			if len(o.Suggestions) > 0 {
				fmt.Fprintf(w, "; update %s", strings.Join(o.Suggestions, "; "))
			}
			fmt.Fprintln(w)
		}
	}
	return nil
}

// WriteWhatIfTable writes what changing a risk's estimates would do, as
// prodex risk what-if prints it: the risk's cost and rank before and
// after, then the changed register.
func WriteWhatIfTable(w io.Writer, wi WhatIf) error {
	fmt.Fprintf(w, "%s: %.1f → %.1f bad minutes a year (%.1f%% → %.1f%% of the budget), rank %d → %d\n",
		wi.Risk, wi.Before.BadMinutesPerYear, wi.After.BadMinutesPerYear, wi.Before.YearBudgetPercent, wi.After.YearBudgetPercent, wi.Before.Rank, wi.After.Rank)
	fmt.Fprintf(w, "saves %.1f bad minutes a year, %.1f%% of the yearly budget\n\n", wi.BadMinutesSavedPerYear, wi.BudgetPercentFreed)
	return WriteTable(w, wi.Register)
}

// WriteIncidents writes an SLO's measured incidents as prodex slo
// incidents prints them: a text table in local time.
func WriteIncidents(w io.Writer, list []Incident) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ALERT\tSEVERITY\tBAD FROM\tDETECTED\tTTD\tTTR\tIMPACT\tBAD MINUTES")
	for _, in := range list {
		ttr := in.TTR.String()
		if in.Ongoing {
			ttr += " (ongoing)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%.1f%%\t%.1f\n", in.AlertID, in.Severity, in.BadStart.Local().Format(time.DateTime),
			in.Detected.Local().Format(time.DateTime), in.TTD, ttr, in.ImpactPercent, in.BadMinutes)
	}
	return tw.Flush()
}
