package domain_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/seatres/reservation/domain"
)

// The cart rules. capped is the policy of most rows: a TTL of a minute and
// a cart lifetime of five, so a cart that starts at t0 ends at capEnd.
var (
	capped = domain.HoldPolicy{TTL: time.Minute, MaxSeats: 3, MaxLifetime: 5 * time.Minute}
	capEnd = t0.Add(capped.MaxLifetime)
	// atCap is a cart started at t0 whose holds were given its last moment:
	// it reached its cap.
	atCap     = domain.Cart{Start: t0, Until: capEnd}
	cartEvent = domain.Event{ID: eventID, Name: "Carts", TotalSeats: 20, SeatsPerRow: 5}
)

func free(n int) domain.Seat { return domain.NewSeat(cartEvent.Seat(n)) }

func held(n int, user domain.UserID, until time.Time) domain.Seat {
	return domain.Seat{ID: cartEvent.Seat(n), Status: domain.OnHold, Holder: user, HoldExpiresAt: until}
}

func rsv(n int, user domain.UserID) domain.Seat {
	return domain.Seat{ID: cartEvent.Seat(n), Status: domain.Reserved, Holder: user}
}

func numbers(ids []domain.SeatID) []int {
	out := make([]int, len(ids))
	for i, id := range ids {
		out[i] = id.Number
	}
	return out
}

// refusal is a refusal a row expects: the error, the seats a SeatsError
// names (nil when it is none) and the RetryAfter of a CoolDownError.
type refusal struct {
	err   error
	named []int
	retry time.Duration
}

func (r refusal) check(t *testing.T, got error) {
	t.Helper()
	if !errors.Is(got, r.err) {
		t.Fatalf("error = %v, want %v", got, r.err)
	}
	if got == nil {
		return
	}
	var se *domain.SeatsError
	switch {
	case r.named == nil && errors.As(got, &se):
		t.Fatalf("error %v names seats %v, want a bare refusal", got, se.Seats)
	case r.named != nil && !errors.As(got, &se):
		t.Fatalf("error %v names no seats, want seats %v", got, r.named)
	case r.named != nil:
		for _, id := range se.Seats {
			if id.Event != cartEvent.ID {
				t.Fatalf("error %v names seat %v of another event", got, id)
			}
		}
		if !slices.Equal(numbers(se.Seats), r.named) || se.Err != r.err {
			t.Fatalf("error names %v seats %v, want %v seats %v", se.Err.Code(), numbers(se.Seats), r.err, r.named)
		}
	}
	var cd *domain.CoolDownError
	if errors.As(got, &cd) != (r.err == domain.ErrCoolDown) {
		t.Fatalf("error %v: CoolDownError is %v, want one only for ErrCoolDown", got, cd)
	}
	if cd != nil && cd.RetryAfter != r.retry {
		t.Fatalf("RetryAfter = %v, want %v", cd.RetryAfter, r.retry)
	}
}

