package redisstore_test

import (
	"context"
	"errors"
	"testing"

	"github.com/seatres/reservation/adapters/redisstore"
	"github.com/seatres/reservation/adapters/redisstore/redistest"
	"github.com/seatres/reservation/domain"
)

// TestSeatCallForgetsEventGone: an instance keeps an event in memory for
// GET /events/{id}, but as soon as any of its seat calls finds the event
// gone from Redis (deleted through another instance, or a Redis that lost
// its data), its Event says not found too, without waiting out the cache.
func TestSeatCallForgetsEventGone(t *testing.T) {
	t.Parallel()
	addrs := redistest.SharedCluster(t)
	ctx := context.Background()
	stale, deleter := newStore(t, addrs...), newStore(t, addrs...)
	for name, call := range map[string]func(e domain.Event) error{
		"Hold": func(e domain.Event) error {
			_, err := stale.Hold(ctx, e.ID, ids(e, 1), "alice", longHold, noIdem)
			return err
		},
		"HoldBest": func(e domain.Event) error {
			_, err := stale.HoldBest(ctx, e.ID, two, "alice", longHold, noIdem)
			return err
		},
		"Refresh": func(e domain.Event) error {
			_, err := stale.Refresh(ctx, e.ID, nil, "alice", longHold, noIdem)
			return err
		},
		"Reserve": func(e domain.Event) error {
			_, err := stale.Reserve(ctx, e.ID, ids(e, 1), "alice", noIdem)
			return err
		},
		"Release": func(e domain.Event) error {
			_, err := stale.Release(ctx, e.ID, nil, "alice", noIdem)
			return err
		},
		"Summary": func(e domain.Event) error {
			_, err := stale.Summary(ctx, e.ID)
			return err
		},
		"AvailableSeats": func(e domain.Event) error {
			_, _, _, err := stale.AvailableSeats(ctx, e.ID)
			return err
		},
	} {
		e := newEvent(t, stale, 10) // kept in stale's memory
		if err := deleter.DeleteEvent(ctx, e.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := stale.Event(ctx, e.ID); err != nil {
			t.Fatalf("%s: Event before any seat call: %v, want it answered from memory", name, err)
		}
		if err := call(e); !errors.Is(err, domain.ErrEventNotFound) {
			t.Errorf("%s of an event gone: %v, want %v", name, err, domain.ErrEventNotFound)
		}
		if _, err := stale.Event(ctx, e.ID); !errors.Is(err, domain.ErrEventNotFound) {
			t.Errorf("Event after %s found the event gone: %v, want %v", name, err, domain.ErrEventNotFound)
		}
	}
}

// TestSeatCallOfAnEventCreatedAgainSmaller: another instance deletes an
// event and creates its id again with fewer seats (an Idempotency-Key
// names the id) while this one still has the old size in memory. A hold of
// seats past the new end, alone or beside seats within it, or a best
// available, finds the event changed and writes nothing: a seat past the
// end never reads as available, so no hold grows the seats string (which
// would leave the event's list failing on every instance). The next call
// reads the event again.
func TestSeatCallOfAnEventCreatedAgainSmaller(t *testing.T) {
	t.Parallel()
	addrs := redistest.SharedCluster(t)
	ctx := context.Background()
	stale, other := newStore(t, addrs...), newStore(t, addrs...)
	for name, call := range map[string]func(e domain.Event) error{
		"Hold of seats within and past the end": func(e domain.Event) error {
			_, err := stale.Hold(ctx, e.ID, ids(e, 5, 50), "alice", longHold, noIdem)
			return err
		},
		"Hold of a seat past the end": func(e domain.Event) error {
			_, err := stale.Hold(ctx, e.ID, ids(e, 50), "alice", longHold, noIdem)
			return err
		},
		"HoldBest": func(e domain.Event) error {
			_, err := stale.HoldBest(ctx, e.ID, two, "alice", longHold, noIdem)
			return err
		},
	} {
		big := newEvent(t, stale, 100) // kept in stale's memory
		if err := other.DeleteEvent(ctx, big.ID); err != nil {
			t.Fatal(err)
		}
		small, err := domain.NewEvent(big.ID, "Smaller", 10, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := other.CreateEvent(ctx, small); err != nil {
			t.Fatal(err)
		}
		if err := call(big); !errors.Is(err, domain.ErrEventNotFound) {
			t.Errorf("%s with the old size: %v, want %v", name, err, domain.ErrEventNotFound)
		}
		for _, s := range []*redisstore.Store{stale, other} {
			if _, free, _, err := s.AvailableSeats(ctx, small.ID); err != nil || len(free) != 10 {
				t.Errorf("after %s: the list has %d seats available, err %v; want all 10", name, len(free), err)
			}
		}
		if _, err := stale.Hold(ctx, small.ID, ids(small, 5), "alice", longHold, noIdem); err != nil {
			t.Errorf("after %s: a hold of seat 5 with the event read again: %v", name, err)
		}
	}
}
