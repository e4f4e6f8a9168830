// Package tracing exports OpenTelemetry traces over OTLP: the tracer
// provider, the W3C propagator and a store decorator that makes a span of
// every store call. The HTTP API's server spans are httpapi.WithTracing's.
// Nothing of it runs unless the service is configured to export traces.
package tracing

import (
	"context"
	"fmt"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"
	"go.uber.org/zap"
)

// ServiceName names the service in its spans unless OTEL_SERVICE_NAME (or
// service.name in OTEL_RESOURCE_ATTRIBUTES) says otherwise.
const ServiceName = "reservation"

// The values of OTEL_TRACES_EXPORTER that the service takes: the OTLP
// exporter (the default), or none, the standard switch that keeps traces
// off. The specification's others (console, zipkin) are not built in: the
// service ships one exporter, and a collector translates.
const (
	ExporterOTLP = "otlp"
	ExporterNone = "none"
)

// The OTLP protocols of OTEL_EXPORTER_OTLP_PROTOCOL that Go's exporters
// speak (http/json has no Go exporter).
const (
	ProtocolHTTP = "http/protobuf"
	ProtocolGRPC = "grpc"
)

// Config says whether and how to export. The exporter reads the rest of the
// standard OTEL_* variables itself: endpoint, headers, timeout,
// compression, TLS, and the SDK the sampler and batching.
type Config struct {
	// On exports traces; off, the service wires nothing of this package.
	On       bool
	Protocol string // ProtocolHTTP or ProtocolGRPC; "" is ProtocolHTTP
}

// Propagator is the W3C propagator: trace context (traceparent,
// tracestate) and baggage.
func Propagator() propagation.TextMapPropagator {
	return propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
}

// NewProvider returns a tracer provider that batches spans to the OTLP
// endpoint of the environment. It connects lazily: an unreachable collector
// loses spans, never a request. Shut it down to flush them.
func NewProvider(ctx context.Context, cfg Config) (*sdktrace.TracerProvider, error) {
	exporter, err := newExporter(ctx, cfg.Protocol)
	if err != nil {
		return nil, fmt.Errorf("OTLP trace exporter: %w", err)
	}
	// Later options override earlier ones: the environment overrides the
	// default name.
	res, err := resource.New(ctx,
		resource.WithAttributes(semconv.ServiceName(ServiceName)),
		resource.WithFromEnv(),
		resource.WithTelemetrySDK(),
	)
	if err != nil {
		return nil, fmt.Errorf("trace resource: %w", err)
	}
	return sdktrace.NewTracerProvider(sdktrace.WithBatcher(exporter), sdktrace.WithResource(res)), nil
}

func newExporter(ctx context.Context, protocol string) (sdktrace.SpanExporter, error) {
	switch protocol {
	case "", ProtocolHTTP:
		return otlptracehttp.New(ctx)
	case ProtocolGRPC:
		return otlptracegrpc.New(ctx)
	}
	return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL %q is not supported (want %s or %s)", protocol, ProtocolHTTP, ProtocolGRPC)
}

// Module provides the trace.TracerProvider of the Config, installed as the
// global provider with Propagator as the global propagator (for libraries
// that use the globals), and flushes its spans on stop. The HTTP server's
// stop hook runs before its own, since the server needs the provider: the
// last requests' spans are flushed too.
var Module = fx.Module("tracing",
	fx.Decorate(func(log *zap.Logger) *zap.Logger { return log.Named("tracing") }),
	fx.Provide(provide),
)

func provide(lc fx.Lifecycle, cfg Config, log *zap.Logger) (trace.TracerProvider, error) {
	tp, err := NewProvider(context.Background(), cfg)
	if err != nil {
		return nil, err
	}
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(Propagator())
	// Its errors (a failed export) would otherwise go to the standard logger.
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		log.Warn("OpenTelemetry error", zap.Error(err))
	}))
	lc.Append(fx.StopHook(tp.Shutdown))
	log.Info("exporting traces over OTLP")
	return tp, nil
}
