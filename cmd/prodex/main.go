// Command prodex is the Prodex server and its command-line client.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func main() {
	if err := rootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "prodex:", err)
		os.Exit(1)
	}
}

// rootCmd is the prodex command with every subcommand.
func rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "prodex",
		Short:         "Prodex: wide events, SLOs and the questions in between",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(serveCmd(), keysCmd(), sendCmd(), queryCmd(), explainCmd(), applyCmd(), sloCmd(), riskCmd(), gateCmd(), markerCmd(), benchCmd())
	root.AddCommand(usersCmd(), incidentCmd(), notesCmd(), envsCmd(), demoCmd())
	root.AddCommand(historyCmd(), savedCmd())
	return root
}
