package domain

import (
	"strconv"
	"time"
)

// MaxHoldSeats is the most live holds a policy may let one buyer have in
// one event: more than any group a box office sells to one buyer, and few
// enough that a cart of that many seat ids always fits a request body.
const MaxHoldSeats = 256

// HoldPolicy is how long a hold lasts, how many live holds one buyer may
// have in one event, and how long a buyer's cart may keep seats.
type HoldPolicy struct {
	TTL      time.Duration
	MaxSeats int
	// MaxLifetime caps every hold of a cart at the cart's start plus
	// MaxLifetime, however often it is refreshed or taken again (see Cart).
	// Zero means no cap.
	MaxLifetime time.Duration
}

// NewHoldPolicy validates a policy. Its error is a *HoldPolicyError.
func NewHoldPolicy(ttl time.Duration, maxSeats int, maxLifetime time.Duration) (HoldPolicy, error) {
	switch {
	case ttl < time.Millisecond:
		return HoldPolicy{}, &HoldPolicyError{Field: HoldTTL, Want: "at least 1ms"}
	case maxSeats < 1 || maxSeats > MaxHoldSeats:
		return HoldPolicy{}, &HoldPolicyError{Field: HoldMaxSeats, Want: "from 1 to " + strconv.Itoa(MaxHoldSeats)}
	case maxLifetime != 0 && maxLifetime < ttl:
		return HoldPolicy{}, &HoldPolicyError{Field: HoldMaxLifetime, Bound: HoldTTL, Want: "0 for no cap, or at least the hold TTL"}
	}
	return HoldPolicy{TTL: ttl, MaxSeats: maxSeats, MaxLifetime: maxLifetime}, nil
}

// HoldPolicyError is a hold policy that NewHoldPolicy refuses: a
// configuration error, never an answer to a request. It names the fields
// of the rule that is broken, so that the configuration can name their
// settings, and says what Field must be.
type HoldPolicyError struct {
	Field string // HoldTTL, HoldMaxSeats or HoldMaxLifetime
	Want  string // e.g. "at least 1ms"
	// Bound is the field that Want measures Field against (the max
	// lifetime must be at least the TTL), "" when Field is wrong alone.
	// Either of the two may be the one to change.
	Bound string
}

func (e *HoldPolicyError) Error() string { return e.Field + " must be " + e.Want }

// The fields of a hold policy, as a HoldPolicyError names them.
const (
	HoldTTL         = "hold TTL"
	HoldMaxSeats    = "max seats"
	HoldMaxLifetime = "max lifetime"
)

// Cart is what the hold-lifetime cap knows of one buyer's holds in one
// event. A cart starts with the buyer's first hold there while the buyer
// holds nothing live there and the last cart's holds would all have
// expired (so that releasing every seat and holding them again does not
// start a new cart: the cap would mean nothing); a reserve that turns holds
// into reservations and leaves the buyer no live hold ends the cart,
// unless it reached its cap (a purchase is no way to keep seats). No hold
// of the cart lasts past Start plus the policy's MaxLifetime. A cart whose holds were given that last moment
// reached its cap: then the buyer may hold nothing in the event for one TTL
// after it, so that others get those seats first. The zero Cart is no
// cart.
type Cart struct {
	Start time.Time
	// Until is the latest expiry given to a hold of the cart.
	Until time.Time
}

// End is the moment no hold of the cart may outlast, or the zero time when
// the policy sets no cap.
func (c Cart) End(p HoldPolicy) time.Time {
	if p.MaxLifetime == 0 {
		return time.Time{}
	}
	return c.Start.Add(p.MaxLifetime)
}

// CoolDownUntil is when a buyer whose cart reached its cap may hold again:
// the zero time when the cart did not reach it.
func (c Cart) CoolDownUntil(p HoldPolicy) time.Time {
	if c.Start.IsZero() || p.MaxLifetime == 0 || !c.Until.Equal(c.End(p)) {
		return time.Time{}
	}
	return c.Until.Add(p.TTL)
}

// open returns the cart a hold at now belongs to, live being the buyer's
// live holds in the event: the same cart while there are any or while one
// of its holds would still be live had it not been released, else a new
// one that starts now, unless the last one reached its cap less than a TTL
// ago. Live holds without a cart (kept from before carts were recorded)
// start one now, rather than end at once at the zero time's cap.
func (c Cart) open(live int, now time.Time, p HoldPolicy) (Cart, error) {
	if !c.Start.IsZero() && (live > 0 || now.Before(c.Until)) {
		return c, nil
	}
	if until := c.CoolDownUntil(p); !now.Before(c.Until) && now.Before(until) {
		return c, &CoolDownError{RetryAfter: until.Sub(now)}
	}
	return Cart{Start: now, Until: now}, nil
}

// expiry is the expiry of a hold taken or extended at now: a TTL from now,
// within the cart's cap.
func (c Cart) expiry(now time.Time, p HoldPolicy) time.Time {
	exp := now.Add(p.TTL)
	if end := c.End(p); !end.IsZero() && end.Before(exp) {
		return end
	}
	return exp
}

func (c Cart) gave(exp time.Time) Cart {
	if exp.After(c.Until) {
		c.Until = exp
	}
	return c
}

