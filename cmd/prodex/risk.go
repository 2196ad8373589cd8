package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

// registerView is the part of a risk register the table shows.
type registerView struct {
	SLO                    string
	Target                 float64
	Window                 string
	YearBudgetMinutes      float64 `json:"year_budget_minutes"`
	TotalBadMinutesPerYear float64 `json:"total_bad_minutes_per_year"`
	TotalBudgetPercent     float64 `json:"total_budget_percent"`
	Achievable             bool
	HeadroomMinutes        float64 `json:"headroom_minutes"`
	Risks                  []struct {
		Rank int
		Risk struct {
			Name, Status, ETTD, ETTR string
			Frequency                float64 `json:"frequency_per_year"`
			Impact                   float64 `json:"impact_percent"`
		}
		PerIncident  float64 `json:"bad_minutes_per_incident"`
		PerYear      float64 `json:"bad_minutes_per_year"`
		YearPercent  float64 `json:"year_budget_percent"`
		Cumulative   float64 `json:"cumulative_percent"`
		Threatens    bool    `json:"threatens_slo"`
		TooCostly    bool    `json:"incident_too_costly"`
		IncidentPcnt float64 `json:"incident_budget_percent"`
		Observed     *struct {
			Incidents   int
			TTD, TTR    string
			Impact      float64 `json:"impact_percent"`
			Suggestions []string
		}
	}
}

func (reg registerView) print() error {
	fmt.Printf("Risks to SLO %s (%g%% over %s): budget %.1f bad minutes a year\n\n", reg.SLO, reg.Target, reg.Window, reg.YearBudgetMinutes)
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tRISK\tSTATUS\tETTD\tETTR\t/YEAR\tIMPACT\tBAD MIN/INCIDENT\tBAD MIN/YEAR\t% BUDGET\tCUMULATIVE\tFLAGS")
	for _, e := range reg.Risks {
		var flags []string
		if e.Threatens {
			flags = append(flags, "THREATENS SLO")
		}
		if e.TooCostly {
			flags = append(flags, fmt.Sprintf("one incident = %.0f%% of window budget", e.IncidentPcnt))
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%.3g\t%g%%\t%.1f\t%.1f\t%.1f%%\t%.1f%%\t%s\n", e.Rank, e.Risk.Name, e.Risk.Status, e.Risk.ETTD, e.Risk.ETTR,
			e.Risk.Frequency, e.Risk.Impact, e.PerIncident, e.PerYear, e.YearPercent, e.Cumulative, strings.Join(flags, ", "))
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
			fmt.Printf("%s: %d incidents observed: TTD %s, TTR %s, impact %.1f%%", e.Risk.Name, o.Incidents, o.TTD, o.TTR, o.Impact)
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
	thresholdQuery := func() string {
		q := url.Values{}
		if incidentTh > 0 {
			q.Set("incident_threshold", fmt.Sprint(incidentTh))
		}
		if threatTh > 0 {
			q.Set("threat_threshold", fmt.Sprint(threatTh))
		}
		return q.Encode()
	}
	report := &cobra.Command{
		Use: "report --slo NAME", Short: "Print the ranked register: bad minutes per year and share of budget per risk", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if sloName == "" {
				return fmt.Errorf("give the SLO with --slo NAME")
			}
			q := thresholdQuery()
			path := "/api/v1/slos/" + url.PathEscape(sloName) + "/risks?" + q
			switch format {
			case "table", "json":
				var raw json.RawMessage
				if err := c.do("GET", path, nil, &raw); err != nil {
					return err
				}
				if format == "json" {
					return printJSON(raw)
				}
				var reg registerView
				if err := json.Unmarshal(raw, &reg); err != nil {
					return err
				}
				return reg.print()
			case "markdown", "csv":
				var body []byte
				if err := c.do("GET", path+"&format="+format, nil, &body); err != nil {
					return err
				}
				_, err := os.Stdout.Write(body)
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
			var risks []struct {
				Name, SLO, Status, Owner, ETTD, ETTR string
				Frequency                            float64 `json:"frequency_per_year"`
				Impact                               float64 `json:"impact_percent"`
			}
			if err := c.do("GET", "/api/v1/risks?slo="+url.QueryEscape(sloName), nil, &risks); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tSLO\tSTATUS\tOWNER\tETTD\tETTR\t/YEAR\tIMPACT")
			for _, r := range risks {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%.3g\t%g%%\n", r.Name, r.SLO, r.Status, r.Owner, r.ETTD, r.ETTR, r.Frequency, r.Impact)
			}
			return tw.Flush()
		},
	}
	list.Flags().StringVar(&sloName, "slo", "", "only this SLO's risks")
	get := &cobra.Command{
		Use: "get NAME", Short: "Print a risk as JSON", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var raw json.RawMessage
			if err := c.do("GET", "/api/v1/risks/"+url.PathEscape(args[0]), nil, &raw); err != nil {
				return err
			}
			return printJSON(raw)
		},
	}
	del := &cobra.Command{
		Use: "delete NAME", Short: "Delete a risk", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := c.do("DELETE", "/api/v1/risks/"+url.PathEscape(args[0]), nil, nil); err != nil {
				return err
			}
			fmt.Printf("risk/%s deleted\n", args[0])
			return nil
		},
	}
	var ettd, ettr, status string
	var freq, impact float64
	whatIf := &cobra.Command{
		Use: "what-if NAME [--ettd D] [--ettr D] [--frequency N] [--impact P]", Short: "Cost and rank of a risk with changed estimates, nothing saved", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			change := map[string]any{}
			if ettd != "" {
				change["ettd"] = ettd
			}
			if ettr != "" {
				change["ettr"] = ettr
			}
			if cmd.Flags().Changed("frequency") {
				change["frequency_per_year"] = freq
			}
			if cmd.Flags().Changed("impact") {
				change["impact_percent"] = impact
			}
			if status != "" {
				change["status"] = status
			}
			if len(change) == 0 {
				return fmt.Errorf("change at least one of --ettd, --ettr, --frequency, --impact, --status")
			}
			var w struct {
				Before, After struct {
					Rank    int
					PerYear float64 `json:"bad_minutes_per_year"`
					Percent float64 `json:"year_budget_percent"`
				}
				Saved  float64      `json:"bad_minutes_saved_per_year"`
				Freed  float64      `json:"budget_percent_freed"`
				Regist registerView `json:"register"`
			}
			if err := c.do("POST", "/api/v1/risks/"+url.PathEscape(args[0])+"/what-if?"+thresholdQuery(), change, &w); err != nil {
				return err
			}
			fmt.Printf("%s: %.1f → %.1f bad minutes a year (%.1f%% → %.1f%% of the budget), rank %d → %d\n",
				args[0], w.Before.PerYear, w.After.PerYear, w.Before.Percent, w.After.Percent, w.Before.Rank, w.After.Rank)
			fmt.Printf("saves %.1f bad minutes a year, %.1f%% of the yearly budget\n\n", w.Saved, w.Freed)
			return w.Regist.print()
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
			if err := c.do("POST", "/api/v1/risks/"+url.PathEscape(args[0])+"/incidents", map[string]string{"alert_id": args[1]}, nil); err != nil {
				return err
			}
			fmt.Printf("risk/%s linked to alert %s\n", args[0], args[1])
			return nil
		},
	}
	for _, sub := range []*cobra.Command{report, list, get, del, whatIf, link} {
		addClientFlags(sub, &c)
		cmd.AddCommand(sub)
	}
	return cmd
}
