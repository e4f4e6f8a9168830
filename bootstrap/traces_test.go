package bootstrap

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	"google.golang.org/protobuf/proto"

	"github.com/seatres/reservation/adapters/httpapi"
	"github.com/seatres/reservation/adapters/tracing"
	"github.com/seatres/reservation/application"
)

func TestTracesConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		give []string
		want tracing.Config
	}{
		{nil, tracing.Config{}},
		{[]string{"OTEL_SERVICE_NAME=x", "RESERVATION_LOG_LEVEL=info"}, tracing.Config{}},
		{[]string{"OTEL_EXPORTER_OTLP_ENDPOINT="}, tracing.Config{}},
		{[]string{"OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4318"}, tracing.Config{On: true}},
		{[]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://collector:4318/v1/traces"}, tracing.Config{On: true}},
		{[]string{"OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4318", "OTEL_SDK_DISABLED=TRUE"}, tracing.Config{Protocol: ""}},
		{[]string{"OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4317", "OTEL_EXPORTER_OTLP_PROTOCOL=grpc"},
			tracing.Config{On: true, Protocol: tracing.ProtocolGRPC}},
		// The signal's own variable wins; an empty one is unset.
		{[]string{"OTEL_EXPORTER_OTLP_ENDPOINT=http://c:4317", "OTEL_EXPORTER_OTLP_PROTOCOL=grpc", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=http/protobuf"},
			tracing.Config{On: true, Protocol: tracing.ProtocolHTTP}},
		{[]string{"OTEL_EXPORTER_OTLP_ENDPOINT=http://c:4317", "OTEL_EXPORTER_OTLP_PROTOCOL=grpc", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL="},
			tracing.Config{On: true, Protocol: tracing.ProtocolGRPC}},
		// OTEL_TRACES_EXPORTER: none is the standard off switch, endpoint
		// or not; otlp is the default, which alone turns nothing on.
		{[]string{"OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4318", "OTEL_TRACES_EXPORTER=none"}, tracing.Config{}},
		{[]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://collector:4318/v1/traces", "OTEL_TRACES_EXPORTER=NONE"}, tracing.Config{}},
		{[]string{"OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4318", "OTEL_TRACES_EXPORTER=otlp"}, tracing.Config{On: true}},
		{[]string{"OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4318", "OTEL_TRACES_EXPORTER="}, tracing.Config{On: true}},
		{[]string{"OTEL_TRACES_EXPORTER=otlp"}, tracing.Config{}},
	}
	for _, tt := range tests {
		if got, err := tracesConfig(tt.give); err != nil || got != tt.want {
			t.Errorf("tracesConfig(%q) = %+v, %v, want %+v", tt.give, got, err, tt.want)
		}
	}
	// Any other exporter stops start-up, endpoint or not, by its variable.
	for _, give := range []string{"console", "zipkin", "otlp,console"} {
		_, err := LoadConfig(Sources{Environ: []string{"OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4318", "OTEL_TRACES_EXPORTER=" + give}})
		if want := fmt.Sprintf("OTEL_TRACES_EXPORTER: unsupported exporter %q", give); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("OTEL_TRACES_EXPORTER=%s: LoadConfig() error %v, want one containing %s", give, err, want)
		}
	}
	if _, err := LoadConfig(Sources{Environ: []string{"OTEL_TRACES_EXPORTER=zipkin"}}); err == nil {
		t.Error("OTEL_TRACES_EXPORTER=zipkin without an endpoint: LoadConfig() succeeded, want an error")
	}
	// LoadConfig reads them from the environment it is given.
	if cfg := config(t, "OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4318"); !cfg.Traces.On {
		t.Error("LoadConfig left traces off with OTEL_EXPORTER_OTLP_ENDPOINT set")
	}
}

// wiring is what the app built: its tracer provider, if any, and the store
// the use cases got.
type wiring struct {
	fx.In
	Provider trace.TracerProvider `optional:"true"`
	Store    application.Store
}

// TestTracesOff: with no OTLP endpoint, or one switched off, nothing of
// tracing is built; the store is the metrics' decorator, not wrapped in
// another.
func TestTracesOff(t *testing.T) {
	t.Parallel()
	for _, cfg := range []Config{config(t), config(t, "OTEL_EXPORTER_OTLP_ENDPOINT=http://c:4318", "OTEL_SDK_DISABLED=true"),
		config(t, "OTEL_EXPORTER_OTLP_ENDPOINT=http://c:4318", "OTEL_TRACES_EXPORTER=none")} {
		var w wiring
		fxtest.New(t, Module(cfg), fx.Replace(zap.NewNop()), fx.Invoke(func(got wiring) { w = got }))
		if w.Provider != nil {
			t.Errorf("traces off, the app has a tracer provider %T", w.Provider)
		}
		if got := fmt.Sprintf("%T", w.Store); got != "*metrics.instrumentedStore" {
			t.Errorf("traces off, the store is a %s, want the metrics' decorator alone", got)
		}
	}
}

// collector is a throwaway OTLP/HTTP endpoint that keeps the spans it is
// sent.
type collector struct {
	mu    sync.Mutex
	spans map[string][]string // span names by trace id
	names []string            // service.name of each batch
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	var req coltracepb.ExportTraceServiceRequest
	if err == nil {
		err = proto.Unmarshal(body, &req)
	}
	if r.URL.Path != "/v1/traces" || err != nil {
		http.Error(w, fmt.Sprintf("%s: %v", r.URL.Path, err), http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rs := range req.GetResourceSpans() {
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.GetKey() == "service.name" {
				c.names = append(c.names, kv.GetValue().GetStringValue())
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				id := fmt.Sprintf("%x", s.GetTraceId())
				c.spans[id] = append(c.spans[id], s.GetName())
			}
		}
	}
	b, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(b)
}

// TestTracesExported: OTEL_EXPORTER_OTLP_ENDPOINT turns traces on; a
// request in the client's trace is logged with its trace id, and its spans
// reach the collector by the time the service has stopped.
func TestTracesExported(t *testing.T) {
	col := &collector{spans: make(map[string][]string)}
	srv := httptest.NewServer(col)
	defer srv.Close()
	// The exporter and the SDK read these from the process's environment;
	// those that could change the outcome are emptied (unset).
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", srv.URL)
	for _, name := range []string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
		"OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_COMPRESSION", "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES",
		"OTEL_TRACES_SAMPLER", "OTEL_TRACES_EXPORTER", "OTEL_SDK_DISABLED"} {
		t.Setenv(name, "")
	}
	cfg, err := LoadConfig(Sources{Environ: append(otelEnviron(), "RESERVATION_HTTP_ADDR=127.0.0.1:0")})
	if err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zapcore.InfoLevel)
	var server *httpapi.Server
	app := fxtest.New(t, Module(cfg), fx.Replace(zap.New(core)), fx.Populate(&server))
	app.RequireStart()

	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	req, err := http.NewRequest(http.MethodPost, "http://"+server.Addr().String()+"/events/create", strings.NewReader(`{"name": "Traced", "totalSeats": 10}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d", resp.StatusCode)
	}
	app.RequireStop() // flushes the spans

	col.mu.Lock()
	defer col.mu.Unlock()
	got := col.spans[traceID]
	slices.Sort(got)
	if want := []string{"POST /events/create", "store.create_event"}; !slices.Equal(got, want) {
		t.Errorf("the collector got spans %q of the client's trace (all: %v), want %q", got, col.spans, want)
	}
	if len(col.names) == 0 || col.names[0] != tracing.ServiceName {
		t.Errorf("service names %q, want %q", col.names, tracing.ServiceName)
	}
	lines := logs.FilterMessage("request").All()
	if len(lines) != 1 || lines[0].ContextMap()["trace_id"] != traceID {
		t.Errorf("request log lines %v, want one with trace_id %s", lines, traceID)
	}
}

// otelEnviron is the OTEL_ variables of the process's environment, where
// t.Setenv writes: the service's own settings there are not the test's.
func otelEnviron() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "OTEL_") {
			env = append(env, kv)
		}
	}
	return env
}
