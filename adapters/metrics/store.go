package metrics

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/seatres/reservation/application"
	"github.com/seatres/reservation/domain"
)

// storeOp names one store method in the op label. Transitions (hold,
// refresh, reserve) also count their outcomes in seat_transitions_total.
// A blocking call (wait) is not timed: its time is how long it waited for a
// change, not the store's latency, and would only bury the others' in
// store_call_duration_seconds; its failures count as any other's.
type storeOp struct {
	name       string
	transition bool
	blocking   bool
}

var (
	opPing           = storeOp{name: "ping"}
	opCreateEvent    = storeOp{name: "create_event"}
	opDeleteEvent    = storeOp{name: "delete_event"}
	opEvent          = storeOp{name: "event"}
	opAvailableSeats = storeOp{name: "available_seats"}
	opSummary        = storeOp{name: "summary"}
	opSeat           = storeOp{name: "seat"}
	opHold           = storeOp{name: "hold", transition: true}
	opHoldBest       = storeOp{name: "hold_best", transition: true}
	opRefresh        = storeOp{name: "refresh", transition: true}
	opReserve        = storeOp{name: "reserve", transition: true}
	opRelease        = storeOp{name: "release", transition: true}
	opListVersion    = storeOp{name: "list_version"}
	opSnapshot       = storeOp{name: "snapshot"}
	opChanges        = storeOp{name: "changes"}
	opWait           = storeOp{name: "wait", blocking: true}
	opExpire         = storeOp{name: "expire"}

	storeOps = []storeOp{opPing, opCreateEvent, opDeleteEvent, opEvent, opAvailableSeats, opSummary, opSeat, opHold, opHoldBest, opRefresh, opReserve, opRelease, opListVersion, opSnapshot, opChanges, opWait, opExpire}
)

// Results of a store call that are not a refusal of the rules.
const (
	resultOK          = "ok"
	resultUnavailable = "unavailable" // wraps application.ErrUnavailable
	resultStoreFull   = "store_full"  // wraps application.ErrStoreFull
	resultError       = "error"       // anything else: a bug
	resultTrimmed     = "trimmed"     // application.ErrTrimmed
)

// refusalLabel is a refusal's name in the result label: its code, in lower
// case. Two refusals with one code share a label.
func refusalLabel(r *domain.Refusal) string { return strings.ToLower(r.Code()) }

// results lists every value of the result label.
var results = func() []string {
	r := []string{resultOK, resultUnavailable, resultStoreFull, resultError}
	for _, ref := range domain.Refusals() {
		if label := refusalLabel(ref); !slices.Contains(r, label) {
			r = append(r, label)
		}
	}
	return r
}()

// outcome names the result of a store call and reports whether it is a
// store failure rather than an answer of the rules.
func outcome(err error) (result string, failed bool) {
	if err == nil {
		return resultOK, false
	}
	if ref := (*domain.Refusal)(nil); errors.As(err, &ref) {
		return refusalLabel(ref), false
	}
	// Changes of a trimmed position is an answer (read a snapshot), and
	// no transition's: it needs no result label in results.
	if errors.Is(err, application.ErrTrimmed) {
		return resultTrimmed, false
	}
	if errors.Is(err, application.ErrUnavailable) {
		return resultUnavailable, true
	}
	if errors.Is(err, application.ErrStoreFull) {
		return resultStoreFull, true
	}
	return resultError, true
}

// observe records one store call that started at start and returned *errp.
// It takes a pointer so that it can be deferred before the call.
func (m *Metrics) observe(op storeOp, start time.Time, errp *error) {
	if !op.blocking {
		m.storeTime.WithLabelValues(op.name).Observe(time.Since(start).Seconds())
	}
	result, failed := outcome(*errp)
	if failed {
		m.storeErrors.WithLabelValues(op.name).Inc()
	}
	if op.transition {
		m.transitions.WithLabelValues(op.name, result).Inc()
	}
}

// InstrumentStore returns next with every call timed and its outcome
// counted. Results and errors pass through unchanged.
func (m *Metrics) InstrumentStore(next application.Store) application.Store {
	return &instrumentedStore{next: next, m: m}
}

type instrumentedStore struct {
	next application.Store
	m    *Metrics
}

var _ application.Store = (*instrumentedStore)(nil)

func (s *instrumentedStore) Ping(ctx context.Context) (err error) {
	defer s.m.observe(opPing, time.Now(), &err)
	return s.next.Ping(ctx)
}

func (s *instrumentedStore) CreateEvent(ctx context.Context, e domain.Event) (err error) {
	defer s.m.observe(opCreateEvent, time.Now(), &err)
	return s.next.CreateEvent(ctx, e)
}

