package httpapi

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/seatres/reservation/domain"
)

// onHold is seat n of e on hold for user until expiry.
func onHold(e eventJSON, n int, user, expiry string) seatJSON {
	return seatJSON{ID: seatOf(e, n), EventID: e.ID, UUID: user, Status: "On hold", HoldExpiresAt: expiry}
}

func availableSeat(e eventJSON, n int) seatJSON {
	return seatJSON{ID: seatOf(e, n), EventID: e.ID, Status: "Available"}
}

func reservedSeat(e eventJSON, n int, user string) seatJSON {
	return seatJSON{ID: seatOf(e, n), EventID: e.ID, UUID: user, Status: "Reserved"}
}

// seatsOf is the ids of the seats numbers of e.
func seatsOf(e eventJSON, numbers ...int) []string {
	ids := make([]string, len(numbers))
	for i, n := range numbers {
		ids[i] = seatOf(e, n)
	}
	return ids
}

// wantSeats checks a cart change's answer.
func wantSeats(t *testing.T, got seatsJSON, message string, want ...seatJSON) {
	t.Helper()
	if got.Message != message || !slices.Equal(got.Seats, want) || got.Seats == nil {
		t.Errorf("answered %+v, want %q with %+v", got, message, want)
	}
}

// wantUnchanged checks that e's seats are still before.
func (a *testAPI) wantUnchanged(e eventJSON, before []seatJSON) {
	a.t.Helper()
	if after := a.state(e); !slices.Equal(after, before) {
		a.t.Errorf("seats changed\nbefore %+v\nafter  %+v", before, after)
	}
}

func TestHoldSeats(t *testing.T) {
	t.Parallel()
	a := newAPI(t, defaultPolicy)
	e := a.createEvent(10)

	got := a.cart(e, opHold, idsBody("alice", seatsOf(e, 5, 2, 9)...))
	wantSeats(t, got, "Seats held", onHold(e, 5, "alice", startExpiry), onHold(e, 2, "alice", startExpiry), onHold(e, 9, "alice", startExpiry))
	if s := decode[seatJSON](t, a.get("/seats/get/"+seatOf(e, 2)), http.StatusOK); s != onHold(e, 2, "alice", startExpiry) {
		t.Errorf("seat 2 reads %+v", s)
	}

	// A retry extends the holds and counts them once.
	a.clock.Advance(30 * time.Second)
	got = a.cart(e, opHold, idsBody("alice", seatsOf(e, 2, 5, 9, 1, 3, 4)...))
	want := make([]seatJSON, 0, 6)
	for _, n := range []int{2, 5, 9, 1, 3, 4} {
		want = append(want, onHold(e, n, "alice", expiryAfter1))
	}
	wantSeats(t, got, "Seats held", want...)
	wantSeatsError(t, a.post(cartPath(e.ID, opHold), idsBody("alice", seatOf(e, 6))), http.StatusTooManyRequests, "HOLD_LIMIT_REACHED")

	// All or nothing, naming the seats that refuse.
	a.cart(e, opReserve, idsBody("alice", seatOf(e, 9)))
	before := a.state(e)
	wantSeatsError(t, a.post(cartPath(e.ID, opHold), idsBody("bob", seatsOf(e, 6, 2, 7, 5)...)),
		http.StatusConflict, "SEAT_HELD", seatsOf(e, 2, 5)...)
	wantSeatsError(t, a.post(cartPath(e.ID, opHold), idsBody("bob", seatsOf(e, 6, 2, 9)...)),
		http.StatusConflict, "SEAT_RESERVED", seatOf(e, 9))
	wantSeatsError(t, a.post(cartPath(e.ID, opHold), idsBody("alice", seatsOf(e, 9, 1)...)),
		http.StatusConflict, "SEAT_RESERVED", seatOf(e, 9))
	a.wantUnchanged(e, before)

	// Holds of a cart and of one seat are the same holds.
	a.change(holdPath, seatOf(e, 6), "alice")
	wantError(t, a.post(holdPath, seatRequest(seatOf(e, 7), "alice")), http.StatusTooManyRequests, "HOLD_LIMIT_REACHED")
	wantSeatsError(t, a.post(cartPath(e.ID, opHold), idsBody("carol", seatsOf(e, 7, 6)...)), http.StatusConflict, "SEAT_HELD", seatOf(e, 6))
}

