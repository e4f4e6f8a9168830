package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/seatres/reservation/application"
	"github.com/seatres/reservation/domain"
)

// The hold-lifetime cap and its cool-down, watched on the store's own
// clock with real but short durations. The store's clock is read only from
// its answers (a cart's start is its first hold's expiry less the TTL), and
// a call made between two readings of this process's clock ran, on the
// store's, within clockSlack of them. A check whose window this machine
// was too slow to hit (a stalled test, a loaded CI) says so and the case
// starts over on a fresh event, up to attempts times; a store that breaks
// the rules inside a window fails at once.
var capHold = domain.HoldPolicy{TTL: 200 * time.Millisecond, MaxSeats: 4, MaxLifetime: 500 * time.Millisecond}

const attempts = 4

// tooSlow is an attempt's report that the machine missed a window.
type tooSlow string

// span is when a store call ran on the store's clock, at the widest.
type span struct{ from, to time.Time }

func timed(f func()) span {
	from := time.Now()
	f()
	return span{from.Add(-clockSlack), time.Now().Add(clockSlack)}
}

// before reports whether the call surely ran before t.
func (s span) before(t time.Time) bool { return s.to.Before(t) }

// notBefore reports whether the call surely ran at or after t.
func (s span) notBefore(t time.Time) bool { return !s.from.Before(t) }

// retrying runs attempt until it completes, starting over when it reports
// that the machine was too slow for one of its windows.
func retrying(t *testing.T, attempt func(t *testing.T) tooSlow) {
	t.Helper()
	var why []tooSlow
	for range attempts {
		slow := attempt(t)
		if slow == "" {
			return
		}
		t.Logf("too slow to watch the cap: %s; starting over", slow)
		why = append(why, slow)
	}
	t.Fatalf("every one of %d attempts was too slow to watch the cap: %v", attempts, why)
}

func testLifetime(t *testing.T, s application.Store) {
	retrying(t, func(t *testing.T) tooSlow { return lifetimeAttempt(t, s) })
}

