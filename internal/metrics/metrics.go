// Package metrics exposes Prodex's own health in Prometheus format, so the
// tool people watch their services with can itself be watched: how fast
// events arrive and commit, how much waits, how long queries and alert
// evaluations take, and whether notifications get out.
//
// Counts that the parts already keep (events stored, queue depth, refusals,
// notifications) are read at scrape time; durations are observed through
// the functions handed to each part.
package metrics

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Writer is what is read of an environment's ingest writer.
type Writer interface {
	Queued() int64
	Stored() int64
	Commits() int64
	Refused() map[string]int64
}

// Rules is what is read of an environment's alert rules.
type Rules interface {
	LastEvaluated() time.Time
}

// Store is what is read of an environment's store.
type Store interface {
	MemoryUsage(ctx context.Context) (map[string]int64, error)
}

// Env is one environment's parts.
type Env struct {
	Name   string
	Writer Writer
	Rules  Rules
	Store  Store
}

// Guard is the ingest guard's last sample.
type Guard interface {
	Sample() (resident, ceiling, freeDisk, minFreeDisk, inFlight int64)
}

// Notifier counts notifications.
type Notifier interface {
	Stats() (sent, failed int64)
}

// Queries counts the queries in progress and those cancelled to give
// memory back.
type Queries interface {
	Len() int
	CancelledForMemory() int64
	Waiting() int64
}

// Registry holds Prodex's metrics.
type Registry struct {
	reg       *prometheus.Registry
	commit    *prometheus.HistogramVec
	query     *prometheus.HistogramVec
	eval      *prometheus.HistogramVec
	httpReqs  *prometheus.CounterVec
	httpTimes *prometheus.HistogramVec
	envs      func() []Env
	guard     Guard
	notifier  Notifier
	queries   Queries
	now       func() time.Time
	descs     map[string]*prometheus.Desc
}

// New makes a registry with the Go runtime and process metrics. envs lists
// the running environments at each scrape; guard and notifier may be nil.
func New(envs func() []Env, guard Guard, notifier Notifier) *Registry {
	r := &Registry{reg: prometheus.NewRegistry(), envs: envs, guard: guard, notifier: notifier, now: time.Now}
	r.commit = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "prodex_ingest_commit_duration_seconds", Help: "Time to commit one group of ingested events durably.",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"env", "outcome"})
	r.query = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "prodex_query_duration_seconds", Help: "Time to answer a query, an explain or a trace lookup.",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
	}, []string{"env", "kind", "outcome"})
	r.eval = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "prodex_alert_evaluation_duration_seconds", Help: "Time to evaluate every SLO's alert rules once.",
		Buckets: []float64{.0001, .0005, .001, .005, .01, .05, .1, .5, 1},
	}, []string{"env"})
	r.httpReqs = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "prodex_http_requests_total", Help: "HTTP requests answered, by method and status code.",
	}, []string{"code", "method"})
	r.httpTimes = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "prodex_http_request_duration_seconds", Help: "Time to answer an HTTP request, by method and status code.",
		Buckets: prometheus.DefBuckets,
	}, []string{"code", "method"})
	r.descs = map[string]*prometheus.Desc{
		"stored":   prometheus.NewDesc("prodex_ingest_events_stored_total", "Events committed durably.", []string{"env"}, nil),
		"commits":  prometheus.NewDesc("prodex_ingest_commits_total", "Group commits made.", []string{"env"}, nil),
		"queued":   prometheus.NewDesc("prodex_ingest_queue_events", "Events accepted and waiting for their commit.", []string{"env"}, nil),
		"refused":  prometheus.NewDesc("prodex_ingest_refused_requests_total", "Ingest requests refused, by cause (busy, memory, disk, closed).", []string{"env", "reason"}, nil),
		"evalLag":  prometheus.NewDesc("prodex_alert_evaluation_lag_seconds", "Time since alert rules were last evaluated.", []string{"env"}, nil),
		"sent":     prometheus.NewDesc("prodex_notifications_sent_total", "Notifications delivered.", nil, nil),
		"failed":   prometheus.NewDesc("prodex_notifications_failed_total", "Notifications given up on after retries.", nil, nil),
		"resident": prometheus.NewDesc("prodex_memory_resident_bytes", "Resident memory at the last sample of the ingest guard.", nil, nil),
		"ceiling":  prometheus.NewDesc("prodex_memory_ceiling_bytes", "Memory ceiling (0: none).", nil, nil),
		"free":     prometheus.NewDesc("prodex_disk_free_bytes", "Free space on the data disk at the last sample.", nil, nil),
		"minFree":  prometheus.NewDesc("prodex_disk_min_free_bytes", "Free space below which ingest is refused (0: none).", nil, nil),
		"inFlight": prometheus.NewDesc("prodex_ingest_requests_in_flight", "Ingest requests being read and decoded.", nil, nil),
		"dbMemory": prometheus.NewDesc("prodex_duckdb_memory_bytes", "Memory DuckDB's buffer manager holds, by what holds it (duckdb_memory()).", []string{"env", "tag"}, nil),
		"running":  prometheus.NewDesc("prodex_queries_running", "Queries, explains and trace lookups in progress.", nil, nil),
		"waiting":  prometheus.NewDesc("prodex_queries_waiting", "Queries waiting to start: heavy ones (explain, two or more breakdowns, COUNT_DISTINCT) for their turn, memory or share of a saturated machine; ones with a percentile for memory.", nil, nil),
		"memKills": prometheus.NewDesc("prodex_queries_cancelled_memory_total", "Queries cancelled because the server reached its memory ceiling.", nil, nil),
	}
	r.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		r.commit, r.query, r.eval, r.httpReqs, r.httpTimes, scrape{r})
	return r
}

