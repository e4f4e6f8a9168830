package httpapi

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/seatres/reservation/adapters/memstore"
	"github.com/seatres/reservation/adapters/metrics"
	"github.com/seatres/reservation/adapters/tracing"
	"github.com/seatres/reservation/application"
)

// tracedAPI is the router with traces on, over the use cases of store
// traced too, as the service wires them; its spans end in rec and its log
// lines in logs.
type tracedAPI struct {
	*testAPI
	rec  *tracetest.SpanRecorder
	logs *observer.ObservedLogs
}

func newTracedAPI(t *testing.T, store application.Store) *tracedAPI {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	core, logs := observer.New(zapcore.InfoLevel)
	uc := application.NewService(tracing.TraceStore(tp, store), defaultPolicy)
	router := NewRouter(uc, zap.New(core), metrics.New(), WithTracing(tp, tracing.Propagator()))
	return &tracedAPI{testAPI: &testAPI{t: t, router: router}, rec: rec, logs: logs}
}

// spans returns the spans ended since the last call, the request's server
// span last (it ends after its children).
func (a *tracedAPI) spans() []sdktrace.ReadOnlySpan {
	s := a.rec.Ended()
	a.rec.Reset()
	return s
}

// lastTraceID is the trace_id of the last log line ("" for none).
func (a *tracedAPI) lastTraceID() string {
	all := a.logs.All()
	id, _ := all[len(all)-1].ContextMap()["trace_id"].(string)
	return id
}

func spanAttr(s sdktrace.ReadOnlySpan, k attribute.Key) attribute.Value {
	for _, kv := range s.Attributes() {
		if kv.Key == k {
			return kv.Value
		}
	}
	return attribute.Value{}
}

// TestTracing: a request gets a server span named by its route, with the
// route and the status, in a new trace or in the one its traceparent
// names; its store calls are children of it; its log line carries the
// trace id.
func TestTracing(t *testing.T) {
	t.Parallel()
	a := newTracedAPI(t, memstore.New(time.Now))

	e := a.createEvent(10)
	spans := a.spans()
	if len(spans) != 2 {
		t.Fatalf("create: %d spans, want the store's and the server's: %v", len(spans), spans)
	}
	store, server := spans[0], spans[1]
	if server.Name() != "POST /events/create" || server.SpanKind() != trace.SpanKindServer {
		t.Errorf("server span %q of kind %v, want \"POST /events/create\" of kind server", server.Name(), server.SpanKind())
	}
	if server.Parent().IsValid() {
		t.Errorf("a request without traceparent is in the trace of %v, want a new trace", server.Parent())
	}
	if got := spanAttr(server, semconv.HTTPResponseStatusCodeKey).AsInt64(); got != http.StatusCreated {
		t.Errorf("server span's status code %d, want 201", got)
	}
	if store.Name() != "store.create_event" || store.Parent().SpanID() != server.SpanContext().SpanID() {
		t.Errorf("store span %q with parent %v, want store.create_event, a child of the server span %v", store.Name(), store.Parent().SpanID(), server.SpanContext().SpanID())
	}
	if got, want := a.lastTraceID(), server.SpanContext().TraceID().String(); got != want {
		t.Errorf("log line's trace_id %q, want the request's %q", got, want)
	}

	// The client's trace: its span 00f067aa0ba902b7 is the parent.
	const (
		traceID    = "4bf92f3577b34da6a3ce929d0e0e4736"
		parentSpan = "00f067aa0ba902b7"
	)
	req := a.request(http.MethodGet, "/events/"+e.ID+"/summary", "", "")
	req.Header.Set("traceparent", "00-"+traceID+"-"+parentSpan+"-01")
	req.Header.Set("tracestate", "vendor=opaque")
	decode[summaryJSON](t, a.serve(req, ""), http.StatusOK)
	spans = a.spans()
	if len(spans) != 2 {
		t.Fatalf("summary: %d spans, want 2: %v", len(spans), spans)
	}
	store, server = spans[0], spans[1]
	parent := server.Parent()
	if parent.TraceID().String() != traceID || parent.SpanID().String() != parentSpan || !parent.IsRemote() || parent.TraceState().Get("vendor") != "opaque" {
		t.Errorf("server span's parent %v, want the client's span %s of trace %s with its tracestate", parent, parentSpan, traceID)
	}
	if server.SpanContext().TraceID().String() != traceID || store.SpanContext().TraceID().String() != traceID {
		t.Errorf("spans in traces %s and %s, want the client's %s", server.SpanContext().TraceID(), store.SpanContext().TraceID(), traceID)
	}
	if got := spanAttr(server, semconv.HTTPRouteKey).AsString(); got != "/events/:id/summary" || server.Name() != "GET /events/:id/summary" {
		t.Errorf("server span %q with route %q, want the route /events/:id/summary", server.Name(), got)
	}
	if store.Name() != "store.summary" || store.Parent().SpanID() != server.SpanContext().SpanID() {
		t.Errorf("store span %q with parent %v, want store.summary, a child of the server span", store.Name(), store.Parent().SpanID())
	}
	if got := a.lastTraceID(); got != traceID {
		t.Errorf("log line's trace_id %q, want the client's %q", got, traceID)
	}

	// A refusal is an answer: neither span is an error.
	wantError(t, a.get("/events/0b6c3c1e-8a52-4c5e-9a57-0f6a3d2b9e10"), http.StatusNotFound, "EVENT_NOT_FOUND")
	for _, s := range a.spans() {
		if s.Status().Code != codes.Unset {
			t.Errorf("404: span %s has status %v, want unset", s.Name(), s.Status())
		}
	}
}