func TestHold(t *testing.T) {
	t.Parallel()
	ttl := time.Minute
	tests := []struct {
		name   string
		policy domain.HoldPolicy // capped if zero
		give   []domain.Seat
		cart   domain.Cart
		others int
		now    time.Time
		want   []domain.Seat
		// wantCart is the cart after the hold; the cart given when zero.
		wantCart domain.Cart
		wantErr  refusal
	}{
		{
			name:     "free seats start a cart",
			give:     []domain.Seat{free(1), free(2)},
			now:      t0,
			want:     []domain.Seat{held(1, "alice", t0.Add(ttl)), held(2, "alice", t0.Add(ttl))},
			wantCart: domain.Cart{Start: t0, Until: t0.Add(ttl)},
		},
		{
			name:     "live holds without a cart start one now",
			give:     []domain.Seat{free(2)},
			others:   1,
			now:      t0,
			want:     []domain.Seat{held(2, "alice", t0.Add(ttl))},
			wantCart: domain.Cart{Start: t0, Until: t0.Add(ttl)},
		},
		{
			name:     "seats answered in the order asked",
			give:     []domain.Seat{free(5), free(2), free(9)},
			now:      t0,
			want:     []domain.Seat{held(5, "alice", t0.Add(ttl)), held(2, "alice", t0.Add(ttl)), held(9, "alice", t0.Add(ttl))},
			wantCart: domain.Cart{Start: t0, Until: t0.Add(ttl)},
		},
		{
			name:    "reserved seats first, named in the order asked",
			give:    []domain.Seat{held(1, "bob", t0.Add(ttl)), rsv(4, "bob"), free(2), rsv(3, "alice")},
			now:     t0,
			wantErr: refusal{err: domain.ErrSeatReserved, named: []int{4, 3}},
		},
		{
			name:    "seats held by others, named in the order asked",
			give:    []domain.Seat{free(1), held(6, "bob", t0.Add(ttl)), held(8, "alice", t0.Add(ttl)), held(2, "carol", t0.Add(time.Nanosecond))},
			cart:    domain.Cart{Start: t0, Until: t0.Add(ttl)},
			others:  0,
			now:     t0,
			wantErr: refusal{err: domain.ErrSeatHeld, named: []int{6, 2}},
		},
		{
			name:     "a hold of another that expired is free",
			give:     []domain.Seat{held(1, "bob", t0), free(2)},
			now:      t0,
			want:     []domain.Seat{held(1, "alice", t0.Add(ttl)), held(2, "alice", t0.Add(ttl))},
			wantCart: domain.Cart{Start: t0, Until: t0.Add(ttl)},
		},
		{
			name:     "own live seats are extended and counted once",
			give:     []domain.Seat{held(1, "alice", t0.Add(90*time.Second)), free(2)},
			cart:     domain.Cart{Start: t0, Until: t0.Add(90 * time.Second)},
			others:   1,
			now:      t0.Add(ttl),
			want:     []domain.Seat{held(1, "alice", t0.Add(2*ttl)), held(2, "alice", t0.Add(2*ttl))},
			wantCart: domain.Cart{Start: t0, Until: t0.Add(2 * ttl)},
		},
		{
			name:     "a retry of a whole cart is not over the limit",
			give:     []domain.Seat{held(1, "alice", t0.Add(ttl)), held(2, "alice", t0.Add(ttl)), held(3, "alice", t0.Add(ttl))},
			cart:     domain.Cart{Start: t0, Until: t0.Add(ttl)},
			now:      t0.Add(time.Second),
			want:     []domain.Seat{held(1, "alice", t0.Add(61*time.Second)), held(2, "alice", t0.Add(61*time.Second)), held(3, "alice", t0.Add(61*time.Second))},
			wantCart: domain.Cart{Start: t0, Until: t0.Add(61 * time.Second)},
		},
		{
			name:     "up to the limit",
			give:     []domain.Seat{free(1), free(2)},
			cart:     domain.Cart{Start: t0, Until: t0.Add(ttl)},
			others:   1,
			now:      t0.Add(time.Second),
			want:     []domain.Seat{held(1, "alice", t0.Add(61*time.Second)), held(2, "alice", t0.Add(61*time.Second))},
			wantCart: domain.Cart{Start: t0, Until: t0.Add(61 * time.Second)},
		},
		{
			name:    "others plus the seats asked over the limit",
			give:    []domain.Seat{held(1, "alice", t0.Add(ttl)), free(2)},
			cart:    domain.Cart{Start: t0, Until: t0.Add(ttl)},
			others:  2,
			now:     t0.Add(time.Second),
			wantErr: refusal{err: domain.ErrHoldLimit},
		},
		{
			name:    "more seats than the limit",
			give:    []domain.Seat{free(1), free(2), free(3), free(4)},
			now:     t0,
			wantErr: refusal{err: domain.ErrHoldLimit},
		},
		{
			name:    "seats refused before the limit",
			give:    []domain.Seat{free(1), held(2, "bob", t0.Add(ttl))},
			cart:    domain.Cart{Start: t0, Until: t0.Add(ttl)},
			others:  3,
			now:     t0.Add(time.Second),
			wantErr: refusal{err: domain.ErrSeatHeld, named: []int{2}},
		},
		{
			name:     "expiry clamped at the cart's start plus the cap",
			give:     []domain.Seat{free(4)},
			cart:     domain.Cart{Start: t0, Until: t0.Add(270 * time.Second)},
			others:   1,
			now:      t0.Add(260 * time.Second),
			want:     []domain.Seat{held(4, "alice", capEnd)},
			wantCart: atCap,
		},
		{
			name:   "a hold at the cap's last moment while the cart lives",
			give:   []domain.Seat{free(2)},
			cart:   atCap,
			others: 1,
			now:    capEnd.Add(-time.Nanosecond),
			want:   []domain.Seat{held(2, "alice", capEnd)},
		},
		{
			name: "own seats retried at the cap keep their expiry",
			give: []domain.Seat{held(1, "alice", capEnd)},
			cart: atCap,
			now:  capEnd.Add(-time.Second),
			want: []domain.Seat{held(1, "alice", capEnd)},
		},
		{
			name:     "a new cart when no hold lives",
			give:     []domain.Seat{free(1)},
			cart:     domain.Cart{Start: t0, Until: t0.Add(ttl)},
			now:      t0.Add(3 * ttl),
			want:     []domain.Seat{held(1, "alice", t0.Add(4*ttl))},
			wantCart: domain.Cart{Start: t0.Add(3 * ttl), Until: t0.Add(4 * ttl)},
		},
		{
			name:    "cool-down from the cap",
			give:    []domain.Seat{free(1)},
			cart:    atCap,
			now:     capEnd,
			wantErr: refusal{err: domain.ErrCoolDown, retry: ttl},
		},
		{
			name:    "cool-down until a TTL after the cap",
			give:    []domain.Seat{free(1)},
			cart:    atCap,
			now:     capEnd.Add(ttl - time.Nanosecond),
			wantErr: refusal{err: domain.ErrCoolDown, retry: time.Nanosecond},
		},
		{
			name:     "a new cart once the cool-down is over",
			give:     []domain.Seat{free(1)},
			cart:     atCap,
			now:      capEnd.Add(ttl),
			want:     []domain.Seat{held(1, "alice", capEnd.Add(2*ttl))},
			wantCart: domain.Cart{Start: capEnd.Add(ttl), Until: capEnd.Add(2 * ttl)},
		},
		{
			// Releasing every seat and taking them again must not start a
			// new cart, else the cap would mean nothing.
			name:     "a release before the cap keeps the cart: clamped at its cap",
			give:     []domain.Seat{free(1)},
			cart:     atCap,
			now:      capEnd.Add(-time.Second),
			want:     []domain.Seat{held(1, "alice", capEnd)},
			wantCart: atCap,
		},
		{
			name:     "a release keeps the cart until its holds would have expired",
			give:     []domain.Seat{free(1)},
			cart:     domain.Cart{Start: t0, Until: t0.Add(ttl)},
			now:      t0.Add(ttl - time.Nanosecond),
			want:     []domain.Seat{held(1, "alice", t0.Add(2*ttl-time.Nanosecond))},
			wantCart: domain.Cart{Start: t0, Until: t0.Add(2*ttl - time.Nanosecond)},
		},
		{
			name:     "no cool-down when the cart did not reach its cap",
			give:     []domain.Seat{free(1)},
			cart:     domain.Cart{Start: t0, Until: capEnd.Add(-time.Nanosecond)},
			now:      capEnd,
			want:     []domain.Seat{held(1, "alice", capEnd.Add(ttl))},
			wantCart: domain.Cart{Start: capEnd, Until: capEnd.Add(ttl)},
		},
		{
			name:    "seats refused before the cool-down",
			give:    []domain.Seat{free(1), held(2, "bob", capEnd.Add(ttl))},
			cart:    atCap,
			now:     capEnd,
			wantErr: refusal{err: domain.ErrSeatHeld, named: []int{2}},
		},
		{
			name:    "cool-down before the limit",
			give:    []domain.Seat{free(1), free(2), free(3), free(4)},
			cart:    atCap,
			now:     capEnd.Add(time.Second),
			wantErr: refusal{err: domain.ErrCoolDown, retry: ttl - time.Second},
		},
		{
			name:     "no cap, no clamp and no cool-down",
			policy:   domain.HoldPolicy{TTL: ttl, MaxSeats: 3},
			give:     []domain.Seat{free(1)},
			cart:     domain.Cart{Start: t0, Until: t0.Add(ttl)},
			others:   1,
			now:      t0.Add(10 * ttl),
			want:     []domain.Seat{held(1, "alice", t0.Add(11*ttl))},
			wantCart: domain.Cart{Start: t0, Until: t0.Add(11 * ttl)},
		},
		{
			name:     "no cap, a new cart right after the last",
			policy:   domain.HoldPolicy{TTL: ttl, MaxSeats: 3},
			give:     []domain.Seat{free(1)},
			cart:     domain.Cart{Start: t0, Until: t0.Add(ttl)},
			now:      t0.Add(ttl),
			want:     []domain.Seat{held(1, "alice", t0.Add(2*ttl))},
			wantCart: domain.Cart{Start: t0.Add(ttl), Until: t0.Add(2 * ttl)},
		},
		{
			name:     "a lifetime of one TTL: the first hold reaches the cap",
			policy:   domain.HoldPolicy{TTL: ttl, MaxSeats: 3, MaxLifetime: ttl},
			give:     []domain.Seat{free(1)},
			now:      t0,
			want:     []domain.Seat{held(1, "alice", t0.Add(ttl))},
			wantCart: domain.Cart{Start: t0, Until: t0.Add(ttl)},
		},
		{
			name:    "a lifetime of one TTL: cool-down after every cart",
			policy:  domain.HoldPolicy{TTL: ttl, MaxSeats: 3, MaxLifetime: ttl},
			give:    []domain.Seat{free(1)},
			cart:    domain.Cart{Start: t0, Until: t0.Add(ttl)},
			now:     t0.Add(ttl),
			wantErr: refusal{err: domain.ErrCoolDown, retry: ttl},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := tt.policy
			if p == (domain.HoldPolicy{}) {
				p = capped
			}
			give := slices.Clone(tt.give)
			got, cart, err := domain.Hold(give, "alice", tt.cart, tt.others, tt.now, p)
			tt.wantErr.check(t, err)
			wantCartRule(t, "Hold", give, tt.give, got, tt.want, cart, tt.cart, tt.wantCart, err)
		})
	}
}

