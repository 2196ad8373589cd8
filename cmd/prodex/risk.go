package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/prodex/prodex/internal/duration"
	"github.com/prodex/prodex/internal/risk"
)

// printRegister prints a risk register as a table, with its verdict and
// what linked incidents measured.
func printRegister(reg risk.Register) error {
	fmt.Printf("Risks to SLO %s (%g%% over %s): budget %.1f bad minutes a year\n\n", reg.SLO, reg.Target, reg.Window, reg.YearBudgetMinutes)
	tw := table("#\tRISK\tSTATUS\tETTD\tETTR\t/YEAR\tIMPACT\tBAD MIN/INCIDENT\tBAD MIN/YEAR\t% BUDGET\tCUMULATIVE\tFLAGS")
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
	fmt.Printf("\nTotal %.1f bad minutes a year = %.1f%% of the budget: %s (headroom %.1f minutes).\n", reg.TotalBadMinutesPerYear, reg.TotalBudgetPercent, verdict, reg.HeadroomMinutes)
	for _, e := range reg.Risks {
		if o := e.Observed; o != nil {
			fmt.Printf("%s: %d incidents observed: TTD %s, TTR %s, impact %.1f%%", e.Risk.Name, o.Incidents, o.TTD, o.TTR, o.ImpactPercent)
			if len(o.Suggestions) > 0 {
				fmt.Printf("; update %s", strings.Join(o.Suggestions, "; "))
			}
			fmt.Println()
		}
	}
	return nil
}

func riskCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "risk", Short: "The risk register: what can go wrong, against the error budget"}
	var c client
	var sloName, format string
	var incidentTh, threatTh float64
	thresholds := func() risk.Thresholds { return risk.Thresholds{IncidentPercent: incidentTh, ThreatPercent: threatTh} }
	report := &cobra.Command{
		Use: "report --slo NAME", Short: "Print the ranked register: bad minutes per year and share of budget per risk", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if sloName == "" {
				return fmt.Errorf("give the SLO with --slo NAME")
			}
			switch format {
			case "table":
				reg, err := c.RiskRegister(cmd.Context(), sloName, thresholds())
				if err != nil {
					return err
				}
				return printRegister(reg)
			case "json", "markdown", "csv":
				body, err := c.RiskReport(cmd.Context(), sloName, thresholds(), format)
				if err != nil {
					return err
				}
				if format == "json" {
					return printJSON(body, nil)
				}
				_, err = os.Stdout.Write(body)
				return err
			}
			return fmt.Errorf("--format: %q is not one of table, markdown, csv, json", format)
		},
	}
	report.Flags().StringVar(&sloName, "slo", "", "the SLO")
	report.Flags().StringVar(&format, "format", "table", "table, markdown, csv or json")
	for _, sub := range []*cobra.Command{report} {
		sub.Flags().Float64Var(&incidentTh, "incident-threshold", 0, "flag an incident costing more than this % of a window's budget (default 25)")
		sub.Flags().Float64Var(&threatTh, "threat-threshold", 0, "a risk costing more than this % of the yearly budget threatens the SLO (default 100)")
	}
	list := &cobra.Command{
		Use: "list", Short: "List risks", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			risks, err := c.Risks(cmd.Context(), sloName)
			if err != nil {
				return err
			}
			tw := table("NAME\tSLO\tSTATUS\tOWNER\tETTD\tETTR\t/YEAR\tIMPACT")
			for _, r := range risks {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%.3g\t%g%%\n", r.Name, r.SLO, r.Status, r.Owner, r.ETTD, r.ETTR, r.FrequencyPerYear, r.ImpactPercent)
			}
			return tw.Flush()
		},
	}
	list.Flags().StringVar(&sloName, "slo", "", "only this SLO's risks")
	get := &cobra.Command{
		Use: "get NAME", Short: "Print a risk as JSON", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return printJSON(c.RiskJSON(cmd.Context(), args[0]))
		},
	}
	del := &cobra.Command{
		Use: "delete NAME", Short: "Delete a risk", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return done(c.DeleteRisk(cmd.Context(), args[0]), "risk/%s deleted", args[0])
		},
	}
	var ettd, ettr, status string
	var freq, impact float64
	whatIf := &cobra.Command{
		Use: "what-if NAME [--ettd D] [--ettr D] [--frequency N] [--impact P]", Short: "Cost and rank of a risk with changed estimates, nothing saved", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var ch risk.Change
			for _, f := range []struct {
				flag, v string
				to      **duration.Coarse
			}{{"ettd", ettd, &ch.ETTD}, {"ettr", ettr, &ch.ETTR}} {
				if f.v != "" {
					d, err := duration.Parse(f.v)
					if err != nil {
						return fmt.Errorf("--%s: %w", f.flag, err)
					}
					c := duration.Coarse(d)
					*f.to = &c
				}
			}
			if cmd.Flags().Changed("frequency") {
				ch.FrequencyPerYear = &freq
			}
			if cmd.Flags().Changed("impact") {
				ch.ImpactPercent = &impact
			}
			if status != "" {
				ch.Status = &status
			}
			if ch == (risk.Change{}) {
				return fmt.Errorf("change at least one of --ettd, --ettr, --frequency, --impact, --status")
			}
			w, err := c.WhatIf(cmd.Context(), args[0], ch, thresholds())
			if err != nil {
				return err
			}
			fmt.Printf("%s: %.1f → %.1f bad minutes a year (%.1f%% → %.1f%% of the budget), rank %d → %d\n",
				args[0], w.Before.BadMinutesPerYear, w.After.BadMinutesPerYear, w.Before.YearBudgetPercent, w.After.YearBudgetPercent, w.Before.Rank, w.After.Rank)
			fmt.Printf("saves %.1f bad minutes a year, %.1f%% of the yearly budget\n\n", w.BadMinutesSavedPerYear, w.BudgetPercentFreed)
			return printRegister(w.Register)
		},
	}
	whatIf.Flags().StringVar(&ettd, "ettd", "", "time to detect, e.g. 5m")
	whatIf.Flags().StringVar(&ettr, "ettr", "", "time to repair, e.g. 15m")
	whatIf.Flags().Float64Var(&freq, "frequency", 0, "incidents per year")
	whatIf.Flags().Float64Var(&impact, "impact", 0, "share of users affected, percent")
	whatIf.Flags().StringVar(&status, "status", "", "open, accepted, mitigating or fixed")
	whatIf.Flags().Float64Var(&incidentTh, "incident-threshold", 0, "as for report")
	whatIf.Flags().Float64Var(&threatTh, "threat-threshold", 0, "as for report")
	link := &cobra.Command{
		Use: "link NAME ALERT_ID", Short: "Record that an alert episode (see prodex slo incidents) was this risk happening", Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := c.LinkIncident(cmd.Context(), args[0], args[1])
			return done(err, "risk/%s linked to alert %s", args[0], args[1])
		},
	}
	addClientCommands(cmd, &c, report, list, get, del, whatIf, link)
	return cmd
}
