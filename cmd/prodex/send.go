package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/prodex/prodex/internal/event"
)

func sendCmd() *cobra.Command {
	var c client
	var batchSize int
	var timeField string
	cmd := &cobra.Command{
		Use:   "send DATASET",
		Short: "Send JSON lines from standard input as events",
		Long: "Each line of standard input is one JSON object: the event's fields. With --time-field NAME,\n" +
			"that field (RFC3339 or Unix seconds) is the event's time and is removed from the fields.\n" +
			"Exits non-zero if any line was rejected, after reporting each one.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ds, err := event.NormalizeDataset(args[0])
			if err != nil {
				return err
			}
			sent, rejected, err := c.SendLines(cmd.Context(), ds, os.Stdin, batchSize, timeField, func(line int, reason string) {
				fmt.Fprintf(os.Stderr, "line %d: %s\n", line, reason)
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "sent %d events, %d rejected\n", sent, rejected)
			if rejected > 0 {
				return fmt.Errorf("%d of %d events were rejected", rejected, sent+rejected)
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&batchSize, "batch", 500, "events per request")
	cmd.Flags().StringVar(&timeField, "time-field", "", "field holding the event time")
	addClientFlags(cmd, &c)
	return cmd
}
