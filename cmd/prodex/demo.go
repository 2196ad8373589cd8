package main

import (
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/prodex/prodex/internal/auth"
	"github.com/prodex/prodex/internal/demo"
	pxserver "github.com/prodex/prodex/internal/server"
)

// demoCmd runs a server with a synthetic shop: several services sending
// wide events, deploy markers, SLOs that page a local receiver, and a bad
// deploy that slows checkout on one build, so a newcomer sees Prodex find
// it within minutes.
func demoCmd() *cobra.Command {
	var o demo.Options
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run Prodex with a synthetic shop whose bad deploy burns an SLO, pages, and is explained",
		Long: `Starts prodex serve on the embedded store with a synthetic workload: five
services sending wide events (an hour of history first, then live traffic),
deploy markers, and two SLOs on checkout that page a local webhook receiver.
After --bad-deploy-after, build 4512 goes out to two hosts and makes checkout
slow there: the latency SLO burns, the page arrives, an incident opens, and
explain points at the build. Everything it does is printed, with the
commands to look further. Stop it with Ctrl-C.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.Data == "" {
				d, err := os.MkdirTemp("", "prodex-demo-")
				if err != nil {
					return err
				}
				o.Data = d
			}
			self, err := os.Executable() // the demo's server is this binary's prodex serve
			if err != nil {
				return err
			}
			o.Binary = self
			o.CreateKey = func(dir string) (string, error) {
				secret, _, err := pxserver.CreateKey(dir, "", auth.Admin, "demo")
				return secret, err
			}
			return demo.Run(cmd.Context(), o, os.Stdout)
		},
	}
	cmd.Flags().StringVar(&o.Data, "data", "", "data directory (default: a new temporary one)")
	cmd.Flags().StringVar(&o.Listen, "listen", "127.0.0.1:8080", "address of the server")
	cmd.Flags().IntVar(&o.Rate, "rate", 300, "live events per second")
	cmd.Flags().DurationVar(&o.BadDeployAfter, "bad-deploy-after", 30*time.Second, "when the bad deploy goes out")
	cmd.Flags().DurationVar(&o.For, "for", 0, "stop after this long (default: until Ctrl-C)")
	return cmd
}
