package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/prodex/prodex/internal/auth"
	pxserver "github.com/prodex/prodex/internal/server"
)

func keysCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "keys", Short: "Create, list and revoke API keys"}
	cmd.AddCommand(keysCreateCmd(), keysListCmd(), keysRevokeCmd())
	return cmd
}

func keysCreateCmd() *cobra.Command {
	var dataDir, scope, name, env string
	var c client
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create a key; with --data, directly in a data directory (no server needed)",
		Long: "Create an API key and print it as the last line of output.\n" +
			"With --data DIR the key is written straight into the data directory, which works before the server\n" +
			"has ever started (to bootstrap); otherwise it is created through the server's admin API.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			sc, err := auth.ParseScope(scope)
			if err != nil {
				return err
			}
			if dataDir != "" {
				secret, k, err := pxserver.CreateKey(dataDir, env, sc, name)
				if err != nil {
					return err
				}
				fmt.Fprintf(os.Stderr, "created %s key %s\n", k.Scope, k.ID)
				fmt.Println(secret)
				return nil
			}
			out, err := c.CreateKey(cmd.Context(), env, sc, name)
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "created %s key %s\n", scope, out.ID)
			fmt.Println(out.Key)
			return nil
		},
	}
	cmd.Flags().StringVar(&dataDir, "data", "", "data directory to write the key into directly")
	cmd.Flags().StringVar(&scope, "scope", "", "ingest, query, edit or admin (required)")
	cmd.Flags().StringVar(&name, "name", "", "a name to recognise the key by")
	cmd.Flags().StringVar(&env, "env", "", "the environment the key works in (default: the default environment); with --data it is created if new")
	cmd.MarkFlagRequired("scope")
	addClientFlags(cmd, &c)
	return cmd
}

func keysListCmd() *cobra.Command {
	var c client
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List API keys (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			keys, err := c.Keys(cmd.Context())
			if err != nil {
				return err
			}
			tw := table("ID\tSCOPE\tNAME\tCREATED\tREVOKED")
			for _, k := range keys {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%v\n", k.ID, k.Scope, k.Name, k.Created.Format(time.RFC3339), k.Revoked)
			}
			return tw.Flush()
		},
	}
	addClientFlags(cmd, &c)
	return cmd
}

func keysRevokeCmd() *cobra.Command {
	var c client
	cmd := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke an API key",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.RevokeKey(cmd.Context(), args[0])
		},
	}
	addClientFlags(cmd, &c)
	return cmd
}
