package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"

	pxclient "github.com/prodex/prodex/internal/client"
)

// client is a command's typed client of a running server, over its
// --server and --key flags.
type client struct{ pxclient.Client }

// addClientFlags adds --server and --key, defaulting from PRODEX_SERVER and
// PRODEX_KEY.
func addClientFlags(cmd *cobra.Command, c *client) {
	server := os.Getenv("PRODEX_SERVER")
	if server == "" {
		server = "http://127.0.0.1:8080"
	}
	cmd.Flags().StringVar(&c.Server, "server", server, "Prodex server URL (env PRODEX_SERVER)")
	keyFlag(cmd, &c.Key)
}

// keyFlag adds --key, which defaults to PRODEX_KEY without saying its
// value: help would otherwise print the key as the flag's default.
func keyFlag(cmd *cobra.Command, key *string) {
	cmd.Flags().StringVar(key, "key", "", "API key (default: env PRODEX_KEY)")
	if v := os.Getenv("PRODEX_KEY"); v != "" {
		*key = v
	}
}

// addClientCommands adds subcommands of cmd that share one client's flags.
func addClientCommands(cmd *cobra.Command, c *client, subs ...*cobra.Command) {
	for _, sub := range subs {
		addClientFlags(sub, c)
		cmd.AddCommand(sub)
	}
}

// table is a table on standard output, under a header of tab-separated
// column names.
func table(header string) *tabwriter.Writer {
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	return tw
}

// printJSON prints an answer as the server wrote it, indented, unless
// getting it failed.
func printJSON(raw []byte, err error) error {
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if err := json.Indent(&b, bytes.TrimSpace(raw), "", "  "); err != nil {
		return err
	}
	fmt.Println(b.String())
	return nil
}

// done prints what a command did, once it did it without error.
func done(err error, format string, args ...any) error {
	if err == nil {
		fmt.Printf(format+"\n", args...)
	}
	return err
}
