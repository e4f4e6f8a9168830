package application_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/mock/gomock"

	"github.com/seatres/reservation/application"
	"github.com/seatres/reservation/application/mocks"
	"github.com/seatres/reservation/domain"
)

const (
	eventID = "0f8fad5b-d9cb-469f-a165-70867728950e"
	otherID = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
	seatID  = eventID + ".3"
)

var (
	policy       = domain.HoldPolicy{TTL: time.Minute, MaxSeats: 6, MaxLifetime: 10 * time.Minute}
	seat         = domain.SeatID{Event: eventID, Number: 3}
	errRedis     = errors.New("connection refused")
	errStoreDown = errors.Join(application.ErrUnavailable, errRedis)
	noIdem       = application.Idem{}
)

func newService(t *testing.T) (*application.Service, *mocks.MockStore) {
	return newServiceWith(t, policy)
}

func newServiceWith(t *testing.T, p domain.HoldPolicy) (*application.Service, *mocks.MockStore) {
	store := mocks.NewMockStore(gomock.NewController(t))
	return application.NewService(store, p), store
}

// seatsOf names seats of eventID by number, as the API sends them.
func seatsOf(numbers ...int) []string {
	out := make([]string, len(numbers))
	for i, n := range numbers {
		out[i] = fmt.Sprintf("%s.%d", eventID, n)
	}
	return out
}

// idsOf names seats of eventID by number, as the store gets them.
func idsOf(numbers ...int) []domain.SeatID {
	out := make([]domain.SeatID, len(numbers))
	for i, n := range numbers {
		out[i] = domain.SeatID{Event: eventID, Number: n}
	}
	return out
}

