package domain_test

import (
	"errors"
	"testing"
	"time"

	"github.com/seatres/reservation/domain"
)

var (
	t0     = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	policy = domain.HoldPolicy{TTL: time.Minute, MaxSeats: 2}
	seatID = domain.SeatID{Event: "0f8fad5b-d9cb-469f-a165-70867728950e", Number: 7}
)

func available() domain.Seat { return domain.NewSeat(seatID) }

func heldBy(user domain.UserID, until time.Time) domain.Seat {
	return domain.Seat{ID: seatID, Status: domain.OnHold, Holder: user, HoldExpiresAt: until}
}

func reservedBy(user domain.UserID) domain.Seat {
	return domain.Seat{ID: seatID, Status: domain.Reserved, Holder: user}
}

// The state machine of one seat, one row per transition or refusal: the
// cart rules (domain.Hold, Refresh, Reserve) applied to a cart of one seat,
// as the original API's calls make them. "now" is t0; holds made at t0 last
// until t0+TTL. policy has no lifetime cap, so the cart plays no part here
// (the cart rules are in cart_test.go).
func TestTransitions(t *testing.T) {
	t.Parallel()
	live := t0.Add(time.Second)
	renewed := t0.Add(policy.TTL)
	tests := []struct {
		name    string
		give    domain.Seat
		op      func(domain.Seat) (domain.Seat, error)
		want    domain.Seat
		wantErr error
	}{
		{
			name: "hold available",
			give: available(),
			op:   hold("alice", 0),
			want: heldBy("alice", renewed),
		},
		{
			name: "hold available below the limit",
			give: available(),
			op:   hold("alice", policy.MaxSeats-1),
			want: heldBy("alice", renewed),
		},
		{
			name:    "hold available at the limit",
			give:    available(),
			op:      hold("alice", policy.MaxSeats),
			wantErr: domain.ErrHoldLimit,
		},
		{
			name: "hold own live hold again extends it, counted once at the limit",
			give: heldBy("alice", live),
			op:   hold("alice", policy.MaxSeats-1),
			want: heldBy("alice", renewed),
		},
		{
			name:    "hold seat held by another",
			give:    heldBy("bob", live),
			op:      hold("alice", 0),
			wantErr: domain.ErrSeatHeld,
		},
		{
			name: "hold seat whose hold by another expired",
			give: heldBy("bob", t0),
			op:   hold("alice", 0),
			want: heldBy("alice", renewed),
		},
		{
			name:    "hold seat reserved by another",
			give:    reservedBy("bob"),
			op:      hold("alice", 0),
			wantErr: domain.ErrSeatReserved,
		},
		{
			name:    "hold seat reserved by self",
			give:    reservedBy("alice"),
			op:      hold("alice", 0),
			wantErr: domain.ErrSeatReserved,
		},
		{
			name: "refresh own live hold",
			give: heldBy("alice", live),
			op:   refresh("alice"),
			want: heldBy("alice", renewed),
		},
		{
			name:    "refresh hold of another",
			give:    heldBy("bob", live),
			op:      refresh("alice"),
			wantErr: domain.ErrNotHolder,
		},
		{
			name:    "refresh own expired hold",
			give:    heldBy("alice", t0),
			op:      refresh("alice"),
			wantErr: domain.ErrNotOnHold,
		},
		{
			name:    "refresh available",
			give:    available(),
			op:      refresh("alice"),
			wantErr: domain.ErrNotOnHold,
		},
		{
			name:    "refresh reserved",
			give:    reservedBy("alice"),
			op:      refresh("alice"),
			wantErr: domain.ErrNotOnHold,
		},
		{
			name: "reserve own live hold",
			give: heldBy("alice", live),
			op:   reserve("alice"),
			want: reservedBy("alice"),
		},
		{
			name: "reserve own reservation again",
			give: reservedBy("alice"),
			op:   reserve("alice"),
			want: reservedBy("alice"),
		},
		{
			name:    "reserve own expired hold",
			give:    heldBy("alice", t0),
			op:      reserve("alice"),
			wantErr: domain.ErrNoLiveHold,
		},
		{
			name:    "reserve available",
			give:    available(),
			op:      reserve("alice"),
			wantErr: domain.ErrNoLiveHold,
		},
		{
			name:    "reserve hold of another",
			give:    heldBy("bob", live),
			op:      reserve("alice"),
			wantErr: domain.ErrNoLiveHold,
		},
		{
			name:    "reserve reservation of another",
			give:    reservedBy("bob"),
			op:      reserve("alice"),
			wantErr: domain.ErrNoLiveHold,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.op(tt.give)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
			if err == nil && got != tt.want {
				t.Fatalf("seat = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// one is the answer of a cart rule on a cart of one seat.
func one(seats []domain.Seat, err error) (domain.Seat, error) {
	if err != nil {
		if seats != nil {
			return domain.Seat{}, errors.New("a refusal answered seats")
		}
		return domain.Seat{}, err
	}
	if len(seats) != 1 {
		return domain.Seat{}, errors.New("not one seat answered")
	}
	return seats[0], nil
}

// hold holds the seat for user, who holds others other seats live.
func hold(user domain.UserID, others int) func(domain.Seat) (domain.Seat, error) {
	return func(s domain.Seat) (domain.Seat, error) {
		seats, _, err := domain.Hold([]domain.Seat{s}, user, domain.Cart{}, others, t0, policy)
		return one(seats, err)
	}
}

func refresh(user domain.UserID) func(domain.Seat) (domain.Seat, error) {
	return func(s domain.Seat) (domain.Seat, error) {
		seats, _, err := domain.Refresh([]domain.Seat{s}, user, domain.Cart{}, t0, policy)
		return one(seats, err)
	}
}

func reserve(user domain.UserID) func(domain.Seat) (domain.Seat, error) {
	return func(s domain.Seat) (domain.Seat, error) {
		// Seat.Reserve and the cart rule agree on one seat.
		want, wantErr := s.Reserve(user, t0)
		got, err := one(domain.Reserve([]domain.Seat{s}, user, t0))
		if !errors.Is(err, wantErr) || err == nil && got != want {
			return domain.Seat{}, errors.New("Reserve of one seat disagrees with Seat.Reserve")
		}
		return got, err
	}
}

func TestAtExpiresHoldAtItsDeadline(t *testing.T) {
	t.Parallel()
	exp := t0.Add(time.Minute)
	tests := []struct {
		give domain.Seat
		at   time.Time
		want domain.Seat
	}{
		{give: heldBy("alice", exp), at: exp.Add(-time.Nanosecond), want: heldBy("alice", exp)},
		{give: heldBy("alice", exp), at: exp, want: available()},
		{give: heldBy("alice", exp), at: exp.Add(time.Hour), want: available()},
		{give: reservedBy("alice"), at: exp.Add(time.Hour), want: reservedBy("alice")},
		{give: available(), at: exp, want: available()},
	}
	for _, tt := range tests {
		if got := tt.give.At(tt.at); got != tt.want {
			t.Errorf("%+v.At(%v) = %+v, want %+v", tt.give, tt.at, got, tt.want)
		}
		wantHeld := tt.want.Status == domain.OnHold
		if got := tt.give.HeldBy("alice", tt.at); got != wantHeld {
			t.Errorf("%+v.HeldBy(alice, %v) = %v, want %v", tt.give, tt.at, got, wantHeld)
		}
	}
}

func TestStatusNames(t *testing.T) {
	t.Parallel()
	for status, want := range map[domain.Status]string{
		domain.Available: "Available", domain.OnHold: "On hold", domain.Reserved: "Reserved",
	} {
		if got := status.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", status, got, want)
		}
	}
}

func TestNewHoldPolicy(t *testing.T) {
	t.Parallel()
	tests := []struct {
		ttl      time.Duration
		max      int
		lifetime time.Duration
		wantErr  string // the field named, "" for none
		bound    string // the field it is measured against, "" for none
	}{
		{ttl: time.Minute, max: 6},
		{ttl: time.Millisecond, max: 1},
		{ttl: time.Minute, max: 6, lifetime: time.Minute},
		{ttl: time.Minute, max: 6, lifetime: 15 * time.Minute},
		{ttl: time.Minute, max: 6, lifetime: time.Minute - time.Nanosecond, wantErr: domain.HoldMaxLifetime, bound: domain.HoldTTL},
		{ttl: time.Minute, max: 6, lifetime: time.Second, wantErr: domain.HoldMaxLifetime, bound: domain.HoldTTL},
		{ttl: time.Minute, max: 6, lifetime: -time.Hour, wantErr: domain.HoldMaxLifetime, bound: domain.HoldTTL},
		{ttl: time.Millisecond - 1, max: 6, wantErr: domain.HoldTTL},
		{ttl: 0, max: 6, wantErr: domain.HoldTTL},
		{ttl: -time.Second, max: 6, wantErr: domain.HoldTTL},
		// A short TTL is named alone, not the max lifetime it is also above.
		{ttl: time.Microsecond, max: 6, lifetime: time.Nanosecond, wantErr: domain.HoldTTL},
		{ttl: time.Minute, max: 0, wantErr: domain.HoldMaxSeats},
		{ttl: time.Minute, max: -1, wantErr: domain.HoldMaxSeats},
		{ttl: time.Minute, max: domain.MaxHoldSeats},
		{ttl: time.Minute, max: domain.MaxHoldSeats + 1, wantErr: domain.HoldMaxSeats},
	}
	for _, tt := range tests {
		p, err := domain.NewHoldPolicy(tt.ttl, tt.max, tt.lifetime)
		var pe *domain.HoldPolicyError
		if errors.As(err, &pe) != (tt.wantErr != "") || pe != nil && (pe.Field != tt.wantErr || pe.Bound != tt.bound) {
			t.Errorf("NewHoldPolicy(%v, %d, %v) error = %v (%+v), want one naming %q against %q", tt.ttl, tt.max, tt.lifetime, err, pe, tt.wantErr, tt.bound)
		}
		want := domain.HoldPolicy{TTL: tt.ttl, MaxSeats: tt.max, MaxLifetime: tt.lifetime}
		if err == nil && p != want {
			t.Errorf("NewHoldPolicy(%v, %d, %v) = %+v, want %+v", tt.ttl, tt.max, tt.lifetime, p, want)
		}
	}
}
