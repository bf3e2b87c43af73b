package httpapi

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"promo/store"
)

// metrics are the server's Prometheus series, in a registry of its own.
type metrics struct {
	reg         *prometheus.Registry
	requests    *prometheus.CounterVec
	latency     *prometheus.HistogramVec
	redemptions prometheus.Counter
	handler     http.Handler
	// series caches each route's series, so that a request does not hash
	// its labels (a twentieth of an invalid guess's answer).
	series sync.Map // seriesKey → *routeSeries
}

type seriesKey struct {
	route, method string
	status        int
}

type routeSeries struct {
	requests prometheus.Counter
	latency  prometheus.Observer
}

func newMetrics(st *store.Store) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "promo_http_requests_total", Help: "HTTP requests by route and status.",
	}, []string{"route", "method", "status"})
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "promo_http_request_duration_seconds", Help: "HTTP request latency by route.",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10},
	}, []string{"route"})
	m.redemptions = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "promo_redemptions_total", Help: "Redemptions answered 201 since the server started.",
	})
	rejected := func(stage string, get func(store.Rejected) int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "promo_rejected_lookups_total", Help: "Failed code lookups by the stage that rejected them.",
			ConstLabels: prometheus.Labels{"stage": stage},
		}, func() float64 { return float64(get(st.Rejected())) })
	}
	m.reg.MustRegister(m.requests, m.latency, m.redemptions,
		rejected("malformed", func(r store.Rejected) int64 { return r.Malformed }),
		rejected("typo", func(r store.Rejected) int64 { return r.Typo }),
		rejected("filter", func(r store.Rejected) int64 { return r.Filter }),
		rejected("store", func(r store.Rejected) int64 { return r.Store }),
		&codesCollector{st: st},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	m.handler = promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
	return m
}

func (m *metrics) observe(route, method string, status int, d time.Duration) {
	k := seriesKey{route, method, status}
	v, ok := m.series.Load(k)
	if !ok {
		v, _ = m.series.LoadOrStore(k, &routeSeries{
			requests: m.requests.WithLabelValues(route, method, strconv.Itoa(status)),
			latency:  m.latency.WithLabelValues(route),
		})
	}
	rs := v.(*routeSeries)
	rs.requests.Inc()
	rs.latency.Observe(d.Seconds())
}

// codesCollector reports codes by campaign and state, and the filter's
// fill, read from the store's counters at each scrape.
type codesCollector struct{ st *store.Store }

var (
	codesDesc     = prometheus.NewDesc("promo_codes", "Codes by campaign and state.", []string{"campaign", "state"}, nil)
	commitsDesc   = prometheus.NewDesc("promo_store_commits_total", "Write transactions committed (each one fsync'd).", nil, nil)
	committedDesc = prometheus.NewDesc("promo_store_operations_total", "Write operations committed; divided by commits, the group commit's batch size.", nil, nil)
	filterDesc    = prometheus.NewDesc("promo_filter_keys", "Keys in the Bloom filter, and its capacity.", []string{"of"}, nil)
	logDescs      = map[string]*prometheus.Desc{
		"records":     prometheus.NewDesc("promo_log_records_total", "Records appended to the write-ahead log since start (one per group of writes).", nil, nil),
		"syncs":       prometheus.NewDesc("promo_log_syncs_total", "fdatasync calls on the write-ahead log since start.", nil, nil),
		"rawsyncs":    prometheus.NewDesc("promo_log_raw_syncs_total", "Of the fdatasync calls on the write-ahead log, those made as raw system calls (promo serve's spare Go processor); 0 when GOMAXPROCS is set; after a call over 50 ms it stops growing until fdatasyncs have stayed under that for 10 minutes.", nil, nil),
		"synctime":    prometheus.NewDesc("promo_log_sync_seconds_total", "Time spent in fdatasync of the write-ahead log since start.", nil, nil),
		"checkpoints": prometheus.NewDesc("promo_log_checkpoints_total", "Checkpoints that brought the database file up to date with the log.", nil, nil),
		"lag":         prometheus.NewDesc("promo_log_unapplied_records", "Log records acknowledged but not yet in the database file.", nil, nil),
		"pending":     prometheus.NewDesc("promo_log_pending_bytes", "Bytes of acknowledged writes held in memory until a checkpoint; and the most since start.", []string{"of"}, nil),
		"segments":    prometheus.NewDesc("promo_log_segment_bytes", "Bytes of the log's segment files.", nil, nil),
	}
)

func (c *codesCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- codesDesc
	ch <- filterDesc
	ch <- commitsDesc
	ch <- committedDesc
	for _, d := range logDescs {
		ch <- d
	}
}

func (c *codesCollector) Collect(ch chan<- prometheus.Metric) {
	list, err := c.st.Campaigns()
	if err == nil {
		for _, camp := range list {
			b := camp.Counts.ByState
			for state, n := range map[string]int64{"available": b.Available, "assigned": b.Assigned, "redeemed": b.Redeemed, "voided": b.Voided} {
				ch <- prometheus.MustNewConstMetric(codesDesc, prometheus.GaugeValue, float64(n), camp.ID, state)
			}
		}
	}
	f := c.st.Filter()
	w := c.st.Writer()
	ch <- prometheus.MustNewConstMetric(commitsDesc, prometheus.CounterValue, float64(w.Commits))
	ch <- prometheus.MustNewConstMetric(committedDesc, prometheus.CounterValue, float64(w.Operations))
	ch <- prometheus.MustNewConstMetric(filterDesc, prometheus.GaugeValue, float64(f.Count), "keys")
	ch <- prometheus.MustNewConstMetric(filterDesc, prometheus.GaugeValue, float64(f.Capacity), "capacity")
	if l := c.st.LogStats(); l != nil { // not Storage: its checkpoint would zero the lag
		ch <- prometheus.MustNewConstMetric(logDescs["records"], prometheus.CounterValue, float64(l.Records))
		ch <- prometheus.MustNewConstMetric(logDescs["syncs"], prometheus.CounterValue, float64(l.Syncs))
		ch <- prometheus.MustNewConstMetric(logDescs["rawsyncs"], prometheus.CounterValue, float64(l.RawSyncs))
		ch <- prometheus.MustNewConstMetric(logDescs["synctime"], prometheus.CounterValue, l.SyncSeconds)
		ch <- prometheus.MustNewConstMetric(logDescs["checkpoints"], prometheus.CounterValue, float64(l.Checkpoints))
		ch <- prometheus.MustNewConstMetric(logDescs["lag"], prometheus.GaugeValue, float64(l.LastLSN-l.AppliedLSN))
		ch <- prometheus.MustNewConstMetric(logDescs["pending"], prometheus.GaugeValue, float64(l.PendingBytes), "now")
		ch <- prometheus.MustNewConstMetric(logDescs["pending"], prometheus.GaugeValue, float64(l.PendingHigh), "high")
		ch <- prometheus.MustNewConstMetric(logDescs["segments"], prometheus.GaugeValue, float64(l.SegmentBytes))
	}
}

func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) error {
	s.metrics.handler.ServeHTTP(w, r)
	return nil
}