func TestHoldBest(t *testing.T) {
	t.Parallel()
	ttl := time.Minute
	live := domain.Cart{Start: t0, Until: t0.Add(30 * time.Second)}
	tests := []struct {
		name     string
		give     string // the seats of cartEvent, as seatsOf draws them
		best     domain.BestAvailable
		cart     domain.Cart
		live     int
		now      time.Time
		want     []int
		wantExp  time.Time
		wantCart domain.Cart
		wantErr  refusal
	}{
		{
			name:     "the best seats, in ascending order",
			give:     "x.x.. ..... ..... .....",
			best:     domain.BestAvailable{Count: 2},
			now:      t0,
			want:     []int{4, 5},
			wantExp:  t0.Add(ttl),
			wantCart: domain.Cart{Start: t0, Until: t0.Add(ttl)},
		},
		{
			name:     "own holds are not picked, and count",
			give:     "aa... ..... ..... .....",
			best:     domain.BestAvailable{Count: 1},
			cart:     live,
			live:     2,
			now:      t0,
			want:     []int{3},
			wantExp:  t0.Add(ttl),
			wantCart: domain.Cart{Start: t0, Until: t0.Add(ttl)},
		},
		{
			name:     "clamped at the cap",
			give:     "a.... ..... ..... .....",
			best:     domain.BestAvailable{Count: 2, Adjacent: true},
			cart:     domain.Cart{Start: t0.Add(-270 * time.Second), Until: t0.Add(30 * time.Second)},
			live:     1,
			now:      t0,
			want:     []int{2, 3},
			wantExp:  t0.Add(30 * time.Second),
			wantCart: domain.Cart{Start: t0.Add(-270 * time.Second), Until: t0.Add(30 * time.Second)},
		},
		{
			name:    "the limit",
			give:    "aa... ..... ..... .....",
			best:    domain.BestAvailable{Count: 2},
			cart:    live,
			live:    2,
			now:     t0,
			wantErr: refusal{err: domain.ErrHoldLimit},
		},
		{
			name:    "not enough seats",
			give:    "xxxxx xxxxx xxxxx xxx..",
			best:    domain.BestAvailable{Count: 3},
			now:     t0,
			wantErr: refusal{err: domain.ErrNotEnoughSeats},
		},
		{
			name:    "not enough adjacent seats",
			give:    "x.x.x .x.x. x.x.x .x.x.",
			best:    domain.BestAvailable{Count: 2, Adjacent: true},
			now:     t0,
			wantErr: refusal{err: domain.ErrNotEnoughSeats},
		},
		{
			name:    "the limit before not enough seats",
			give:    "aaxxx xxxxx xxxxx xxxx.",
			best:    domain.BestAvailable{Count: 2},
			cart:    live,
			live:    2,
			now:     t0,
			wantErr: refusal{err: domain.ErrHoldLimit},
		},
		{
			name:    "cool-down before the limit and not enough seats",
			give:    "xxxxx xxxxx xxxxx xxxx.",
			best:    domain.BestAvailable{Count: 4},
			cart:    domain.Cart{Start: t0.Add(-capped.MaxLifetime), Until: t0},
			now:     t0.Add(time.Second),
			wantErr: refusal{err: domain.ErrCoolDown, retry: ttl - time.Second},
		},
		{
			name:     "after the cool-down",
			give:     "..... ..... ..... .....",
			best:     domain.BestAvailable{Count: 1},
			cart:     domain.Cart{Start: t0.Add(-capped.MaxLifetime - ttl), Until: t0.Add(-ttl)},
			now:      t0,
			want:     []int{1},
			wantExp:  t0.Add(ttl),
			wantCart: domain.Cart{Start: t0, Until: t0.Add(ttl)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			seats := seatsOf(t, cartEvent, tt.give)
			give := slices.Clone(seats)
			got, cart, err := domain.HoldBest(cartEvent, give, tt.best, "alice", tt.cart, tt.live, tt.now, capped)
			tt.wantErr.check(t, err)
			if !slices.Equal(give, seats) {
				t.Fatal("HoldBest changed the seats given")
			}
			if err != nil {
				if got != nil {
					t.Fatalf("refusal answered seats %+v", got)
				}
				return
			}
			want := make([]domain.Seat, len(tt.want))
			for i, n := range tt.want {
				want[i] = held(n, "alice", tt.wantExp)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("seats = %+v\nwant   %+v", got, want)
			}
			if cart != tt.wantCart {
				t.Fatalf("cart = %+v, want %+v", cart, tt.wantCart)
			}
		})
	}
}