// Hold is the rule of every hold, of one seat or of a cart of them, all or
// nothing. seats are the asked seats as stored (distinct, of one event);
// cart is the buyer's cart in the event and others the number of the
// buyer's live holds at now on seats not asked. Seats the buyer holds
// already are extended and counted once, so a retry succeeds. It returns
// the seats on hold for the buyer, in the order asked, and the cart.
//
// Refusals, in this order: ErrSeatReserved and ErrSeatHeld (as a SeatsError
// naming the seats), ErrCoolDown (as a CoolDownError), ErrHoldLimit.
func Hold(seats []Seat, user UserID, cart Cart, others int, now time.Time, p HoldPolicy) ([]Seat, Cart, error) {
	var reserved, held []SeatID
	own := 0
	for _, s := range seats {
		s = s.At(now)
		switch {
		case s.Status == Reserved:
			reserved = append(reserved, s.ID)
		case s.Status == OnHold && s.Holder != user:
			held = append(held, s.ID)
		case s.Status == OnHold:
			own++
		}
	}
	if reserved != nil {
		return nil, cart, &SeatsError{Err: ErrSeatReserved, Seats: reserved}
	}
	if held != nil {
		return nil, cart, &SeatsError{Err: ErrSeatHeld, Seats: held}
	}
	cart, err := cart.open(others+own, now, p)
	if err != nil {
		return nil, cart, err
	}
	if others+len(seats) > p.MaxSeats {
		return nil, cart, ErrHoldLimit
	}
	exp := cart.expiry(now, p)
	out := make([]Seat, len(seats))
	for i, s := range seats {
		out[i] = Seat{ID: s.ID, Status: OnHold, Holder: user, HoldExpiresAt: exp}
	}
	return out, cart.gave(exp), nil
}

// HoldBest holds count seats of the event that the server picks (see
// Event.Best) for user, in one step with the choice. seats are all the
// event's seats as stored (seat n at index n-1), live the buyer's live
// holds in the event at now. The buyer's cart is checked before any seat
// is picked: ErrCoolDown, then ErrHoldLimit, then ErrNotEnoughSeats.
func HoldBest(e Event, seats []Seat, b BestAvailable, user UserID, cart Cart, live int, now time.Time, p HoldPolicy) ([]Seat, Cart, error) {
	if _, err := cart.open(live, now, p); err != nil {
		return nil, cart, err
	}
	if live+b.Count > p.MaxSeats {
		return nil, cart, ErrHoldLimit
	}
	numbers, err := e.Best(func(n int) bool { return seats[n-1].At(now).Status == Available }, b)
	if err != nil {
		return nil, cart, err
	}
	picked := make([]Seat, len(numbers))
	for i, n := range numbers {
		picked[i] = seats[n-1]
	}
	return Hold(picked, user, cart, live, now, p)
}

// Refresh extends user's live holds on seats (as stored) to a TTL from now,
// within the cart's cap. Every seat must be on hold for user: else
// ErrNotOnHold, then ErrNotHolder, as a SeatsError. No seats at all is
// ErrNotOnHold. When every hold already lasts until the cap, nothing can be
// extended: ErrHoldLifetime. A hold is never shortened.
func Refresh(seats []Seat, user UserID, cart Cart, now time.Time, p HoldPolicy) ([]Seat, Cart, error) {
	if len(seats) == 0 {
		return nil, cart, ErrNotOnHold
	}
	var notHeld, others []SeatID
	for _, s := range seats {
		s = s.At(now)
		switch {
		case s.Status != OnHold:
			notHeld = append(notHeld, s.ID)
		case s.Holder != user:
			others = append(others, s.ID)
		}
	}
	if notHeld != nil {
		return nil, cart, &SeatsError{Err: ErrNotOnHold, Seats: notHeld}
	}
	if others != nil {
		return nil, cart, &SeatsError{Err: ErrNotHolder, Seats: others}
	}
	if cart.Start.IsZero() {
		cart = Cart{Start: now, Until: now} // holds kept from before carts were recorded
	}
	exp := cart.expiry(now, p)
	extended := false
	out := make([]Seat, len(seats))
	for i, s := range seats {
		if s.HoldExpiresAt.Before(exp) {
			s.HoldExpiresAt = exp
			extended = true
		}
		out[i] = s
	}
	if !extended && exp.Equal(cart.End(p)) {
		return nil, cart, ErrHoldLifetime
	}
	return out, cart.gave(exp), nil
}

// Reserve turns user's live holds on seats (as stored) into reservations,
// all or nothing; seats user reserved already count as done, so a retry
// succeeds. Seats without a live hold of user are ErrNoLiveHold, as a
// SeatsError.
func Reserve(seats []Seat, user UserID, now time.Time) ([]Seat, error) {
	out := make([]Seat, len(seats))
	var refused []SeatID
	for i, s := range seats {
		r, err := s.Reserve(user, now)
		if err != nil {
			refused = append(refused, s.ID)
		}
		out[i] = r
	}
	if refused != nil {
		return nil, &SeatsError{Err: ErrNoLiveHold, Seats: refused}
	}
	return out, nil
}

// Release gives back the seats (as stored) that user holds live at now:
// it returns them, available, in the order given. Seats user does not hold
// (any more) are left as they are and not returned, so a retry succeeds.
func Release(seats []Seat, user UserID, now time.Time) []Seat {
	out := []Seat{}
	for _, s := range seats {
		if s.HeldBy(user, now) {
			out = append(out, NewSeat(s.ID))
		}
	}
	return out
}

// Summary counts an event's seats at one instant; the three add up to
// Total.
type Summary struct {
	Total, Available, OnHold, Reserved int
}
