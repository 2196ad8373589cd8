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
			var names []string
			if err := c.do("GET", "/api/v1/environments", nil, &names); err != nil {
				return err
			}
			for _, n := range names {
				fmt.Println(n)
			}
			return nil
		},
	}
	create := &cobra.Command{
		Use: "create NAME", Short: "Create an environment; then make keys for it with 'prodex keys create --env NAME'", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := c.do("POST", "/api/v1/environments", map[string]string{"name": args[0]}, nil); err != nil {
				return err
			}
			fmt.Printf("environment/%s created\n", args[0])
			return nil
		},
	}
	for _, sub := range []*cobra.Command{list, create} {
		addClientFlags(sub, &c)
		cmd.AddCommand(sub)
	}
	return cmd
}