// WatchQueries adds the queries in progress to the metrics.
func (r *Registry) WatchQueries(q Queries) { r.queries = q }

// Handler serves the metrics.
func (r *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{Registry: r.reg})
}

// Instrument counts and times every request h answers.
func (r *Registry) Instrument(h http.Handler) http.Handler {
	return promhttp.InstrumentHandlerDuration(r.httpTimes, promhttp.InstrumentHandlerCounter(r.httpReqs, h))
}

// OnCommit returns the function an environment's writer reports commits to.
func (r *Registry) OnCommit(env string) func(events int64, took time.Duration, err error) {
	return func(_ int64, took time.Duration, err error) {
		r.commit.WithLabelValues(env, outcome(err)).Observe(took.Seconds())
	}
}

// OnQuery returns the function an environment's API reports queries to;
// kind is query, explain or trace.
func (r *Registry) OnQuery(env string) func(kind string, took time.Duration, err error) {
	return func(kind string, took time.Duration, err error) {
		r.query.WithLabelValues(env, kind, outcome(err)).Observe(took.Seconds())
	}
}

// OnEvaluation returns the function an environment's rules report each
// evaluation round to.
func (r *Registry) OnEvaluation(env string) func(took time.Duration) {
	return func(took time.Duration) { r.eval.WithLabelValues(env).Observe(took.Seconds()) }
}

func outcome(err error) string {
	if err != nil {
		return "error"
	}
	return "ok"
}

// scrape reads the counts the parts keep.
type scrape struct{ r *Registry }

func (s scrape) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range s.r.descs {
		ch <- d
	}
}

func (s scrape) Collect(ch chan<- prometheus.Metric) {
	r, d := s.r, s.r.descs
	now := r.now()
	for _, e := range r.envs() {
		if e.Writer != nil {
			ch <- prometheus.MustNewConstMetric(d["stored"], prometheus.CounterValue, float64(e.Writer.Stored()), e.Name)
			ch <- prometheus.MustNewConstMetric(d["commits"], prometheus.CounterValue, float64(e.Writer.Commits()), e.Name)
			ch <- prometheus.MustNewConstMetric(d["queued"], prometheus.GaugeValue, float64(e.Writer.Queued()), e.Name)
			for reason, n := range e.Writer.Refused() {
				ch <- prometheus.MustNewConstMetric(d["refused"], prometheus.CounterValue, float64(n), e.Name, reason)
			}
		}
		if e.Store != nil {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			usage, err := e.Store.MemoryUsage(ctx)
			cancel()
			if err == nil {
				for tag, n := range usage {
					ch <- prometheus.MustNewConstMetric(d["dbMemory"], prometheus.GaugeValue, float64(n), e.Name, tag)
				}
			}
		}
		if e.Rules != nil {
			if last := e.Rules.LastEvaluated(); !last.IsZero() {
				ch <- prometheus.MustNewConstMetric(d["evalLag"], prometheus.GaugeValue, now.Sub(last).Seconds(), e.Name)
			}
		}
	}
	if r.notifier != nil {
		sent, failed := r.notifier.Stats()
		ch <- prometheus.MustNewConstMetric(d["sent"], prometheus.CounterValue, float64(sent))
		ch <- prometheus.MustNewConstMetric(d["failed"], prometheus.CounterValue, float64(failed))
	}
	if r.queries != nil {
		ch <- prometheus.MustNewConstMetric(d["running"], prometheus.GaugeValue, float64(r.queries.Len()))
		ch <- prometheus.MustNewConstMetric(d["waiting"], prometheus.GaugeValue, float64(r.queries.Waiting()))
		ch <- prometheus.MustNewConstMetric(d["memKills"], prometheus.CounterValue, float64(r.queries.CancelledForMemory()))
	}
	if r.guard != nil {
		res, ceil, free, minFree, inFlight := r.guard.Sample()
		ch <- prometheus.MustNewConstMetric(d["resident"], prometheus.GaugeValue, float64(res))
		ch <- prometheus.MustNewConstMetric(d["ceiling"], prometheus.GaugeValue, float64(ceil))
		ch <- prometheus.MustNewConstMetric(d["free"], prometheus.GaugeValue, float64(free))
		ch <- prometheus.MustNewConstMetric(d["minFree"], prometheus.GaugeValue, float64(minFree))
		ch <- prometheus.MustNewConstMetric(d["inFlight"], prometheus.GaugeValue, float64(inFlight))
	}
}