func TestRefresh(t *testing.T) {
	t.Parallel()
	ttl := time.Minute
	running := domain.Cart{Start: t0, Until: t0.Add(ttl)}
	tests := []struct {
		name     string
		policy   domain.HoldPolicy // capped if zero
		give     []domain.Seat
		cart     domain.Cart
		now      time.Time
		want     []domain.Seat
		wantCart domain.Cart // the cart given when zero
		wantErr  refusal
	}{
		{
			name:    "no seats",
			give:    []domain.Seat{},
			cart:    running,
			now:     t0,
			wantErr: refusal{err: domain.ErrNotOnHold},
		},
		{
			name:     "own holds extended to a TTL from now, in the order given",
			give:     []domain.Seat{held(3, "alice", t0.Add(ttl)), held(1, "alice", t0.Add(50*time.Second))},
			cart:     running,
			now:      t0.Add(30 * time.Second),
			want:     []domain.Seat{held(3, "alice", t0.Add(90*time.Second)), held(1, "alice", t0.Add(90*time.Second))},
			wantCart: domain.Cart{Start: t0, Until: t0.Add(90 * time.Second)},
		},
		{
			name:     "holds without a cart start one now",
			give:     []domain.Seat{held(1, "alice", t0.Add(ttl))},
			now:      t0.Add(30 * time.Second),
			want:     []domain.Seat{held(1, "alice", t0.Add(90*time.Second))},
			wantCart: domain.Cart{Start: t0.Add(30 * time.Second), Until: t0.Add(90 * time.Second)},
		},
		{
			name:    "seats not on hold named: available, reserved, expired",
			give:    []domain.Seat{held(1, "alice", t0.Add(ttl)), free(2), rsv(3, "alice"), held(4, "alice", t0.Add(time.Second)), held(5, "bob", t0.Add(ttl))},
			cart:    running,
			now:     t0.Add(time.Second),
			wantErr: refusal{err: domain.ErrNotOnHold, named: []int{2, 3, 4}},
		},
		{
			name:    "seats held by others named",
			give:    []domain.Seat{held(6, "carol", t0.Add(ttl)), held(1, "alice", t0.Add(ttl)), held(5, "bob", t0.Add(ttl))},
			cart:    running,
			now:     t0.Add(time.Second),
			wantErr: refusal{err: domain.ErrNotHolder, named: []int{6, 5}},
		},
		{
			name:     "clamped at the cap",
			give:     []domain.Seat{held(1, "alice", t0.Add(270*time.Second))},
			cart:     domain.Cart{Start: t0, Until: t0.Add(270 * time.Second)},
			now:      t0.Add(260 * time.Second),
			want:     []domain.Seat{held(1, "alice", capEnd)},
			wantCart: atCap,
		},
		{
			name:     "a TTL and a moment before the cap: not clamped yet",
			give:     []domain.Seat{held(1, "alice", t0.Add(270*time.Second))},
			cart:     domain.Cart{Start: t0, Until: t0.Add(270 * time.Second)},
			now:      capEnd.Add(-ttl - time.Nanosecond),
			want:     []domain.Seat{held(1, "alice", capEnd.Add(-time.Nanosecond))},
			wantCart: domain.Cart{Start: t0, Until: capEnd.Add(-time.Nanosecond)},
		},
		{
			name:     "a TTL before the cap: reaches it",
			give:     []domain.Seat{held(1, "alice", t0.Add(270*time.Second))},
			cart:     domain.Cart{Start: t0, Until: t0.Add(270 * time.Second)},
			now:      capEnd.Add(-ttl),
			want:     []domain.Seat{held(1, "alice", capEnd)},
			wantCart: atCap,
		},
		{
			name:    "at the cap",
			give:    []domain.Seat{held(1, "alice", capEnd), held(2, "alice", capEnd)},
			cart:    atCap,
			now:     capEnd.Add(-30 * time.Second),
			wantErr: refusal{err: domain.ErrHoldLifetime},
		},
		{
			name:    "at the cap, a TTL before it",
			give:    []domain.Seat{held(1, "alice", capEnd)},
			cart:    atCap,
			now:     capEnd.Add(-ttl),
			wantErr: refusal{err: domain.ErrHoldLifetime},
		},
		{
			name:    "at the cap, its last moment",
			give:    []domain.Seat{held(1, "alice", capEnd)},
			cart:    atCap,
			now:     capEnd.Add(-time.Nanosecond),
			wantErr: refusal{err: domain.ErrHoldLifetime},
		},
		{
			name:    "seats refused before the cap",
			give:    []domain.Seat{held(1, "alice", capEnd), free(2)},
			cart:    atCap,
			now:     capEnd.Add(-time.Second),
			wantErr: refusal{err: domain.ErrNotOnHold, named: []int{2}},
		},
		{
			name: "one hold below the cap is extended to it",
			give: []domain.Seat{held(1, "alice", capEnd), held(2, "alice", capEnd.Add(-10*time.Second))},
			cart: atCap,
			now:  capEnd.Add(-30 * time.Second),
			want: []domain.Seat{held(1, "alice", capEnd), held(2, "alice", capEnd)},
		},
		{
			name:   "never shortens",
			policy: domain.HoldPolicy{TTL: 10 * time.Second, MaxSeats: 3},
			give:   []domain.Seat{held(1, "alice", t0.Add(50*time.Second))},
			cart:   domain.Cart{Start: t0, Until: t0.Add(50 * time.Second)},
			now:    t0,
			want:   []domain.Seat{held(1, "alice", t0.Add(50*time.Second))},
		},
		{
			name:   "never shortens, extends the others",
			policy: domain.HoldPolicy{TTL: 10 * time.Second, MaxSeats: 3, MaxLifetime: time.Hour},
			give:   []domain.Seat{held(1, "alice", t0.Add(50*time.Second)), held(2, "alice", t0.Add(5*time.Second))},
			cart:   domain.Cart{Start: t0, Until: t0.Add(50 * time.Second)},
			now:    t0,
			want:   []domain.Seat{held(1, "alice", t0.Add(50*time.Second)), held(2, "alice", t0.Add(10*time.Second))},
		},
		{
			name:     "no cap: extends however long the cart lived",
			policy:   domain.HoldPolicy{TTL: ttl, MaxSeats: 3},
			give:     []domain.Seat{held(1, "alice", t0.Add(time.Hour))},
			cart:     domain.Cart{Start: t0, Until: t0.Add(time.Hour)},
			now:      t0.Add(time.Hour - time.Second),
			want:     []domain.Seat{held(1, "alice", t0.Add(time.Hour+ttl-time.Second))},
			wantCart: domain.Cart{Start: t0, Until: t0.Add(time.Hour + ttl - time.Second)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := tt.policy
			if p == (domain.HoldPolicy{}) {
				p = capped
			}
			give := slices.Clone(tt.give)
			got, cart, err := domain.Refresh(give, "alice", tt.cart, tt.now, p)
			tt.wantErr.check(t, err)
			wantCartRule(t, "Refresh", give, tt.give, got, tt.want, cart, tt.cart, tt.wantCart, err)
		})
	}
}

