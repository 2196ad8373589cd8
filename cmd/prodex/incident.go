package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/prodex/prodex/internal/incident"
)

func incidentCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "incident", Short: "Incidents: open, work, resolve and write up"}
	var c client
	var title, severity, sloName, riskName, commander, scribe, status string
	open := &cobra.Command{
		Use: "open --title T [--severity sev2] [--slo NAME] [--commander WHO]", Short: "Open an incident by hand (pages open their own)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			inc, err := c.OpenIncident(cmd.Context(), incident.Incident{Title: title, Severity: severity, SLO: sloName, Risk: riskName, Commander: commander, Scribe: scribe})
			if err != nil {
				return err
			}
			fmt.Println(inc.ID)
			return nil
		},
	}
	open.Flags().StringVar(&title, "title", "", "what is happening (required)")
	open.Flags().StringVar(&severity, "severity", "", "sev1 to sev4 (default sev2)")
	open.Flags().StringVar(&sloName, "slo", "", "the SLO it hurts")
	open.Flags().StringVar(&riskName, "risk", "", "the risk of the register it is")
	open.Flags().StringVar(&commander, "commander", "", "incident commander")
	open.Flags().StringVar(&scribe, "scribe", "", "scribe")
	list := &cobra.Command{
		Use: "list [--status investigating|mitigated|resolved]", Short: "List incidents, newest first", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			incs, err := c.Incidents(cmd.Context(), status)
			if err != nil {
				return err
			}
			return incident.WriteTable(os.Stdout, incs)
		},
	}
	list.Flags().StringVar(&status, "status", "", "only incidents in this status")
	show := &cobra.Command{
		Use: "show ID", Short: "Show an incident and its timeline: alert, status changes, markers, notes, queries run", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			out, err := c.IncidentTimeline(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			i := out.Incident
			if i == nil {
				i = &incident.Incident{}
			}
			ttr := "not yet"
			if i.TTR != nil {
				ttr = i.TTR.String()
			}
			fmt.Printf("%s %s [%s, %s]\ncommander %s, scribe %s; SLO %s; risk %s; time to detect %s, to repair %s\n\n",
				i.ID, i.Title, i.Severity, i.Status, orDash(i.Commander), orDash(i.Scribe), orDash(i.SLO), orDash(i.Risk), i.TTD, ttr)
			tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			for _, e := range out.Timeline {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.Time.Local().Format(time.DateTime), e.Kind, e.Author, strings.ReplaceAll(e.Text, "\n", " "))
			}
			return tw.Flush()
		},
	}
	var summary string
	var factors, followUps []string
	update := &cobra.Command{
		Use: "update ID [--status S] [--commander WHO] [--scribe WHO] [--severity S] [--risk NAME] [--summary TEXT --factor F --follow-up 'TITLE[=RISK]']", Short: "Change an incident; every change goes in its timeline", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var ch incident.Change
			for flag, to := range map[string]**string{"status": &ch.Status, "commander": &ch.Commander, "scribe": &ch.Scribe, "severity": &ch.Severity, "risk": &ch.Risk, "title": &ch.Title} {
				if cmd.Flags().Changed(flag) {
					v, _ := cmd.Flags().GetString(flag)
					*to = &v
				}
			}
			if summary != "" || len(factors) > 0 || len(followUps) > 0 {
				pm := &incident.Postmortem{Summary: summary, ContributingFactors: factors}
				for _, f := range followUps {
					t, r, _ := strings.Cut(f, "=")
					pm.FollowUps = append(pm.FollowUps, incident.FollowUp{Title: t, Risk: r})
				}
				ch.Postmortem = pm
			}
			if ch == (incident.Change{}) {
				return fmt.Errorf("nothing to change: give --status, --commander, --scribe, --severity, --risk, --title or a postmortem")
			}
			_, err := c.UpdateIncident(cmd.Context(), args[0], ch)
			return done(err, "incident/%s updated", args[0])
		},
	}
	update.Flags().String("status", "", "investigating, mitigated or resolved")
	update.Flags().String("commander", "", "incident commander")
	update.Flags().String("scribe", "", "scribe")
	update.Flags().String("severity", "", "sev1 to sev4")
	update.Flags().String("risk", "", "the risk of the register it was")
	update.Flags().String("title", "", "title")
	update.Flags().StringVar(&summary, "summary", "", "postmortem: what happened")
	update.Flags().StringArrayVar(&factors, "factor", nil, "postmortem: a contributing factor (repeatable)")
	update.Flags().StringArrayVar(&followUps, "follow-up", nil, "postmortem: a follow-up, 'TITLE' or 'TITLE=RISK' (repeatable)")
	addClientCommands(cmd, &c, open, list, show, update)
	return cmd
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func notesCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "note", Short: "Markdown notes on SLOs, queries, markers and incidents"}
	var c client
	var on string
	target := func() (string, string, error) {
		t, id, ok := strings.Cut(on, ":")
		if !ok || t == "" || id == "" {
			return "", "", fmt.Errorf("--on: want TYPE:ID, e.g. incident:inc-1a2b or slo:checkout-availability")
		}
		return t, id, nil
	}
	add := &cobra.Command{
		Use: "add --on TYPE:ID TEXT", Short: "Add a note (Markdown); - reads it from stdin", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, id, err := target()
			if err != nil {
				return err
			}
			text := args[0]
			if text == "-" {
				b, err := readAllStdin()
				if err != nil {
					return err
				}
				text = string(b)
			}
			n, err := c.AddNote(cmd.Context(), t, id, text)
			if err != nil {
				return err
			}
			fmt.Println(n.ID)
			return nil
		},
	}
	list := &cobra.Command{
		Use: "list --on TYPE:ID", Short: "List the notes on something", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			t, id, err := target()
			if err != nil {
				return err
			}
			notes, err := c.Notes(cmd.Context(), t, id)
			if err != nil {
				return err
			}
			for _, n := range notes {
				fmt.Printf("%s  %s (%s)\n%s\n\n", n.CreatedAt.Local().Format(time.DateTime), n.Author, n.ID, n.Text)
			}
			return nil
		},
	}
	for _, sub := range []*cobra.Command{add, list} {
		sub.Flags().StringVar(&on, "on", "", "what the note is about: slo:NAME, query:ID, marker:ID or incident:ID")
		addClientFlags(sub, &c)
		cmd.AddCommand(sub)
	}
	return cmd
}

func readAllStdin() ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(os.Stdin, 1<<20+1))
	if err == nil && len(b) > 1<<20 {
		return nil, fmt.Errorf("note larger than 1 MiB")
	}
	return b, err
}