// TestLargestCart: the largest cart a policy may allow, of the longest
// seat ids and UUID, indented as a person would write it, fits a body and
// is held; the body cap refuses only what no client of the API sends.
func TestLargestCart(t *testing.T) {
	t.Parallel()
	a := newAPI(t, domain.HoldPolicy{TTL: time.Minute, MaxSeats: domain.MaxHoldSeats})
	e := a.createEvent(domain.MaxTotalSeats)
	ids := make([]string, domain.MaxHoldSeats)
	for i := range ids {
		ids[i] = seatOf(e, domain.MaxTotalSeats-i)
	}
	user := strings.Repeat("u", domain.MaxUserLength)
	b, err := json.MarshalIndent(map[string]any{"UUID": user, "ids": ids}, "", "    ")
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > maxBodyBytes {
		t.Fatalf("a cart of %d seats is %d bytes, over the body cap of %d", len(ids), len(b), maxBodyBytes)
	}
	if got := a.cart(e, opHold, string(b)); len(got.Seats) != len(ids) {
		t.Errorf("the largest cart held %d seats, want %d", len(got.Seats), len(ids))
	}
}

// TestHoldBestAvailable: the server picks the lowest run of seats within a
// row, or with adjacent false the lowest seats when no row has a run.
func TestHoldBestAvailable(t *testing.T) {
	t.Parallel()
	a := newAPI(t, defaultPolicy)
	e := a.createRows(10, 4) // rows 1-4, 5-8, 9-10
	a.cart(e, opHold, idsBody("bob", seatOf(e, 2)))

	steps := []struct {
		user     string
		count    int
		adjacent bool
		want     []int
	}{
		{"carol", 3, true, []int{5, 6, 7}}, // row 1 has 1 and 3-4 only
		{"dave", 2, true, []int{3, 4}},
		{"erin", 2, false, []int{9, 10}}, // a run is still preferred
		{"frank", 2, false, []int{1, 8}}, // no run left: the lowest seats
	}
	for _, s := range steps {
		got := a.cart(e, opHold, bestRequest(s.user, s.count, s.adjacent))
		want := make([]seatJSON, len(s.want))
		for i, n := range s.want {
			want[i] = onHold(e, n, s.user, startExpiry)
		}
		wantSeats(t, got, "Seats held", want...)
	}
	wantSeatsError(t, a.post(cartPath(e.ID, opHold), bestRequest("gina", 1, false)), http.StatusConflict, "NOT_ENOUGH_SEATS")

	a.cart(e, opRelease, idsBody("frank"))
	before := a.state(e)
	wantSeatsError(t, a.post(cartPath(e.ID, opHold), bestRequest("gina", 2, true)), http.StatusConflict, "NOT_ENOUGH_SEATS")
	wantSeatsError(t, a.post(cartPath(e.ID, opHold), bestRequest("gina", 3, false)), http.StatusConflict, "NOT_ENOUGH_SEATS")
	// The buyer's limit comes before the choice of seats.
	wantSeatsError(t, a.post(cartPath(e.ID, opHold), bestRequest("carol", 4, false)), http.StatusTooManyRequests, "HOLD_LIMIT_REACHED")
	a.wantUnchanged(e, before)
	wantSeats(t, a.cart(e, opHold, `{"bestAvailable":{"count":2},"UUID":"gina"}`), "Seats held", // adjacent is false unless said
		onHold(e, 1, "gina", startExpiry), onHold(e, 8, "gina", startExpiry))
}

