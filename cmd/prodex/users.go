package main

import (
	"fmt"
	"net/url"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

func usersCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "users", Short: "People, their roles (viewer, editor, admin) and personal keys"}
	var c client
	list := &cobra.Command{
		Use: "list", Short: "List users", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var users []struct{ Name, Email, Role string }
			if err := c.do("GET", "/api/v1/users", nil, &users); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tROLE\tEMAIL")
			for _, u := range users {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", u.Name, u.Role, u.Email)
			}
			return tw.Flush()
		},
	}
	var role, email, keyName string
	set := &cobra.Command{
		Use: "set NAME --role viewer|editor|admin [--email E]", Short: "Create or update a user", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var u struct{ Name, Role string }
			if err := c.do("PUT", "/api/v1/users/"+url.PathEscape(args[0]), map[string]string{"role": role, "email": email}, &u); err != nil {
				return err
			}
			fmt.Printf("user/%s is %s\n", u.Name, u.Role)
			return nil
		},
	}
	set.Flags().StringVar(&role, "role", "", "viewer, editor or admin (required)")
	set.Flags().StringVar(&email, "email", "", "email address")
	del := &cobra.Command{
		Use: "delete NAME", Short: "Delete a user and revoke their keys", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := c.do("DELETE", "/api/v1/users/"+url.PathEscape(args[0]), nil, nil); err != nil {
				return err
			}
			fmt.Printf("user/%s deleted, their keys revoked\n", args[0])
			return nil
		},
	}
	key := &cobra.Command{
		Use: "key NAME [--name laptop]", Short: "Make a personal key for a user; it is the last line of output", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var out struct{ ID, Scope, Key string }
			if err := c.do("POST", "/api/v1/users/"+url.PathEscape(args[0])+"/keys", map[string]string{"name": keyName}, &out); err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "created %s's key %s (%s, follows their role)\n", args[0], out.ID, out.Scope)
			fmt.Println(out.Key)
			return nil
		},
	}
	key.Flags().StringVar(&keyName, "name", "", "what the key is for")
	for _, sub := range []*cobra.Command{list, set, del, key} {
		addClientFlags(sub, &c)
		cmd.AddCommand(sub)
	}
	return cmd
}