// CreateOwnedEvent counts as a create_event: the same create, with an
// owner.
func (s *instrumentedStore) CreateOwnedEvent(ctx context.Context, e domain.Event, q application.Quota) (err error) {
	defer s.m.observe(opCreateEvent, time.Now(), &err)
	return s.next.CreateOwnedEvent(ctx, e, q)
}

func (s *instrumentedStore) DeleteEvent(ctx context.Context, id domain.EventID) (err error) {
	defer s.m.observe(opDeleteEvent, time.Now(), &err)
	return s.next.DeleteEvent(ctx, id)
}

func (s *instrumentedStore) Event(ctx context.Context, id domain.EventID) (_ domain.Event, err error) {
	defer s.m.observe(opEvent, time.Now(), &err)
	return s.next.Event(ctx, id)
}

func (s *instrumentedStore) AvailableSeats(ctx context.Context, id domain.EventID) (_ domain.Event, _ []int, _ domain.Version, err error) {
	defer s.m.observe(opAvailableSeats, time.Now(), &err)
	return s.next.AvailableSeats(ctx, id)
}

func (s *instrumentedStore) ListVersion(ctx context.Context, id domain.EventID) (_ domain.Version, _ bool, err error) {
	defer s.m.observe(opListVersion, time.Now(), &err)
	return s.next.ListVersion(ctx, id)
}

func (s *instrumentedStore) Seat(ctx context.Context, id domain.SeatID) (_ domain.Seat, err error) {
	defer s.m.observe(opSeat, time.Now(), &err)
	return s.next.Seat(ctx, id)
}

func (s *instrumentedStore) Summary(ctx context.Context, id domain.EventID) (_ domain.Summary, err error) {
	defer s.m.observe(opSummary, time.Now(), &err)
	return s.next.Summary(ctx, id)
}

func (s *instrumentedStore) Hold(ctx context.Context, e domain.EventID, ids []domain.SeatID, user domain.UserID, p domain.HoldPolicy, idem application.Idem) (_ []domain.Seat, err error) {
	defer s.m.observe(opHold, time.Now(), &err)
	return s.next.Hold(ctx, e, ids, user, p, idem)
}

func (s *instrumentedStore) HoldBest(ctx context.Context, e domain.EventID, b domain.BestAvailable, user domain.UserID, p domain.HoldPolicy, idem application.Idem) (_ []domain.Seat, err error) {
	defer s.m.observe(opHoldBest, time.Now(), &err)
	return s.next.HoldBest(ctx, e, b, user, p, idem)
}

func (s *instrumentedStore) Refresh(ctx context.Context, e domain.EventID, ids []domain.SeatID, user domain.UserID, p domain.HoldPolicy, idem application.Idem) (_ []domain.Seat, err error) {
	defer s.m.observe(opRefresh, time.Now(), &err)
	return s.next.Refresh(ctx, e, ids, user, p, idem)
}

func (s *instrumentedStore) Reserve(ctx context.Context, e domain.EventID, ids []domain.SeatID, user domain.UserID, idem application.Idem) (_ []domain.Seat, err error) {
	defer s.m.observe(opReserve, time.Now(), &err)
	return s.next.Reserve(ctx, e, ids, user, idem)
}

func (s *instrumentedStore) Release(ctx context.Context, e domain.EventID, ids []domain.SeatID, user domain.UserID, idem application.Idem) (_ []domain.Seat, err error) {
	defer s.m.observe(opRelease, time.Now(), &err)
	return s.next.Release(ctx, e, ids, user, idem)
}

func (s *instrumentedStore) Snapshot(ctx context.Context, id domain.EventID) (_ domain.Event, _ []int, _ domain.Position, err error) {
	defer s.m.observe(opSnapshot, time.Now(), &err)
	return s.next.Snapshot(ctx, id)
}

func (s *instrumentedStore) Changes(ctx context.Context, id domain.EventID, after domain.Position, limit int) (_ []domain.Record, err error) {
	defer s.m.observe(opChanges, time.Now(), &err)
	return s.next.Changes(ctx, id, after, limit)
}

func (s *instrumentedStore) Wait(ctx context.Context, after map[domain.EventID]domain.Position, block time.Duration) (_ []domain.EventID, err error) {
	defer s.m.observe(opWait, time.Now(), &err)
	return s.next.Wait(ctx, after, block)
}

func (s *instrumentedStore) Expire(ctx context.Context, id domain.EventID) (_ time.Time, err error) {
	defer s.m.observe(opExpire, time.Now(), &err)
	return s.next.Expire(ctx, id)
}
