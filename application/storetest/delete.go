package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/seatres/reservation/application"
	"github.com/seatres/reservation/domain"
)

// testDelete: a deleted event is gone for every call, seats and all, and a
// second delete finds nothing.
func testDelete(t *testing.T, s application.Store) {
	ctx := context.Background()
	e := newEvent(t, s, 10)
	wantHeld(t, "Hold", ans(s.Hold(ctx, e.ID, ids(e, 1, 2), "alice", cartHold, idem("hold 1 2"))), e, "alice", 1, 2)
	wantSeats(t, "Reserve", ans(s.Reserve(ctx, e.ID, ids(e, 1), "alice", idem("reserve 1"))), e, domain.Reserved, "alice", 1)

	if err := s.DeleteEvent(ctx, e.ID); err != nil {
		t.Fatalf("DeleteEvent: %v", err)
	}
	_, err := s.Event(ctx, e.ID)
	wantErr(t, "Event", err, domain.ErrEventNotFound)
	_, _, _, err = s.AvailableSeats(ctx, e.ID)
	wantErr(t, "AvailableSeats", err, domain.ErrEventNotFound)
	_, err = s.Summary(ctx, e.ID)
	wantErr(t, "Summary", err, domain.ErrEventNotFound)
	for _, n := range []int{1, 2, 3} {
		_, err = s.Seat(ctx, e.Seat(n))
		wantErr(t, "Seat", err, domain.ErrSeatNotFound)
	}
	changes := []struct {
		name string
		give func(application.Idem) ([]domain.Seat, error)
	}{
		{"Hold", func(k application.Idem) ([]domain.Seat, error) {
			return s.Hold(ctx, e.ID, ids(e, 3), "bob", cartHold, k)
		}},
		{"HoldBest", func(k application.Idem) ([]domain.Seat, error) {
			return s.HoldBest(ctx, e.ID, domain.BestAvailable{Count: 2}, "bob", cartHold, k)
		}},
		{"Refresh", func(k application.Idem) ([]domain.Seat, error) {
			return s.Refresh(ctx, e.ID, nil, "alice", cartHold, k)
		}},
		{"Reserve", func(k application.Idem) ([]domain.Seat, error) { return s.Reserve(ctx, e.ID, ids(e, 2), "alice", k) }},
		{"Release", func(k application.Idem) ([]domain.Seat, error) { return s.Release(ctx, e.ID, nil, "alice", k) }},
	}
	for _, c := range changes {
		for _, k := range []application.Idem{{}, idem(c.name)} {
			_, err := c.give(k)
			wantErr(t, c.name+" of a deleted event", err, domain.ErrEventNotFound)
		}
	}
	wantErr(t, "DeleteEvent again", s.DeleteEvent(ctx, e.ID), domain.ErrEventNotFound)
	wantErr(t, "DeleteEvent of no event", s.DeleteEvent(ctx, unknownEvent().ID), domain.ErrEventNotFound)
}

// testDeleteRecreate: an event deleted can be created again under its id,
// with other seats, and starts afresh: its seats available, and no
// Idempotency-Key answered before the delete answers again.
func testDeleteRecreate(t *testing.T, s application.Store) {
	ctx := context.Background()
	e := newEvent(t, s, 10)
	best := idem("best 2 by alice")
	wantHeld(t, "HoldBest", ans(s.HoldBest(ctx, e.ID, domain.BestAvailable{Count: 2}, "alice", cartHold, best)), e, "alice", 1, 2)
	refused := idem("hold 1 by bob")
	wantRefusal(t, "Hold of a held seat", ans(s.Hold(ctx, e.ID, ids(e, 1), "bob", cartHold, refused)), domain.ErrSeatHeld, e, 1)
	wantSeats(t, "Reserve", ans(s.Reserve(ctx, e.ID, ids(e, 1), "alice", noIdem)), e, domain.Reserved, "alice", 1)
	if err := s.DeleteEvent(ctx, e.ID); err != nil {
		t.Fatalf("DeleteEvent: %v", err)
	}

	again, err := domain.NewEvent(e.ID, "Again", 20, 5)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateEvent(ctx, again); err != nil {
		t.Fatalf("CreateEvent of a deleted event's id: %v", err)
	}
	if got, err := s.Event(ctx, e.ID); err != nil || got != again {
		t.Fatalf("Event = %+v, %v; want %+v", got, err, again)
	}
	wantAvailable(t, s, again, seq(1, 20)...)
	wantSummary(t, s, again, domain.Summary{Total: 20, Available: 20})
	if seat, err := s.Seat(ctx, again.Seat(1)); err != nil || seat.Status != domain.Available {
		t.Fatalf("Seat 1 = %+v, %v; want available", seat, err)
	}
	// Seats 1 and 2 taken by carol: the key's old answer (1 and 2 held by
	// alice) would be a lie, a fresh run holds 3 and 4.
	wantHeld(t, "Hold", ans(s.Hold(ctx, again.ID, ids(again, 1, 2), "carol", cartHold, noIdem)), again, "carol", 1, 2)
	wantHeld(t, "HoldBest under the key of before the delete", ans(s.HoldBest(ctx, again.ID, domain.BestAvailable{Count: 2}, "alice", cartHold, best)), again, "alice", 3, 4)
	wantHeld(t, "Hold under the key of a refusal before the delete", ans(s.Hold(ctx, again.ID, ids(again, 5), "bob", cartHold, refused)), again, "bob", 5)
}

