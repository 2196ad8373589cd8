package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/prodex/prodex/internal/duration"
	"github.com/prodex/prodex/internal/risk"
)

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
				return risk.WriteTable(os.Stdout, reg)
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
			return risk.WriteWhatIfTable(os.Stdout, w)
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
