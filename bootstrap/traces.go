package bootstrap

import (
	"slices"
	"strings"

	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"

	"github.com/seatres/reservation/adapters/httpapi"
	"github.com/seatres/reservation/adapters/metrics"
	"github.com/seatres/reservation/adapters/tracing"
	"github.com/seatres/reservation/application"
)

// tracesConfig reads the standard OTEL_* variables of environ that decide
// whether and how traces are exported: on when an OTLP endpoint for traces
// is named (and OTEL_SDK_DISABLED is not true), over the protocol that
// OTEL_EXPORTER_OTLP_TRACES_PROTOCOL or OTEL_EXPORTER_OTLP_PROTOCOL names.
// The exporter and the SDK read the others themselves. As the
// specification says, an empty variable is an unset one.
func tracesConfig(environ []string) tracing.Config {
	otel := make(map[string]string)
	for _, kv := range environ {
		if name, value, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "OTEL_") {
			otel[name] = strings.TrimSpace(value)
		}
	}
	endpoint := otel["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] != "" || otel["OTEL_EXPORTER_OTLP_ENDPOINT"] != ""
	cfg := tracing.Config{
		On:       endpoint && !strings.EqualFold(otel["OTEL_SDK_DISABLED"], "true"),
		Protocol: otel["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"],
	}
	if cfg.Protocol == "" {
		cfg.Protocol = otel["OTEL_EXPORTER_OTLP_PROTOCOL"]
	}
	return cfg
}

// instrument is the decorations of the root that observe the service: the
// metrics' store decorator and, when cfg turns traces on, the tracer
// provider, the HTTP API's server spans and the store's spans. fx takes one
// decorator of a type per scope, so with traces the store's decorator is
// the metrics' one inside the tracing one. With traces off it is
// metrics.StoreDecorator alone: nothing of tracing is built or run.
func instrument(cfg Config) fx.Option {
	if !cfg.Traces.On {
		return metrics.StoreDecorator
	}
	return fx.Options(
		fx.Supply(cfg.Traces),
		tracing.Module,
		fx.Decorate(func(tp trace.TracerProvider, m *metrics.Metrics, s application.Store) application.Store {
			return tracing.TraceStore(tp, m.InstrumentStore(s))
		}),
		fx.Decorate(func(tp trace.TracerProvider, opts httpapi.Options) httpapi.Options {
			return append(slices.Clip(opts), httpapi.WithTracing(tp, tracing.Propagator()))
		}),
	)
}