func lifetimeAttempt(t *testing.T, s application.Store) tooSlow {
	ctx := context.Background()
	p := capHold
	e := newEvent(t, s, 10)
	const alice = domain.UserID("alice")

	// A cart starts with its first hold: the cap is its start plus the
	// lifetime, on the store's clock.
	var got []domain.Seat
	var err error
	sp := timed(func() { got, err = s.Hold(ctx, e.ID, ids(e, 1, 2), alice, p, noIdem) })
	exp := wantHeld(t, "Hold", ans(got, err), e, alice, 1, 2)
	start := exp.Add(-p.TTL)
	capEnd := start.Add(p.MaxLifetime)
	if start.Before(sp.from) || start.After(sp.to) {
		t.Fatalf("a hold made between %v and %v expires %v: not a TTL of %v later", sp.from, sp.to, exp, p.TTL)
	}

	// Refreshes extend the cart, never past the cap, until one clamps its
	// expiry at the cap.
	slow := refreshing(t, s, e, alice, p, exp, func(last time.Time) bool { return !last.Equal(capEnd) },
		func(sp span, last, next time.Time) {
			switch {
			case next.Before(last):
				t.Fatalf("Refresh shortened the hold from %v to %v", last, next)
			case next.After(capEnd):
				t.Fatalf("Refresh extended the cart that started at %v to %v, past its cap %v", start, next, capEnd)
			case sp.notBefore(capEnd.Add(-p.TTL)) && !next.Equal(capEnd):
				t.Fatalf("Refresh at %v..%v extended the hold to %v, not to the cap %v", sp.from, sp.to, next, capEnd)
			}
		}, 1, 2)
	if slow != "" {
		return slow
	}

	// At the cap: a seat added to the cart is clamped too, and a refresh
	// has nothing to extend.
	sp = timed(func() { got, err = s.Hold(ctx, e.ID, ids(e, 3), alice, p, noIdem) })
	if err != nil && !sp.before(capEnd) {
		return tooSlow("the cart ended before a seat was added")
	}
	if exp := wantHeld(t, "Hold at the cap", ans(got, err), e, alice, 3); !exp.Equal(capEnd) {
		t.Fatalf("a seat added to a cart at its cap %v expires %v", capEnd, exp)
	}
	for _, asked := range [][]domain.SeatID{nil, ids(e, 2)} {
		sp = timed(func() { got, err = s.Refresh(ctx, e.ID, asked, alice, p, noIdem) })
		if !errors.Is(err, domain.ErrHoldLifetime) && !sp.before(capEnd) {
			return tooSlow("the cart ended before its refresh at the cap")
		}
		wantRefusal(t, fmt.Sprintf("Refresh of %v at the cap", asked), ans(got, err), domain.ErrHoldLifetime, e)
	}

	// The cart ends at its cap.
	waitAvailable(t, s, e.Seat(1), capEnd)
	coolEnd := capEnd.Add(p.TTL)

	// Then for a TTL, the buyer may hold nothing in the event; others may.
	for _, try := range []struct {
		what string
		hold func() ([]domain.Seat, error)
	}{
		{"Hold", func() ([]domain.Seat, error) { return s.Hold(ctx, e.ID, ids(e, 4), alice, p, noIdem) }},
		{"Hold of the cart's seats", func() ([]domain.Seat, error) { return s.Hold(ctx, e.ID, ids(e, 1, 2), alice, p, noIdem) }},
		{"HoldBest", func() ([]domain.Seat, error) {
			return s.HoldBest(ctx, e.ID, domain.BestAvailable{Count: 1}, alice, p, noIdem)
		}},
	} {
		sp = timed(func() { got, err = try.hold() })
		var cd *domain.CoolDownError
		if !errors.As(err, &cd) {
			if !sp.before(coolEnd) {
				return tooSlow(fmt.Sprintf("%s came after the cool-down: %v", try.what, err))
			}
			t.Fatalf("%s during the cool-down (until %v) at %v..%v: %+v, %v; want a CoolDownError", try.what, coolEnd, sp.from, sp.to, got, err)
		}
		wantRefusal(t, try.what+" during the cool-down", ans(got, err), domain.ErrCoolDown, e)
		// RetryAfter is the time left on the store's clock, which has
		// passed the cap.
		if cd.RetryAfter <= 0 || cd.RetryAfter > p.TTL || cd.RetryAfter < coolEnd.Sub(sp.to) || cd.RetryAfter > coolEnd.Sub(sp.from) {
			t.Fatalf("%s at %v..%v: RetryAfter %v, want the time left until %v, at most %v", try.what, sp.from, sp.to, cd.RetryAfter, coolEnd, p.TTL)
		}
	}
	if got, err := s.Refresh(ctx, e.ID, nil, alice, p, noIdem); !errors.Is(err, domain.ErrNotOnHold) {
		t.Fatalf("Refresh during the cool-down: %+v, %v; want ErrNotOnHold", got, err)
	}
	wantHeld(t, "Hold by another during the cool-down", ans(s.Hold(ctx, e.ID, ids(e, 1), "bob", p, noIdem)), e, "bob", 1)
	for _, n := range []int{2, 3, 4} {
		wantSeat(t, "Seat after refusals in the cool-down", must(t, "Seat")(s.Seat(ctx, e.Seat(n))), e.Seat(n), domain.Available, "")
	}

	// After the cool-down, a new cart.
	deadline := coolEnd.Add(5 * time.Second)
	for {
		sp = timed(func() { got, err = s.Hold(ctx, e.ID, ids(e, 2, 3), alice, p, noIdem) })
		if err == nil {
			break
		}
		if !errors.Is(err, domain.ErrCoolDown) {
			t.Fatalf("Hold after the cart's cap: %v", err)
		}
		if sp.notBefore(coolEnd) {
			t.Fatalf("Hold at %v..%v, after the cool-down until %v: %v", sp.from, sp.to, coolEnd, err)
		}
		if sp.from.After(deadline) {
			t.Fatalf("still in cool-down at %v", sp.from)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if !sp.notBefore(coolEnd) && sp.before(coolEnd) {
		t.Fatalf("Hold at %v..%v succeeded during the cool-down until %v", sp.from, sp.to, coolEnd)
	}
	// A new cart: a TTL from a moment past the cool-down, not clamped by
	// the old cap.
	if exp := wantHeld(t, "Hold after the cool-down", ans(got, err), e, alice, 2, 3); exp.Before(coolEnd.Add(p.TTL)) {
		t.Fatalf("the first hold after the cool-down until %v expires %v: not a new cart", coolEnd, exp)
	}
	return ""
}

// testReleaseBeforeCap: a buyer who gives back a cart at its cap before it
// ends and holds again is still in that cart: the cap still applies, so a
// script cannot keep seats past it by releasing and taking them again.
func testReleaseBeforeCap(t *testing.T, s application.Store) {
	retrying(t, func(t *testing.T) tooSlow { return releaseBeforeCapAttempt(t, s) })
}

func releaseBeforeCapAttempt(t *testing.T, s application.Store) tooSlow {
	ctx := context.Background()
	p := capHold
	e := newEvent(t, s, 10)
	const carol = domain.UserID("carol")
	exp := wantHeld(t, "Hold", ans(s.Hold(ctx, e.ID, ids(e, 5), carol, p, noIdem)), e, carol, 5)
	capEnd := exp.Add(p.MaxLifetime - p.TTL)
	// Refresh until the cart reaches its cap.
	slow := refreshing(t, s, e, carol, p, exp, func(last time.Time) bool { return !last.Equal(capEnd) },
		func(_ span, _, next time.Time) {
			if next.After(capEnd) {
				t.Fatalf("Refresh extended the cart past its cap %v, to %v", capEnd, next)
			}
		}, 5)
	if slow != "" {
		return slow
	}
	// Then release it half a TTL before the cap, and hold again.
	for time.Now().Before(capEnd.Add(-p.TTL / 2)) {
		time.Sleep(time.Millisecond)
	}
	var got []domain.Seat
	var err error
	sp := timed(func() { got, err = s.Release(ctx, e.ID, nil, carol, noIdem) })
	if err == nil && len(got) == 0 && !sp.before(capEnd) {
		return tooSlow("the cart ended before its release")
	}
	wantSeats(t, "Release at the cap", ans(got, err), e, domain.Available, "", 5)
	sp = timed(func() { got, err = s.Hold(ctx, e.ID, ids(e, 5, 6), carol, p, noIdem) })
	if errors.Is(err, domain.ErrCoolDown) && !sp.before(capEnd) {
		// At or after the cart's cap, it is in its cool-down.
		return tooSlow("the hold after the release came after the cap")
	}
	// The same cart: its holds are clamped at its cap, half a TTL or less
	// from now, not given a full TTL.
	if exp := wantHeld(t, "Hold after a release before the cap", ans(got, err), e, carol, 5, 6); !exp.Equal(capEnd) {
		t.Fatalf("the hold after a release before the cap %v expires %v: a new cart, which would let a script keep seats past the cap", capEnd, exp)
	}
	return ""
}

// testReserveEndsCart: a reserve that leaves its buyer no live hold ends
// the cart (a purchase is no way to keep seats), so the buyer's next hold
// starts a cart of its own, whose holds may be refreshed past the old
// cart's cap.
func testReserveEndsCart(t *testing.T, s application.Store) {
	retrying(t, func(t *testing.T) tooSlow { return reserveEndsCartAttempt(t, s) })
}

func reserveEndsCartAttempt(t *testing.T, s application.Store) tooSlow {
	ctx := context.Background()
	p := capHold
	e := newEvent(t, s, 10)
	const dave = domain.UserID("dave")
	exp := wantHeld(t, "Hold", ans(s.Hold(ctx, e.ID, ids(e, 1), dave, p, noIdem)), e, dave, 1)
	oldCap := exp.Add(p.MaxLifetime - p.TTL)
	wantSeats(t, "Reserve of the cart's one seat", ans(s.Reserve(ctx, e.ID, ids(e, 1), dave, noIdem)), e, domain.Reserved, dave, 1)
	// Redis's clock counts milliseconds, and three calls often fit in one:
	// the next cart must start in a later one than the first, or the two
	// would have the same cap. The store's clock is this machine's.
	time.Sleep(2 * time.Millisecond)
	last := wantHeld(t, "Hold after the reserve", ans(s.Hold(ctx, e.ID, ids(e, 2), dave, p, noIdem)), e, dave, 2)
	if !last.After(exp) {
		t.Fatalf("a hold after the first one's %v and a pause expires %v, not later", exp, last)
	}
	newCap := last.Add(p.MaxLifetime - p.TTL)
	// Refresh the new cart's hold until past the old cart's cap: a cart
	// that went on would clamp it there.
	return refreshing(t, s, e, dave, p, last, func(last time.Time) bool { return !last.After(oldCap) },
		func(sp span, _, next time.Time) {
			switch {
			case next.After(newCap):
				t.Fatalf("Refresh extended the new cart past its cap %v, to %v", newCap, next)
			case next.Equal(oldCap) && sp.notBefore(oldCap.Add(-p.TTL)):
				t.Fatalf("Refresh at %v..%v clamped the hold at %v, the cap of the cart that the reserve ended", sp.from, sp.to, oldCap)
			}
		}, 2)
}

// refreshing refreshes every live hold of user in e, which are the seats
// numbers until last, at a pace of a sixth of a TTL while more(last), and
// has check judge each answer (it fails t itself), given when the refresh
// ran on the store's clock at the widest. It reports a machine too slow to
// refresh a hold before it expired.
func refreshing(t *testing.T, s application.Store, e domain.Event, user domain.UserID, p domain.HoldPolicy,
	last time.Time, more func(last time.Time) bool, check func(sp span, last, next time.Time), numbers ...int) tooSlow {
	t.Helper()
	for more(last) {
		if !time.Now().Add(clockSlack).Before(last) {
			return tooSlow(fmt.Sprintf("the hold until %v may have expired before its refresh", last))
		}
		var got []domain.Seat
		var err error
		sp := timed(func() { got, err = s.Refresh(context.Background(), e.ID, nil, user, p, noIdem) })
		if err != nil && !sp.before(last) {
			return tooSlow(fmt.Sprintf("refresh of the hold until %v came too late: %v", last, err))
		}
		next := wantHeld(t, "Refresh of the cart", ans(got, err), e, user, numbers...)
		check(sp, last, next)
		last = next
		time.Sleep(p.TTL / 6) // pace the refreshes; no assertion rests on it
	}
	return ""
}
