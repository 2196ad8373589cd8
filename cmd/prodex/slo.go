package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

// applyCmd sends SLOs as code to the server.
func applyCmd() *cobra.Command {
	var c client
	var files []string
	var dry bool
	cmd := &cobra.Command{
		Use:   "apply -f FILE",
		Short: "Create or update SLOs and risks from YAML (prodex/v1 SLO and Risk, OpenSLO v1 SLO); shows what changed",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(files) == 0 {
				return fmt.Errorf("give the definitions with -f FILE (- for stdin)")
			}
			for _, f := range files {
				var data []byte
				var err error
				if f == "-" {
					data, err = io.ReadAll(os.Stdin)
				} else {
					data, err = os.ReadFile(f)
				}
				if err != nil {
					return err
				}
				path := "/api/v1/apply"
				if dry {
					path += "?dry_run=true"
				}
				var changes []struct {
					Kind, Name, Action string
					Diff               []string
				}
				if err := c.raw("POST", path, "application/yaml", bytes.NewReader(data), &changes); err != nil {
					return fmt.Errorf("%s: %w", f, err)
				}
				for _, ch := range changes {
					verb := ch.Action
					if dry {
						verb = "would be " + verb
					}
					fmt.Printf("%s/%s %s\n", strings.ToLower(ch.Kind), ch.Name, verb)
					for _, d := range ch.Diff {
						fmt.Printf("  %s\n", d)
					}
				}
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVarP(&files, "file", "f", nil, "definitions file (repeatable; - for stdin)")
	cmd.Flags().BoolVar(&dry, "dry-run", false, "show what would change without changing it")
	addClientFlags(cmd, &c)
	return cmd
}

func sloCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "slo", Short: "List, show, delete SLOs and their status"}
	var c client
	list := &cobra.Command{
		Use: "list", Short: "List SLOs with their current state", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var defs []struct {
				Name, Dataset string
				Target        float64
				Window        string
			}
			if err := c.do("GET", "/api/v1/slos", nil, &defs); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tDATASET\tTARGET\tWINDOW\tSLI\tBUDGET LEFT\tEXHAUSTED IN\tALERTS")
			for _, d := range defs {
				var st status
				if err := c.do("GET", "/api/v1/slos/"+url.PathEscape(d.Name)+"/status", nil, &st); err != nil {
					return err
				}
				fmt.Fprintf(tw, "%s\t%s\t%g%%\t%s\t%s\t%.2f%%\t%s\t%s\n", d.Name, d.Dataset, d.Target, d.Window, st.sli(), st.BudgetRemainingPercent, st.exhaustion(), st.alerts())
			}
			return tw.Flush()
		},
	}
	get := &cobra.Command{
		Use: "get NAME", Short: "Print an SLO's definition as JSON", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var d json.RawMessage
			if err := c.do("GET", "/api/v1/slos/"+url.PathEscape(args[0]), nil, &d); err != nil {
				return err
			}
			return printJSON(d)
		},
	}
	del := &cobra.Command{
		Use: "delete NAME", Short: "Delete an SLO and its counts", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := c.do("DELETE", "/api/v1/slos/"+url.PathEscape(args[0]), nil, nil); err != nil {
				return err
			}
			fmt.Printf("slo/%s deleted\n", args[0])
			return nil
		},
	}
	var asJSON bool
	stat := &cobra.Command{
		Use: "status NAME", Short: "Show SLI, error budget, burn rates and time to exhaustion", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var raw json.RawMessage
			if err := c.do("GET", "/api/v1/slos/"+url.PathEscape(args[0])+"/status", nil, &raw); err != nil {
				return err
			}
			if asJSON {
				return printJSON(raw)
			}
			var st status
			if err := json.Unmarshal(raw, &st); err != nil {
				return err
			}
			fmt.Printf("SLO %s: target %g%% over %s\n", st.SLO, st.Target, st.Window)
			fmt.Printf("SLI               %s (%d good of %d eligible; %d events could not be evaluated)\n", st.sli(), st.Good, st.Eligible, st.Invalid)
			fmt.Printf("error budget      %.2f%% left (%d of %.0f bad events used)\n", st.BudgetRemainingPercent, st.BudgetUsed, st.BudgetTotal)
			fmt.Printf("exhausted in      %s\n", st.exhaustion())
			var ws []string
			for _, w := range []string{"5m", "30m", "1h", "6h", "1d", "3d"} {
				ws = append(ws, fmt.Sprintf("%s %.2f", w, st.BurnRate[w]))
			}
			fmt.Printf("burn rate         %s\n", strings.Join(ws, "  "))
			fmt.Printf("alerts            %s\n", st.alerts())
			return nil
		},
	}
	stat.Flags().BoolVar(&asJSON, "json", false, "print the raw JSON answer")
	incidents := &cobra.Command{
		Use: "incidents NAME", Short: "The SLO's alert episodes as measured incidents: time to detect, time to repair, impact", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var list []struct {
				AlertID, Severity string
				BadStart          time.Time `json:"bad_start"`
				Detected          time.Time
				TTD, TTR          string
				Impact            float64 `json:"impact_percent"`
				BadMinutes        float64 `json:"bad_minutes"`
				Ongoing           bool
			}
			if err := c.do("GET", "/api/v1/slos/"+url.PathEscape(args[0])+"/incidents", nil, &list); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ALERT\tSEVERITY\tBAD FROM\tDETECTED\tTTD\tTTR\tIMPACT\tBAD MINUTES")
			for _, in := range list {
				ttr := in.TTR
				if in.Ongoing {
					ttr += " (ongoing)"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%.1f%%\t%.1f\n", in.AlertID, in.Severity, in.BadStart.Local().Format(time.DateTime),
					in.Detected.Local().Format(time.DateTime), in.TTD, ttr, in.Impact, in.BadMinutes)
			}
			return tw.Flush()
		},
	}
	for _, sub := range []*cobra.Command{list, get, del, stat, incidents} {
		addClientFlags(sub, &c)
		cmd.AddCommand(sub)
	}
	return cmd
}