func TestCreateEvent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("stores a valid event under a new id", func(t *testing.T) {
		t.Parallel()
		svc, store := newService(t)
		var stored []domain.Event
		store.EXPECT().CreateEvent(ctx, gomock.Any()).DoAndReturn(func(_ context.Context, e domain.Event) error {
			stored = append(stored, e)
			return nil
		}).Times(2)
		e, err := svc.CreateEvent(ctx, application.NewEvent{Name: "Concert", TotalSeats: 100, SeatsPerRow: 10})
		if err != nil {
			t.Fatal(err)
		}
		if e != stored[0] || e.Name != "Concert" || e.TotalSeats != 100 || e.SeatsPerRow != 10 {
			t.Fatalf("returned %+v, stored %+v", e, stored[0])
		}
		if _, err := domain.ParseEventID(string(e.ID)); err != nil {
			t.Fatalf("new event id %q: %v", e.ID, err)
		}
		// No rows: one row of every seat; and each event its own id.
		e2, err := svc.CreateEvent(ctx, application.NewEvent{Name: "Concert", TotalSeats: 100})
		if err != nil || e2.SeatsPerRow != 100 || e2.ID == e.ID || e2 != stored[1] {
			t.Fatalf("second event %+v, %v (first %+v)", e2, err, e)
		}
	})
	t.Run("refuses invalid input without touching the store", func(t *testing.T) {
		t.Parallel()
		svc, _ := newService(t)
		for _, tt := range []struct {
			give application.NewEvent
			want error
		}{
			{give: application.NewEvent{Name: "", TotalSeats: 100}, want: domain.ErrInvalidName},
			{give: application.NewEvent{Name: "A", TotalSeats: 5}, want: domain.ErrInvalidTotalSeats},
			{give: application.NewEvent{Name: "A", TotalSeats: 100, SeatsPerRow: 101}, want: domain.ErrInvalidSeatsPerRow},
			{give: application.NewEvent{Name: "A", TotalSeats: 100, SeatsPerRow: -1}, want: domain.ErrInvalidSeatsPerRow},
			{give: application.NewEvent{Name: "A", TotalSeats: 100, IdempotencyKey: strings.Repeat("k", 256)}, want: domain.ErrInvalidIdemKey},
			{give: application.NewEvent{Name: "A", TotalSeats: 100, IdempotencyKey: "a\nb"}, want: domain.ErrInvalidIdemKey},
		} {
			if _, err := svc.CreateEvent(ctx, tt.give); !errors.Is(err, tt.want) {
				t.Errorf("CreateEvent(%+v): %v, want %v", tt.give, err, tt.want)
			}
		}
	})
	t.Run("passes store failures on", func(t *testing.T) {
		t.Parallel()
		svc, store := newService(t)
		store.EXPECT().CreateEvent(ctx, gomock.Any()).Return(errStoreDown)
		if _, err := svc.CreateEvent(ctx, application.NewEvent{Name: "A", TotalSeats: 10}); !errors.Is(err, application.ErrUnavailable) {
			t.Fatalf("error = %v", err)
		}
	})
	t.Run("an id of its own is never taken", func(t *testing.T) {
		t.Parallel()
		svc, store := newService(t)
		store.EXPECT().CreateEvent(ctx, gomock.Any()).Return(domain.ErrEventExists)
		_, err := svc.CreateEvent(ctx, application.NewEvent{Name: "A", TotalSeats: 10})
		if !errors.Is(err, domain.ErrEventExists) || errors.Is(err, domain.ErrIdempotencyKeyReused) {
			t.Fatalf("error = %v, want ErrEventExists", err)
		}
	})
	t.Run("an Idempotency-Key derives the same id", func(t *testing.T) {
		t.Parallel()
		svc, store := newService(t)
		var stored []domain.Event
		store.EXPECT().CreateEvent(ctx, gomock.Any()).DoAndReturn(func(_ context.Context, e domain.Event) error {
			stored = append(stored, e)
			return nil
		}).Times(3)
		r := application.NewEvent{Name: "Concert", TotalSeats: 100, SeatsPerRow: 20, IdempotencyKey: "create-1"}
		first, err := svc.CreateEvent(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		// Another service (another instance) derives it too.
		other, store2 := newService(t)
		store2.EXPECT().CreateEvent(ctx, first).Return(nil)
		again, err := other.CreateEvent(ctx, r)
		if err != nil || again != first {
			t.Fatalf("retry = %+v, %v; want %+v", again, err, first)
		}
		if _, err := domain.ParseEventID(string(first.ID)); err != nil {
			t.Fatalf("id %q derived from a key: %v", first.ID, err)
		}
		again, err = svc.CreateEvent(ctx, r)
		if err != nil || again != first {
			t.Fatalf("retry = %+v, %v; want %+v", again, err, first)
		}
		r.IdempotencyKey = "create-2"
		second, err := svc.CreateEvent(ctx, r)
		if err != nil || second.ID == first.ID {
			t.Fatalf("another key gave %+v, %v; first %+v", second, err, first)
		}
		if stored[0] != first || stored[1] != first || stored[2] != second {
			t.Fatalf("stored %+v", stored)
		}
	})
	t.Run("an Idempotency-Key is its owner's", func(t *testing.T) {
		t.Parallel()
		svc, store := newService(t)
		ids := map[string]domain.EventID{}
		for _, owner := range []string{"", "site-a", "site-b", "site-a"} {
			r := application.NewEvent{Name: "Concert", TotalSeats: 100, IdempotencyKey: "concert-2027", Owner: owner}
			if owner == "" {
				store.EXPECT().CreateEvent(ctx, gomock.Any()).Return(nil)
			} else {
				store.EXPECT().CreateOwnedEvent(ctx, gomock.Any(), gomock.Any()).Return(nil)
			}
			e, err := svc.CreateEvent(ctx, r)
			if err != nil {
				t.Fatal(err)
			}
			if id, ok := ids[owner]; ok && id != e.ID {
				t.Errorf("owner %q: retry made %s, first %s", owner, e.ID, id)
			}
			ids[owner] = e.ID
		}
		if ids[""] == ids["site-a"] || ids[""] == ids["site-b"] || ids["site-a"] == ids["site-b"] {
			t.Errorf("one key of three owners made %q", ids)
		}
		// Without an owner, the id is the one that the key alone made
		// before owners counted, so that a retry across an upgrade finds
		// its event: UUIDv5 in eventKeySpace of the key's SHA-256 in hex
		// (Python's uuid.uuid5 gives the same).
		if ids[""] != "293cf678-a855-537c-b044-77fa9960a2a8" {
			t.Errorf("without an owner: %s", ids[""])
		}
	})
	t.Run("an Idempotency-Key of another event is reused", func(t *testing.T) {
		t.Parallel()
		svc, store := newService(t)
		store.EXPECT().CreateEvent(ctx, gomock.Any()).Return(domain.ErrEventExists)
		_, err := svc.CreateEvent(ctx, application.NewEvent{Name: "Concert", TotalSeats: 100, IdempotencyKey: "create-1"})
		if !errors.Is(err, domain.ErrIdempotencyKeyReused) || errors.Is(err, domain.ErrEventExists) {
			t.Fatalf("error = %v, want ErrIdempotencyKeyReused", err)
		}
	})
}

