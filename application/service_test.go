package application_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/mock/gomock"

	"github.com/seatres/reservation/application"
	"github.com/seatres/reservation/application/mocks"
	"github.com/seatres/reservation/domain"
)

const (
	eventID = "0f8fad5b-d9cb-469f-a165-70867728950e"
	seatID  = eventID + ".3"
)

var (
	policy       = domain.HoldPolicy{TTL: time.Minute, MaxSeats: 6}
	seat         = domain.SeatID{Event: eventID, Number: 3}
	errRedis     = errors.New("connection refused")
	errStoreDown = errors.Join(application.ErrUnavailable, errRedis)
)

func newService(t *testing.T) (*application.Service, *mocks.MockStore) {
	store := mocks.NewMockStore(gomock.NewController(t))
	return application.NewService(store, policy), store
}

func TestCreateEvent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("stores a valid event under a new id", func(t *testing.T) {
		t.Parallel()
		svc, store := newService(t)
		var stored domain.Event
		store.EXPECT().CreateEvent(ctx, gomock.Any()).DoAndReturn(func(_ context.Context, e domain.Event) error {
			stored = e
			return nil
		})
		e, err := svc.CreateEvent(ctx, "Concert", 100)
		if err != nil {
			t.Fatal(err)
		}
		if e != stored || e.Name != "Concert" || e.TotalSeats != 100 {
			t.Fatalf("returned %+v, stored %+v", e, stored)
		}
		if _, err := domain.ParseEventID(string(e.ID)); err != nil {
			t.Fatalf("new event id %q: %v", e.ID, err)
		}
	})
	t.Run("refuses invalid input without touching the store", func(t *testing.T) {
		t.Parallel()
		svc, _ := newService(t)
		if _, err := svc.CreateEvent(ctx, "", 100); !errors.Is(err, domain.ErrInvalidName) {
			t.Fatalf("empty name: %v", err)
		}
		if _, err := svc.CreateEvent(ctx, "A", 5); !errors.Is(err, domain.ErrInvalidTotalSeats) {
			t.Fatalf("5 seats: %v", err)
		}
	})
	t.Run("passes store failures on", func(t *testing.T) {
		t.Parallel()
		svc, store := newService(t)
		store.EXPECT().CreateEvent(ctx, gomock.Any()).Return(errStoreDown)
		if _, err := svc.CreateEvent(ctx, "A", 10); !errors.Is(err, application.ErrUnavailable) {
			t.Fatalf("error = %v", err)
		}
	})
}

func TestReads(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	event := domain.Event{ID: eventID, Name: "A", TotalSeats: 10}

	t.Run("event", func(t *testing.T) {
		t.Parallel()
		svc, store := newService(t)
		store.EXPECT().Event(ctx, domain.EventID(eventID)).Return(event, nil)
		if got, err := svc.Event(ctx, eventID); err != nil || got != event {
			t.Fatalf("Event = %+v, %v", got, err)
		}
		if _, err := svc.Event(ctx, "nope"); !errors.Is(err, domain.ErrEventNotFound) {
			t.Fatalf("malformed id: %v", err)
		}
	})
	t.Run("available seats", func(t *testing.T) {
		t.Parallel()
		svc, store := newService(t)
		store.EXPECT().AvailableSeats(ctx, domain.EventID(eventID)).Return(event, []int{1, 2}, nil)
		got, free, err := svc.AvailableSeats(ctx, eventID)
		if err != nil || got != event || len(free) != 2 {
			t.Fatalf("AvailableSeats = %+v, %v, %v", got, free, err)
		}
		store.EXPECT().AvailableSeats(ctx, domain.EventID(eventID)).Return(domain.Event{}, nil, errStoreDown)
		if _, _, err := svc.AvailableSeats(ctx, eventID); !errors.Is(err, application.ErrUnavailable) {
			t.Fatalf("store failure: %v", err)
		}
		if _, _, err := svc.AvailableSeats(ctx, "*"); !errors.Is(err, domain.ErrEventNotFound) {
			t.Fatalf("malformed id: %v", err)
		}
	})
	t.Run("seat", func(t *testing.T) {
		t.Parallel()
		svc, store := newService(t)
		want := domain.NewSeat(seat)
		store.EXPECT().Seat(ctx, seat).Return(want, nil)
		if got, err := svc.Seat(ctx, seatID); err != nil || got != want {
			t.Fatalf("Seat = %+v, %v", got, err)
		}
		if _, err := svc.Seat(ctx, eventID+".x"); !errors.Is(err, domain.ErrSeatNotFound) {
			t.Fatalf("malformed id: %v", err)
		}
	})
}

// The three transitions share their validation and error handling.
func TestTransitions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	held := domain.Seat{ID: seat, Status: domain.OnHold, Holder: "alice", HoldExpiresAt: time.Now()}
	transitions := []struct {
		name   string
		call   func(*application.Service, string, string) (domain.Seat, error)
		expect func(*mocks.MockStore) *gomock.Call
	}{
		{
			name: "hold",
			call: func(s *application.Service, id, u string) (domain.Seat, error) { return s.Hold(ctx, id, u) },
			expect: func(m *mocks.MockStore) *gomock.Call {
				return m.EXPECT().Hold(ctx, seat, domain.UserID("alice"), policy)
			},
		},
		{
			name: "refresh",
			call: func(s *application.Service, id, u string) (domain.Seat, error) { return s.Refresh(ctx, id, u) },
			expect: func(m *mocks.MockStore) *gomock.Call {
				return m.EXPECT().Refresh(ctx, seat, domain.UserID("alice"), policy)
			},
		},
		{
			name: "reserve",
			call: func(s *application.Service, id, u string) (domain.Seat, error) { return s.Reserve(ctx, id, u) },
			expect: func(m *mocks.MockStore) *gomock.Call {
				return m.EXPECT().Reserve(ctx, seat, domain.UserID("alice"))
			},
		},
	}
	for _, tr := range transitions {
		t.Run(tr.name, func(t *testing.T) {
			t.Parallel()
			svc, store := newService(t)

			tr.expect(store).Return(held, nil)
			if got, err := tr.call(svc, seatID, "alice"); err != nil || got != held {
				t.Fatalf("= %+v, %v; want %+v", got, err, held)
			}

			tr.expect(store).Return(domain.Seat{}, domain.ErrSeatHeld)
			if _, err := tr.call(svc, seatID, "alice"); !errors.Is(err, domain.ErrSeatHeld) {
				t.Fatalf("refusal: %v", err)
			}

			tr.expect(store).Return(domain.Seat{}, errStoreDown)
			if _, err := tr.call(svc, seatID, "alice"); !errors.Is(err, application.ErrUnavailable) {
				t.Fatalf("store failure: %v", err)
			}

			// Invalid input never reaches the store (gomock fails on an
			// unexpected call).
			for give, want := range map[[2]string]error{
				{"", "alice"}:             domain.ErrInvalidSeatID,
				{"nope", "alice"}:         domain.ErrSeatNotFound,
				{seatID, ""}:              domain.ErrInvalidUser,
				{seatID, "a\nb"}:          domain.ErrInvalidUser,
				{eventID + ".0", "alice"}: domain.ErrSeatNotFound,
			} {
				if _, err := tr.call(svc, give[0], give[1]); !errors.Is(err, want) {
					t.Errorf("%q by %q: error %v, want %v", give[0], give[1], err, want)
				}
			}
		})
	}
}
