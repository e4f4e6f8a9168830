package httpapi

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/seatres/reservation/domain"
)

// Paths of the seat changes; refresh has two.
const (
	holdPath     = "/seats/hold"
	refreshPath  = "/seats/refresh"
	reservePath  = "/seats/reserve"
	originalPath = "/seats/hold/refresh"
)

var refreshPaths = []string{refreshPath, originalPath}

// newAPI's clock starts at 18:00:00.123456789 UTC, the default hold lasts
// a minute, and holdExpiresAt is truncated to milliseconds.
const (
	startExpiry  = "2026-03-01T18:01:00.123Z"
	expiryAfter1 = "2026-03-01T18:01:30.123Z" // for a hold taken 30 s later
)

func TestGetSeat(t *testing.T) {
	t.Parallel()
	a := newAPI(t, defaultPolicy)
	e := a.createEvent(10)
	id := seatOf(e, 7)
	get := func() seatJSON { return decode[seatJSON](t, a.get("/seats/get/"+id), http.StatusOK) }

	available := seatJSON{ID: id, EventID: e.ID, Status: "Available"}
	if got := get(); got != available {
		t.Errorf("fresh seat = %+v, want %+v", got, available)
	}
	a.change(holdPath, id, "alice")
	onHold := seatJSON{ID: id, EventID: e.ID, UUID: "alice", Status: "On hold", HoldExpiresAt: startExpiry}
	if got := get(); got != onHold {
		t.Errorf("held seat = %+v, want %+v", got, onHold)
	}
	a.clock.Advance(defaultPolicy.TTL - time.Nanosecond)
	if got := get(); got != onHold {
		t.Errorf("1ns before expiry = %+v, want %+v", got, onHold)
	}
	a.clock.Advance(time.Nanosecond)
	if got := get(); got != available {
		t.Errorf("at expiry = %+v, want %+v", got, available)
	}
	a.change(holdPath, id, "bob")
	a.change(reservePath, id, "bob")
	reserved := seatJSON{ID: id, EventID: e.ID, UUID: "bob", Status: "Reserved"}
	if got := get(); got != reserved {
		t.Errorf("reserved seat = %+v, want %+v", got, reserved)
	}
}

// unknownSeats are ids of no seat of e, including ones that look like
// Redis patterns, hash tags or key separators.
func unknownSeats(e eventJSON) []string {
	return []string{
		seatOf(e, 0),
		seatOf(e, 11),
		e.ID + ".01",
		e.ID + ".+1",
		e.ID + ".-1",
		e.ID + ".1.1",
		e.ID + ".",
		e.ID,
		"0b6c3c1e-8a52-4c5e-9a57-0f6a3d2b9e10.1", // unknown event
		strings.ToUpper(e.ID) + ".1",
		"{" + e.ID + "}.1",
		e.ID + ".*",
		"*",
		e.ID + ":1",
		seatOf(e, 1) + "\n",
		"x",
		" ",
		strings.Repeat("9", 5000),
	}
}

func TestGetSeatNotFound(t *testing.T) {
	t.Parallel()
	a := newAPI(t, defaultPolicy)
	e := a.createEvent(10)
	for _, id := range unknownSeats(e) {
		wantError(t, a.get("/seats/get/"+pathEscape(id)), http.StatusNotFound, "SEAT_NOT_FOUND")
	}
}

// pathEscape percent-encodes what a request line cannot carry as is.
func pathEscape(s string) string {
	return strings.NewReplacer("\n", "%0A", " ", "%20", "{", "%7B", "}", "%7D").Replace(s)
}

