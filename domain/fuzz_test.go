package domain_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/seatres/reservation/domain"
)

// Any text either names a seat in its one canonical form or names none.
func FuzzParseSeatID(f *testing.F) {
	for _, s := range []string{eventID + ".1", eventID + ".10000", eventID + ".01", "{x}.1", "", "*", eventID + ".1\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := domain.ParseSeatID(s)
		if err != nil {
			if !errors.Is(err, domain.ErrSeatNotFound) && !errors.Is(err, domain.ErrInvalidSeatID) {
				t.Fatalf("ParseSeatID(%q): unexpected error %v", s, err)
			}
			return
		}
		if id.String() != s || id.Number < 1 || id.Number > domain.MaxTotalSeats {
			t.Fatalf("ParseSeatID(%q) = %+v, which prints as %q", s, id, id)
		}
	})
}

// An accepted UUID is valid UTF-8 of at most MaxUserLength characters, none
// of them a control or format (invisible) character.
func FuzzNewUserID(f *testing.F) {
	for _, s := range []string{"alice", "", " ", "a\nb", "{tag}", "\xff", "ü", "a\u200Bb", "\u202Ea", "\uFEFF", "a\U000E0041"} {
		f.Add(s)
	}
	invisible := func(r rune) bool { return unicode.In(r, unicode.Cc, unicode.Cf) }
	f.Fuzz(func(t *testing.T, s string) {
		if _, err := domain.NewUserID(s); err == nil &&
			(!utf8.ValidString(s) || utf8.RuneCountInString(s) > domain.MaxUserLength || strings.ContainsFunc(s, invisible)) {
			t.Fatalf("NewUserID accepted %q", s)
		}
	})
}

// FuzzSeatRules drives one seat through any sequence of holds, refreshes,
// reserves and clock ticks by three users, each with a cart under a
// lifetime cap, and checks the guarantees that must hold whatever the
// sequence: a live hold is never taken by another user, a reservation is
// final, only the holder of a live hold reserves, and no hold outlasts its
// cart's cap.
func FuzzSeatRules(f *testing.F) {
	f.Add([]byte{0x00, 0x21, 0x42, 0x13, 0x04, 0x25})
	f.Add([]byte{0x00, 0x03, 0x03, 0x03, 0x11, 0x02, 0x10})
	f.Add([]byte{0x00, 0xff, 0x01, 0xff, 0x01, 0xff, 0x01, 0xff, 0x00, 0x10, 0xff, 0x00})
	p := domain.HoldPolicy{TTL: time.Minute, MaxSeats: 2, MaxLifetime: 3 * time.Minute}
	f.Fuzz(func(t *testing.T, ops []byte) {
		users := []domain.UserID{"alice", "bob", "carol"}
		carts := make(map[domain.UserID]domain.Cart)
		now := t0
		seat := domain.NewSeat(seatID)
		for _, op := range ops {
			user := users[int(op>>4)%len(users)]
			before := seat.At(now)
			var (
				seats []domain.Seat
				cart  = carts[user]
				err   error
			)
			switch op & 0x3 {
			case 0:
				// others stands for the user's live holds on other seats,
				// which are of its cart: there are none once it ended.
				others := int(op>>6) % p.MaxSeats
				if !now.Before(cart.Until) {
					others = 0
				}
				seats, cart, err = domain.Hold([]domain.Seat{seat}, user, cart, others, now, p)
			case 1:
				seats, cart, err = domain.Refresh([]domain.Seat{seat}, user, cart, now, p)
			case 2:
				seats, err = domain.Reserve([]domain.Seat{seat}, user, now)
			case 3:
				now = now.Add(time.Duration(op>>2) * time.Second)
				continue
			}
			if err != nil {
				if seats != nil {
					t.Fatalf("refusal %v answered seats %+v", err, seats)
				}
				continue
			}
			if len(seats) != 1 {
				t.Fatalf("%d seats answered for one", len(seats))
			}
			next := seats[0]
			switch {
			case before.Status == domain.Reserved && next != before:
				t.Fatalf("reservation %+v changed to %+v", before, next)
			case before.Status == domain.OnHold && next.Holder != before.Holder:
				t.Fatalf("live hold %+v taken by %s", before, next.Holder)
			case next.Status == domain.Reserved && before.Status == domain.Available:
				t.Fatalf("%s reserved %+v without a hold", user, before)
			case next.Holder != user:
				t.Fatalf("%s's request gave the seat to %s", user, next.Holder)
			case next.Status == domain.OnHold && (!next.HoldExpiresAt.After(now) || next.HoldExpiresAt.After(cart.End(p))):
				t.Fatalf("hold until %v at %v, in a cart that ends %v", next.HoldExpiresAt, now, cart.End(p))
			}
			seat, carts[user] = next, cart
		}
	})
}