// TestTracingStoreDown: a store failure makes both the store's span and
// the server's an error.
func TestTracingStoreDown(t *testing.T) {
	t.Parallel()
	a := newTracedAPI(t, downStore{})
	wantError(t, a.get("/events/0b6c3c1e-8a52-4c5e-9a57-0f6a3d2b9e10/summary"), http.StatusServiceUnavailable, "STORE_UNAVAILABLE")
	spans := a.spans()
	if len(spans) != 2 {
		t.Fatalf("%d spans, want 2: %v", len(spans), spans)
	}
	for _, s := range spans {
		if s.Status().Code != codes.Error {
			t.Errorf("span %s has status %v, want an error", s.Name(), s.Status())
		}
	}
	if got := spanAttr(spans[1], semconv.HTTPResponseStatusCodeKey).AsInt64(); got != http.StatusServiceUnavailable {
		t.Errorf("server span's status code %d, want 503", got)
	}
}

// TestTracingSkipsProbes: the probes and the scrape make no span.
func TestTracingSkipsProbes(t *testing.T) {
	t.Parallel()
	a := newTracedAPI(t, memstore.New(time.Now))
	for _, target := range []string{"/healthz", "/readyz", "/metrics"} {
		if r := a.get(target); r.Code != http.StatusOK {
			t.Fatalf("GET %s: %d", target, r.Code)
		}
	}
	if spans := a.spans(); len(spans) != 0 {
		t.Errorf("%d spans, want none: %v", len(spans), spans)
	}
	// The contrast, so that the check above can fail: the API is traced.
	a.get("/openapi.yaml")
	if spans := a.spans(); len(spans) != 1 {
		t.Errorf("GET /openapi.yaml: %d spans, want 1", len(spans))
	}
}

// TestTracingOff: without WithTracing no middleware is installed, and a
// traceparent is not read: the log line has no trace id.
func TestTracingOff(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zapcore.InfoLevel)
	uc := application.NewService(memstore.New(time.Now), defaultPolicy)
	off := NewRouter(uc, zap.New(core), metrics.New())
	on := NewRouter(uc, zap.NewNop(), metrics.New(), WithTracing(sdktrace.NewTracerProvider(), tracing.Propagator()))
	if len(off.Handlers) != len(on.Handlers)-1 {
		t.Errorf("%d middleware off, %d on: want tracing's one more", len(off.Handlers), len(on.Handlers))
	}
	a := &testAPI{t: t, router: off}
	req := a.request(http.MethodGet, "/openapi.yaml", "", "")
	req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	a.serve(req, "")
	for _, e := range logs.All() {
		if id, ok := e.ContextMap()["trace_id"]; ok || strings.Contains(e.Message, "4bf92f35") {
			t.Errorf("with tracing off the log has a trace id: %v", id)
		}
	}
	if len(logs.All()) != 1 {
		t.Errorf("%d log lines, want 1", len(logs.All()))
	}
}