func TestListSeats(t *testing.T) {
	t.Parallel()
	a := newAPI(t, defaultPolicy)
	e := a.createEvent(10)
	other := a.createEvent(10)
	a.change(holdPath, seatOf(e, 2), "alice")
	a.clock.Advance(30 * time.Second)
	a.change(holdPath, seatOf(e, 3), "bob")
	a.change(reservePath, seatOf(e, 3), "bob")
	a.change(holdPath, seatOf(other, 1), "alice")

	listed := func() []int {
		t.Helper()
		list := decode[listJSON](t, a.get("/seats/list/"+e.ID), http.StatusOK)
		if list.Event != e || list.Total != len(list.Seats) {
			t.Errorf("event %+v, total %d of %d seats", list.Event, list.Total, len(list.Seats))
		}
		var numbers []int
		for _, s := range list.Seats {
			n, _ := strconv.Atoi(strings.TrimPrefix(s.ID, e.ID+"."))
			if s != (seatJSON{ID: seatOf(e, n), EventID: e.ID, Status: "Available"}) {
				t.Errorf("listed %+v", s)
			}
			numbers = append(numbers, n)
		}
		return numbers
	}
	if got, want := listed(), []int{1, 4, 5, 6, 7, 8, 9, 10}; !slices.Equal(got, want) {
		t.Errorf("available %v, want %v", got, want)
	}
	a.clock.Advance(30 * time.Second) // alice's hold expires, in its place
	if got, want := listed(), []int{1, 2, 4, 5, 6, 7, 8, 9, 10}; !slices.Equal(got, want) {
		t.Errorf("after expiry: available %v, want %v", got, want)
	}

	for _, id := range []string{"0b6c3c1e-8a52-4c5e-9a57-0f6a3d2b9e10", seatOf(e, 1), "%7B" + e.ID + "%7D", "*", e.ID + "%0A"} {
		wantError(t, a.get("/seats/list/"+id), http.StatusNotFound, "EVENT_NOT_FOUND")
	}
}

func TestHold(t *testing.T) {
	t.Parallel()
	a := newAPI(t, defaultPolicy)
	e := a.createEvent(10)
	id := seatOf(e, 1)

	got := a.change(holdPath, id, "alice")
	want := changeJSON{"Seat held", seatJSON{ID: id, EventID: e.ID, UUID: "alice", Status: "On hold", HoldExpiresAt: startExpiry}}
	if got != want {
		t.Errorf("hold = %+v, want %+v", got, want)
	}
	a.clock.Advance(30 * time.Second)
	want.Seat.HoldExpiresAt = expiryAfter1
	if got := a.change(holdPath, id, "alice"); got != want {
		t.Errorf("repeated hold = %+v, want %+v (extended)", got, want)
	}
	wantError(t, a.post(holdPath, seatRequest(id, "bob")), http.StatusConflict, "SEAT_HELD")
	wantError(t, a.post(holdPath, seatRequest(id, "Alice")), http.StatusConflict, "SEAT_HELD")

	a.clock.Advance(defaultPolicy.TTL)
	if got := a.change(holdPath, id, "bob"); got.Seat.UUID != "bob" {
		t.Errorf("hold after expiry = %+v", got)
	}
	a.change(reservePath, id, "bob")
	wantError(t, a.post(holdPath, seatRequest(id, "bob")), http.StatusConflict, "SEAT_RESERVED")
	wantError(t, a.post(holdPath, seatRequest(id, "alice")), http.StatusConflict, "SEAT_RESERVED")

	user := strings.Repeat("é", domain.MaxUserLength) // the longest UUID
	if got := a.change(holdPath, seatOf(e, 2), user); got.Seat.UUID != user {
		t.Errorf("hold by the longest UUID = %+v", got)
	}
	wantError(t, a.post(holdPath, seatRequest(seatOf(e, 11), "alice")), http.StatusNotFound, "SEAT_NOT_FOUND")
}

