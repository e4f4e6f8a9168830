package attacks

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/seatres/reservation/adapters/identity/identitytest"
	"github.com/seatres/reservation/adapters/redisstore/redistest"
	"github.com/seatres/reservation/tests/internal/harness"
	"github.com/seatres/reservation/tests/servicetest"
)

// The spinning attack's sizes: the event and script.
const (
	spinSeats  = 10000
	spinPerRow = 50
	spinTokens = 50 // valid buyer tokens the script has
	// The hold policy of the run, short so that carts reach their cap and
	// start again within it.
	spinTTL      = 2 * time.Second
	spinLifetime = 8 * time.Second
	// slack is the rounding of the answers' expiries, which are given in
	// whole milliseconds.
	slack = time.Millisecond
)

// The loopback addresses of the run: the box office, the real buyer and
// the attacker's, which spreads over several as a script behind a few
// proxies would, so that the per-IP limit (200/s) is not what stops it.
const (
	officeIP = "127.0.0.1"
	fanIP    = "127.0.0.2"
)

var attackerIPs = []string{"127.0.0.10", "127.0.0.11", "127.0.0.12", "127.0.0.13"}

// TestSeatSpinning is the spinning attack of issue #10 against the
// Redis-backed binary with the deployment's settings (keys, buyer tokens
// and limits on) and a short hold TTL and cap: for ~20 s (a minute under
// SOAK=1) a script with 50 valid buyer tokens holds, refreshes, releases
// and holds again everything it can of a 10,000-seat event, while it sends
// made-up UUIDs without a token, with a stolen token and with forged ones.
// It never holds more than 50 times the hold limit, no hold it is given
// outlasts its cart's cap, and a real buyer, polite and from its own IP,
// gets seats every second.
func TestSeatSpinning(t *testing.T) {
	t.Parallel()
	run := time.Duration(harness.Size(20, 60)) * time.Second
	redis := redistest.Standalone(t)
	d := readDeployment(t).with("RESERVATION_REDIS_ADDRS="+redis,
		"RESERVATION_HOLD_TTL="+spinTTL.String(), "RESERVATION_HOLD_MAX_LIFETIME="+spinLifetime.String())
	maxSeats := d.int(t, "RESERVATION_HOLD_MAX_SEATS")
	svc := servicetest.Start(t, servicetest.Build(t), d.environ()...)
	office := newClient(t, svc.URL(), officeIP)
	event := office.mustCreate(t, devKey, spinSeats, spinPerRow)
	secret := buyerSecret(t)

	var attackers []*client
	for _, ip := range attackerIPs {
		attackers = append(attackers, newClient(t, svc.URL(), ip))
	}
	spinners := make([]*spinner, spinTokens)
	stolen := make([]string, spinTokens)
	for i := range spinners {
		user := fmt.Sprintf("scalper-%02d-%s", i, randomID())
		stolen[i] = token(t, secret, user)
		spinners[i] = &spinner{t: t, c: attackers[i%len(attackers)], event: event, user: user,
			as: cred{token: stolen[i]}, maxSeats: maxSeats, held: map[string]time.Time{}}
	}
	impostors := newImpostors(t, secret, stolen)
	fan := &fan{t: t, c: newClient(t, svc.URL(), fanIP), event: event, user: "fan-" + randomID()}
	fan.as = cred{token: token(t, secret, fan.user)}

	var (
		spun, made tally
		maxOnHold  int // of the summaries, read once the loops are done
		wg         sync.WaitGroup
	)
	ctx, stop := context.WithTimeout(t.Context(), run)
	defer stop()
	start := time.Now()
	// The attacker's loops are paced so that the run fits the shared
	// machine: 8 tries a second per token, above the buyer limit of 5/s
	// (more would only meet more 429s), and 25 per impostor loop.
	for _, s := range spinners {
		wg.Go(func() { paced(ctx, 125*time.Millisecond, func(n int) { s.step(n, &spun) }) })
	}
	for i, imp := range impostors {
		c := attackers[i%len(attackers)]
		wg.Go(func() { paced(ctx, 40*time.Millisecond, func(n int) { imp.try(t, c, event, n, maxSeats, &made) }) })
	}
	wg.Go(func() { paced(ctx, time.Second, func(int) { fan.buy() }) })
	// The summary is one count at one instant, so it bounds what all the
	// attacker's tokens hold at once; the real buyer holds at most its 2.
	bound := spinTokens*maxSeats + 2
	wg.Go(func() {
		paced(ctx, 200*time.Millisecond, func(int) {
			s, r := office.summary(t.Context(), event, cred{key: devKey})
			if !r.OK() {
				t.Errorf("summary: %v", r)
				return
			}
			if s.OnHold > bound {
				t.Errorf("%d seats on hold at once, over %d tokens x %d + the real buyer's 2", s.OnHold, spinTokens, maxSeats)
			}
			maxOnHold = max(maxOnHold, s.OnHold)
		})
	})
	wg.Wait()
	took := time.Since(start)

	carts, capped := 0, 0
	for _, s := range spinners {
		carts += s.cart.carts
		capped += s.capped
	}
	t.Logf("%v of attack on %d seats (hold TTL %v, cap %v, %d tokens x %d seats = %d at most)",
		took.Round(time.Millisecond), spinSeats, spinTTL, spinLifetime, spinTokens, maxSeats, spinTokens*maxSeats)
	t.Logf("the tokens: %v", &spun)
	t.Logf("the made-up UUIDs: %v", &made)
	t.Logf("most seats on hold at once (summary, real buyer's included): %d; carts the tokens started: %d, %d of them held to the cap",
		maxOnHold, carts, capped)
	t.Logf("the real buyer: %d of %d purchases of 2 seats succeeded", fan.bought, fan.tries)
	if fan.tries == 0 || fan.bought != fan.tries {
		t.Errorf("the real buyer bought %d times of %d", fan.bought, fan.tries)
	}
	if capped == 0 {
		t.Error("no cart of the attacker reached its cap: the cap was not tried")
	}
	checkSpun(t, office, event, bound, fan)
}