func TestReserve(t *testing.T) {
	t.Parallel()
	live := t0.Add(time.Second)
	tests := []struct {
		name    string
		give    []domain.Seat
		want    []domain.Seat
		wantErr refusal
	}{
		{
			name: "live holds, in the order given",
			give: []domain.Seat{held(4, "alice", live), held(2, "alice", live)},
			want: []domain.Seat{rsv(4, "alice"), rsv(2, "alice")},
		},
		{
			name: "a retry: own reservations count as done",
			give: []domain.Seat{rsv(4, "alice"), held(2, "alice", live), rsv(1, "alice")},
			want: []domain.Seat{rsv(4, "alice"), rsv(2, "alice"), rsv(1, "alice")},
		},
		{
			name: "all or nothing: seats without a live hold named",
			give: []domain.Seat{
				held(1, "alice", live), free(2), held(3, "alice", t0), rsv(4, "alice"),
				held(5, "bob", live), rsv(6, "bob"),
			},
			wantErr: refusal{err: domain.ErrNoLiveHold, named: []int{2, 3, 5, 6}},
		},
		{
			name:    "a hold that ends now",
			give:    []domain.Seat{held(1, "alice", t0)},
			wantErr: refusal{err: domain.ErrNoLiveHold, named: []int{1}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			give := slices.Clone(tt.give)
			got, err := domain.Reserve(give, "alice", t0)
			tt.wantErr.check(t, err)
			if !slices.Equal(give, tt.give) {
				t.Fatalf("Reserve changed the seats given: %+v", give)
			}
			if err != nil {
				if got != nil {
					t.Fatalf("refusal answered seats %+v", got)
				}
				return
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("seats = %+v\nwant   %+v", got, tt.want)
			}
			// Reserving again (a retry) answers the same.
			again, err := domain.Reserve(got, "alice", t0.Add(time.Hour))
			if err != nil || !slices.Equal(again, tt.want) {
				t.Fatalf("retry = %+v, %v; want %+v", again, err, tt.want)
			}
		})
	}
}