func TestHoldLimit(t *testing.T) {
	t.Parallel()
	policy := domain.HoldPolicy{TTL: time.Minute, MaxSeats: 2}
	a := newAPI(t, policy)
	e, other := a.createEvent(10), a.createEvent(10)

	a.change(holdPath, seatOf(e, 1), "alice")
	a.change(holdPath, seatOf(e, 2), "alice")
	wantError(t, a.post(holdPath, seatRequest(seatOf(e, 3), "alice")), http.StatusTooManyRequests, "HOLD_LIMIT_REACHED")
	a.change(holdPath, seatOf(e, 1), "alice")     // a retry counts once
	a.change(holdPath, seatOf(other, 1), "alice") // the limit is per event
	a.change(holdPath, seatOf(e, 3), "bob")       // and per UUID

	a.change(holdPath, seatOf(e, 2), "alice")
	a.change(reservePath, seatOf(e, 2), "alice") // a reservation frees a place
	a.change(holdPath, seatOf(e, 4), "alice")
	wantError(t, a.post(holdPath, seatRequest(seatOf(e, 5), "alice")), http.StatusTooManyRequests, "HOLD_LIMIT_REACHED")

	a.clock.Advance(policy.TTL) // so does expiry
	a.change(holdPath, seatOf(e, 5), "alice")
	a.change(holdPath, seatOf(e, 6), "alice")
	wantError(t, a.post(holdPath, seatRequest(seatOf(e, 7), "alice")), http.StatusTooManyRequests, "HOLD_LIMIT_REACHED")
}

func TestRefresh(t *testing.T) {
	t.Parallel()
	for _, path := range refreshPaths {
		t.Run(strings.ReplaceAll(path, "/", "_"), func(t *testing.T) {
			t.Parallel()
			a := newAPI(t, defaultPolicy)
			e := a.createEvent(10)
			id := seatOf(e, 1)
			a.change(holdPath, id, "alice")
			a.clock.Advance(30 * time.Second)

			want := changeJSON{"Seat hold refreshed", seatJSON{ID: id, EventID: e.ID, UUID: "alice", Status: "On hold", HoldExpiresAt: expiryAfter1}}
			if got := a.change(path, id, "alice"); got != want {
				t.Errorf("refresh = %+v, want %+v", got, want)
			}
			wantError(t, a.post(path, seatRequest(id, "bob")), http.StatusForbidden, "NOT_HOLDER")
			wantError(t, a.post(path, seatRequest(seatOf(e, 2), "alice")), http.StatusConflict, "NOT_ON_HOLD")

			a.clock.Advance(defaultPolicy.TTL) // the refreshed hold expires
			wantError(t, a.post(path, seatRequest(id, "alice")), http.StatusConflict, "NOT_ON_HOLD")

			a.change(holdPath, id, "bob")
			a.change(reservePath, id, "bob")
			wantError(t, a.post(path, seatRequest(id, "bob")), http.StatusConflict, "NOT_ON_HOLD")
			wantError(t, a.post(path, seatRequest(seatOf(e, 11), "bob")), http.StatusNotFound, "SEAT_NOT_FOUND")
		})
	}
}

func TestReserve(t *testing.T) {
	t.Parallel()
	a := newAPI(t, defaultPolicy)
	e := a.createEvent(10)
	id := seatOf(e, 1)

	wantError(t, a.post(reservePath, seatRequest(id, "alice")), http.StatusForbidden, "NO_LIVE_HOLD") // available
	a.change(holdPath, id, "alice")
	wantError(t, a.post(reservePath, seatRequest(id, "bob")), http.StatusForbidden, "NO_LIVE_HOLD") // held by another

	want := changeJSON{"Seat reserved", seatJSON{ID: id, EventID: e.ID, UUID: "alice", Status: "Reserved"}}
	if got := a.change(reservePath, id, "alice"); got != want {
		t.Errorf("reserve = %+v, want %+v", got, want)
	}
	a.clock.Advance(10 * defaultPolicy.TTL) // a reservation is for good
	if got := a.change(reservePath, id, "alice"); got != want {
		t.Errorf("repeated reserve = %+v, want %+v", got, want)
	}
	wantError(t, a.post(reservePath, seatRequest(id, "bob")), http.StatusForbidden, "NO_LIVE_HOLD") // reserved by another

	a.change(holdPath, seatOf(e, 2), "alice")
	a.clock.Advance(defaultPolicy.TTL)
	wantError(t, a.post(reservePath, seatRequest(seatOf(e, 2), "alice")), http.StatusForbidden, "NO_LIVE_HOLD") // expired
	wantError(t, a.post(reservePath, seatRequest(seatOf(e, 11), "alice")), http.StatusNotFound, "SEAT_NOT_FOUND")
}