// FuzzBest checks Event.Best on any event and any availability: the answer
// is count available seats in ascending order, a run within one row when a
// row has one (the lowest-numbered such run), else the lowest-numbered
// available seats, unless adjacent seats were asked; and ErrNotEnoughSeats
// only when there is no such answer.
func FuzzBest(f *testing.F) {
	f.Add(uint16(10), uint16(5), uint8(2), false, []byte{0b01010101, 0b11})
	f.Add(uint16(12), uint16(5), uint8(2), true, []byte{0b10101010, 0b1111})
	f.Add(uint16(100), uint16(0), uint8(4), false, []byte{0xff, 0x00, 0xf0, 0x0f})
	f.Add(uint16(37), uint16(7), uint8(6), false, []byte{0xef, 0xbe, 0xad, 0xde, 0x01})
	f.Fuzz(func(t *testing.T, total, perRow uint16, count uint8, adjacent bool, mask []byte) {
		n := domain.MinTotalSeats + int(total)%(200-domain.MinTotalSeats+1)
		e, err := domain.NewEvent(eventID, "Fuzz", n, int(perRow)%(n+1))
		if err != nil {
			t.Fatal(err)
		}
		b := domain.BestAvailable{Count: 1 + int(count)%(n+1), Adjacent: adjacent}
		avail := func(s int) bool {
			if s < 1 || s > n {
				t.Fatalf("Best asked about seat %d of %d", s, n)
			}
			i := s - 1
			return i/8 < len(mask) && mask[i/8]&(1<<(i%8)) != 0
		}
		row := func(s int) int { return (s - 1) / e.SeatsPerRow }
		// The lowest run of b.Count available seats within one row, and
		// the lowest b.Count available seats, by brute force.
		run := 0
		for s := 1; s+b.Count-1 <= n && run == 0; s++ {
			ok := row(s) == row(s+b.Count-1)
			for k := s; k < s+b.Count && ok; k++ {
				ok = avail(k)
			}
			if ok {
				run = s
			}
		}
		var lowest []int
		for s := 1; s <= n && len(lowest) < b.Count; s++ {
			if avail(s) {
				lowest = append(lowest, s)
			}
		}

		got, err := e.Best(avail, b)
		switch {
		case run != 0:
			if err != nil || len(got) != b.Count || got[0] != run || row(got[0]) != row(got[len(got)-1]) {
				t.Fatalf("Best(%+v) in %+v = %v, %v; want the run from %d", b, e, got, err, run)
			}
		case adjacent || len(lowest) < b.Count:
			if !errors.Is(err, domain.ErrNotEnoughSeats) || got != nil {
				t.Fatalf("Best(%+v) in %+v = %v, %v; want ErrNotEnoughSeats", b, e, got, err)
			}
			return
		case err != nil || !slices.Equal(got, lowest):
			t.Fatalf("Best(%+v) in %+v = %v, %v; want the lowest seats %v", b, e, got, err, lowest)
		}
		for i, s := range got {
			if !avail(s) || i > 0 && s <= got[i-1] {
				t.Fatalf("Best(%+v) = %v: seat %d unavailable or out of order", b, got, s)
			}
			if run != 0 && s != run+i {
				t.Fatalf("Best(%+v) = %v: not a run", b, got)
			}
		}
	})
}