func TestReads(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	event := domain.Event{ID: eventID, Name: "A", TotalSeats: 10, SeatsPerRow: 5}

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
		version := domain.Version{Position: domain.Position{Ms: 7, Seq: 1}, Expired: 2}
		store.EXPECT().AvailableSeats(ctx, domain.EventID(eventID)).Return(event, []int{1, 2}, version, nil)
		got, free, v, err := svc.AvailableSeats(ctx, eventID)
		if err != nil || got != event || len(free) != 2 || v != version {
			t.Fatalf("AvailableSeats = %+v, %v, %v, %v", got, free, v, err)
		}
		store.EXPECT().AvailableSeats(ctx, domain.EventID(eventID)).Return(domain.Event{}, nil, domain.Version{}, errStoreDown)
		if _, _, _, err := svc.AvailableSeats(ctx, eventID); !errors.Is(err, application.ErrUnavailable) {
			t.Fatalf("store failure: %v", err)
		}
		if _, _, _, err := svc.AvailableSeats(ctx, "*"); !errors.Is(err, domain.ErrEventNotFound) {
			t.Fatalf("malformed id: %v", err)
		}
	})
	t.Run("summary", func(t *testing.T) {
		t.Parallel()
		svc, store := newService(t)
		want := domain.Summary{Total: 10, Available: 5, OnHold: 3, Reserved: 2}
		store.EXPECT().Summary(ctx, domain.EventID(eventID)).Return(want, nil)
		if got, err := svc.Summary(ctx, eventID); err != nil || got != want {
			t.Fatalf("Summary = %+v, %v", got, err)
		}
		store.EXPECT().Summary(ctx, domain.EventID(eventID)).Return(domain.Summary{}, domain.ErrEventNotFound)
		if _, err := svc.Summary(ctx, eventID); !errors.Is(err, domain.ErrEventNotFound) {
			t.Fatalf("unknown event: %v", err)
		}
		if _, err := svc.Summary(ctx, "*"); !errors.Is(err, domain.ErrEventNotFound) {
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

// The original API's three transitions of one seat share their validation
// and error handling: a cart of one seat, whose refusals are bare.
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
				return m.EXPECT().Hold(ctx, domain.EventID(eventID), []domain.SeatID{seat}, domain.UserID("alice"), policy, noIdem)
			},
		},
		{
			name: "refresh",
			call: func(s *application.Service, id, u string) (domain.Seat, error) { return s.Refresh(ctx, id, u) },
			expect: func(m *mocks.MockStore) *gomock.Call {
				return m.EXPECT().Refresh(ctx, domain.EventID(eventID), []domain.SeatID{seat}, domain.UserID("alice"), policy, noIdem)
			},
		},
		{
			name: "reserve",
			call: func(s *application.Service, id, u string) (domain.Seat, error) { return s.Reserve(ctx, id, u) },
			expect: func(m *mocks.MockStore) *gomock.Call {
				return m.EXPECT().Reserve(ctx, domain.EventID(eventID), []domain.SeatID{seat}, domain.UserID("alice"), noIdem)
			},
		},
	}
	for _, tr := range transitions {
		t.Run(tr.name, func(t *testing.T) {
			t.Parallel()
			svc, store := newService(t)

			tr.expect(store).Return([]domain.Seat{held}, nil)
			if got, err := tr.call(svc, seatID, "alice"); err != nil || got != held {
				t.Fatalf("= %+v, %v; want %+v", got, err, held)
			}

			// A cart's refusal naming the seat is answered bare.
			for _, refusal := range []*domain.Refusal{domain.ErrSeatHeld, domain.ErrNotHolder, domain.ErrNoLiveHold} {
				tr.expect(store).Return(nil, &domain.SeatsError{Err: refusal, Seats: []domain.SeatID{seat}})
				_, err := tr.call(svc, seatID, "alice")
				var se *domain.SeatsError
				if !errors.Is(err, refusal) || errors.As(err, &se) {
					t.Fatalf("refusal: %v, want a bare %v", err, refusal)
				}
			}
			tr.expect(store).Return(nil, domain.ErrHoldLimit)
			if _, err := tr.call(svc, seatID, "alice"); !errors.Is(err, domain.ErrHoldLimit) {
				t.Fatalf("refusal: %v", err)
			}
			// The original API has no event in these calls: an unknown
			// event is an unknown seat.
			tr.expect(store).Return(nil, domain.ErrEventNotFound)
			if _, err := tr.call(svc, seatID, "alice"); !errors.Is(err, domain.ErrSeatNotFound) || errors.Is(err, domain.ErrEventNotFound) {
				t.Fatalf("unknown event: %v, want ErrSeatNotFound", err)
			}

			tr.expect(store).Return(nil, errStoreDown)
			if _, err := tr.call(svc, seatID, "alice"); !errors.Is(err, application.ErrUnavailable) {
				t.Fatalf("store failure: %v", err)
			}
			// A store answering other than one seat is broken.
			for _, answer := range [][]domain.Seat{nil, {held, held}} {
				tr.expect(store).Return(answer, nil)
				if _, err := tr.call(svc, seatID, "alice"); !errors.Is(err, application.ErrUnavailable) {
					t.Fatalf("store answering %d seats: %v", len(answer), err)
				}
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

// cartCall is one of the cart use cases.
type cartCall func(*application.Service, context.Context, application.CartRequest) ([]domain.Seat, error)

var cartCalls = map[string]cartCall{
	"HoldSeats":    (*application.Service).HoldSeats,
	"RefreshCart":  (*application.Service).RefreshCart,
	"ReserveSeats": (*application.Service).ReserveSeats,
	"Release":      (*application.Service).Release,
}

// TestCartValidation: invalid requests are refused before the store (which
// fails the test if called).
func TestCartValidation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	many := seatsOf(1, 2, 3, 4, 5, 6, 7)
	best := func(n int) *domain.BestAvailable { return &domain.BestAvailable{Count: n} }
	tests := []struct {
		name  string
		calls []string
		give  application.CartRequest
		want  error
		named []string // the ids an UnknownSeatsError names
	}{
		{name: "no ids", calls: []string{"HoldSeats", "ReserveSeats"}, give: application.CartRequest{Event: eventID, User: "alice"}, want: domain.ErrInvalidSeatIDs},
		{name: "empty ids", calls: []string{"HoldSeats", "ReserveSeats", "Release"}, give: application.CartRequest{Event: eventID, User: "alice", IDs: []string{}}, want: domain.ErrInvalidSeatIDs},
		{name: "more ids than the limit", calls: []string{"HoldSeats", "ReserveSeats", "Release"}, give: application.CartRequest{Event: eventID, User: "alice", IDs: many}, want: domain.ErrInvalidSeatIDs},
		{name: "a seat twice", calls: []string{"HoldSeats", "ReserveSeats", "Release"}, give: application.CartRequest{Event: eventID, User: "alice", IDs: seatsOf(1, 2, 1)}, want: domain.ErrInvalidSeatIDs},
		{name: "an empty id", calls: []string{"HoldSeats", "ReserveSeats", "Release"}, give: application.CartRequest{Event: eventID, User: "alice", IDs: []string{seatID, ""}}, want: domain.ErrInvalidSeatIDs},
		{
			name: "a malformed id", calls: []string{"HoldSeats", "ReserveSeats", "Release"},
			give: application.CartRequest{Event: eventID, User: "alice", IDs: []string{seatID, "nope"}},
			want: domain.ErrSeatNotFound, named: []string{"nope"},
		},
		{
			name: "seats of another event", calls: []string{"HoldSeats", "ReserveSeats", "Release"},
			give:  application.CartRequest{Event: eventID, User: "alice", IDs: []string{otherID + ".4", seatID, otherID + ".9"}},
			want:  domain.ErrSeatNotFound,
			named: []string{otherID + ".4", otherID + ".9"},
		},
		{
			name: "a seat of another event with a number of this one", calls: []string{"HoldSeats"},
			give:  application.CartRequest{Event: eventID, User: "alice", IDs: []string{otherID + ".3", seatID}},
			want:  domain.ErrSeatNotFound,
			named: []string{otherID + ".3"},
		},
		{
			name: "ids of no seat of the event, of every kind", calls: []string{"HoldSeats", "ReserveSeats", "Release"},
			give:  application.CartRequest{Event: eventID, User: "alice", IDs: []string{eventID + ".01", otherID + ".3", seatID, eventID + ".x"}},
			want:  domain.ErrSeatNotFound,
			named: []string{eventID + ".01", otherID + ".3", eventID + ".x"},
		},
		{
			name: "a seat twice beside an id of no seat", calls: []string{"HoldSeats", "ReserveSeats", "Release"},
			give: application.CartRequest{Event: eventID, User: "alice", IDs: []string{"nope", seatID, seatID}},
			want: domain.ErrInvalidSeatIDs,
		},
		{name: "best of none", calls: []string{"HoldSeats"}, give: application.CartRequest{Event: eventID, User: "alice", Best: best(0)}, want: domain.ErrInvalidCount},
		{name: "best of fewer than none", calls: []string{"HoldSeats"}, give: application.CartRequest{Event: eventID, User: "alice", Best: best(-1)}, want: domain.ErrInvalidCount},
		{name: "best of more than the limit", calls: []string{"HoldSeats"}, give: application.CartRequest{Event: eventID, User: "alice", Best: best(7)}, want: domain.ErrInvalidCount},
		{name: "ids and best", calls: []string{"HoldSeats"}, give: application.CartRequest{Event: eventID, User: "alice", IDs: seatsOf(1), Best: best(1)}, want: domain.ErrInvalidSeatIDs},
		{name: "empty ids and best", calls: []string{"HoldSeats"}, give: application.CartRequest{Event: eventID, User: "alice", IDs: []string{}, Best: best(1)}, want: domain.ErrInvalidSeatIDs},
		{name: "a malformed event", calls: []string{"HoldSeats", "RefreshCart", "ReserveSeats", "Release"}, give: application.CartRequest{Event: "nope", User: "alice", IDs: seatsOf(1)}, want: domain.ErrEventNotFound},
		{name: "a malformed event, best", calls: []string{"HoldSeats"}, give: application.CartRequest{Event: "nope", User: "alice", Best: best(1)}, want: domain.ErrEventNotFound},
		{name: "no user", calls: []string{"HoldSeats", "RefreshCart", "ReserveSeats", "Release"}, give: application.CartRequest{Event: eventID, IDs: seatsOf(1)}, want: domain.ErrInvalidUser},
		{name: "a user with a control character", calls: []string{"HoldSeats", "RefreshCart", "ReserveSeats", "Release"}, give: application.CartRequest{Event: eventID, User: "a\tb", IDs: seatsOf(1)}, want: domain.ErrInvalidUser},
		{name: "a key too long", calls: []string{"HoldSeats", "RefreshCart", "ReserveSeats", "Release"}, give: application.CartRequest{Event: eventID, User: "alice", IDs: seatsOf(1), IdempotencyKey: strings.Repeat("k", 256)}, want: domain.ErrInvalidIdemKey},
		{name: "a key with a newline", calls: []string{"HoldSeats", "RefreshCart", "ReserveSeats", "Release"}, give: application.CartRequest{Event: eventID, User: "alice", IDs: seatsOf(1), IdempotencyKey: "a\nb"}, want: domain.ErrInvalidIdemKey},
		{name: "a key with DEL", calls: []string{"HoldSeats", "RefreshCart", "ReserveSeats", "Release"}, give: application.CartRequest{Event: eventID, User: "alice", IDs: seatsOf(1), IdempotencyKey: "a\x7f"}, want: domain.ErrInvalidIdemKey},
		{name: "a key not ASCII", calls: []string{"HoldSeats", "RefreshCart", "ReserveSeats", "Release"}, give: application.CartRequest{Event: eventID, User: "alice", IDs: seatsOf(1), IdempotencyKey: "clé"}, want: domain.ErrInvalidIdemKey},
	}
	for _, tt := range tests {
		for _, name := range tt.calls {
			t.Run(name+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				svc, _ := newService(t)
				got, err := cartCalls[name](svc, ctx, tt.give)
				if !errors.Is(err, tt.want) || got != nil {
					t.Fatalf("= %+v, %v; want %v", got, err, tt.want)
				}
				var ue *application.UnknownSeatsError
				if errors.As(err, &ue) != (tt.named != nil) || ue != nil && !slices.Equal(ue.IDs, tt.named) {
					t.Fatalf("error %v names %v, want %v", err, ue, tt.named)
				}
			})
		}
	}
}

// TestCartCalls: each cart use case makes one call of the store, with the
// seats parsed in the order given, and passes its answer on.
func TestCartCalls(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := domain.EventID(eventID)
	alice := domain.UserID("alice")
	answer := []domain.Seat{{ID: idsOf(5)[0], Status: domain.OnHold, Holder: "alice", HoldExpiresAt: time.Now()}}
	tests := []struct {
		name   string
		call   string
		give   application.CartRequest
		expect func(*mocks.MockStore) *gomock.Call
	}{
		{
			name: "hold of seats", call: "HoldSeats",
			give: application.CartRequest{Event: eventID, User: "alice", IDs: seatsOf(5, 1, 3)},
			expect: func(m *mocks.MockStore) *gomock.Call {
				return m.EXPECT().Hold(ctx, e, idsOf(5, 1, 3), alice, policy, noIdem)
			},
		},
		{
			name: "hold of the limit", call: "HoldSeats",
			give: application.CartRequest{Event: eventID, User: "alice", IDs: seatsOf(1, 2, 3, 4, 5, 6)},
			expect: func(m *mocks.MockStore) *gomock.Call {
				return m.EXPECT().Hold(ctx, e, idsOf(1, 2, 3, 4, 5, 6), alice, policy, noIdem)
			},
		},
		{
			name: "hold of seats past the event (the store knows the event)", call: "HoldSeats",
			give: application.CartRequest{Event: eventID, User: "alice", IDs: seatsOf(10000)},
			expect: func(m *mocks.MockStore) *gomock.Call {
				return m.EXPECT().Hold(ctx, e, idsOf(10000), alice, policy, noIdem)
			},
		},
		{
			name: "best available", call: "HoldSeats",
			give: application.CartRequest{Event: eventID, User: "alice", Best: &domain.BestAvailable{Count: 6, Adjacent: true}},
			expect: func(m *mocks.MockStore) *gomock.Call {
				return m.EXPECT().HoldBest(ctx, e, domain.BestAvailable{Count: 6, Adjacent: true}, alice, policy, noIdem)
			},
		},
		{
			name: "refresh of the cart", call: "RefreshCart",
			give: application.CartRequest{Event: eventID, User: "alice"},
			expect: func(m *mocks.MockStore) *gomock.Call {
				return m.EXPECT().Refresh(ctx, e, []domain.SeatID(nil), alice, policy, noIdem)
			},
		},
		{
			name: "reserve", call: "ReserveSeats",
			give: application.CartRequest{Event: eventID, User: "alice", IDs: seatsOf(2, 4)},
			expect: func(m *mocks.MockStore) *gomock.Call {
				return m.EXPECT().Reserve(ctx, e, idsOf(2, 4), alice, noIdem)
			},
		},
		{
			name: "release of seats", call: "Release",
			give: application.CartRequest{Event: eventID, User: "alice", IDs: seatsOf(4, 2)},
			expect: func(m *mocks.MockStore) *gomock.Call {
				return m.EXPECT().Release(ctx, e, idsOf(4, 2), alice, noIdem)
			},
		},
		{
			name: "release of the cart", call: "Release",
			give: application.CartRequest{Event: eventID, User: "alice"},
			expect: func(m *mocks.MockStore) *gomock.Call {
				return m.EXPECT().Release(ctx, e, []domain.SeatID(nil), alice, noIdem)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			svc, store := newService(t)
			call := cartCalls[tt.call]

			tt.expect(store).Return(answer, nil)
			if got, err := call(svc, ctx, tt.give); err != nil || !slices.Equal(got, answer) {
				t.Fatalf("= %+v, %v; want %+v", got, err, answer)
			}
			// A cart's refusals keep the seats they name.
			refusal := &domain.SeatsError{Err: domain.ErrSeatHeld, Seats: idsOf(5)}
			tt.expect(store).Return(nil, refusal)
			var se *domain.SeatsError
			if got, err := call(svc, ctx, tt.give); got != nil || !errors.As(err, &se) || se != refusal {
				t.Fatalf("refusal: %+v, %v; want %v", got, err, refusal)
			}
			for _, bare := range []error{domain.ErrEventNotFound, domain.ErrHoldLimit, &domain.CoolDownError{RetryAfter: time.Second}} {
				tt.expect(store).Return(nil, bare)
				if got, err := call(svc, ctx, tt.give); got != nil || !errors.Is(err, bare) {
					t.Fatalf("refusal: %+v, %v; want %v", got, err, bare)
				}
			}
			var cd *domain.CoolDownError
			tt.expect(store).Return(nil, &domain.CoolDownError{RetryAfter: time.Second})
			if _, err := call(svc, ctx, tt.give); !errors.As(err, &cd) || cd.RetryAfter != time.Second {
				t.Fatalf("cool-down: %v", err)
			}
			tt.expect(store).Return(nil, errStoreDown)
			if _, err := call(svc, ctx, tt.give); !errors.Is(err, application.ErrUnavailable) {
				t.Fatalf("store failure: %v", err)
			}
		})
	}
}

// idemOf returns the Idem the store gets for the request r of call.
func idemOf(t *testing.T, svc *application.Service, store *mocks.MockStore, call string, r application.CartRequest) application.Idem {
	t.Helper()
	ctx := context.Background()
	var got application.Idem
	keep := func(idem application.Idem) ([]domain.Seat, error) { got = idem; return nil, nil }
	anything := gomock.Any()
	switch {
	case call == "HoldSeats" && r.Best != nil:
		store.EXPECT().HoldBest(anything, anything, anything, anything, anything, anything).DoAndReturn(func(_ context.Context, _ domain.EventID, _ domain.BestAvailable, _ domain.UserID, _ domain.HoldPolicy, idem application.Idem) ([]domain.Seat, error) {
			return keep(idem)
		})
	case call == "HoldSeats":
		store.EXPECT().Hold(anything, anything, anything, anything, anything, anything).DoAndReturn(func(_ context.Context, _ domain.EventID, _ []domain.SeatID, _ domain.UserID, _ domain.HoldPolicy, idem application.Idem) ([]domain.Seat, error) {
			return keep(idem)
		})
	case call == "RefreshCart":
		store.EXPECT().Refresh(anything, anything, anything, anything, anything, anything).DoAndReturn(func(_ context.Context, _ domain.EventID, _ []domain.SeatID, _ domain.UserID, _ domain.HoldPolicy, idem application.Idem) ([]domain.Seat, error) {
			return keep(idem)
		})
	case call == "ReserveSeats":
		store.EXPECT().Reserve(anything, anything, anything, anything, anything).DoAndReturn(func(_ context.Context, _ domain.EventID, _ []domain.SeatID, _ domain.UserID, idem application.Idem) ([]domain.Seat, error) {
			return keep(idem)
		})
	case call == "Release":
		store.EXPECT().Release(anything, anything, anything, anything, anything).DoAndReturn(func(_ context.Context, _ domain.EventID, _ []domain.SeatID, _ domain.UserID, idem application.Idem) ([]domain.Seat, error) {
			return keep(idem)
		})
	}
	if _, err := cartCalls[call](svc, ctx, r); err != nil {
		t.Fatalf("%s(%+v): %v", call, r, err)
	}
	return got
}

func TestIdempotencyKey(t *testing.T) {
	t.Parallel()
	svc, store := newService(t)
	key := "retry-1"
	hold := application.CartRequest{Event: eventID, User: "alice", IDs: seatsOf(1, 2), IdempotencyKey: key}
	first := idemOf(t, svc, store, "HoldSeats", hold)
	if len(first.Key) != 64 || strings.Contains(first.Key, key) || first.Fingerprint == "" {
		t.Fatalf("Idem %+v: want a hashed key and a fingerprint", first)
	}
	if first.TTL != policy.MaxLifetime {
		t.Fatalf("Idem TTL %v, want the cart lifetime %v", first.TTL, policy.MaxLifetime)
	}
	// The same request again: the same Idem.
	if again := idemOf(t, svc, store, "HoldSeats", hold); again != first {
		t.Fatalf("same request: %+v, then %+v", first, again)
	}
	// Without a key: none.
	noKey := hold
	noKey.IdempotencyKey = ""
	if got := idemOf(t, svc, store, "HoldSeats", noKey); got != noIdem {
		t.Fatalf("no key: %+v", got)
	}
	// Another key: another Key.
	otherKey := hold
	otherKey.IdempotencyKey = "retry-2"
	if got := idemOf(t, svc, store, "HoldSeats", otherKey); got.Key == first.Key {
		t.Fatalf("another key, the same Key %q", got.Key)
	}
	// Another buyer's same key: another Key, the buyer's own.
	otherUser := hold
	otherUser.User = "bob"
	if got := idemOf(t, svc, store, "HoldSeats", otherUser); got.Key == first.Key {
		t.Fatalf("another buyer's key, the same Key %q", got.Key)
	}
	// Keys of 255 printable ASCII characters are fine.
	long := hold
	long.IdempotencyKey = strings.Repeat("~ ", 127) + "!"
	if got := idemOf(t, svc, store, "HoldSeats", long); len(got.Key) != 64 {
		t.Fatalf("a key of 255 characters: %+v", got)
	}

	// Another request under the same key: the same Key, another
	// Fingerprint.
	best := func(n int, adjacent bool) *domain.BestAvailable {
		return &domain.BestAvailable{Count: n, Adjacent: adjacent}
	}
	others := []struct {
		name string
		call string
		give application.CartRequest
	}{
		{"other seats", "HoldSeats", application.CartRequest{Event: eventID, User: "alice", IDs: seatsOf(1, 3)}},
		{"more seats", "HoldSeats", application.CartRequest{Event: eventID, User: "alice", IDs: seatsOf(1, 2, 3)}},
		{"seats in another order", "HoldSeats", application.CartRequest{Event: eventID, User: "alice", IDs: seatsOf(2, 1)}},
		{"best available", "HoldSeats", application.CartRequest{Event: eventID, User: "alice", Best: best(2, false)}},
		{"reserve", "ReserveSeats", application.CartRequest{Event: eventID, User: "alice", IDs: seatsOf(1, 2)}},
		{"release", "Release", application.CartRequest{Event: eventID, User: "alice", IDs: seatsOf(1, 2)}},
		{"release of the cart", "Release", application.CartRequest{Event: eventID, User: "alice"}},
		{"refresh", "RefreshCart", application.CartRequest{Event: eventID, User: "alice"}},
	}
	fingerprints := map[string]string{first.Fingerprint: "hold of seats 1, 2"}
	for _, o := range others {
		o.give.IdempotencyKey = key
		got := idemOf(t, svc, store, o.call, o.give)
		if got.Key != first.Key {
			t.Errorf("%s: Key %q, want the key's %q", o.name, got.Key, first.Key)
		}
		if prev, seen := fingerprints[got.Fingerprint]; seen {
			t.Errorf("%s: the fingerprint of %s", o.name, prev)
		}
		fingerprints[got.Fingerprint] = o.name
		if again := idemOf(t, svc, store, o.call, o.give); again != got {
			t.Errorf("%s again: %+v, then %+v", o.name, got, again)
		}
	}
	// Best available: count and adjacency are the request.
	seen := make(map[string]bool)
	for _, b := range []*domain.BestAvailable{best(2, false), best(2, true), best(3, false)} {
		fp := idemOf(t, svc, store, "HoldSeats", application.CartRequest{Event: eventID, User: "alice", Best: b, IdempotencyKey: key}).Fingerprint
		if seen[fp] {
			t.Errorf("best %+v: a fingerprint of another best available", *b)
		}
		seen[fp] = true
	}
}

func TestIdempotencyTTL(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		policy domain.HoldPolicy
		want   time.Duration
	}{
		{policy: domain.HoldPolicy{TTL: time.Minute, MaxSeats: 6, MaxLifetime: 15 * time.Minute}, want: 15 * time.Minute},
		{policy: domain.HoldPolicy{TTL: time.Minute, MaxSeats: 6, MaxLifetime: time.Minute}, want: time.Minute},
		{policy: domain.HoldPolicy{TTL: time.Minute, MaxSeats: 6}, want: 24 * time.Hour},
	} {
		svc, store := newServiceWith(t, tt.policy)
		got := idemOf(t, svc, store, "RefreshCart", application.CartRequest{Event: eventID, User: "alice", IdempotencyKey: "k"})
		if got.TTL != tt.want {
			t.Errorf("policy %+v: Idem TTL %v, want %v", tt.policy, got.TTL, tt.want)
		}
	}
}
