package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func envsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "envs", Short: "Environments: isolated sets of datasets, SLOs and everything about them"}
	var c client
	list := &cobra.Command{
		Use: "list", Short: "List the environments besides the default one", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			names, err := c.Environments(cmd.Context())
			for _, n := range names {
				fmt.Println(n)
			}
			return err
		},
	}
	create := &cobra.Command{
		Use: "create NAME", Short: "Create an environment; then make keys for it with 'prodex keys create --env NAME'", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return done(c.CreateEnvironment(cmd.Context(), args[0]), "environment/%s created", args[0])
		},
	}
	addClientCommands(cmd, &c, list, create)
	return cmd
}