func TestReleaseSeats(t *testing.T) {
	t.Parallel()
	a := newAPI(t, defaultPolicy)
	e := a.createEvent(10)
	a.cart(e, opHold, idsBody("alice", seatsOf(e, 3, 1, 2, 6)...))
	a.cart(e, opHold, idsBody("bob", seatOf(e, 4)))

	// Only the seats alice holds, in the order asked.
	wantSeats(t, a.cart(e, opRelease, idsBody("alice", seatsOf(e, 4, 2, 5)...)), "Seats released", availableSeat(e, 2))
	wantSeats(t, a.cart(e, opRelease, idsBody("alice", seatsOf(e, 2)...)), "Seats released") // a retry
	if s := decode[seatJSON](t, a.get("/seats/get/"+seatOf(e, 4)), http.StatusOK); s.UUID != "bob" {
		t.Errorf("bob's seat 4 reads %+v", s)
	}
	// Without ids, every live hold of alice, in seat order.
	a.cart(e, opReserve, idsBody("alice", seatOf(e, 6)))
	wantSeats(t, a.cart(e, opRelease, idsBody("alice")), "Seats released", availableSeat(e, 1), availableSeat(e, 3))
	wantSeats(t, a.cart(e, opRelease, idsBody("alice")), "Seats released")
	if s := decode[seatJSON](t, a.get("/seats/get/"+seatOf(e, 6)), http.StatusOK); s != reservedSeat(e, 6, "alice") {
		t.Errorf("reserved seat 6 reads %+v", s)
	}
	// An expired hold is no hold to release.
	a.clock.Advance(defaultPolicy.TTL)
	wantSeats(t, a.cart(e, opRelease, idsBody("bob", seatOf(e, 4))), "Seats released")
	// A released seat frees a place under the limit.
	a.cart(e, opHold, idsBody("carol", seatsOf(e, 1, 2, 3, 4, 5, 7)...))
	a.cart(e, opRelease, idsBody("carol", seatOf(e, 7)))
	a.cart(e, opHold, idsBody("carol", seatOf(e, 8)))
}

func TestReserveSeats(t *testing.T) {
	t.Parallel()
	a := newAPI(t, defaultPolicy)
	e := a.createEvent(10)
	a.cart(e, opHold, idsBody("alice", seatsOf(e, 1, 2, 5)...))

	before := a.state(e)
	wantSeatsError(t, a.post(cartPath(e.ID, opReserve), idsBody("alice", seatsOf(e, 1, 3, 2, 4)...)),
		http.StatusForbidden, "NO_LIVE_HOLD", seatsOf(e, 3, 4)...)
	wantSeatsError(t, a.post(cartPath(e.ID, opReserve), idsBody("bob", seatOf(e, 1))), http.StatusForbidden, "NO_LIVE_HOLD", seatOf(e, 1))
	a.wantUnchanged(e, before)

	wantSeats(t, a.cart(e, opReserve, idsBody("alice", seatsOf(e, 2, 1)...)), "Seats reserved", reservedSeat(e, 2, "alice"), reservedSeat(e, 1, "alice"))
	a.clock.Advance(10 * defaultPolicy.TTL) // a reservation is for good, and a retry succeeds
	wantSeats(t, a.cart(e, opReserve, idsBody("alice", seatsOf(e, 1, 2)...)), "Seats reserved", reservedSeat(e, 1, "alice"), reservedSeat(e, 2, "alice"))
	// Seat 5's hold expired.
	wantSeatsError(t, a.post(cartPath(e.ID, opReserve), idsBody("alice", seatsOf(e, 1, 5)...)), http.StatusForbidden, "NO_LIVE_HOLD", seatOf(e, 5))
}

func TestRefreshHolds(t *testing.T) {
	t.Parallel()
	a := newAPI(t, defaultPolicy)
	e := a.createEvent(10)
	wantSeatsError(t, a.post(cartPath(e.ID, opRefresh), idsBody("alice")), http.StatusConflict, "NOT_ON_HOLD")

	a.cart(e, opHold, idsBody("alice", seatsOf(e, 4, 2)...))
	a.clock.Advance(30 * time.Second)
	a.cart(e, opHold, idsBody("alice", seatOf(e, 7)))
	a.cart(e, opHold, idsBody("bob", seatOf(e, 1)))
	a.clock.Advance(20 * time.Second)
	const expiry = "2026-03-01T18:01:50.123Z"
	wantSeats(t, a.cart(e, opRefresh, idsBody("alice")), "Seat holds refreshed",
		onHold(e, 2, "alice", expiry), onHold(e, 4, "alice", expiry), onHold(e, 7, "alice", expiry))
	if s := decode[seatJSON](t, a.get("/seats/get/"+seatOf(e, 1)), http.StatusOK); s != onHold(e, 1, "bob", expiryAfter1) {
		t.Errorf("bob's hold reads %+v", s)
	}
	a.clock.Advance(defaultPolicy.TTL)
	wantSeatsError(t, a.post(cartPath(e.ID, opRefresh), idsBody("alice")), http.StatusConflict, "NOT_ON_HOLD")
}

