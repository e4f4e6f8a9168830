package tracing_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.uber.org/mock/gomock"

	"github.com/seatres/reservation/adapters/memstore"
	"github.com/seatres/reservation/adapters/tracing"
	"github.com/seatres/reservation/application"
	"github.com/seatres/reservation/application/mocks"
	"github.com/seatres/reservation/domain"
)

const eventID domain.EventID = "0b6c3c1e-8a52-4c5e-9a57-0f6a3d2b9e10"

var policy = domain.HoldPolicy{TTL: time.Minute, MaxSeats: 6}

// newRecorder returns a tracer provider whose ended spans rec holds.
func newRecorder() (*sdktrace.TracerProvider, *tracetest.SpanRecorder) {
	rec := tracetest.NewSpanRecorder()
	return sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)), rec
}

// attrs maps a span's attributes by key.
func attrs(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	m := make(map[attribute.Key]attribute.Value)
	for _, kv := range s.Attributes() {
		m[kv.Key] = kv.Value
	}
	return m
}

// TestTraceStoreSpans: every store method makes one span, a child of the
// caller's, named by its operation, with the operation and the event as
// attributes; a refusal of the rules is an attribute and no error.
func TestTraceStoreSpans(t *testing.T) {
	t.Parallel()
	event, err := domain.NewEvent(eventID, "concert", 10, 5)
	if err != nil {
		t.Fatal(err)
	}
	seat := []domain.SeatID{event.Seat(1)}
	tests := []struct {
		method  string // of application.Store
		call    func(context.Context, application.Store) error
		wantOp  string
		noEvent bool   // the call names no event
		refusal string // the refusal's code, if the call is refused
	}{
		{method: "Ping", wantOp: "ping", noEvent: true, call: func(ctx context.Context, s application.Store) error {
			return s.Ping(ctx)
		}},
		{method: "CreateEvent", wantOp: "create_event", call: func(ctx context.Context, s application.Store) error {
			return s.CreateEvent(ctx, event)
		}},
		{method: "CreateOwnedEvent", wantOp: "create_event", refusal: "EVENT_EXISTS", call: func(ctx context.Context, s application.Store) error {
			return s.CreateOwnedEvent(ctx, event, application.Quota{Owner: "box-office"})
		}},
		{method: "Event", wantOp: "event", call: func(ctx context.Context, s application.Store) error {
			_, err := s.Event(ctx, eventID)
			return err
		}},
		{method: "AvailableSeats", wantOp: "available_seats", call: func(ctx context.Context, s application.Store) error {
			_, _, _, err := s.AvailableSeats(ctx, eventID)
			return err
		}},
		{method: "ListVersion", wantOp: "list_version", call: func(ctx context.Context, s application.Store) error {
			_, _, err := s.ListVersion(ctx, eventID)
			return err
		}},
		{method: "Summary", wantOp: "summary", call: func(ctx context.Context, s application.Store) error {
			_, err := s.Summary(ctx, eventID)
			return err
		}},
		{method: "Hold", wantOp: "hold", call: func(ctx context.Context, s application.Store) error {
			_, err := s.Hold(ctx, eventID, seat, "alice", policy, application.Idem{})
			return err
		}},
		{method: "HoldBest", wantOp: "hold_best", call: func(ctx context.Context, s application.Store) error {
			_, err := s.HoldBest(ctx, eventID, domain.BestAvailable{Count: 2}, "bob", policy, application.Idem{})
			return err
		}},
		{method: "Refresh", wantOp: "refresh", refusal: "NOT_HOLDER", call: func(ctx context.Context, s application.Store) error {
			_, err := s.Refresh(ctx, eventID, seat, "bob", policy, application.Idem{}) // alice's seat
			return err
		}},
		{method: "Reserve", wantOp: "reserve", call: func(ctx context.Context, s application.Store) error {
			_, err := s.Reserve(ctx, eventID, seat, "alice", application.Idem{})
			return err
		}},
		{method: "Release", wantOp: "release", call: func(ctx context.Context, s application.Store) error {
			_, err := s.Release(ctx, eventID, seat, "alice", application.Idem{})
			return err
		}},
		{method: "Seat", wantOp: "seat", call: func(ctx context.Context, s application.Store) error {
			_, err := s.Seat(ctx, event.Seat(1))
			return err
		}},
		{method: "Snapshot", wantOp: "snapshot", call: func(ctx context.Context, s application.Store) error {
			_, _, _, err := s.Snapshot(ctx, eventID)
			return err
		}},
		{method: "Changes", wantOp: "changes", call: func(ctx context.Context, s application.Store) error {
			_, err := s.Changes(ctx, eventID, domain.Position{}, 10)
			return err
		}},
		{method: "Wait", wantOp: "wait", noEvent: true, call: func(ctx context.Context, s application.Store) error {
			// The holds above are recorded: it answers at once.
			_, err := s.Wait(ctx, map[domain.EventID]domain.Position{eventID: {}}, time.Minute)
			return err
		}},
		{method: "Expire", wantOp: "expire", call: func(ctx context.Context, s application.Store) error {
			_, err := s.Expire(ctx, eventID)
			return err
		}},
		{method: "DeleteEvent", wantOp: "delete_event", call: func(ctx context.Context, s application.Store) error {
			return s.DeleteEvent(ctx, eventID)
		}},
	}
	// The table covers the port, whatever methods it gains.
	port := reflect.TypeFor[application.Store]()
	covered := make(map[string]bool)
	for _, tt := range tests {
		if _, ok := port.MethodByName(tt.method); !ok {
			t.Errorf("application.Store has no method %s", tt.method)
		}
		covered[tt.method] = true
	}
	if len(covered) != port.NumMethod() {
		t.Errorf("the table covers %d of the %d methods of application.Store", len(covered), port.NumMethod())
	}

	tp, rec := newRecorder()
	store := tracing.TraceStore(tp, memstore.New(time.Now))
	// One store, called in the table's order: each call finds the state
	// that the calls before it left.
	for _, tt := range tests {
		ctx, parent := tp.Tracer("test").Start(context.Background(), "request")
		err := tt.call(ctx, store)
		parent.End()
		var ref *domain.Refusal
		switch {
		case tt.refusal == "" && err != nil:
			t.Fatalf("%s: %v", tt.method, err)
		case tt.refusal != "" && (!errors.As(err, &ref) || ref.Code() != tt.refusal):
			t.Fatalf("%s: error %v, want the refusal %s", tt.method, err, tt.refusal)
		}

		spans := rec.Ended()
		rec.Reset()
		if len(spans) != 2 {
			t.Fatalf("%s: %d spans ended, want the store's and its parent", tt.method, len(spans))
		}
		s := spans[0]
		if s.Name() != "store."+tt.wantOp {
			t.Errorf("%s: span %q, want %q", tt.method, s.Name(), "store."+tt.wantOp)
		}
		if s.Parent().SpanID() != parent.SpanContext().SpanID() || s.SpanContext().TraceID() != parent.SpanContext().TraceID() {
			t.Errorf("%s: span's parent is %v, want the caller's span %v", tt.method, s.Parent(), parent.SpanContext())
		}
		a := attrs(s)
		if got := a[semconv.DBOperationNameKey].AsString(); got != tt.wantOp {
			t.Errorf("%s: %s = %q, want %q", tt.method, semconv.DBOperationNameKey, got, tt.wantOp)
		}
		if got, ok := a[tracing.EventIDKey]; ok == tt.noEvent || (ok && got.AsString() != string(eventID)) {
			t.Errorf("%s: %s = %v (set: %t), want %q (set: %t)", tt.method, tracing.EventIDKey, got.AsString(), ok, eventID, !tt.noEvent)
		}
		if got := a[tracing.RefusalKey].AsString(); got != tt.refusal {
			t.Errorf("%s: %s = %q, want %q", tt.method, tracing.RefusalKey, got, tt.refusal)
		}
		if s.Status().Code != codes.Unset || len(s.Events()) != 0 {
			t.Errorf("%s: status %v with %d events, want an unset status and no error recorded", tt.method, s.Status(), len(s.Events()))
		}
	}
}