// FuzzCartRules runs any sequence of cart holds, best-available holds,
// refreshes, reserves, releases and clock ticks by three buyers over the
// seats of a small event, the way a store applies the rules (each buyer's
// cart kept between calls), and checks each answer against what the rules
// promise and the state against their invariants: a refusal changes
// nothing; no live hold of a buyer or reservation is touched by another;
// no buyer holds more than MaxSeats live; no hold outlasts its cart's cap;
// a buyer in cool-down gets no new cart.
func FuzzCartRules(f *testing.F) {
	f.Add([]byte{0x00, 0x07, 0x01, 0x38, 0x02, 0x0f, 0x05, 0x20, 0x03, 0x03, 0x0c, 0x01, 0x0f, 0x50})
	f.Add([]byte{0x00, 0x03, 0x0f, 0x1e, 0x06, 0x00, 0x0f, 0x1e, 0x06, 0x00, 0x0f, 0x28, 0x00, 0x01, 0x0f, 0x28, 0x00, 0x01})
	f.Add([]byte{0x03, 0x02, 0x04, 0x13, 0x05, 0x03, 0x09, 0x05, 0x0f, 0xff, 0x12, 0x00, 0x0c, 0x05})
	p := domain.HoldPolicy{TTL: 4 * time.Second, MaxSeats: 3, MaxLifetime: 10 * time.Second}
	f.Fuzz(func(t *testing.T, ops []byte) {
		e, err := domain.NewEvent(eventID, "Fuzz", 12, 4)
		if err != nil {
			t.Fatal(err)
		}
		users := []domain.UserID{"alice", "bob", "carol"}
		seats := make([]domain.Seat, e.TotalSeats)
		for i := range seats {
			seats[i] = domain.NewSeat(e.Seat(i + 1))
		}
		carts := make(map[domain.UserID]domain.Cart)
		now := t0
		liveOf := func(u domain.UserID) (n int) {
			for _, s := range seats {
				if s.HeldBy(u, now) {
					n++
				}
			}
			return n
		}
		inCoolDown := func(u domain.UserID) (time.Duration, bool) {
			c := carts[u]
			until := c.CoolDownUntil(p)
			return until.Sub(now), liveOf(u) == 0 && !until.IsZero() && !now.Before(c.Until) && now.Before(until)
		}
		for i := 0; i+1 < len(ops); i += 2 {
			a, arg := ops[i], ops[i+1]
			user := users[int(a)%len(users)]
			// asked: the seats of arg's bits, from seat 1+a/18%5 on.
			var asked []domain.Seat
			for bit := range 8 {
				if arg&(1<<bit) != 0 {
					asked = append(asked, seats[int(a)/18%5+bit])
				}
			}
			before := slices.Clone(seats)
			cart := carts[user]
			var (
				got  []domain.Seat
				next = cart
				err  error
			)
			switch kind := int(a) / 3 % 6; kind {
			case 0:
				if len(asked) == 0 {
					continue
				}
				others := 0
				for _, s := range seats {
					if s.HeldBy(user, now) && !slices.ContainsFunc(asked, func(x domain.Seat) bool { return x.ID == s.ID }) {
						others++
					}
				}
				retry, cooling := inCoolDown(user)
				got, next, err = domain.Hold(asked, user, cart, others, now, p)
				checkHold(t, asked, user, others, cooling, retry, now, p, got, err)
			case 1:
				b := domain.BestAvailable{Count: 1 + int(arg)%4, Adjacent: arg&0x10 != 0}
				retry, cooling := inCoolDown(user)
				live := liveOf(user)
				got, next, err = domain.HoldBest(e, seats, b, user, cart, live, now, p)
				var cd *domain.CoolDownError
				switch {
				case cooling:
					if !errors.As(err, &cd) || cd.RetryAfter != retry {
						t.Fatalf("HoldBest in cool-down: %v, want RetryAfter %v", err, retry)
					}
				case live+b.Count > p.MaxSeats:
					if !errors.Is(err, domain.ErrHoldLimit) {
						t.Fatalf("HoldBest of %d with %d live: %v, want ErrHoldLimit", b.Count, live, err)
					}
				case err == nil:
					if len(got) != b.Count {
						t.Fatalf("HoldBest of %d answered %d seats", b.Count, len(got))
					}
					for _, s := range got {
						if before[s.ID.Number-1].At(now).Status != domain.Available {
							t.Fatalf("HoldBest took seat %+v", before[s.ID.Number-1].At(now))
						}
					}
				case !errors.Is(err, domain.ErrNotEnoughSeats):
					t.Fatalf("HoldBest: unexpected %v", err)
				}
			case 2:
				var mine []domain.Seat
				for _, s := range seats {
					if s.HeldBy(user, now) {
						mine = append(mine, s)
					}
				}
				got, next, err = domain.Refresh(mine, user, cart, now, p)
				exp := now.Add(p.TTL)
				if end := cart.End(p); end.Before(exp) {
					exp = end
				}
				atCap := !slices.ContainsFunc(mine, func(s domain.Seat) bool { return s.HoldExpiresAt.Before(exp) })
				switch {
				case len(mine) == 0:
					if !errors.Is(err, domain.ErrNotOnHold) {
						t.Fatalf("Refresh of nothing: %v", err)
					}
				case atCap && exp.Equal(cart.End(p)):
					if !errors.Is(err, domain.ErrHoldLifetime) {
						t.Fatalf("Refresh at the cap: %v", err)
					}
				case err != nil:
					t.Fatalf("Refresh of live holds: %v", err)
				default:
					for k, s := range got {
						if s.HoldExpiresAt.Before(mine[k].HoldExpiresAt) || !s.HoldExpiresAt.Equal(exp) && !s.HoldExpiresAt.Equal(mine[k].HoldExpiresAt) {
							t.Fatalf("Refresh to %v of a hold until %v answered %v", exp, mine[k].HoldExpiresAt, s.HoldExpiresAt)
						}
					}
				}
			case 3:
				got, err = domain.Reserve(asked, user, now)
				ok := !slices.ContainsFunc(asked, func(s domain.Seat) bool {
					s = s.At(now)
					return s.Holder != user || s.Status == domain.Available
				})
				if (err == nil) != ok {
					t.Fatalf("Reserve of %+v by %s: %v", asked, user, err)
				}
			case 4:
				got = domain.Release(asked, user, now)
				for _, s := range asked {
					if released := slices.ContainsFunc(got, func(r domain.Seat) bool { return r.ID == s.ID }); released != s.HeldBy(user, now) {
						t.Fatalf("Release by %s of %+v: released %v", user, s, released)
					}
				}
			case 5:
				now = now.Add(time.Duration(arg) * 100 * time.Millisecond)
				continue
			}
			if err != nil {
				if got != nil {
					t.Fatalf("refusal %v answered seats %+v", err, got)
				}
				continue
			}
			for _, s := range got {
				seats[s.ID.Number-1] = s
			}
			carts[user] = next
			checkState(t, before, seats, user, users, carts, now, p)
		}
	})
}