// TestHoldLifetime: no hold outlasts its cart's cap; a refresh that can
// extend nothing is refused, and so is, for a TTL, any hold of a buyer
// whose holds lasted until the cap, with the seconds to wait.
func TestHoldLifetime(t *testing.T) {
	t.Parallel()
	policy := domain.HoldPolicy{TTL: time.Minute, MaxSeats: 6, MaxLifetime: 2 * time.Minute}
	a := newAPI(t, policy)
	e := a.createEvent(10)
	const capped = "2026-03-01T18:02:00.123Z" // the clock's start plus the cap

	a.cart(e, opHold, idsBody("alice", seatOf(e, 1)))
	a.clock.Advance(50 * time.Second)
	wantSeats(t, a.cart(e, opRefresh, idsBody("alice")), "Seat holds refreshed", onHold(e, 1, "alice", "2026-03-01T18:01:50.123Z"))
	a.clock.Advance(40 * time.Second)
	wantSeats(t, a.cart(e, opRefresh, idsBody("alice")), "Seat holds refreshed", onHold(e, 1, "alice", capped))
	wantSeats(t, a.cart(e, opHold, idsBody("alice", seatOf(e, 2))), "Seats held", onHold(e, 2, "alice", capped))
	before := a.state(e)
	wantSeatsError(t, a.post(cartPath(e.ID, opRefresh), idsBody("alice")), http.StatusConflict, "HOLD_LIFETIME_REACHED")
	wantError(t, a.post(refreshPath, seatRequest(seatOf(e, 1), "alice")), http.StatusConflict, "HOLD_LIFETIME_REACHED")
	a.wantUnchanged(e, before)

	// The holds end at the cap; for a TTL after, alice may hold nothing.
	a.clock.Advance(30*time.Second + 300*time.Millisecond)
	for _, r := range []struct{ path, body string }{
		{cartPath(e.ID, opHold), idsBody("alice", seatOf(e, 3))},
		{cartPath(e.ID, opHold), bestRequest("alice", 1, false)},
		{holdPath, seatRequest(seatOf(e, 1), "alice")},
	} {
		resp := a.post(r.path, r.body)
		wantError(t, resp, http.StatusTooManyRequests, "HOLD_LIFETIME_REACHED")
		if got := resp.Header().Get("Retry-After"); got != "60" { // 59.7 s, rounded up
			t.Errorf("POST %s: Retry-After %q, want 60", r.path, got)
		}
	}
	a.cart(e, opHold, idsBody("bob", seatOf(e, 1))) // others get the seats
	a.clock.Advance(59 * time.Second)
	if got := a.post(cartPath(e.ID, opHold), idsBody("alice", seatOf(e, 3))).Header().Get("Retry-After"); got != "1" {
		t.Errorf("0.7 s before the end of the cool-down: Retry-After %q, want 1", got)
	}
	a.clock.Advance(700 * time.Millisecond)
	a.cart(e, opHold, idsBody("alice", seatOf(e, 3)))
}

func TestSummary(t *testing.T) {
	t.Parallel()
	a := newAPI(t, defaultPolicy)
	e := a.createEvent(10)
	summary := func() summaryJSON {
		t.Helper()
		s := decode[summaryJSON](t, a.get("/events/"+e.ID+"/summary"), http.StatusOK)
		if s.Available+s.OnHold+s.Reserved != s.Total || s.Total != e.TotalSeats {
			t.Errorf("summary %+v does not add up to %d seats", s, e.TotalSeats)
		}
		return s
	}
	if got, want := summary(), (summaryJSON{Total: 10, Available: 10}); got != want {
		t.Errorf("fresh event: %+v, want %+v", got, want)
	}
	a.cart(e, opHold, idsBody("alice", seatsOf(e, 1, 2, 3)...))
	a.cart(e, opReserve, idsBody("alice", seatOf(e, 1)))
	a.change(holdPath, seatOf(e, 10), "bob")
	if got, want := summary(), (summaryJSON{Total: 10, Available: 6, OnHold: 3, Reserved: 1}); got != want {
		t.Errorf("after holds: %+v, want %+v", got, want)
	}
	a.clock.Advance(defaultPolicy.TTL)
	if got, want := summary(), (summaryJSON{Total: 10, Available: 9, Reserved: 1}); got != want {
		t.Errorf("after expiry: %+v, want %+v", got, want)
	}
	for _, id := range []string{"0b6c3c1e-8a52-4c5e-9a57-0f6a3d2b9e10", seatOf(e, 1), "%7B" + e.ID + "%7D", "*", "create"} {
		wantError(t, a.get("/events/"+id+"/summary"), http.StatusNotFound, "EVENT_NOT_FOUND")
	}
}

