package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestHelpShowsNoKey: with PRODEX_KEY set, no command's help prints the
// key (as a flag's default or otherwise), while --key still defaults to it.
func TestHelpShowsNoKey(t *testing.T) {
	key := "pdx" + strings.Repeat("7a", 24)
	t.Setenv("PRODEX_KEY", key)
	root := rootCmd()
	n := 0
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		var b bytes.Buffer
		c.SetOut(&b)
		c.SetErr(&b)
		if err := c.Help(); err != nil {
			t.Fatal(err)
		}
		n++
		if strings.Contains(b.String(), key) {
			t.Errorf("prodex %s --help shows PRODEX_KEY:\n%s", c.CommandPath(), b.String())
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	if n < 30 {
		t.Errorf("walked %d commands' help, want every command", n)
	}
	// The key is still what --key defaults to.
	for _, path := range [][]string{{"query"}, {"slo", "get"}, {"bench", "ingest"}} {
		c, _, err := root.Find(path)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := c.Flags().GetString("key"); got != key {
			t.Errorf("prodex %s: --key is %q without the flag, want PRODEX_KEY's value", strings.Join(path, " "), got)
		}
	}
}