func TestRelease(t *testing.T) {
	t.Parallel()
	live := t0.Add(time.Second)
	tests := []struct {
		name string
		give []domain.Seat
		want []domain.Seat
	}{
		{
			name: "own live holds, in the order given",
			give: []domain.Seat{held(4, "alice", live), held(2, "alice", live)},
			want: []domain.Seat{free(4), free(2)},
		},
		{
			name: "only own live holds",
			give: []domain.Seat{
				free(1), held(2, "alice", live), held(3, "alice", t0), rsv(4, "alice"),
				held(5, "bob", live), rsv(6, "bob"), held(7, "alice", live),
			},
			want: []domain.Seat{free(2), free(7)},
		},
		{
			name: "nothing to release",
			give: []domain.Seat{free(1), held(5, "bob", live)},
			want: []domain.Seat{},
		},
		{
			name: "no seats",
			give: nil,
			want: []domain.Seat{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			give := slices.Clone(tt.give)
			got := domain.Release(give, "alice", t0)
			if !slices.Equal(give, tt.give) {
				t.Fatalf("Release changed the seats given: %+v", give)
			}
			if got == nil || !slices.Equal(got, tt.want) {
				t.Fatalf("released %+v, want %+v", got, tt.want)
			}
			// A retry on the seats as they are now returns nothing.
			after := slices.Clone(tt.give)
			for _, s := range got {
				after[slices.IndexFunc(after, func(a domain.Seat) bool { return a.ID == s.ID })] = s
			}
			if again := domain.Release(after, "alice", t0); len(again) != 0 {
				t.Fatalf("retry released %+v, want nothing", again)
			}
		})
	}
}