// cartRefusal is a request that a cart change refuses.
type cartRefusal struct {
	name, contentType, body string
	status                  int
	code                    string
	seats                   []string
}

// TestCartRefusals: what each cart change refuses, whatever the seats'
// state, and that no refusal changes anything.
func TestCartRefusals(t *testing.T) {
	t.Parallel()
	a := newAPI(t, defaultPolicy)
	e, other := a.createEvent(10), a.createEvent(10)
	a.cart(e, opHold, idsBody("alice", seatsOf(e, 1, 2)...))
	a.cart(e, opReserve, idsBody("alice", seatOf(e, 2)))
	a.cart(e, opHold, idsBody("bob", seatOf(e, 3)))
	before := a.state(e)

	const json = "application/json"
	bad := func(name, body string) cartRefusal { return cartRefusal{name, json, body, 400, "INVALID_JSON", nil} }
	// Refusals of every change, given its valid body.
	common := func(valid string) []cartRefusal {
		return []cartRefusal{
			bad("empty body", ""),
			bad("null body", "null"),
			bad("array body", "["+valid+"]"),
			bad("two objects", valid+valid),
			bad("malformed", strings.TrimSuffix(valid, "}")),
			bad("byte order mark", "\ufeff"+valid),
			bad("unknown member", strings.Replace(valid, "{", `{"ttl":600,`, 1)),
			bad("member in other case", strings.Replace(valid, `"UUID"`, `"uuid"`, 1)),
			bad("duplicate UUID", strings.Replace(valid, "{", `{"UUID":"bob",`, 1)),
			bad("missing UUID", strings.Replace(valid, `"UUID":"alice"`, `"x":1`, 1)),
			bad("null UUID", strings.Replace(valid, `"alice"`, "null", 1)),
			bad("numeric UUID", strings.Replace(valid, `"alice"`, "7", 1)),
			bad("not UTF-8", strings.Replace(valid, `"alice"`, "\"al\xffice\"", 1)),
			bad("deep nesting", strings.Replace(valid, `"alice"`, strings.Repeat("[", 5000)+strings.Repeat("]", 5000), 1)),
			{"empty UUID", json, strings.Replace(valid, `"alice"`, `""`, 1), 400, "INVALID_UUID", nil},
			{"UUID too long", json, strings.Replace(valid, `"alice"`, `"`+strings.Repeat("u", 129)+`"`, 1), 400, "INVALID_UUID", nil},
			{"wrong content type", "text/plain", valid, 415, "UNSUPPORTED_MEDIA_TYPE", nil},
			{"too large", json, padTo(valid, maxBodyBytes+1), 413, "BODY_TOO_LARGE", nil},
			{"10,000 ids", json, idsBody("alice", slices.Repeat([]string{seatOf(e, 1)}, 10000)...), 413, "BODY_TOO_LARGE", nil},
		}
	}
	// Refusals of the changes that take ids.
	withIDs := []cartRefusal{
		{"no ids", json, idsBody("alice", []string{}...), 400, "INVALID_SEAT_IDS", nil},
		{"empty id", json, idsBody("alice", ""), 400, "INVALID_SEAT_IDS", nil},
		{"repeated id", json, idsBody("alice", seatsOf(e, 4, 5, 4)...), 400, "INVALID_SEAT_IDS", nil},
		{"more ids than the limit", json, idsBody("alice", seatsOf(e, 4, 5, 6, 7, 8, 9, 10)...), 400, "INVALID_SEAT_IDS", nil},
		{"ids at the cap", json, padTo(idsBody("alice", seatsOf(e, 4, 5, 6, 7, 8, 9, 10)...), maxBodyBytes), 400, "INVALID_SEAT_IDS", nil},
		bad("null ids", `{"UUID":"alice","ids":null}`),
		bad("ids not an array", `{"UUID":"alice","ids":"`+seatOf(e, 4)+`"}`),
		bad("numeric id", `{"UUID":"alice","ids":[4]}`),
		bad("null id", `{"UUID":"alice","ids":[null]}`),
		bad("nested ids", `{"UUID":"alice","ids":[["`+seatOf(e, 4)+`"]]}`),
		bad("ids object", `{"UUID":"alice","ids":{"0":"`+seatOf(e, 4)+`"}}`),
		{"seat of another event", json, idsBody("alice", seatOf(e, 4), seatOf(other, 4), seatOf(other, 5)), 404, "SEAT_NOT_FOUND", seatsOf(other, 4, 5)},
		{"seat past the event's", json, idsBody("alice", seatsOf(e, 4, 11)...), 404, "SEAT_NOT_FOUND", []string{seatOf(e, 11)}},
		{"malformed id", json, idsBody("alice", seatOf(e, 4), e.ID+".*"), 404, "SEAT_NOT_FOUND", []string{e.ID + ".*"}},
		{"id of a hash tag", json, idsBody("alice", "{"+e.ID+"}.1"), 404, "SEAT_NOT_FOUND", []string{"{" + e.ID + "}.1"}},
		// Every id of no seat of the event, as sent and in its order,
		// so that a client learns which to mend.
		{"ids of no seat", json, idsBody("alice", seatOf(other, 4), seatOf(e, 4), e.ID+".007", "seat \"5\"\u00e9", seatOf(e, 5)),
			404, "SEAT_NOT_FOUND", []string{seatOf(other, 4), e.ID + ".007", "seat \"5\"é"}},
	}
	hold := append(append(common(idsBody("alice", seatOf(e, 4))), withIDs...),
		bad("ids and bestAvailable", `{"UUID":"alice","ids":["`+seatOf(e, 4)+`"],"bestAvailable":{"count":1}}`),
		bad("neither ids nor bestAvailable", `{"UUID":"alice"}`),
		bad("null bestAvailable", `{"UUID":"alice","bestAvailable":null}`),
		bad("bestAvailable array", `{"UUID":"alice","bestAvailable":[1]}`),
		bad("missing count", `{"UUID":"alice","bestAvailable":{"adjacent":true}}`),
		bad("fractional count", `{"UUID":"alice","bestAvailable":{"count":1.5}}`),
		bad("count as a string", `{"UUID":"alice","bestAvailable":{"count":"1"}}`),
		bad("count beyond float64", `{"UUID":"alice","bestAvailable":{"count":1e400}}`),
		bad("adjacent as a string", `{"UUID":"alice","bestAvailable":{"count":1,"adjacent":"yes"}}`),
		bad("null adjacent", `{"UUID":"alice","bestAvailable":{"count":1,"adjacent":null}}`),
		bad("unknown member of bestAvailable", `{"UUID":"alice","bestAvailable":{"count":1,"rows":2}}`),
		bad("duplicate count", `{"UUID":"alice","bestAvailable":{"count":1,"count":2}}`),
		cartRefusal{"count 0", json, bestRequest("alice", 0, false), 400, "INVALID_SEAT_COUNT", nil},
		cartRefusal{"negative count", json, bestRequest("alice", -1, true), 400, "INVALID_SEAT_COUNT", nil},
		cartRefusal{"count over the limit", json, bestRequest("alice", 7, false), 400, "INVALID_SEAT_COUNT", nil},
		cartRefusal{"count 1e10", json, `{"UUID":"alice","bestAvailable":{"count":1e10}}`, 400, "INVALID_SEAT_COUNT", nil},
		cartRefusal{"held seat", json, idsBody("alice", seatsOf(e, 4, 3)...), 409, "SEAT_HELD", []string{seatOf(e, 3)}},
	)
	reserve := append(append(common(idsBody("alice", seatOf(e, 1))), withIDs...),
		bad("missing ids", `{"UUID":"alice"}`),
		cartRefusal{"seat not held", json, idsBody("alice", seatsOf(e, 1, 3)...), 403, "NO_LIVE_HOLD", []string{seatOf(e, 3)}},
	)
	release := append(common(idsBody("alice", seatOf(e, 1))), withIDs...)
	refresh := append(common(idsBody("alice")),
		bad("ids", idsBody("alice", seatOf(e, 1))),
		cartRefusal{"no live hold", json, idsBody("carol"), 409, "NOT_ON_HOLD", nil},
	)
	for op, tests := range map[string][]cartRefusal{opHold: hold, opReserve: reserve, opRelease: release, opRefresh: refresh} {
		for _, tt := range tests {
			t.Run(op+" "+tt.name, func(t *testing.T) {
				wantSeatsError(t, a.do(http.MethodPost, cartPath(e.ID, op), tt.contentType, tt.body), tt.status, tt.code, tt.seats...)
			})
		}
		// A body valid in any event (ids name seats of the path's event,
		// so that they are not another event's).
		for _, event := range []string{"0b6c3c1e-8a52-4c5e-9a57-0f6a3d2b9e10", strings.ToUpper(e.ID), seatOf(e, 1), "%7B" + e.ID + "%7D", "*", "create"} {
			valid := map[string]string{opHold: bestRequest("alice", 1, false), opRefresh: idsBody("alice"),
				opReserve: idsBody("alice", event+".1"), opRelease: idsBody("alice")}[op]
			wantSeatsError(t, a.post(cartPath(event, op), valid), http.StatusNotFound, "EVENT_NOT_FOUND")
		}
	}
	a.wantUnchanged(e, before)
}

