package metrics_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/seatres/reservation/adapters/metrics"
)

// BenchmarkMiddleware measures what the middleware adds to a request,
// against the same router without it.
func BenchmarkMiddleware(b *testing.B) {
	for _, tt := range []struct {
		name       string
		middleware []gin.HandlerFunc
	}{
		{"none", nil},
		{"metrics", []gin.HandlerFunc{metrics.New().Middleware()}},
	} {
		b.Run(tt.name, func(b *testing.B) {
			r := gin.New()
			r.Use(tt.middleware...)
			r.GET("/events/:id", func(c *gin.Context) { c.Status(http.StatusOK) })
			req := httptest.NewRequest(http.MethodGet, "/events/x", nil)
			w := httptest.NewRecorder()
			b.ReportAllocs()
			for b.Loop() {
				r.ServeHTTP(w, req)
			}
		})
	}
}
