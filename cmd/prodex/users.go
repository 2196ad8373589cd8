package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/prodex/prodex/internal/auth"
)

func usersCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "users", Short: "People, their roles (viewer, editor, admin) and personal keys"}
	var c client
	list := &cobra.Command{
		Use: "list", Short: "List users", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			users, err := c.Users(cmd.Context())
			if err != nil {
				return err
			}
			tw := table("NAME\tROLE\tEMAIL\tENVIRONMENT")
			for _, u := range users {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", u.Name, u.Role, u.Email, u.Env)
			}
			return tw.Flush()
		},
	}
	var role, email, env, keyName string
	set := &cobra.Command{
		Use: "set NAME [--role viewer|editor|admin] [--email E] [--env NAME]", Short: "Create or change a user: what is not given is kept", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ch := auth.UserChange{Name: args[0]}
			f := cmd.Flags()
			if f.Changed("role") {
				r := auth.Role(role)
				ch.Role = &r
			}
			if f.Changed("email") {
				ch.Email = &email
			}
			if f.Changed("env") {
				ch.Env = &env
			}
			if ch.Role == nil && ch.Email == nil && ch.Env == nil {
				return fmt.Errorf("give what changes: --role, --email or --env")
			}
			u, err := c.SetUser(cmd.Context(), ch)
			if err != nil {
				return err
			}
			where := "the default environment"
			if u.Env != "" {
				where = "environment " + u.Env
			}
			fmt.Printf("user/%s is %s in %s\n", u.Name, u.Role, where)
			return nil
		},
	}
	set.Flags().StringVar(&role, "role", "", "viewer, editor or admin (required for a new user)")
	set.Flags().StringVar(&email, "email", "", "email address (\"\" removes it)")
	set.Flags().StringVar(&env, "env", "", "environment the user and their keys act in (\"\" the default one)")
	del := &cobra.Command{
		Use: "delete NAME", Short: "Delete a user and revoke their keys", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return done(c.DeleteUser(cmd.Context(), args[0]), "user/%s deleted, their keys revoked", args[0])
		},
	}
	key := &cobra.Command{
		Use: "key NAME [--name laptop]", Short: "Make a personal key for a user; it is the last line of output", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			out, err := c.CreateUserKey(cmd.Context(), args[0], keyName)
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "created %s's key %s (%s, follows their role)\n", args[0], out.ID, out.Scope)
			fmt.Println(out.Key)
			return nil
		},
	}
	key.Flags().StringVar(&keyName, "name", "", "what the key is for")
	addClientCommands(cmd, &c, list, set, del, key)
	return cmd
}