// paced calls f(0), f(1), ... once per interval until ctx is done: an
// attacker's or a buyer's pace, not a synchronization.
func paced(ctx context.Context, interval time.Duration, f func(n int)) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for n := 0; ; n++ {
		f(n)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func randomID() string { return strconv.FormatUint(rand.Uint64(), 36) }

// spinner is one of the attacker's tokens, used by one loop: it keeps what
// its answers say it holds.
type spinner struct {
	t          *testing.T
	c          *client
	event      string
	user       string
	as         cred
	maxSeats   int
	held       map[string]time.Time // seat id -> expiry, as answered
	cart       cartTrack
	capped     int // carts that reached their cap
	lastCapped time.Time
}

// step is one try of the script: hold what it can (best available, ids or
// one seat) while under the limit, else refresh (cart or one seat), and now
// and then release everything and hold it again at once, or ask for more
// than the limit.
func (s *spinner) step(n int, codes *tally) {
	ctx := s.t.Context() // not the run's: a request in flight at its end is answered
	live := s.live(time.Now())
	var (
		r    reply
		hold = true // whether an answer's expiries may start a new cart
	)
	switch {
	case live < s.maxSeats && n%3 == 0:
		r = s.c.cart(ctx, s.event, harness.CartHold, s.as,
			harness.CartRequest{UUID: s.user, BestAvailable: &harness.BestAvailable{Count: s.maxSeats - live}})
	case live < s.maxSeats && n%3 == 1:
		var ids []string
		for len(ids) < s.maxSeats-live {
			if id := randomSeat(s.event); !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
		r = s.c.cart(ctx, s.event, harness.CartHold, s.as, harness.CartRequest{UUID: s.user, IDs: ids})
	case live < s.maxSeats:
		r = s.c.seat(ctx, harness.HoldPath, s.as, randomSeat(s.event), s.user)
	case n%12 == 0:
		r = s.c.cart(ctx, s.event, harness.CartRelease, s.as, harness.CartRequest{UUID: s.user})
		s.record(r, codes, false)
		r = s.c.cart(ctx, s.event, harness.CartHold, s.as,
			harness.CartRequest{UUID: s.user, BestAvailable: &harness.BestAvailable{Count: s.maxSeats}})
	case n%12 == 6:
		r = s.c.seat(ctx, harness.HoldPath, s.as, randomSeat(s.event), s.user) // one over the limit
	case n%2 == 0:
		r, hold = s.c.cart(ctx, s.event, harness.CartRefresh, s.as, harness.CartRequest{UUID: s.user}), false
	default:
		for id := range s.held {
			r, hold = s.c.seat(ctx, harness.RefreshPath, s.as, id, s.user), false
			break
		}
	}
	s.record(r, codes, hold)
}

// randomSeat is the id of any seat of the event.
func randomSeat(event string) string { return event + "." + strconv.Itoa(1+rand.IntN(spinSeats)) }

// live counts the holds the answers gave that last past at.
func (s *spinner) live(at time.Time) int {
	n := 0
	for id, exp := range s.held {
		if exp.After(at) {
			n++
		} else {
			delete(s.held, id)
		}
	}
	return n
}

// record checks an answer to the token and keeps what it holds: a seat
// change is the token's own (its UUID shown), every expiry given is within
// its cart's cap, and the token never holds more than the limit. hold says
// whether the answer is of a hold, which may start a new cart.
func (s *spinner) record(r reply, codes *tally, hold bool) {
	codes.add(r)
	if r.Err != nil || r.Status >= http.StatusInternalServerError {
		s.t.Errorf("%s: %v", s.user, r)
		return
	}
	if !r.OK() {
		if r.Code == "HOLD_LIFETIME_REACHED" && !s.cart.start.IsZero() && s.cart.start != s.lastCapped {
			s.capped++
			s.lastCapped = s.cart.start
		}
		return
	}
	seats, err := r.seats()
	if err != nil {
		s.t.Errorf("%s: %v", s.user, err)
		return
	}
	for _, seat := range seats {
		switch {
		case seat.Status == "Available" && seat.UUID == "": // released
			delete(s.held, seat.ID)
		case seat.UUID != s.user:
			s.t.Errorf("%s was answered a seat of %q: %+v", s.user, seat.UUID, seat)
		case seat.HoldExpiresAt == nil:
			s.t.Errorf("%s was answered %+v", s.user, seat)
		default:
			if err := s.cart.observe(*seat.HoldExpiresAt, hold); err != nil {
				s.t.Errorf("%s, %s: %v", s.user, seat.ID, err)
			}
			s.held[seat.ID] = *seat.HoldExpiresAt
		}
	}
	if n := s.live(r.Got); n > s.maxSeats {
		s.t.Errorf("%s holds %d seats after %v, over the limit of %d", s.user, n, r, s.maxSeats)
	}
}

// cartTrack follows one buyer's cart in the event from its answers.
type cartTrack struct {
	start, until time.Time // the cart's start and the latest expiry given to it; zero before the first hold
	carts        int       // carts started
}

// observe checks an expiry given to the buyer: within the cart's cap. Else
// the hold must have started a new cart, which only a hold (newCart) can,
// once the last cart's holds have all expired, and a TTL later still when
// that cart reached its cap (the cool-down); a release never starts one.
// A new cart's first hold lasts a whole TTL (the cap is at least a TTL),
// which gives its start.
func (c *cartTrack) observe(exp time.Time, newCart bool) error {
	end := c.start.Add(spinLifetime)
	if !c.start.IsZero() && !exp.After(end.Add(slack)) {
		if exp.After(c.until) {
			c.until = exp
		}
		return nil
	}
	start := exp.Add(-spinTTL)
	if !c.start.IsZero() {
		earliest := c.until
		if !c.until.Before(end.Add(-slack)) {
			earliest = earliest.Add(spinTTL)
		}
		if !newCart || start.Before(earliest.Add(-slack)) {
			return fmt.Errorf("a hold until %v, past the cap %v of the cart that started at %v (its holds last until %v, so a new cart starts at %v at the earliest)",
				exp, end, c.start, c.until, earliest)
		}
	}
	c.start, c.until = start, exp
	c.carts++
	return nil
}

// impostor is a loop of the attacker that claims UUIDs it has no token of.
type impostor struct {
	name string
	want string // the code it must get, unless the IP limit refuses first
	// as returns, for try n, the credentials and the UUID to send.
	as func(n int) (cred, string)
}

// newImpostors returns two loops of each kind: a made-up UUID without a
// token, one with a stolen token (another buyer's sub), and one with a
// forged, expired or unsigned token of its own.
func newImpostors(t testing.TB, secret []byte, stolen []string) []impostor {
	forged, subs := forgedTokens(t, secret, stolen[0], 20)
	kinds := []impostor{
		{"no token", "UNAUTHENTICATED", func(int) (cred, string) { return cred{}, "made-up-" + randomID() }},
		{"stolen token", "UUID_MISMATCH", func(n int) (cred, string) {
			return cred{token: stolen[n%len(stolen)]}, "made-up-" + randomID()
		}},
		{"forged token", "INVALID_BUYER_TOKEN", func(n int) (cred, string) {
			return cred{token: forged[n%len(forged)]}, subs[n%len(forged)]
		}},
	}
	return append(kinds, kinds...)
}

// forgedTokens returns n tokens for made-up subs that the service must
// refuse, of every kind in turn: signed with another secret, unsigned
// ("none"), expired, without exp, and a real token (real) with its claims
// replaced; and the sub each claims.
func forgedTokens(t testing.TB, secret []byte, real string, n int) (tokens, subs []string) {
	other := identitytest.NewSecret(t)
	header, _, _ := strings.Cut(real, ".")
	signature := real[strings.LastIndexByte(real, '.')+1:]
	hour := time.Now().Add(time.Hour)
	for i := range n {
		sub := "made-up-" + randomID()
		var tok string
		switch i % 5 {
		case 0:
			tok = identitytest.Mint(t, other, sub, hour, "")
		case 1:
			tok = identitytest.Sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, identitytest.Claims(sub, hour, ""))
		case 2:
			tok = identitytest.Mint(t, secret, sub, time.Now().Add(-time.Minute), "")
		case 3:
			tok = identitytest.Mint(t, secret, sub, time.Time{}, "")
		default:
			claims, err := json.Marshal(identitytest.Claims(sub, hour, ""))
			if err != nil {
				t.Fatal(err)
			}
			tok = header + "." + base64.RawURLEncoding.EncodeToString(claims) + "." + signature
		}
		tokens, subs = append(tokens, tok), append(subs, sub)
	}
	return tokens, subs
}

// try sends one seat change of the impostor's: it gets its refusal, or the
// IP limit's.
func (imp impostor) try(t *testing.T, c *client, event string, n, maxSeats int, codes *tally) {
	as, user := imp.as(n)
	ctx := t.Context()
	var r reply
	switch n % 3 {
	case 0:
		r = c.cart(ctx, event, harness.CartHold, as, harness.CartRequest{UUID: user, BestAvailable: &harness.BestAvailable{Count: maxSeats}})
	case 1:
		r = c.cart(ctx, event, harness.CartHold, as, harness.CartRequest{UUID: user, IDs: []string{randomSeat(event)}})
	default:
		r = c.seat(ctx, harness.HoldPath, as, randomSeat(event), user)
	}
	codes.add(r)
	if r.Code != imp.want && r.Code != "RATE_LIMITED" {
		t.Errorf("%s %q: %v, want %s", imp.name, user, r, imp.want)
	}
}

// fan is the real buyer: its own token, its own IP, one purchase of two
// seats a second.
type fan struct {
	t             *testing.T
	c             *client
	event, user   string
	as            cred
	tries, bought int
}

// buy holds the 2 best available seats and reserves them.
func (f *fan) buy() {
	ctx := f.t.Context()
	f.tries++
	r := f.c.cart(ctx, f.event, harness.CartHold, f.as,
		harness.CartRequest{UUID: f.user, BestAvailable: &harness.BestAvailable{Count: 2}})
	seats, err := r.seats()
	if !r.OK() || err != nil || len(seats) != 2 {
		f.t.Errorf("the real buyer's hold %d: %v", f.tries, r)
		return
	}
	ids := []string{seats[0].ID, seats[1].ID}
	if r := f.c.cart(ctx, f.event, harness.CartReserve, f.as, harness.CartRequest{UUID: f.user, IDs: ids}); !r.OK() {
		f.t.Errorf("the real buyer's reserve %d of %q: %v", f.tries, ids, r)
		return
	}
	f.bought++
}

// checkSpun checks the event once the attack is over: the only
// reservations are the real buyer's, nothing is on hold past the bound, and
// the counts add up.
func checkSpun(t *testing.T, office *client, event string, bound int, f *fan) {
	s, r := office.summary(t.Context(), event, cred{key: devKey})
	if !r.OK() || s.Reserved != 2*f.bought || s.OnHold > bound || s.Available+s.OnHold+s.Reserved != spinSeats {
		t.Errorf("summary after the attack: %v, want the real buyer's %d seats reserved and at most %d on hold", r, 2*f.bought, bound)
	}
}

// TestCartTrack checks the check of the spinning attack's caps: it takes
// what the cart rules allow and refuses a hold past the cap.
func TestCartTrack(t *testing.T) {
	t.Parallel()
	type step struct {
		exp  time.Duration // after the first hold's start
		hold bool          // a hold, which may start a cart, or a refresh
	}
	first := step{spinTTL, true}
	for _, tt := range []struct {
		name string
		give []step
		want bool // whether the last step is taken
	}{
		{"refreshed to the cap", []step{first, {4 * time.Second, false}, {spinLifetime, false}}, true},
		{"refreshed past the cap", []step{first, {spinLifetime, false}, {spinLifetime + time.Second, false}}, false},
		{"held again past the cap", []step{first, {spinLifetime, false}, {spinLifetime + time.Second, true}}, false},
		{"released and held again within a hold's life", []step{first, {7 * time.Second, false}, {6500*time.Millisecond + spinTTL, true}}, false},
		{"released and held again within the cap", []step{first, {5 * time.Second, false}, {5*time.Second + spinTTL, true}}, true},
		{"held in the cool-down", []step{first, {spinLifetime, false}, {spinLifetime + spinTTL - time.Second + spinTTL, true}}, false},
		{"held after the cool-down", []step{first, {spinLifetime, false}, {spinLifetime + spinTTL + spinTTL, true}}, true},
		{"refreshed into a new cart", []step{first, {spinLifetime, false}, {spinLifetime + 2*spinTTL, false}}, false},
		{"held once the holds expired short of the cap", []step{first, {4 * time.Second, false}, {4*time.Second + spinTTL, true}}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			t0 := time.UnixMilli(1_700_000_000_000)
			var c cartTrack
			for i, s := range tt.give {
				err := c.observe(t0.Add(s.exp), s.hold)
				if last := i == len(tt.give)-1; !last && err != nil || last && (err == nil) != tt.want {
					t.Errorf("step %d %+v: %v, want taken %t", i, s, err, !last || tt.want)
				}
			}
		})
	}
}