func TestIdempotencyKey(t *testing.T) {
	t.Parallel()
	a := newAPI(t, defaultPolicy)
	e, other := a.createEvent(10), a.createEvent(10)
	path := cartPath(e.ID, opHold)

	first := a.postKey(path, "k1", idsBody("alice", seatsOf(e, 1, 2)...))
	decode[seatsJSON](t, first, http.StatusOK)
	a.cart(e, opRelease, idsBody("alice"))
	before := a.state(e)
	// The same request (however its JSON is written) gets the first
	// answer again, and changes nothing.
	again := a.postKey(path, "k1", "{ \"ids\" : [\""+seatOf(e, 1)+"\",\""+seatOf(e, 2)+"\"], \"UUID\":\"alice\" }")
	if again.Code != first.Code || again.Body.String() != first.Body.String() {
		t.Errorf("replay: %d %s, want %d %s", again.Code, again.Body, first.Code, first.Body)
	}
	a.wantUnchanged(e, before)
	// Another request of the buyer under the key is refused, whatever it
	// is.
	for _, r := range []struct{ op, body string }{
		{opHold, idsBody("alice", seatsOf(e, 2, 1)...)},
		{opHold, bestRequest("alice", 2, false)},
		{opRelease, idsBody("alice", seatsOf(e, 1, 2)...)},
		{opRefresh, idsBody("alice")},
	} {
		wantSeatsError(t, a.postKey(cartPath(e.ID, r.op), "k1", r.body), http.StatusUnprocessableEntity, "IDEMPOTENCY_KEY_REUSED")
	}
	a.wantUnchanged(e, before)
	decode[seatsJSON](t, a.postKey(cartPath(other.ID, opHold), "k1", idsBody("alice", seatOf(other, 1))), http.StatusOK) // keys are per event
	// and per buyer: bob's k1 is his own, and neither answers the other's.
	bobs := decode[seatsJSON](t, a.postKey(path, "k1", idsBody("bob", seatsOf(e, 1, 2)...)), http.StatusOK)
	if bobs.Seats[0].UUID != "bob" || bobs.Seats[1].UUID != "bob" {
		t.Errorf("bob's hold under alice's key: %+v", bobs)
	}
	wantSeatsError(t, a.postKey(path, "k1", idsBody("bob", seatsOf(e, 2, 1)...)), http.StatusUnprocessableEntity, "IDEMPOTENCY_KEY_REUSED")
	a.cart(e, opRelease, idsBody("bob"))
	before = a.state(e)
	if again := a.postKey(path, "k1", idsBody("alice", seatsOf(e, 1, 2)...)); again.Body.String() != first.Body.String() {
		t.Errorf("alice's replay after bob's key: %d %s, want %s", again.Code, again.Body, first.Body)
	}
	a.wantUnchanged(e, before)

	// A refusal is an answer too.
	a.cart(e, opHold, idsBody("alice", seatOf(e, 3)))
	refused := a.postKey(path, "k2", idsBody("bob", seatsOf(e, 4, 3)...))
	wantSeatsError(t, refused, http.StatusConflict, "SEAT_HELD", seatOf(e, 3))
	a.cart(e, opRelease, idsBody("alice"))
	before = a.state(e)
	if again := a.postKey(path, "k2", idsBody("bob", seatsOf(e, 4, 3)...)); again.Body.String() != refused.Body.String() {
		t.Errorf("replay of a refusal: %d %s, want %s", again.Code, again.Body, refused.Body)
	}
	a.wantUnchanged(e, before)

	// Keys are any printable ASCII, taken as sent.
	for i, key := range []string{strings.Repeat("k", 255), `"8e03978e-40d5-43e8-bc93-6894a57f9324"`, "*", "{x}", "rsv:{" + e.ID + "}:seats", " a b ", "k2 "} {
		decode[seatsJSON](t, a.postKey(path, key, idsBody("alice", seatOf(e, 5+i%2))), http.StatusOK)
	}
}

