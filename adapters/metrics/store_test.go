package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"github.com/seatres/reservation/adapters/metrics"
	"github.com/seatres/reservation/application"
	"github.com/seatres/reservation/domain"
)

// fakeStore answers every call with err, and with values built from the
// arguments so that a test sees they were passed on.
type fakeStore struct{ err error }

var _ application.Store = fakeStore{}

func (f fakeStore) Ping(context.Context) error { return f.err }

func (f fakeStore) CreateEvent(context.Context, domain.Event) error { return f.err }

func (f fakeStore) CreateOwnedEvent(context.Context, domain.Event, application.Quota) error {
	return f.err
}

func (f fakeStore) DeleteEvent(context.Context, domain.EventID) error { return f.err }

func (f fakeStore) Event(_ context.Context, id domain.EventID) (domain.Event, error) {
	return domain.Event{ID: id}, f.err
}

func (f fakeStore) AvailableSeats(_ context.Context, id domain.EventID) (domain.Event, []int, domain.Version, error) {
	return domain.Event{ID: id}, []int{1}, domain.Version{Expired: 1}, f.err
}

func (f fakeStore) ListVersion(context.Context, domain.EventID) (domain.Version, bool, error) {
	return domain.Version{Expired: 2}, true, f.err
}

func (f fakeStore) Snapshot(_ context.Context, id domain.EventID) (domain.Event, []int, domain.Position, error) {
	return domain.Event{ID: id}, []int{1}, domain.Position{Ms: 1}, f.err
}

func (f fakeStore) Changes(_ context.Context, _ domain.EventID, after domain.Position, _ int) ([]domain.Record, error) {
	return []domain.Record{{Position: domain.Position{Ms: after.Ms + 1}}}, f.err
}

func (f fakeStore) Wait(_ context.Context, after map[domain.EventID]domain.Position, _ time.Duration) ([]domain.EventID, error) {
	var ids []domain.EventID
	for id := range after {
		ids = append(ids, id)
	}
	return ids, f.err
}

func (f fakeStore) Expire(context.Context, domain.EventID) (time.Time, error) {
	return time.Unix(1, 0), f.err
}

func (f fakeStore) Seat(_ context.Context, id domain.SeatID) (domain.Seat, error) {
	return domain.Seat{ID: id}, f.err
}

func (f fakeStore) Summary(_ context.Context, id domain.EventID) (domain.Summary, error) {
	return domain.Summary{Total: 10, Available: 10}, f.err
}

func (f fakeStore) Hold(_ context.Context, _ domain.EventID, ids []domain.SeatID, user domain.UserID, p domain.HoldPolicy, _ application.Idem) ([]domain.Seat, error) {
	return seats(ids, domain.OnHold, user, time.Unix(0, 0).Add(p.TTL)), f.err
}

func (f fakeStore) HoldBest(_ context.Context, e domain.EventID, b domain.BestAvailable, user domain.UserID, p domain.HoldPolicy, _ application.Idem) ([]domain.Seat, error) {
	ids := make([]domain.SeatID, b.Count)
	for i := range ids {
		ids[i] = domain.SeatID{Event: e, Number: i + 1}
	}
	return seats(ids, domain.OnHold, user, time.Unix(0, 0).Add(p.TTL)), f.err
}

func (f fakeStore) Refresh(_ context.Context, _ domain.EventID, ids []domain.SeatID, user domain.UserID, p domain.HoldPolicy, _ application.Idem) ([]domain.Seat, error) {
	return seats(ids, domain.OnHold, user, time.Unix(0, 0).Add(p.TTL)), f.err
}

func (f fakeStore) Reserve(_ context.Context, _ domain.EventID, ids []domain.SeatID, user domain.UserID, _ application.Idem) ([]domain.Seat, error) {
	return seats(ids, domain.Reserved, user, time.Time{}), f.err
}

func (f fakeStore) Release(_ context.Context, _ domain.EventID, ids []domain.SeatID, _ domain.UserID, _ application.Idem) ([]domain.Seat, error) {
	return seats(ids, domain.Available, "", time.Time{}), f.err
}

func seats(ids []domain.SeatID, status domain.Status, user domain.UserID, exp time.Time) []domain.Seat {
	out := make([]domain.Seat, len(ids))
	for i, id := range ids {
		out[i] = domain.Seat{ID: id, Status: status, Holder: user, HoldExpiresAt: exp}
	}
	return out
}

const event = domain.EventID("0b6f3c1e-8d0a-4f43-9a52-3c2f1e5d7a90")

var (
	seat   = domain.SeatID{Event: event, Number: 7}
	user   = domain.UserID("buyer")
	policy = domain.HoldPolicy{TTL: time.Minute, MaxSeats: 6}
)

