package memstore

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/seatres/reservation/application"
	"github.com/seatres/reservation/application/storetest"
	"github.com/seatres/reservation/domain"
)

// White-box tests of what the store keeps: it must forget the carts and
// idempotency answers that can matter no more, and only those.

var (
	sweepT0     = time.Date(2026, 12, 1, 20, 0, 0, 0, time.UTC)
	sweepPolicy = domain.HoldPolicy{TTL: time.Minute, MaxSeats: 4, MaxLifetime: 5 * time.Minute}
	sweepIdem   = 10 * time.Minute
)

type sweepFixture struct {
	t     *testing.T
	s     *Store
	clock *storetest.Clock
	e     domain.Event
	n     int // users made so far
}

func newSweepFixture(t *testing.T) *sweepFixture {
	t.Helper()
	c := storetest.NewClock(sweepT0)
	s := New(c.Now)
	e, err := domain.NewEvent("0f8fad5b-d9cb-469f-a165-70867728950e", "Sweep", 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateEvent(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	return &sweepFixture{t: t, s: s, clock: c, e: e}
}

func (f *sweepFixture) ev() *event { return f.s.events[f.e.ID] }

// kept is how many carts and answers the store keeps.
func (f *sweepFixture) kept() (carts, answers int) {
	ev := f.ev()
	ev.mu.Lock()
	defer ev.mu.Unlock()
	return len(ev.carts), len(ev.idem)
}

// churn has fresh users hold and release seat 100, each under a key of its
// own, until the store has swept (at most max changes).
func (f *sweepFixture) churn(max int) {
	f.t.Helper()
	ctx := context.Background()
	ev := f.ev()
	ev.mu.Lock()
	at := ev.sweepAt
	ev.mu.Unlock()
	for range max {
		f.n++
		u := domain.UserID(fmt.Sprintf("churn-%d", f.n))
		k := application.Idem{Key: fmt.Sprintf("churn-key-%d", f.n), Fingerprint: "hold", TTL: sweepIdem}
		if _, err := f.s.Hold(ctx, f.e.ID, []domain.SeatID{f.e.Seat(100)}, u, sweepPolicy, k); err != nil {
			f.t.Fatalf("churn hold: %v", err)
		}
		if _, err := f.s.Release(ctx, f.e.ID, nil, u, application.Idem{}); err != nil {
			f.t.Fatalf("churn release: %v", err)
		}
		ev.mu.Lock()
		swept := ev.sweepAt != at
		ev.mu.Unlock()
		if swept {
			return
		}
	}
	f.t.Fatalf("no sweep in %d changes", max)
}

func TestForgetsWhatCanMatterNoMore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newSweepFixture(t)
	// 300 buyers hold a seat each, under a key each.
	for i := range 300 {
		u := domain.UserID(fmt.Sprintf("early-%d", i))
		k := application.Idem{Key: fmt.Sprintf("early-key-%d", i), Fingerprint: "hold", TTL: sweepIdem}
		if _, err := f.s.Hold(ctx, f.e.ID, []domain.SeatID{f.e.Seat(1 + i%90)}, u, sweepPolicy, k); err != nil && !errors.Is(err, domain.ErrSeatHeld) {
			t.Fatal(err)
		}
	}
	if carts, answers := f.kept(); carts != 90 || answers != 300 {
		t.Fatalf("kept %d carts and %d answers, want the 90 carts and 300 answers still live", carts, answers)
	}
	// Long after every hold and key expired, the next sweep forgets them.
	f.clock.Set(sweepT0.Add(time.Hour))
	f.churn(1000)
	ev := f.ev()
	for u := range ev.carts {
		if len(u) > 5 && u[:6] == "early-" {
			t.Fatalf("cart of %s kept after it ended", u)
		}
	}
	for k := range ev.idem {
		if len(k) > 9 && k[:10] == "early-key-" {
			t.Fatalf("answer under %s kept after its TTL", k)
		}
	}
	if carts, answers := f.kept(); carts > f.n || answers > f.n {
		t.Fatalf("kept %d carts and %d answers after %d churn changes", carts, answers, f.n)
	}
}

func TestKeepsWhatStillMatters(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newSweepFixture(t)
	none := application.Idem{}
	// zoe's cart reaches its cap at sweepT0+5m.
	if _, err := f.s.Hold(ctx, f.e.ID, []domain.SeatID{f.e.Seat(1)}, "zoe", sweepPolicy, none); err != nil {
		t.Fatal(err)
	}
	for _, d := range []time.Duration{50, 100, 150, 200, 250} {
		f.clock.Set(sweepT0.Add(d * time.Second))
		if _, err := f.s.Refresh(ctx, f.e.ID, nil, "zoe", sweepPolicy, none); err != nil {
			t.Fatal(err)
		}
	}
	// An answer under a key, kept for sweepIdem.
	k := application.Idem{Key: "kept", Fingerprint: "hold 2", TTL: sweepIdem}
	first, err := f.s.Hold(ctx, f.e.ID, []domain.SeatID{f.e.Seat(2)}, "yan", sweepPolicy, k)
	if err != nil {
		t.Fatal(err)
	}

	// During zoe's cool-down, sweeps keep her cart: she is still refused.
	capEnd := sweepT0.Add(sweepPolicy.MaxLifetime)
	f.clock.Set(capEnd.Add(30 * time.Second))
	f.churn(1000)
	f.churn(1000)
	var cd *domain.CoolDownError
	if _, err := f.s.Hold(ctx, f.e.ID, []domain.SeatID{f.e.Seat(3)}, "zoe", sweepPolicy, none); !errors.As(err, &cd) || cd.RetryAfter != 30*time.Second {
		t.Fatalf("Hold in the cool-down after sweeps: %v", err)
	}
	// The answer under the key is still replayed, and the key still taken.
	again, err := f.s.Hold(ctx, f.e.ID, []domain.SeatID{f.e.Seat(2)}, "yan", sweepPolicy, k)
	if err != nil || len(again) != 1 || again[0] != first[0] {
		t.Fatalf("replay after sweeps = %+v, %v; want %+v", again, err, first)
	}
	other := k
	other.Fingerprint = "hold 4"
	if _, err := f.s.Hold(ctx, f.e.ID, []domain.SeatID{f.e.Seat(4)}, "yan", sweepPolicy, other); !errors.Is(err, domain.ErrIdempotencyKeyReused) {
		t.Fatalf("another request under the key after sweeps: %v", err)
	}

	// Once the cool-down is over, the next sweep forgets zoe's cart, and
	// she holds again in a new cart.
	f.clock.Set(capEnd.Add(sweepPolicy.TTL))
	f.churn(1000)
	if _, ok := f.ev().carts["zoe"]; ok {
		t.Fatal("zoe's cart kept after its cool-down")
	}
	if seats, err := f.s.Hold(ctx, f.e.ID, []domain.SeatID{f.e.Seat(3)}, "zoe", sweepPolicy, none); err != nil || !seats[0].HoldExpiresAt.Equal(capEnd.Add(2*sweepPolicy.TTL)) {
		t.Fatalf("Hold after the cool-down = %+v, %v", seats, err)
	}
	// And once the key's TTL is over, its answer too.
	f.clock.Set(sweepT0.Add(250*time.Second + sweepIdem))
	f.churn(2000)
	if _, ok := f.ev().idem["kept"]; ok {
		t.Fatal("answer kept after its TTL")
	}
}
