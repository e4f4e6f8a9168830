package tracing

import (
	"context"
	"errors"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/seatres/reservation/application"
	"github.com/seatres/reservation/domain"
)

// ScopeName is the instrumentation scope of the store's spans.
const ScopeName = "github.com/seatres/reservation/adapters/tracing"

// Attributes of a store span besides db.operation.name.
const (
	EventIDKey = attribute.Key("reservation.event.id")
	// RefusalKey is the code of the rules' refusal that the call
	// answered. A refusal is an answer, not a failure: its span's status
	// stays unset.
	RefusalKey = attribute.Key("reservation.refusal")
)

// TraceStore returns next with a span around every call in a trace, a
// child of the span in the call's context (the request's): named "store."
// and the operation, with the operation and the event as attributes. A
// store failure (unavailable, full, a bug) is recorded as the span's error.
// A call outside any trace makes no span: the readiness probe's ping,
// whose request has no span, would start a trace of its own every few
// seconds. Results and errors pass through unchanged.
func TraceStore(tp trace.TracerProvider, next application.Store) application.Store {
	return &tracedStore{next: next, tracer: tp.Tracer(ScopeName)}
}

type tracedStore struct {
	next   application.Store
	tracer trace.Tracer
}

var _ application.Store = (*tracedStore)(nil)

// start starts the span of the operation op on the event e ("" for none),
// or returns the no-op span of a context outside any trace.
func (s *tracedStore) start(ctx context.Context, op string, e domain.EventID) (context.Context, trace.Span) {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return ctx, trace.SpanFromContext(ctx)
	}
	attrs := []attribute.KeyValue{semconv.DBOperationName(op)}
	if e != "" {
		attrs = append(attrs, EventIDKey.String(string(e)))
	}
	return s.tracer.Start(ctx, "store."+op, trace.WithAttributes(attrs...))
}

// end ends span with the outcome *errp. It takes a pointer so that it can
// be deferred before the call.
func end(span trace.Span, errp *error) {
	if err := *errp; err != nil {
		if ref := (*domain.Refusal)(nil); errors.As(err, &ref) {
			span.SetAttributes(RefusalKey.String(ref.Code()))
		} else {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
	}
	span.End()
}

func (s *tracedStore) Ping(ctx context.Context) (err error) {
	ctx, span := s.start(ctx, "ping", "")
	defer end(span, &err)
	return s.next.Ping(ctx)
}

func (s *tracedStore) CreateEvent(ctx context.Context, e domain.Event) (err error) {
	ctx, span := s.start(ctx, "create_event", e.ID)
	defer end(span, &err)
	return s.next.CreateEvent(ctx, e)
}

// CreateOwnedEvent is a create_event, as in the metrics: the same create,
// with an owner.
func (s *tracedStore) CreateOwnedEvent(ctx context.Context, e domain.Event, q application.Quota) (err error) {
	ctx, span := s.start(ctx, "create_event", e.ID)
	defer end(span, &err)
	return s.next.CreateOwnedEvent(ctx, e, q)
}

func (s *tracedStore) DeleteEvent(ctx context.Context, id domain.EventID) (err error) {
	ctx, span := s.start(ctx, "delete_event", id)
	defer end(span, &err)
	return s.next.DeleteEvent(ctx, id)
}

func (s *tracedStore) Event(ctx context.Context, id domain.EventID) (_ domain.Event, err error) {
	ctx, span := s.start(ctx, "event", id)
	defer end(span, &err)
	return s.next.Event(ctx, id)
}

func (s *tracedStore) AvailableSeats(ctx context.Context, id domain.EventID) (_ domain.Event, _ []int, _ domain.Version, err error) {
	ctx, span := s.start(ctx, "available_seats", id)
	defer end(span, &err)
	return s.next.AvailableSeats(ctx, id)
}

func (s *tracedStore) ListVersion(ctx context.Context, id domain.EventID) (_ domain.Version, _ bool, err error) {
	ctx, span := s.start(ctx, "list_version", id)
	defer end(span, &err)
	return s.next.ListVersion(ctx, id)
}

func (s *tracedStore) Summary(ctx context.Context, id domain.EventID) (_ domain.Summary, err error) {
	ctx, span := s.start(ctx, "summary", id)
	defer end(span, &err)
	return s.next.Summary(ctx, id)
}

func (s *tracedStore) Seat(ctx context.Context, id domain.SeatID) (_ domain.Seat, err error) {
	ctx, span := s.start(ctx, "seat", id.Event)
	defer end(span, &err)
	return s.next.Seat(ctx, id)
}

func (s *tracedStore) Hold(ctx context.Context, e domain.EventID, ids []domain.SeatID, user domain.UserID, p domain.HoldPolicy, idem application.Idem) (_ []domain.Seat, err error) {
	ctx, span := s.start(ctx, "hold", e)
	defer end(span, &err)
	return s.next.Hold(ctx, e, ids, user, p, idem)
}

func (s *tracedStore) HoldBest(ctx context.Context, e domain.EventID, b domain.BestAvailable, user domain.UserID, p domain.HoldPolicy, idem application.Idem) (_ []domain.Seat, err error) {
	ctx, span := s.start(ctx, "hold_best", e)
	defer end(span, &err)
	return s.next.HoldBest(ctx, e, b, user, p, idem)
}

func (s *tracedStore) Refresh(ctx context.Context, e domain.EventID, ids []domain.SeatID, user domain.UserID, p domain.HoldPolicy, idem application.Idem) (_ []domain.Seat, err error) {
	ctx, span := s.start(ctx, "refresh", e)
	defer end(span, &err)
	return s.next.Refresh(ctx, e, ids, user, p, idem)
}

func (s *tracedStore) Reserve(ctx context.Context, e domain.EventID, ids []domain.SeatID, user domain.UserID, idem application.Idem) (_ []domain.Seat, err error) {
	ctx, span := s.start(ctx, "reserve", e)
	defer end(span, &err)
	return s.next.Reserve(ctx, e, ids, user, idem)
}

func (s *tracedStore) Release(ctx context.Context, e domain.EventID, ids []domain.SeatID, user domain.UserID, idem application.Idem) (_ []domain.Seat, err error) {
	ctx, span := s.start(ctx, "release", e)
	defer end(span, &err)
	return s.next.Release(ctx, e, ids, user, idem)
}

func (s *tracedStore) Snapshot(ctx context.Context, id domain.EventID) (_ domain.Event, _ []int, _ domain.Position, err error) {
	ctx, span := s.start(ctx, "snapshot", id)
	defer end(span, &err)
	return s.next.Snapshot(ctx, id)
}

func (s *tracedStore) Changes(ctx context.Context, id domain.EventID, after domain.Position, limit int) (_ []domain.Record, err error) {
	ctx, span := s.start(ctx, "changes", id)
	defer end(span, &err)
	return s.next.Changes(ctx, id, after, limit)
}

// Wait spans no single event: one call follows many.
func (s *tracedStore) Wait(ctx context.Context, after map[domain.EventID]domain.Position, block time.Duration) (_ []domain.EventID, err error) {
	ctx, span := s.start(ctx, "wait", "")
	defer end(span, &err)
	return s.next.Wait(ctx, after, block)
}

func (s *tracedStore) Expire(ctx context.Context, id domain.EventID) (_ time.Time, err error) {
	ctx, span := s.start(ctx, "expire", id)
	defer end(span, &err)
	return s.next.Expire(ctx, id)
}