// calls runs one store method by its op label.
var calls = map[string]func(application.Store) error{
	"ping": func(s application.Store) error { return s.Ping(context.Background()) },
	"create_event": func(s application.Store) error {
		return s.CreateEvent(context.Background(), domain.Event{ID: event})
	},
	"delete_event": func(s application.Store) error { return s.DeleteEvent(context.Background(), event) },
	"event": func(s application.Store) error {
		_, err := s.Event(context.Background(), event)
		return err
	},
	"available_seats": func(s application.Store) error {
		_, _, _, err := s.AvailableSeats(context.Background(), event)
		return err
	},
	"list_version": func(s application.Store) error {
		_, _, err := s.ListVersion(context.Background(), event)
		return err
	},
	"snapshot": func(s application.Store) error {
		_, _, _, err := s.Snapshot(context.Background(), event)
		return err
	},
	"changes": func(s application.Store) error {
		_, err := s.Changes(context.Background(), event, domain.Position{}, 10)
		return err
	},
	"wait": func(s application.Store) error {
		_, err := s.Wait(context.Background(), map[domain.EventID]domain.Position{event: {}}, time.Second)
		return err
	},
	"expire": func(s application.Store) error {
		_, err := s.Expire(context.Background(), event)
		return err
	},
	"seat": func(s application.Store) error {
		_, err := s.Seat(context.Background(), seat)
		return err
	},
	"summary": func(s application.Store) error {
		_, err := s.Summary(context.Background(), event)
		return err
	},
	"hold": func(s application.Store) error {
		_, err := s.Hold(context.Background(), event, []domain.SeatID{seat}, user, policy, application.Idem{})
		return err
	},
	"hold_best": func(s application.Store) error {
		_, err := s.HoldBest(context.Background(), event, domain.BestAvailable{Count: 2}, user, policy, application.Idem{})
		return err
	},
	"refresh": func(s application.Store) error {
		_, err := s.Refresh(context.Background(), event, nil, user, policy, application.Idem{})
		return err
	},
	"reserve": func(s application.Store) error {
		_, err := s.Reserve(context.Background(), event, []domain.SeatID{seat}, user, application.Idem{})
		return err
	},
	"release": func(s application.Store) error {
		_, err := s.Release(context.Background(), event, nil, user, application.Idem{})
		return err
	},
}

func TestInstrumentStoreCountsOutcomes(t *testing.T) {
	t.Parallel()
	unavailable := fmt.Errorf("redis: i/o timeout: %w", application.ErrUnavailable)
	tests := []struct {
		op         string
		give       error
		wantResult string // in seat_transitions_total; "" for no series
		wantErrors float64
	}{
		{"hold", nil, "ok", 0},
		{"hold", domain.ErrSeatHeld, "seat_held", 0},
		{"hold", fmt.Errorf("hold seat x: %w", domain.ErrHoldLimit), "hold_limit_reached", 0},
		{"hold", &domain.SeatsError{Err: domain.ErrSeatHeld, Seats: []domain.SeatID{seat}}, "seat_held", 0},
		{"hold", &domain.CoolDownError{RetryAfter: time.Second}, "hold_lifetime_reached", 0},
		{"hold_best", domain.ErrNotEnoughSeats, "not_enough_seats", 0},
		{"hold_best", nil, "ok", 0},
		{"release", nil, "ok", 0},
		{"refresh", domain.ErrHoldLifetime, "hold_lifetime_reached", 0},
		{"summary", nil, "", 0},
		{"hold", domain.ErrSeatReserved, "seat_reserved", 0},
		{"hold", domain.ErrSeatNotFound, "seat_not_found", 0},
		{"hold", unavailable, "unavailable", 1},
		{"hold", errors.New("bug"), "error", 1},
		{"refresh", nil, "ok", 0},
		{"refresh", domain.ErrNotHolder, "not_holder", 0},
		{"refresh", domain.ErrNotOnHold, "not_on_hold", 0},
		{"reserve", nil, "ok", 0},
		{"reserve", domain.ErrNoLiveHold, "no_live_hold", 0},
		{"reserve", unavailable, "unavailable", 1},
		{"create_event", domain.ErrEventExists, "", 0},
		{"create_event", unavailable, "", 1},
		{"create_event", fmt.Errorf("redis: %w: OOM", application.ErrStoreFull), "", 1},
		{"delete_event", domain.ErrEventNotFound, "", 0},
		{"hold", fmt.Errorf("redis: %w: OOM", application.ErrStoreFull), "store_full", 1},
		{"event", domain.ErrEventNotFound, "", 0},
		{"available_seats", nil, "", 0},
		{"seat", errors.New("bug"), "", 1},
		{"list_version", nil, "", 0},
		{"snapshot", domain.ErrEventNotFound, "", 0},
		{"changes", application.ErrTrimmed, "", 0},
		{"changes", unavailable, "", 1},
		{"wait", nil, "", 0},
		{"wait", unavailable, "", 1},
		{"expire", unavailable, "", 1},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%v", tt.op, tt.give), func(t *testing.T) {
			t.Parallel()
			m := metrics.New()
			s := m.InstrumentStore(fakeStore{err: tt.give})

			if err := calls[tt.op](s); err != tt.give {
				t.Fatalf("error = %v, want the store's own %v", err, tt.give)
			}

			fams := families(t, m)
			// A wait is not timed: it lasts until a change comes.
			got, timed := value(fams, "store_call_duration_seconds", "op", tt.op)
			if tt.op == "wait" && timed {
				t.Errorf("store_call_duration_seconds{op=%q} exists, want no series for a blocking call", tt.op)
			} else if tt.op != "wait" && got != 1 {
				t.Errorf("store_call_duration_seconds{op=%q} count = %v, want 1", tt.op, got)
			}
			if got, _ := value(fams, "store_errors_total", "op", tt.op); got != tt.wantErrors {
				t.Errorf("store_errors_total{op=%q} = %v, want %v", tt.op, got, tt.wantErrors)
			}
			var total float64
			for _, s := range fams["seat_transitions_total"].GetMetric() {
				total += s.GetCounter().GetValue()
			}
			if tt.wantResult == "" {
				if total != 0 {
					t.Errorf("seat_transitions_total sums to %v, want 0 for op %s", total, tt.op)
				}
				return
			}
			got, ok := value(fams, "seat_transitions_total", "op", tt.op, "result", tt.wantResult)
			if !ok || got != 1 || total != 1 {
				t.Errorf("seat_transitions_total{op=%q,result=%q} = %v (present %v, all series sum to %v), want 1 and only it",
					tt.op, tt.wantResult, got, ok, total)
			}
		})
	}
}

