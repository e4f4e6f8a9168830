package bootstrap

import (
	"fmt"
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
// is named, unless OTEL_TRACES_EXPORTER is none or OTEL_SDK_DISABLED is
// true, over the protocol that OTEL_EXPORTER_OTLP_TRACES_PROTOCOL or
// OTEL_EXPORTER_OTLP_PROTOCOL names. The exporter and the SDK read the
// others themselves. As the specification says, an empty variable is an
// unset one and the values of a choice are case-insensitive. An exporter
// the service has not is an error: a typo must not leave traces off
// unseen.
func tracesConfig(environ []string) (tracing.Config, error) {
	otel := make(map[string]string)
	for _, kv := range environ {
		if name, value, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "OTEL_") {
			otel[name] = strings.TrimSpace(value)
		}
	}
	exporter := strings.ToLower(otel["OTEL_TRACES_EXPORTER"])
	if exporter != "" && exporter != tracing.ExporterOTLP && exporter != tracing.ExporterNone {
		return tracing.Config{}, fmt.Errorf("OTEL_TRACES_EXPORTER: unsupported exporter %q (want %s, or %s for no traces)",
			otel["OTEL_TRACES_EXPORTER"], tracing.ExporterOTLP, tracing.ExporterNone)
	}
	endpoint := otel["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] != "" || otel["OTEL_EXPORTER_OTLP_ENDPOINT"] != ""
	cfg := tracing.Config{
		On:       endpoint && exporter != tracing.ExporterNone && !strings.EqualFold(otel["OTEL_SDK_DISABLED"], "true"),
		Protocol: otel["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"],
	}
	if cfg.Protocol == "" {
		cfg.Protocol = otel["OTEL_EXPORTER_OTLP_PROTOCOL"]
	}
	return cfg, nil
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