// TestSeatChangeRefusals: the requests that hold, both refreshes and
// reserve refuse alike, whatever the seat's state.
func TestSeatChangeRefusals(t *testing.T) {
	t.Parallel()
	a := newAPI(t, defaultPolicy)
	e := a.createEvent(10)
	id := seatOf(e, 1)
	a.change(holdPath, id, "alice")

	type refusal struct {
		name        string
		contentType string
		body        string
		status      int
		code        string
	}
	tests := []refusal{
		{"empty UUID", "application/json", seatRequest(id, ""), 400, "INVALID_UUID"},
		{"blank UUID", "application/json", seatRequest(id, "  "), 400, "INVALID_UUID"},
		{"UUID too long", "application/json", seatRequest(id, strings.Repeat("u", 129)), 400, "INVALID_UUID"},
		{"UUID with newline", "application/json", seatRequest(id, "alice\n"), 400, "INVALID_UUID"},
		{"UUID with DEL", "application/json", seatRequest(id, "alice\x7f"), 400, "INVALID_UUID"},
		{"empty id", "application/json", seatRequest("", "alice"), 400, "INVALID_SEAT_ID"},
		{"missing UUID", "application/json", `{"id":"` + id + `"}`, 400, "INVALID_JSON"},
		{"missing id", "application/json", `{"UUID":"alice"}`, 400, "INVALID_JSON"},
		{"lower-case uuid", "application/json", `{"id":"` + id + `","uuid":"alice"}`, 400, "INVALID_JSON"},
		{"unknown field", "application/json", `{"id":"` + id + `","UUID":"alice","ttl":600}`, 400, "INVALID_JSON"},
		{"duplicate UUID", "application/json", `{"id":"` + id + `","UUID":"bob","UUID":"alice"}`, 400, "INVALID_JSON"},
		{"numeric id", "application/json", `{"id":1,"UUID":"alice"}`, 400, "INVALID_JSON"},
		{"null UUID", "application/json", `{"id":"` + id + `","UUID":null}`, 400, "INVALID_JSON"},
		{"array UUID", "application/json", `{"id":"` + id + `","UUID":["alice"]}`, 400, "INVALID_JSON"},
		{"malformed", "application/json", `{"id":"` + id + `","UUID":"alice"`, 400, "INVALID_JSON"},
		{"two objects", "application/json", seatRequest(id, "alice") + seatRequest(id, "bob"), 400, "INVALID_JSON"},
		{"wrong content type", "text/plain", seatRequest(id, "alice"), 415, "UNSUPPORTED_MEDIA_TYPE"},
		{"too large", "application/json", seatRequest(id, strings.Repeat("u", maxBodyBytes)), 413, "BODY_TOO_LARGE"},
	}
	for _, unknown := range unknownSeats(e) {
		tests = append(tests, refusal{"unknown seat " + strconv.Quote(unknown), "application/json", seatRequest(unknown, "alice"), 404, "SEAT_NOT_FOUND"})
	}
	for _, path := range []string{holdPath, refreshPath, originalPath, reservePath} {
		for _, tt := range tests {
			r := a.do(http.MethodPost, path, tt.contentType, tt.body)
			if r.Code != tt.status || errorCode(t, r) != tt.code {
				t.Errorf("%s %s: got %d %s, want %d %s", path, tt.name, r.Code, r.Body, tt.status, tt.code)
			}
		}
	}
	// None of it changed the seat.
	want := seatJSON{ID: id, EventID: e.ID, UUID: "alice", Status: "On hold", HoldExpiresAt: startExpiry}
	if got := decode[seatJSON](t, a.get("/seats/get/"+id), http.StatusOK); got != want {
		t.Errorf("seat after refusals = %+v, want %+v", got, want)
	}
}
