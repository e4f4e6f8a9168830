package httpapi

import (
	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/contrib/instrumentation/github.com/gin-gonic/gin/otelgin"
	"go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
)

// WithTracing turns traces on: every request but the probes and the
// metrics scrape gets a server span of tp, named by its method and route,
// in the trace that its traceparent header names (read with p) or a new
// one; and its log line carries the trace id. Without it no middleware
// runs and nothing is looked up.
func WithTracing(tp trace.TracerProvider, p propagation.TextMapPropagator) Option {
	mw := otelgin.Middleware("",
		otelgin.WithTracerProvider(tp),
		otelgin.WithPropagators(p),
		// The service's metrics are Prometheus's (package metrics).
		otelgin.WithMeterProvider(noop.NewMeterProvider()),
		otelgin.WithGinFilter(traced),
	)
	return func(g *guard) { g.tracing = mw }
}

// traced reports whether a request gets a span: not the probes and the
// scrapes, which come every few seconds and would bury the API's requests.
func traced(c *gin.Context) bool {
	switch c.FullPath() {
	case "/healthz", "/readyz", "/metrics":
		return false
	}
	return true
}

// useTracing installs the tracing middleware on r, if tracing is on. It goes
// before logRequests: otelgin takes the span out of the request's context
// when it returns.
func (g *guard) useTracing(r *gin.Engine) {
	if g.tracing != nil {
		r.Use(g.tracing)
	}
}

// appendTraceID appends the trace id of c's request to a log line's
// fields, if the request is in a trace.
func appendTraceID(fields []zap.Field, c *gin.Context) []zap.Field {
	if sc := trace.SpanContextFromContext(c.Request.Context()); sc.IsValid() {
		fields = append(fields, zap.Stringer("trace_id", sc.TraceID()))
	}
	return fields
}
