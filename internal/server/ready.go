package server

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/dustin/go-humanize"

	"github.com/prodex/prodex/internal/api"
)

// The server answers three questions, each on its own route:
//
//   - liveness (/healthz): the process serves HTTP;
//   - ingest readiness (/readyz): this node can take events, i.e. every
//     environment's event store answers and the server is not shutting
//     down. The metadata store, the alert rules and ingest refusing for
//     memory or disk (or while the store recovers from a failed write)
//     are reported as degraded: on several nodes a metadata store that is
//     down is down for all of them, and taking the nodes out of a load
//     balancer would stop ingest too, which does not need it;
//   - metadata readiness (/readyz/meta): every environment's metadata
//     store answers and its alert rules are being evaluated.

// ready runs the ingest readiness checks.
func (e *environments) ready(ctx context.Context) []api.Check {
	return e.checks(ctx, false)
}

// metaReady runs the metadata readiness checks.
func (e *environments) metaReady(ctx context.Context) []api.Check {
	return e.checks(ctx, true)
}

// checks runs the checks of every environment at once (a store that does
// not answer takes its whole timeout), for ingest readiness or (meta) for
// metadata readiness; a check of the other kind is degraded.
func (e *environments) checks(ctx context.Context, meta bool) []api.Check {
	e.mu.RLock()
	envs := make([]*environment, 0, len(e.all))
	for _, env := range e.all {
		envs = append(envs, env)
	}
	e.mu.RUnlock()
	sort.Slice(envs, func(i, j int) bool { return envs[i].name < envs[j].name })
	per := make([][]api.Check, len(envs))
	var wg sync.WaitGroup
	for i, env := range envs {
		wg.Go(func() { per[i] = e.envChecks(ctx, env, meta) })
	}
	wg.Wait()
	var checks []api.Check
	for _, cs := range per {
		checks = append(checks, cs...)
	}
	if !meta {
		checks = append(checks, e.ingestCheck(envs))
	}
	if e.ctx.Err() != nil {
		checks = append(checks, api.Check{Name: "server", Problem: "shutting down"})
	}
	return checks
}

// envChecks are one environment's checks: its event store (ingest
// readiness only), its metadata store and its alert rules.
func (e *environments) envChecks(ctx context.Context, env *environment, meta bool) []api.Check {
	label := env.name
	if label == "" {
		label = "default"
	}
	var checks []api.Check
	add := func(c api.Check, forMeta bool) {
		c.Degraded = c.Problem != "" && forMeta != meta
		checks = append(checks, c)
	}
	if !meta {
		c := api.Check{Name: "store:" + label}
		switch {
		case env.st.duck != nil && env.st.duck.Reopening():
			// Queries wait for the reopen; ingest is refused meanwhile
			// (the ingest check says so).
			c.Problem, c.Degraded = "the database is being reopened after a failed write", true
		default:
			if _, err := env.st.events.DB().ExecContext(ctx, "SELECT 1"); err != nil {
				c.Problem = "the store does not answer: " + err.Error()
			}
		}
		checks = append(checks, c)
	}
	// The embedded metadata is in the event store's database, checked
	// above; on the shared stores it is PostgreSQL.
	if env.st.shared() || meta {
		c := api.Check{Name: "meta:" + label}
		if _, err := env.st.meta.SLOs(ctx); err != nil {
			c.Problem = "the metadata store does not answer: " + err.Error()
		}
		add(c, true)
	}
	c := api.Check{Name: "alerts:" + label}
	// The first round runs at start; allow a few missed ticks.
	if last := env.slos.LastEvaluated(); last.IsZero() || time.Since(last) > 3*e.cfg.evalEvery+10*time.Second {
		c.Problem = "alert rules have not been evaluated since " + last.Format(time.RFC3339)
		if last.IsZero() {
			c.Problem = "alert rules have not been evaluated yet"
		}
	}
	add(c, true)
	return checks
}

// ingestCheck reports ingest refusing for memory or disk, or while a store
// recovers from a failed write: degraded, since queries and alerts still
// work; passed (and not degraded) otherwise.
func (e *environments) ingestCheck(envs []*environment) api.Check {
	c := api.Check{Name: "ingest"}
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
	for _, env := range envs {
		if env.st.duck == nil || c.Problem != "" {
			continue
		}
		if f := env.st.duck.WriteFailure(); f != "" {
			c.Problem = "refusing events: " + f
			if env.name != "" {
				c.Problem += " (environment " + env.name + ")"
			}
		}
	}
	c.Degraded = c.Problem != ""
	return c
}