// checkHold checks the answer of domain.Hold against the rule, from the
// seats asked as they are at now.
func checkHold(t *testing.T, asked []domain.Seat, user domain.UserID, others int, cooling bool, retry time.Duration, now time.Time, p domain.HoldPolicy, got []domain.Seat, err error) {
	t.Helper()
	var reserved, held []domain.SeatID
	for _, s := range asked {
		switch s = s.At(now); {
		case s.Status == domain.Reserved:
			reserved = append(reserved, s.ID)
		case s.Status == domain.OnHold && s.Holder != user:
			held = append(held, s.ID)
		}
	}
	var se *domain.SeatsError
	var cd *domain.CoolDownError
	switch {
	case reserved != nil:
		if !errors.As(err, &se) || se.Err != domain.ErrSeatReserved || !slices.Equal(se.Seats, reserved) {
			t.Fatalf("Hold with reserved seats %v: %v", reserved, err)
		}
	case held != nil:
		if !errors.As(err, &se) || se.Err != domain.ErrSeatHeld || !slices.Equal(se.Seats, held) {
			t.Fatalf("Hold with seats held by others %v: %v", held, err)
		}
	case cooling:
		if !errors.As(err, &cd) || cd.RetryAfter != retry {
			t.Fatalf("Hold in cool-down: %v, want RetryAfter %v", err, retry)
		}
	case others+len(asked) > p.MaxSeats:
		if !errors.Is(err, domain.ErrHoldLimit) {
			t.Fatalf("Hold of %d with %d others: %v, want ErrHoldLimit", len(asked), others, err)
		}
	case err != nil:
		t.Fatalf("Hold of %+v: %v", asked, err)
	default:
		for k, s := range got {
			if s.ID != asked[k].ID || s.Status != domain.OnHold || s.Holder != user || !s.HoldExpiresAt.Equal(got[0].HoldExpiresAt) {
				t.Fatalf("Hold of %+v answered %+v", asked, got)
			}
		}
		if exp := got[0].HoldExpiresAt; !exp.After(now) || exp.After(now.Add(p.TTL)) {
			t.Fatalf("Hold at %v until %v", now, exp)
		}
	}
}

// checkState checks the invariants of the seats after a change by user.
func checkState(t *testing.T, before, after []domain.Seat, user domain.UserID, users []domain.UserID, carts map[domain.UserID]domain.Cart, now time.Time, p domain.HoldPolicy) {
	t.Helper()
	for i, b := range before {
		b = b.At(now)
		if (b.Status == domain.Reserved || b.Status == domain.OnHold && b.Holder != user) && after[i].At(now) != b {
			t.Fatalf("%s's change turned %+v into %+v", user, b, after[i])
		}
	}
	for _, u := range users {
		live := 0
		c := carts[u]
		for _, s := range after {
			if !s.HeldBy(u, now) {
				continue
			}
			live++
			if s.HoldExpiresAt.After(c.Until) || s.HoldExpiresAt.After(c.End(p)) {
				t.Fatalf("%s's hold %+v outlasts its cart %+v (end %v)", u, s, c, c.End(p))
			}
		}
		if live > p.MaxSeats {
			t.Fatalf("%s holds %d seats live", u, live)
		}
	}
}
