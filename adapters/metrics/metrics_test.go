package metrics_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.uber.org/goleak"

	"github.com/seatres/reservation/adapters/metrics"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	goleak.VerifyTestMain(m)
}

// families scrapes m through its Handler and parses the exposition.
func families(t *testing.T, m *metrics.Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics = %d, want 200", rec.Code)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

// value returns the counter's value or the histogram's sample count of the
// series of family name with exactly the given labels (name, value pairs),
// and whether that series exists.
func value(fams map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	for _, s := range fams[name].GetMetric() {
		if !hasLabels(s, labels) {
			continue
		}
		if h := s.GetHistogram(); h != nil {
			return float64(h.GetSampleCount()), true
		}
		return s.GetCounter().GetValue(), true
	}
	return 0, false
}

func hasLabels(s *dto.Metric, labels []string) bool {
	if len(s.GetLabel()) != len(labels)/2 {
		return false
	}
	for _, l := range s.GetLabel() {
		found := false
		for i := 0; i < len(labels); i += 2 {
			found = found || labels[i] == l.GetName() && labels[i+1] == l.GetValue()
		}
		if !found {
			return false
		}
	}
	return true
}

func TestMiddlewareCountsByRouteTemplateMethodAndStatus(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	r := gin.New()
	r.HandleMethodNotAllowed = true
	r.Use(m.Middleware())
	r.GET("/seats/get/:id", func(c *gin.Context) { c.Status(http.StatusOK) })
	r.POST("/seats/hold", func(c *gin.Context) { c.Status(http.StatusConflict) })

	for _, req := range []struct{ method, path string }{
		{http.MethodGet, "/seats/get/a"},
		{http.MethodGet, "/seats/get/b"},
		{http.MethodPost, "/seats/hold"},
		{http.MethodGet, "/no/such/path"},
		{"BREW", "/coffee"},                // any method: folded into "other"
		{http.MethodDelete, "/seats/hold"}, // 405
	} {
		r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(req.method, req.path, nil))
	}

	// Scraped apart from r, so that the scrape does not count itself.
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	const want = `
# HELP http_requests_total HTTP requests answered, by route template, method and status code.
# TYPE http_requests_total counter
http_requests_total{method="DELETE",route="unmatched",status="405"} 1
http_requests_total{method="GET",route="/seats/get/:id",status="200"} 2
http_requests_total{method="GET",route="unmatched",status="404"} 1
http_requests_total{method="POST",route="/seats/hold",status="409"} 1
http_requests_total{method="other",route="unmatched",status="404"} 1
`
	if err := testutil.ScrapeAndCompare(srv.URL, strings.NewReader(want), "http_requests_total"); err != nil {
		t.Error(err)
	}

	fams := families(t, m)
	for _, tt := range []struct {
		route, method string
		want          float64
	}{
		{"/seats/get/:id", "GET", 2},
		{"/seats/hold", "POST", 1},
		{"unmatched", "GET", 1},
		{"unmatched", "DELETE", 1},
		{"unmatched", "other", 1},
	} {
		got, _ := value(fams, "http_request_duration_seconds", "route", tt.route, "method", tt.method)
		if got != tt.want {
			t.Errorf("http_request_duration_seconds{route=%q,method=%q} count = %v, want %v", tt.route, tt.method, got, tt.want)
		}
	}
	if got := len(fams["http_request_duration_seconds"].GetMetric()); got != 5 {
		t.Errorf("http_request_duration_seconds has %d series, want 5", got)
	}
}

// The order the lead wires: the middleware first, recovery inside it, so a
// recovered panic counts as the 500 the client got.
func TestMiddlewareFirstCountsRecoveredPanics(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	r := gin.New()
	r.Use(m.Middleware(), gin.RecoveryWithWriter(io.Discard))
	r.GET("/boom", func(*gin.Context) { panic("bug") })

	r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/boom", nil))

	got, ok := value(families(t, m), "http_requests_total", "route", "/boom", "method", "GET", "status", "500")
	if !ok || got != 1 {
		t.Errorf(`http_requests_total{route="/boom",status="500"} = %v (present %v), want 1`, got, ok)
	}
}

func TestHandlerServesRuntimeAndProcessMetrics(t *testing.T) {
	t.Parallel()
	fams := families(t, metrics.New())
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total"} {
		if _, ok := fams[name]; !ok {
			t.Errorf("/metrics has no %s", name)
		}
	}
}

func TestConnectionRefusedIsCounted(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	m.ConnectionRefused()
	m.ConnectionRefused()
	if got, ok := value(families(t, m), "http_connections_refused_total"); !ok || got != 2 {
		t.Errorf("http_connections_refused_total = %v (%t), want 2", got, ok)
	}
}