// gateCmd answers "is it safe to ship?" for CD pipelines: exit 0 when yes.
func gateCmd() *cobra.Command {
	var c client
	var name, min string
	cmd := &cobra.Command{
		Use:   "gate --slo NAME --min-remaining 25%",
		Short: "Exit 0 when the SLO has enough error budget left to ship a risky change, non-zero with the reason when not",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if name == "" {
				return fmt.Errorf("--slo is required")
			}
			var a struct {
				OK     bool
				Reason string
			}
			if err := c.do("GET", "/api/v1/slos/"+url.PathEscape(name)+"/gate?min_remaining="+url.QueryEscape(strings.TrimSuffix(min, "%")), nil, &a); err != nil {
				return err
			}
			if !a.OK {
				return fmt.Errorf("not safe to ship: %s", a.Reason)
			}
			fmt.Println("safe to ship:", a.Reason)
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "slo", "", "SLO name")
	cmd.Flags().StringVar(&min, "min-remaining", "0%", "error budget that must remain, in percent")
	addClientFlags(cmd, &c)
	return cmd
}

// status is the part of the status answer the CLI prints.
type status struct {
	SLO                    string
	Target                 float64
	Window                 string
	SLI                    *float64
	Eligible, Good         int64
	Invalid                int64              `json:"invalid_events"`
	BudgetTotal            float64            `json:"budget_total"`
	BudgetUsed             int64              `json:"budget_used"`
	BudgetRemainingPercent float64            `json:"budget_remaining_percent"`
	BurnRate               map[string]float64 `json:"burn_rate"`
	ExhaustionSeconds      *float64           `json:"exhaustion_seconds"`
	Alerts                 []struct {
		Severity string
		Detail   string
	}
}

func (s status) sli() string {
	if s.SLI == nil {
		return "no events"
	}
	return fmt.Sprintf("%.3f%%", *s.SLI)
}

func (s status) exhaustion() string {
	if s.ExhaustionSeconds == nil {
		return "never at the current rate"
	}
	return (time.Duration(*s.ExhaustionSeconds) * time.Second).Round(time.Minute).String()
}

func (s status) alerts() string {
	if len(s.Alerts) == 0 {
		return "none"
	}
	var out []string
	for _, a := range s.Alerts {
		out = append(out, strings.ToUpper(a.Severity)+" "+a.Detail)
	}
	return strings.Join(out, "; ")
}

func printJSON(raw json.RawMessage) error {
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		return err
	}
	fmt.Println(b.String())
	return nil
}
