package attacks

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/seatres/reservation/adapters/identity"
	"github.com/seatres/reservation/adapters/identity/identitytest"
	"github.com/seatres/reservation/adapters/redisstore/redistest"
	"github.com/seatres/reservation/tests/internal/harness"
	"github.com/seatres/reservation/tests/servicetest"
)

// TestImpersonation is the impersonation attack of issue #10 against the
// binary with keys and buyer tokens on and the deployment's limits: buyer A
// holds seats; no answer that anyone else gets (anonymous, buyer B with its
// own token, a back end's key without holders:read) shows A's UUID; B
// sending A's UUID is refused before any store call, on every seat change,
// and uses up neither A's hold limit nor A's rate limit: A then holds up to
// its limit, refreshes and reserves at once. A key with holders:read, and
// A's own token, see A's UUID.
func TestImpersonation(t *testing.T) {
	t.Parallel()
	office, kiosk := "office-"+randomID(), "kiosk-"+randomID()
	keys := identitytest.WriteKeys(t,
		identitytest.Key{Name: "box-office", Secret: office,
			Scopes: []identity.Scope{identity.ScopeEventsWrite, identity.ScopeSeatsWrite, identity.ScopeHoldersRead}},
		identitytest.Key{Name: "kiosk", Secret: kiosk, Scopes: []identity.Scope{identity.ScopeSeatsWrite}})
	d := readDeployment(t).with("RESERVATION_REDIS_ADDRS="+redistest.Standalone(t), "RESERVATION_AUTH_KEYS_FILE="+keys)
	maxSeats := d.int(t, "RESERVATION_HOLD_MAX_SEATS")
	svc := servicetest.Start(t, servicetest.Build(t), d.environ()...)
	ctx := t.Context()
	secret := buyerSecret(t)
	boxOffice := newClient(t, svc.URL(), "127.0.0.1")
	event := boxOffice.mustCreate(t, office, 100, 10)
	seat := func(n int) string { return event + "." + strconv.Itoa(n) }

	userA, userB := "victim-"+randomID(), "thief-"+randomID()
	asA, asB := cred{token: token(t, secret, userA)}, cred{token: token(t, secret, userB)}
	a, b := newClient(t, svc.URL(), "127.0.0.3"), newClient(t, svc.URL(), "127.0.0.4")

	// A holds three seats, one alone and two in its cart: 2 of its buyer
	// limit's burst.
	want(t, a.seat(ctx, harness.HoldPath, asA, seat(1), userA), http.StatusOK, "", userA)
	want(t, a.cart(ctx, event, harness.CartHold, asA, harness.CartRequest{UUID: userA, IDs: []string{seat(2), seat(3)}}),
		http.StatusOK, "", userA)

	// What others see of A's seats.
	leaks := 0
	unseen := func(who string, r reply) {
		t.Helper()
		if r.Err != nil || r.Status >= http.StatusInternalServerError {
			t.Errorf("%s: %v", who, r)
		}
		if bytes.Contains(r.Body, []byte(userA)) {
			leaks++
			t.Errorf("%s was shown A's UUID: %s", who, r.Body)
		}
	}
	viewers := []struct {
		name string
		as   cred
	}{{"anyone", cred{}}, {"B", asB}, {"a key without holders:read", cred{key: kiosk}}}
	for _, v := range viewers {
		for _, path := range []string{"/seats/get/" + seat(1), "/seats/get/" + seat(2), "/seats/list/" + event,
			"/events/" + event, "/events/" + event + "/summary"} {
			r := b.get(ctx, path, v.as)
			unseen(v.name+" GET "+path, r)
			if !r.OK() {
				t.Errorf("%s GET %s: %v", v.name, path, r)
			}
			var s harness.Seat
			if strings.HasPrefix(path, "/seats/get/") && (json.Unmarshal(r.Body, &s) != nil || s.Status != "On hold" || s.UUID != "") {
				t.Errorf("%s GET %s: %v, want a seat on hold for \"\"", v.name, path, r)
			}
		}
	}
	// B's own changes, of A's seats and of others, with its own UUID.
	for _, tt := range []struct {
		name string
		give reply
		want int
		code string
	}{
		{"hold A's seat", b.seat(ctx, harness.HoldPath, asB, seat(1), userB), http.StatusConflict, "SEAT_HELD"},
		{"refresh A's seat", b.seat(ctx, harness.RefreshPath, asB, seat(1), userB), http.StatusForbidden, "NOT_HOLDER"},
		{"reserve A's seat", b.seat(ctx, harness.ReservePath, asB, seat(1), userB), http.StatusForbidden, "NO_LIVE_HOLD"},
		{"hold A's seats in a cart", b.cart(ctx, event, harness.CartHold, asB,
			harness.CartRequest{UUID: userB, IDs: []string{seat(2), seat(4)}}), http.StatusConflict, "SEAT_HELD"},
		{"reserve A's seats in a cart", b.cart(ctx, event, harness.CartReserve, asB,
			harness.CartRequest{UUID: userB, IDs: []string{seat(2)}}), http.StatusForbidden, "NO_LIVE_HOLD"},
		{"release A's seats", b.cart(ctx, event, harness.CartRelease, asB,
			harness.CartRequest{UUID: userB, IDs: []string{seat(2), seat(3)}}), http.StatusOK, ""},
		{"hold the best available", b.cart(ctx, event, harness.CartHold, asB,
			harness.CartRequest{UUID: userB, BestAvailable: &harness.BestAvailable{Count: 2}}), http.StatusOK, ""},
		{"refresh its cart", b.cart(ctx, event, harness.CartRefresh, asB, harness.CartRequest{UUID: userB}), http.StatusOK, ""},
	} {
		unseen("B's "+tt.name, tt.give)
		if tt.give.Status != tt.want || tt.give.Code != tt.code {
			t.Errorf("B's %s: %v, want %d %s", tt.name, tt.give, tt.want, tt.code)
		}
	}

	// B sends A's UUID, as it would had it learnt it: with its own token,
	// with none and with a token it forged for A. Each is refused before the
	// store, rounds times, more than A's buyer burst: had they counted
	// against A's limit, A's own changes below would be RATE_LIMITED (unless
	// this took seconds).
	forged := identitytest.Mint(t, identitytest.NewSecret(t), userA, time.Now().Add(time.Hour), "")
	const rounds = 4
	refused := map[string]int{}
	for _, as := range []struct {
		name string
		cred cred
		want int
		code string
	}{
		{"its own token", asB, http.StatusForbidden, "UUID_MISMATCH"},
		{"no token", cred{}, http.StatusUnauthorized, "UNAUTHENTICATED"},
		{"a token forged for A", cred{token: forged}, http.StatusUnauthorized, "INVALID_BUYER_TOKEN"},
	} {
		for range rounds {
			for _, tt := range []struct {
				name string
				give reply
			}{
				{"hold", b.seat(ctx, harness.HoldPath, as.cred, seat(5), userA)},
				{"refresh", b.seat(ctx, harness.RefreshPath, as.cred, seat(1), userA)},
				{"reserve", b.seat(ctx, harness.ReservePath, as.cred, seat(1), userA)},
				{"cart hold", b.cart(ctx, event, harness.CartHold, as.cred, harness.CartRequest{UUID: userA, IDs: []string{seat(5)}})},
				{"cart hold of the best", b.cart(ctx, event, harness.CartHold, as.cred,
					harness.CartRequest{UUID: userA, BestAvailable: &harness.BestAvailable{Count: maxSeats}})},
				{"cart refresh", b.cart(ctx, event, harness.CartRefresh, as.cred, harness.CartRequest{UUID: userA})},
				{"cart reserve", b.cart(ctx, event, harness.CartReserve, as.cred, harness.CartRequest{UUID: userA, IDs: []string{seat(2)}})},
				{"cart release", b.cart(ctx, event, harness.CartRelease, as.cred, harness.CartRequest{UUID: userA, IDs: []string{seat(2)}})},
				{"cart release of all", b.cart(ctx, event, harness.CartRelease, as.cred, harness.CartRequest{UUID: userA})},
			} {
				unseen("B's "+tt.name+" as A with "+as.name, tt.give)
				if tt.give.Status != as.want || tt.give.Code != as.code {
					t.Errorf("B's %s as A with %s: %v, want %d %s", tt.name, as.name, tt.give, as.want, as.code)
				}
				refused[tt.give.outcome()]++
			}
		}
	}

	// A's seats are A's still, as the key that may see holders shows, and
	// as A's own token shows.
	for _, as := range []cred{{key: office}, asA} {
		for _, n := range []int{1, 2, 3} {
			r := b.get(ctx, "/seats/get/"+seat(n), as)
			var s harness.Seat
			if !r.OK() || json.Unmarshal(r.Body, &s) != nil || s.UUID != userA || s.Status != "On hold" {
				t.Errorf("seat %d after B's tries: %v, want on hold for A", n, r)
			}
		}
	}
	// A's limits are whole: it holds up to its hold limit, is refused one
	// more for its own limit only, and refreshes, reserves and releases.
	want(t, a.cart(ctx, event, harness.CartHold, asA,
		harness.CartRequest{UUID: userA, BestAvailable: &harness.BestAvailable{Count: maxSeats - 3}}), http.StatusOK, "", userA)
	want(t, a.seat(ctx, harness.HoldPath, asA, seat(99), userA), http.StatusTooManyRequests, "HOLD_LIMIT_REACHED", userA)
	want(t, a.cart(ctx, event, harness.CartRefresh, asA, harness.CartRequest{UUID: userA}), http.StatusOK, "", userA)
	want(t, a.seat(ctx, harness.ReservePath, asA, seat(1), userA), http.StatusOK, "", userA)
	want(t, a.cart(ctx, event, harness.CartReserve, asA, harness.CartRequest{UUID: userA, IDs: []string{seat(2), seat(3)}}),
		http.StatusOK, "", userA)
	want(t, a.cart(ctx, event, harness.CartRelease, asA, harness.CartRequest{UUID: userA}), http.StatusOK, "", userA)
	r := b.get(ctx, "/seats/get/"+seat(1), asB)
	unseen("B GET a seat A reserved", r)
	t.Logf("B's impersonations of A refused: %v; A's UUID shown to others %d times", refused, leaks)
}

// want checks a reply to buyer user: its status and code and, for a seat
// change that succeeded, that every seat it gives is the buyer's own.
func want(t *testing.T, r reply, status int, code, user string) {
	t.Helper()
	if r.Status != status || r.Code != code {
		t.Errorf("%v, want %d %s", r, status, code)
		return
	}
	if !r.OK() {
		return
	}
	seats, err := r.seats()
	if err != nil {
		t.Error(err)
	}
	for _, s := range seats {
		if s.UUID != user && s.Status != "Available" {
			t.Errorf("%+v answered to %q", s, user)
		}
	}
}
