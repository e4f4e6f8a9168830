package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"golang.org/x/sync/errgroup"

	"github.com/seatres/reservation/adapters/redisstore/redistest"
	"github.com/seatres/reservation/application"
	"github.com/seatres/reservation/domain"
)

// TestDeleteLeavesNoKey: a delete removes every key of an event on the
// cluster, whatever its changes wrote (carts, reservations in several res
// keys, cool-downs, idempotency answers, more of them than one round of
// the delete takes), and gives the owner's place back.
func TestDeleteLeavesNoKey(t *testing.T) {
	t.Parallel()
	addrs := redistest.SharedCluster(t)
	s, c := newStore(t, addrs...), redistest.Client(t, addrs...)
	ctx := context.Background()
	owner := "key-" + string(eventOf(t, 10).ID)
	e := eventOf(t, 250)
	if err := s.CreateOwnedEvent(ctx, e, application.Quota{Owner: owner, Max: 1}); err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{1, 150, 250} {
		user := domain.UserID(fmt.Sprint("buyer", n))
		if _, err := s.Hold(ctx, e.ID, ids(e, n), user, longHold, idem("hold")); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Reserve(ctx, e.ID, ids(e, n), user, noIdem); err != nil {
			t.Fatal(err)
		}
	}
	capped := domain.HoldPolicy{TTL: longHold.TTL, MaxSeats: 2, MaxLifetime: longHold.TTL}
	for _, u := range hostileUsers {
		if _, err := s.HoldBest(ctx, e.ID, two, u, capped, noIdem); err != nil {
			t.Fatal(err)
		}
	}
	// 2,500 answers kept: three rounds of the delete.
	var g errgroup.Group
	g.SetLimit(16)
	for range 2500 {
		g.Go(func() error {
			_, err := s.Release(ctx, e.ID, nil, "nobody", idem("release"))
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	if n := len(eventKeys(t, c, e.ID)); n < 2500 {
		t.Fatalf("the event has %d keys before the delete, want its 2,500 answers and more", n)
	}

	if err := s.DeleteEvent(ctx, e.ID); err != nil {
		t.Fatal(err)
	}
	if keys := eventKeys(t, c, e.ID); len(keys) != 0 {
		t.Fatalf("%d keys left after the delete, e.g. %q", len(keys), keys[0])
	}
	if err := s.CreateOwnedEvent(ctx, eventOf(t, 10), application.Quota{Owner: owner, Max: 1}); err != nil {
		t.Fatalf("CreateOwnedEvent after the delete gave the place back: %v", err)
	}
}

// TestDeleteByAnotherInstance: an instance that keeps the event in memory
// learns of its delete by another from Redis: its changes and reads are
// not found, write no key of the event again (which its id created again
// would find), and it forgets the event.
func TestDeleteByAnotherInstance(t *testing.T) {
	t.Parallel()
	addrs := redistest.SharedCluster(t)
	stale, deleter, c := newStore(t, addrs...), newStore(t, addrs...), redistest.Client(t, addrs...)
	ctx := context.Background()
	e := newEvent(t, stale, 10)
	if _, err := stale.Hold(ctx, e.ID, ids(e, 1), "alice", longHold, noIdem); err != nil {
		t.Fatal(err)
	}
	if err := deleter.DeleteEvent(ctx, e.ID); err != nil {
		t.Fatal(err)
	}
	changes := map[string]func(application.Idem) error{
		"Hold of one": func(k application.Idem) error {
			_, err := stale.Hold(ctx, e.ID, ids(e, 2), "bob", longHold, k)
			return err
		},
		"Hold past the seats": func(k application.Idem) error {
			_, err := stale.Hold(ctx, e.ID, ids(e, 2, 11), "bob", longHold, k)
			return err
		},
		"HoldBest": func(k application.Idem) error {
			_, err := stale.HoldBest(ctx, e.ID, two, "bob", longHold, k)
			return err
		},
		"Refresh": func(k application.Idem) error {
			_, err := stale.Refresh(ctx, e.ID, nil, "alice", longHold, k)
			return err
		},
		"Reserve": func(k application.Idem) error {
			_, err := stale.Reserve(ctx, e.ID, ids(e, 1), "alice", k)
			return err
		},
		"Release": func(k application.Idem) error {
			_, err := stale.Release(ctx, e.ID, nil, "alice", k)
			return err
		},
	}
	for name, change := range changes {
		for _, k := range []application.Idem{noIdem, idem(name)} {
			// A seat past the event, as the instance knows it, may be
			// refused first: not found either way.
			if err := change(k); !errors.Is(err, domain.ErrEventNotFound) && !errors.Is(err, domain.ErrSeatNotFound) {
				t.Errorf("%s (key %q) of an event deleted by another instance: %v, want %v", name, k.Key, err, domain.ErrEventNotFound)
			}
		}
	}
	if keys := eventKeys(t, c, e.ID); len(keys) != 0 {
		t.Errorf("changes of a deleted event wrote %q", keys)
	}
	if _, _, _, err := stale.AvailableSeats(ctx, e.ID); !errors.Is(err, domain.ErrEventNotFound) {
		t.Errorf("AvailableSeats: %v, want %v", err, domain.ErrEventNotFound)
	}
	// The list found the event gone: the instance forgot it.
	if _, err := stale.Event(ctx, e.ID); !errors.Is(err, domain.ErrEventNotFound) {
		t.Errorf("Event after the list found it gone: %v, want %v", err, domain.ErrEventNotFound)
	}
}
