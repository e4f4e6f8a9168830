package metrics_test

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/seatres/reservation/adapters/metrics"
)

func TestStreamMetrics(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	var open atomic.Int64
	m.WatchSubscribers(func() int { return int(open.Load()) })
	open.Store(3)
	m.SlowSubscriber()
	fams := families(t, m)
	if got := fams["stream_subscribers"].GetMetric()[0].GetGauge().GetValue(); got != 3 {
		t.Errorf("stream_subscribers = %v, want 3", got)
	}
	if got, ok := value(fams, "stream_slow_subscribers_total"); !ok || got != 1 {
		t.Errorf("stream_slow_subscribers_total = %v (%t), want 1", got, ok)
	}
}

// TestStreamsAreCountedNotTimed: a stream lasts as long as its
// subscriber, so its duration would swamp the latency of its route.
func TestStreamsAreCountedNotTimed(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	r := gin.New()
	r.Use(m.Middleware())
	r.GET("/stream", func(c *gin.Context) {
		c.Header("Content-Type", "text/event-stream")
		c.Status(http.StatusOK)
	})
	r.GET("/json", func(c *gin.Context) { c.JSON(http.StatusBadRequest, gin.H{}) })
	for _, path := range []string{"/stream", "/json"} {
		r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, path, nil))
	}
	fams := families(t, m)
	if got, ok := value(fams, "http_requests_total", "route", "/stream", "method", "GET", "status", "200"); !ok || got != 1 {
		t.Errorf("the stream counted %v (%t), want 1", got, ok)
	}
	if got, ok := value(fams, "http_request_duration_seconds", "route", "/stream", "method", "GET"); ok && got != 0 {
		t.Errorf("the stream timed %v times, want none", got)
	}
	if got, ok := value(fams, "http_request_duration_seconds", "route", "/json", "method", "GET"); !ok || got != 1 {
		t.Errorf("an answer timed %v times (%t), want 1", got, ok)
	}
}