// owner is an owner of the test's own.
func owner() string { return "key-" + uuid.NewString() }

// testQuota: an owner's live events are capped, a retry of one of them
// is not another, the cap is the owner's alone, and a delete frees a place.
func testQuota(t *testing.T, s application.Store) {
	ctx := context.Background()
	o, other := owner(), owner()
	q := application.Quota{Owner: o, Max: 2}
	first, second, third := unknownEvent(), unknownEvent(), unknownEvent()
	for _, e := range []domain.Event{first, second} {
		if err := s.CreateOwnedEvent(ctx, e, q); err != nil {
			t.Fatalf("CreateOwnedEvent within the quota: %v", err)
		}
	}
	wantErr(t, "CreateOwnedEvent past the quota", s.CreateOwnedEvent(ctx, third, q), domain.ErrQuotaExceeded)
	_, err := s.Event(ctx, third.ID)
	wantErr(t, "Event refused by the quota", err, domain.ErrEventNotFound)
	if err := s.CreateOwnedEvent(ctx, first, q); err != nil {
		t.Fatalf("CreateOwnedEvent of the same event again, at the quota: %v", err)
	}
	// The same id by another owner, or by none, is another event; it takes
	// no place of the other owner's.
	wantErr(t, "CreateOwnedEvent of the id by another owner", s.CreateOwnedEvent(ctx, first, application.Quota{Owner: other, Max: 1}), domain.ErrEventExists)
	wantErr(t, "CreateEvent of the id with no owner", s.CreateEvent(ctx, first), domain.ErrEventExists)
	if err := s.CreateOwnedEvent(ctx, unknownEvent(), application.Quota{Owner: other, Max: 1}); err != nil {
		t.Fatalf("CreateOwnedEvent by the other owner: %v", err)
	}
	if err := s.CreateEvent(ctx, unknownEvent()); err != nil {
		t.Fatalf("CreateEvent with no owner: %v", err)
	}

	if err := s.DeleteEvent(ctx, first.ID); err != nil {
		t.Fatalf("DeleteEvent: %v", err)
	}
	if err := s.CreateOwnedEvent(ctx, third, q); err != nil {
		t.Fatalf("CreateOwnedEvent after a delete freed a place: %v", err)
	}
	wantErr(t, "CreateOwnedEvent past the quota again", s.CreateOwnedEvent(ctx, unknownEvent(), q), domain.ErrQuotaExceeded)
	// Counted with no cap, so that a cap set later counts every event.
	if err := s.CreateOwnedEvent(ctx, unknownEvent(), application.Quota{Owner: o}); err != nil {
		t.Fatalf("CreateOwnedEvent with no cap: %v", err)
	}
	wantErr(t, "CreateOwnedEvent at a cap of 3", s.CreateOwnedEvent(ctx, unknownEvent(), application.Quota{Owner: o, Max: 3}), domain.ErrQuotaExceeded)
}

// testRaceQuota: many creates of one owner at once never pass its cap,
// and fill it.
func testRaceQuota(t *testing.T, s application.Store) {
	const workers, max = 40, 5
	q := application.Quota{Owner: owner(), Max: max}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		created []domain.Event
		errs    []error
	)
	start := make(chan struct{})
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e := unknownEvent()
			<-start
			err := s.CreateOwnedEvent(context.Background(), e, q)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				created = append(created, e)
			case !errors.Is(err, domain.ErrQuotaExceeded):
				errs = append(errs, err)
			}
		}()
	}
	close(start)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("CreateOwnedEvent: %v", err)
	}
	if len(created) != max {
		t.Fatalf("%d creates of %d at once under a quota of %d succeeded, want %d", len(created), workers, max, max)
	}
	for _, e := range created {
		if _, err := s.Event(context.Background(), e.ID); err != nil {
			t.Fatalf("Event %s created: %v", e.ID, err)
		}
	}
}