// TestInvalidIdempotencyKey: a key that is empty, repeated or out of its
// limits is refused by every operation that takes one, and changes nothing.
func TestInvalidIdempotencyKey(t *testing.T) {
	t.Parallel()
	a := newAPI(t, defaultPolicy)
	e := a.createEvent(10)
	a.cart(e, opHold, idsBody("alice", seatOf(e, 1)))
	before := a.state(e)
	requests := []struct{ path, body string }{
		{"/events/create", `{"name":"a","totalSeats":10}`},
		{cartPath(e.ID, opHold), idsBody("alice", seatOf(e, 2))},
		{cartPath(e.ID, opRefresh), idsBody("alice")},
		{cartPath(e.ID, opReserve), idsBody("alice", seatOf(e, 1))},
		{cartPath(e.ID, opRelease), idsBody("alice")},
	}
	for _, keys := range [][]string{{""}, {strings.Repeat("k", 256)}, {"a\x00b"}, {"a\nb"}, {"a\tb"}, {"\x7f"}, {"é"}, {"k", "k"}, {"k", ""}} {
		for _, r := range requests {
			req := a.request(http.MethodPost, r.path, "application/json", r.body)
			req.Header[idempotencyKeyHeader] = keys
			wantSeatsError(t, a.serve(req, r.body), http.StatusBadRequest, "INVALID_IDEMPOTENCY_KEY")
		}
	}
	a.wantUnchanged(e, before)
}

