package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/prodex/prodex/internal/risk"
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
				changes, err := c.Apply(cmd.Context(), data, dry)
				if err != nil {
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
			defs, err := c.SLOs(cmd.Context())
			if err != nil {
				return err
			}
			tw := table("NAME\tDATASET\tTARGET\tWINDOW\tSLI\tBUDGET LEFT\tEXHAUSTED IN\tALERTS")
			for _, d := range defs {
				st, err := c.SLOStatus(cmd.Context(), d.Name)
				if err != nil {
					return err
				}
				fmt.Fprintf(tw, "%s\t%s\t%g%%\t%s\t%s\t%.2f%%\t%s\t%s\n", d.Name, d.Dataset, d.Target, d.Window, st.SLIText(), st.BudgetRemainingPercent, st.ExhaustionText(), st.AlertsText())
			}
			return tw.Flush()
		},
	}
	get := &cobra.Command{
		Use: "get NAME", Short: "Print an SLO's definition as JSON", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return printJSON(c.SLOJSON(cmd.Context(), args[0]))
		},
	}
	del := &cobra.Command{
		Use: "delete NAME", Short: "Delete an SLO and its counts", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return done(c.DeleteSLO(cmd.Context(), args[0]), "slo/%s deleted", args[0])
		},
	}
	var asJSON bool
	stat := &cobra.Command{
		Use: "status NAME", Short: "Show SLI, error budget, burn rates and time to exhaustion", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if asJSON {
				return printJSON(c.SLOStatusJSON(cmd.Context(), args[0]))
			}
			st, err := c.SLOStatus(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return st.WriteText(os.Stdout)
		},
	}
	stat.Flags().BoolVar(&asJSON, "json", false, "print the raw JSON answer")
	incidents := &cobra.Command{
		Use: "incidents NAME", Short: "The SLO's alert episodes as measured incidents: time to detect, time to repair, impact", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			list, err := c.SLOIncidents(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return risk.WriteIncidents(os.Stdout, list)
		},
	}
	addClientCommands(cmd, &c, list, get, del, stat, incidents)
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
			a, err := c.Gate(cmd.Context(), name, strings.TrimSuffix(min, "%"))
			if err != nil {
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
