// Package metrics exposes the service's Prometheus metrics: HTTP requests by
// route and status, seat transitions by outcome, the latency and errors of
// store calls, and the memory of the Redis servers. It keeps its own registry, so tests and several instances
// in one process never collide on the global one.
package metrics

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/fx"
)

// Module provides *Metrics. Wire StoreDecorator at the root of the app as
// well to instrument the store.
var Module = fx.Module("metrics", fx.Provide(New))

// StoreDecorator wraps the application.Store with InstrumentStore. fx scopes
// a decoration to the module that declares it and its children, so this
// option belongs at the level where the store's users are built (the root
// of the app), not inside Module.
var StoreDecorator = fx.Decorate((*Metrics).InstrumentStore)

// unmatchedRoute labels requests that matched no route (404, 405): their raw
// paths would let any client create series without bound.
const unmatchedRoute = "unmatched"

// latencyBuckets span an in-memory store call (well under a millisecond) to
// an HTTP request that hits the Redis timeout.
var latencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}

// Metrics holds the service's collectors.
type Metrics struct {
	reg          *prometheus.Registry
	handler      http.Handler
	requests     *prometheus.CounterVec
	requestTime  *prometheus.HistogramVec
	transitions  *prometheus.CounterVec
	storeTime    *prometheus.HistogramVec
	storeErrors  *prometheus.CounterVec
	refusedConns prometheus.Counter
	slowSubs     prometheus.Counter

	mu     sync.RWMutex
	series map[seriesKey]requestSeries
}

// seriesKey names the series of one kind of request.
type seriesKey struct {
	route, method string
	status        int
}

// requestSeries are the collectors of one kind of request, looked up once:
// looking them up by label values on every request would hash the values
// and format the status each time.
type requestSeries struct {
	count    prometheus.Counter
	duration prometheus.Observer
}

// New returns the service's metrics on a fresh registry that also carries
// the Go runtime and process collectors.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	f := promauto.With(reg)
	m := &Metrics{
		reg:     reg,
		handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}),
		requests: f.NewCounterVec(prometheus.CounterOpts{
			Name: "http_requests_total",
			Help: "HTTP requests answered, by route template, method and status code.",
		}, []string{"route", "method", "status"}),
		requestTime: f.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by route template and method.",
			Buckets: latencyBuckets,
		}, []string{"route", "method"}),
		transitions: f.NewCounterVec(prometheus.CounterOpts{
			Name: "seat_transitions_total",
			Help: "Seat changes (hold, hold_best, refresh, reserve, release) that reached the store, by result: ok, the refusal's code in lower case (seat_held, hold_limit_reached, ...), unavailable or error.",
		}, []string{"op", "result"}),
		storeTime: f.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "store_call_duration_seconds",
			Help:    "Time of a store call (one Redis round trip on Redis), by operation.",
			Buckets: latencyBuckets,
		}, []string{"op"}),
		refusedConns: f.NewCounter(prometheus.CounterOpts{
			Name: "http_connections_refused_total",
			Help: "Connections answered 503 TOO_MANY_CONNECTIONS and closed at once, the instance having RESERVATION_HTTP_MAX_CONNS open.",
		}),
		slowSubs: f.NewCounter(prometheus.CounterOpts{
			Name: "stream_slow_subscribers_total",
			Help: "Subscribers of a stream (GET /events/{eventId}/stream) disconnected because a write to them did not complete in time: they could not keep up, and resume with Last-Event-ID.",
		}),
		storeErrors: f.NewCounterVec(prometheus.CounterOpts{
			Name: "store_errors_total",
			Help: "Store calls that failed for a reason other than the seat rules (store unreachable, timeout, bug), by operation.",
		}, []string{"op"}),
		series: make(map[seriesKey]requestSeries),
	}
	m.initSeries()
	return m
}

// initSeries creates every store series at zero, so that rates and alerts
// work from the first scrape instead of from the first failure.
func (m *Metrics) initSeries() {
	for _, o := range storeOps {
		if !o.blocking {
			m.storeTime.WithLabelValues(o.name)
		}
		m.storeErrors.WithLabelValues(o.name)
		if o.transition {
			for _, r := range results {
				m.transitions.WithLabelValues(o.name, r)
			}
		}
	}
}

// Handler serves the metrics in the Prometheus exposition format, for
// GET /metrics.
func (m *Metrics) Handler() http.Handler { return m.handler }

// ConnectionRefused counts a connection refused at the connection cap.
func (m *Metrics) ConnectionRefused() { m.refusedConns.Inc() }

// SlowSubscriber counts a stream subscriber disconnected for being slow.
func (m *Metrics) SlowSubscriber() { m.slowSubs.Inc() }

// WatchSubscribers exports count, the stream subscriptions open now (the
// Feed's Subscribers), read at each scrape.
func (m *Metrics) WatchSubscribers(count func() int) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "stream_subscribers",
		Help: "Subscribers of the streams of changes (GET /events/{eventId}/stream) open on this instance, at most RESERVATION_STREAM_MAX_SUBSCRIBERS.",
	}, func() float64 { return float64(count()) }))
}

// eventStream is the Content-Type of a stream, whose request lasts as long
// as its subscriber: its duration is no latency.
const eventStream = "text/event-stream"

// Middleware counts and times every request. Register it first, before
// recovery and other middleware that may answer on their own, so that their
// answers (a recovered panic's 500 included) are counted with their final
// status. A stream is counted, not timed.
func (m *Metrics) Middleware() gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		route := c.FullPath()
		if route == "" {
			route = unmatchedRoute
		}
		s := m.requestSeries(seriesKey{route: route, method: methodLabel(c.Request.Method), status: c.Writer.Status()})
		s.count.Inc()
		if ct := c.Writer.Header()["Content-Type"]; len(ct) == 0 || ct[0] != eventStream {
			s.duration.Observe(time.Since(start).Seconds())
		}
	}
}

// requestSeries returns the collectors of k. Routes are templates and
// methods a fixed set, so the map stays small.
func (m *Metrics) requestSeries(k seriesKey) requestSeries {
	m.mu.RLock()
	s, ok := m.series[k]
	m.mu.RUnlock()
	if ok {
		return s
	}
	s = requestSeries{
		count:    m.requests.WithLabelValues(k.route, k.method, strconv.Itoa(k.status)),
		duration: m.requestTime.WithLabelValues(k.route, k.method),
	}
	m.mu.Lock()
	m.series[k] = s
	m.mu.Unlock()
	return s
}

// methodLabel keeps the standard methods and folds any other into "other",
// since on an unmatched route the method is whatever the client sent.
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return method
	}
	return "other"
}