// TestTraceStoreFailure: a store failure is the span's error, and reaches
// the caller unchanged.
func TestTraceStoreFailure(t *testing.T) {
	t.Parallel()
	errDown := fmt.Errorf("get event: %w: i/o timeout", application.ErrUnavailable)
	next := mocks.NewMockStore(gomock.NewController(t))
	next.EXPECT().Event(gomock.Any(), eventID).Return(domain.Event{}, errDown)
	tp, rec := newRecorder()

	ctx, parent := tp.Tracer("test").Start(context.Background(), "request")
	defer parent.End()
	_, err := tracing.TraceStore(tp, next).Event(ctx, eventID)
	if err != errDown {
		t.Fatalf("error %v, want the store's own %v", err, errDown)
	}
	spans := rec.Ended()
	if len(spans) != 1 {
		t.Fatalf("%d spans, want 1", len(spans))
	}
	s := spans[0]
	if s.Status().Code != codes.Error || s.Status().Description != errDown.Error() {
		t.Errorf("status %+v, want an error %q", s.Status(), errDown)
	}
	events := s.Events()
	if len(events) != 1 || events[0].Name != semconv.ExceptionEventName {
		t.Fatalf("span events %v, want the recorded error", events)
	}
	if msg := attrs(s)[tracing.RefusalKey]; msg.Type() != attribute.EMPTY {
		t.Errorf("a failure is marked a refusal: %v", msg.AsString())
	}
}

// TestTraceStoreOutsideTrace: a call outside any trace (the readiness
// probe's) starts none, failing or not.
func TestTraceStoreOutsideTrace(t *testing.T) {
	t.Parallel()
	next := mocks.NewMockStore(gomock.NewController(t))
	next.EXPECT().Ping(gomock.Any()).Return(nil)
	next.EXPECT().Ping(gomock.Any()).Return(application.ErrUnavailable)
	tp, rec := newRecorder()
	store := tracing.TraceStore(tp, next)
	if err := store.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := store.Ping(context.Background()); err != application.ErrUnavailable {
		t.Fatalf("error %v, want the store's", err)
	}
	if spans := rec.Ended(); len(spans) != 0 {
		t.Errorf("%d spans, want none", len(spans))
	}
	// The contrast: in a trace, the same call makes a span.
	ctx, parent := tp.Tracer("test").Start(context.Background(), "request")
	defer parent.End()
	next.EXPECT().Ping(gomock.Any()).Return(nil)
	if err := store.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if spans := rec.Ended(); len(spans) != 1 {
		t.Errorf("in a trace: %d spans, want 1", len(spans))
	}
}