func TestCartEnd(t *testing.T) {
	t.Parallel()
	noCap := domain.HoldPolicy{TTL: time.Minute, MaxSeats: 3}
	tests := []struct {
		give         domain.Cart
		policy       domain.HoldPolicy
		wantEnd      time.Time
		wantCoolDown time.Time
	}{
		{give: domain.Cart{}, policy: noCap},
		{give: domain.Cart{Start: t0, Until: t0.Add(time.Hour)}, policy: noCap},
		{give: domain.Cart{}, policy: capped, wantEnd: time.Time{}.Add(capped.MaxLifetime)},
		{give: domain.Cart{Start: t0, Until: t0.Add(time.Minute)}, policy: capped, wantEnd: capEnd},
		{give: domain.Cart{Start: t0, Until: capEnd.Add(-time.Nanosecond)}, policy: capped, wantEnd: capEnd},
		{give: atCap, policy: capped, wantEnd: capEnd, wantCoolDown: capEnd.Add(capped.TTL)},
	}
	for _, tt := range tests {
		if got := tt.give.End(tt.policy); !got.Equal(tt.wantEnd) {
			t.Errorf("%+v.End(%+v) = %v, want %v", tt.give, tt.policy, got, tt.wantEnd)
		}
		if got := tt.give.CoolDownUntil(tt.policy); !got.Equal(tt.wantCoolDown) {
			t.Errorf("%+v.CoolDownUntil(%+v) = %v, want %v", tt.give, tt.policy, got, tt.wantCoolDown)
		}
	}
}

// wantCartRule checks the answer of a rule of a cart (Hold, Refresh) to the
// seats given, whose copy give the rule had: the seats given unchanged; on
// a refusal no seats; else the seats want and the cart wantCart (the cart
// given, from, when wantCart is zero: unchanged).
func wantCartRule(t *testing.T, rule string, give, given, got, want []domain.Seat, cart, from, wantCart domain.Cart, err error) {
	t.Helper()
	if !slices.Equal(give, given) {
		t.Fatalf("%s changed the seats given: %+v", rule, give)
	}
	if err != nil {
		if got != nil {
			t.Fatalf("refusal answered seats %+v", got)
		}
		return
	}
	if !slices.Equal(got, want) {
		t.Fatalf("seats = %+v\nwant   %+v", got, want)
	}
	if wantCart == (domain.Cart{}) {
		wantCart = from
	}
	if cart != wantCart {
		t.Fatalf("cart = %+v, want %+v", cart, wantCart)
	}
}