func TestCreateEventIdempotencyKey(t *testing.T) {
	t.Parallel()
	a := newAPI(t, defaultPolicy)
	body := `{"name":"Spring concert","totalSeats":10,"seatsPerRow":5}`
	created := decode[eventJSON](t, a.postKey("/events/create", "concert", body), http.StatusCreated)
	again := decode[eventJSON](t, a.postKey("/events/create", "concert", `{"seatsPerRow":5,"totalSeats":10,"name":"Spring concert"}`), http.StatusCreated)
	if again != created {
		t.Errorf("replay created %+v, want %+v", again, created)
	}
	for _, other := range []string{`{"name":"Spring concert","totalSeats":10}`, `{"name":"Autumn concert","totalSeats":10,"seatsPerRow":5}`} {
		wantSeatsError(t, a.postKey("/events/create", "concert", other), http.StatusUnprocessableEntity, "IDEMPOTENCY_KEY_REUSED")
	}
	if fresh := a.createRows(10, 5); fresh.ID == created.ID {
		t.Errorf("an event without a key got the keyed event's id %s", fresh.ID)
	}
	if got := decode[eventJSON](t, a.get("/events/"+created.ID), http.StatusOK); got != created {
		t.Errorf("read back %+v, want %+v", got, created)
	}
}

// TestCartEventScoping: a cart change acts in the event of its path only.
func TestCartEventScoping(t *testing.T) {
	t.Parallel()
	policy := domain.HoldPolicy{TTL: time.Minute, MaxSeats: 2}
	a := newAPI(t, policy)
	e, other := a.createEvent(10), a.createEvent(10)
	a.cart(e, opHold, idsBody("alice", seatsOf(e, 1, 2)...))
	a.cart(other, opHold, idsBody("alice", seatsOf(other, 1, 2)...)) // the limit is per event
	wantSeats(t, a.cart(other, opRelease, idsBody("alice")), "Seats released", availableSeat(other, 1), availableSeat(other, 2))
	wantSeatsError(t, a.post(cartPath(other.ID, opRefresh), idsBody("alice")), http.StatusConflict, "NOT_ON_HOLD")
	if got := a.state(e); got[0] != onHold(e, 1, "alice", startExpiry) || got[1] != onHold(e, 2, "alice", startExpiry) {
		t.Errorf("seats of %s after changes in %s: %+v", e.ID, other.ID, got[:2])
	}
}
