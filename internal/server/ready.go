package server

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/dustin/go-humanize"

	"github.com/prodex/prodex/internal/api"
)

// ready runs the readiness checks: every environment's store answers and
// its alert rules are being evaluated; ingest refusing for lack of memory
// or disk is reported but leaves the server ready, since queries and
// alerts still work.
func (e *environments) ready(ctx context.Context) []api.Check {
	e.mu.RLock()
	envs := make([]*environment, 0, len(e.all))
	for _, env := range e.all {
		envs = append(envs, env)
	}
	e.mu.RUnlock()
	sort.Slice(envs, func(i, j int) bool { return envs[i].name < envs[j].name })
	var checks []api.Check
	for _, env := range envs {
		label := env.name
		if label == "" {
			label = "default"
		}
		c := api.Check{Name: "store:" + label}
		if _, err := env.st.events.DB().ExecContext(ctx, "SELECT 1"); err != nil {
			c.Problem = "the store does not answer: " + err.Error()
		}
		checks = append(checks, c)
		if env.st.shared() {
			c = api.Check{Name: "meta:" + label}
			if _, err := env.st.meta.SLOs(ctx); err != nil {
				c.Problem = "the metadata store does not answer: " + err.Error()
			}
			checks = append(checks, c)
		}
		c = api.Check{Name: "alerts:" + label}
		// The first round runs at start; allow a few missed ticks.
		if last := env.slos.LastEvaluated(); last.IsZero() || time.Since(last) > 3*e.cfg.evalEvery+10*time.Second {
			c.Problem = "alert rules have not been evaluated since " + last.Format(time.RFC3339)
			if last.IsZero() {
				c.Problem = "alert rules have not been evaluated yet"
			}
		}
		checks = append(checks, c)
	}
	c := api.Check{Name: "ingest", Degraded: true}
	if g := e.cfg.guard; g != nil {
		st := g.State()
		switch {
		case st.DiskOver:
			c.Problem = fmt.Sprintf("refusing events: %s free on the data disk, below the minimum of %s", humanize.IBytes(uint64(st.FreeDiskBytes)), humanize.IBytes(uint64(st.MinFreeDisk)))
		case st.MemoryOver:
			c.Problem = fmt.Sprintf("refusing events: %s resident, at the memory ceiling of %s", humanize.IBytes(uint64(st.ResidentBytes)), humanize.IBytes(uint64(st.MemoryCeiling)))
		case st.SampleError != "":
			c.Problem = st.SampleError
		}
	}
	checks = append(checks, c)
	if e.ctx.Err() != nil {
		checks = append(checks, api.Check{Name: "server", Problem: "shutting down"})
	}
	return checks
}
