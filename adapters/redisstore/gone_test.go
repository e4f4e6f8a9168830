package redisstore_test

import (
	"context"
	"errors"
	"testing"

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