func TestInstrumentStorePassesResultsThrough(t *testing.T) {
	t.Parallel()
	s := metrics.New().InstrumentStore(fakeStore{})
	ctx := context.Background()

	held, err := s.Hold(ctx, event, []domain.SeatID{seat}, user, policy, application.Idem{})
	want := domain.Seat{ID: seat, Status: domain.OnHold, Holder: user, HoldExpiresAt: time.Unix(0, 0).Add(policy.TTL)}
	if err != nil || len(held) != 1 || held[0] != want {
		t.Errorf("Hold = %+v, %v; want %+v, nil", held, err, want)
	}
	e, free, v, err := s.AvailableSeats(ctx, event)
	if err != nil || e.ID != event || len(free) != 1 || free[0] != 1 || v != (domain.Version{Expired: 1}) {
		t.Errorf("AvailableSeats = %+v, %v, %v, %v; want event %s, [1], version 0-0.1, nil", e, free, v, err, event)
	}
	recs, err := s.Changes(ctx, event, domain.Position{Ms: 4}, 10)
	if err != nil || len(recs) != 1 || recs[0].Position != (domain.Position{Ms: 5}) {
		t.Errorf("Changes = %+v, %v; want the one record at 5-0", recs, err)
	}
}

// Series exist at zero before any call, so rates and alerts work at once.
func TestStoreSeriesStartAtZero(t *testing.T) {
	t.Parallel()
	fams := families(t, metrics.New())
	for op := range calls {
		if v, ok := value(fams, "store_errors_total", "op", op); !ok || v != 0 {
			t.Errorf("store_errors_total{op=%q} = %v (present %v), want 0", op, v, ok)
		}
	}
	for _, op := range []string{"hold", "hold_best", "refresh", "reserve", "release"} {
		for _, r := range []string{"ok", "unavailable", "hold_limit_reached", "not_enough_seats"} {
			if _, ok := value(fams, "seat_transitions_total", "op", op, "result", r); !ok {
				t.Errorf("seat_transitions_total{op=%q,result=%q} missing", op, r)
			}
		}
	}
}

// The wiring the lead uses: Module provides *Metrics and StoreDecorator, at
// the root, instruments the store that the Service receives.
func TestModuleInstrumentsTheServicesStore(t *testing.T) {
	t.Parallel()
	opts := fx.Options(
		fx.Provide(
			fx.Annotate(func() fakeStore { return fakeStore{} }, fx.As(new(application.Store))),
			func(s application.Store) *application.Service { return application.NewService(s, policy) },
		),
		metrics.Module,
		metrics.StoreDecorator,
		fx.NopLogger,
	)
	if err := fx.ValidateApp(opts); err != nil {
		t.Fatal(err)
	}
	var (
		svc *application.Service
		m   *metrics.Metrics
	)
	app := fxtest.New(t, opts, fx.Populate(&svc, &m))
	app.RequireStart()
	defer app.RequireStop()

	if _, err := svc.Reserve(context.Background(), seat.String(), string(user)); err != nil {
		t.Fatal(err)
	}
	if got, _ := value(families(t, m), "seat_transitions_total", "op", "reserve", "result", "ok"); got != 1 {
		t.Errorf(`seat_transitions_total{op="reserve",result="ok"} = %v, want 1`, got)
	}
}
