package httpapi

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/seatres/reservation/adapters/identity/identitytest"
	"github.com/seatres/reservation/adapters/memstore"
	"github.com/seatres/reservation/application"
	"github.com/seatres/reservation/application/storetest"
)

type pageJSON struct {
	Changes []changeWire `json:"changes"`
	Next    string       `json:"next"`
}

// newHistoryAPI is the API over a memory store that keeps maxLen records
// of each event.
func newHistoryAPI(t *testing.T, maxLen int) *testAPI {
	c := storetest.NewClock(time.Date(2026, 3, 1, 18, 0, 0, 123456789, time.UTC))
	return newAPIOver(t, application.NewService(memstore.New(c.Now, memstore.WithStreamMaxLen(maxLen)), defaultPolicy), c)
}

func (a *testAPI) page(e eventJSON, query url.Values) pageJSON {
	a.t.Helper()
	return decode[pageJSON](a.t, a.get("/events/"+e.ID+"/changes?"+query.Encode()), http.StatusOK)
}

func opsOf(p pageJSON) []string {
	var out []string
	for _, c := range p.Changes {
		out = append(out, c.Op+" "+strconv.Itoa(c.Seat))
	}
	return out
}

func TestChangesPages(t *testing.T) {
	t.Parallel()
	a := newHistoryAPI(t, 1000)
	e := a.createEvent(10)
	a.cart(e, opHold, idsBody("alice", seatOf(e, 1)))
	a.clock.Advance(time.Second)
	a.cart(e, opHold, idsBody("bob", seatOf(e, 3), seatOf(e, 2)))
	a.cart(e, opRelease, idsBody("alice", seatOf(e, 1)))

	all := a.page(e, nil)
	want := []string{"hold 1", "hold 3", "hold 2", "release 1"}
	if got := opsOf(all); !slices.Equal(got, want) || all.Next != all.Changes[3].Position {
		t.Fatalf("all changes: %q next %s, want %q next the last", got, all.Next, want)
	}
	if c := all.Changes[1]; c.At != "2026-03-01T18:00:01.123Z" || c.UUID != "bob" || c.Status != "On hold" || c.Position != all.Changes[2].Position {
		t.Errorf("the cart's change %+v", c)
	}
	// A page of 2 does not split the cart's record: it ends before it.
	p := a.page(e, url.Values{"limit": {"2"}})
	if got := opsOf(p); !slices.Equal(got, want[:1]) || p.Next != all.Changes[0].Position {
		t.Fatalf("limit 2: %q next %s", got, p.Next)
	}
	// A record larger than the page, first on it, is answered whole.
	p = a.page(e, url.Values{"limit": {"1"}, "after": {p.Next}})
	if got := opsOf(p); !slices.Equal(got, want[1:3]) {
		t.Fatalf("limit 1 after the first: %q", got)
	}
	p = a.page(e, url.Values{"after": {p.Next}})
	if got := opsOf(p); !slices.Equal(got, want[3:]) {
		t.Fatalf("the last page: %q", got)
	}
	// Past the end: empty, next is after.
	p = a.page(e, url.Values{"after": {p.Next}})
	if len(p.Changes) != 0 || p.Next != all.Next {
		t.Fatalf("past the end: %+v", p)
	}
	p = a.page(e, url.Values{"seat": {seatOf(e, 1)}})
	if got := opsOf(p); !slices.Equal(got, []string{want[0], want[3]}) || p.Next != all.Next {
		t.Fatalf("seat 1: %q next %s", got, p.Next)
	}
	p = a.page(e, url.Values{"seat": {seatOf(e, 1)}, "limit": {"1"}})
	if got := opsOf(p); !slices.Equal(got, want[:1]) || p.Next != all.Changes[0].Position {
		t.Fatalf("seat 1, limit 1: %q next %s", got, p.Next)
	}
	if p = a.page(e, url.Values{"seat": {seatOf(e, 10)}}); len(p.Changes) != 0 || p.Next != all.Next {
		t.Fatalf("a seat without changes: %+v", p)
	}
}

func TestChangesTrimmed(t *testing.T) {
	t.Parallel()
	a := newHistoryAPI(t, 2)
	e := a.createEvent(10)
	a.cart(e, opHold, idsBody("alice", seatOf(e, 1)))
	a.cart(e, opHold, idsBody("alice", seatOf(e, 2)))
	before := a.page(e, nil)
	a.cart(e, opHold, idsBody("alice", seatOf(e, 3))) // the first record goes
	wantError(t, a.get("/events/"+e.ID+"/changes?after=0-0"), http.StatusGone, "CHANGES_TRIMMED")
	p := a.page(e, url.Values{"after": {before.Changes[0].Position}})
	if got := opsOf(p); !slices.Equal(got, []string{"hold 2", "hold 3"}) {
		t.Fatalf("after the trimmed record: %q, want the two kept", got)
	}
	// Without after: from the oldest kept.
	if got := opsOf(a.page(e, nil)); !slices.Equal(got, []string{"hold 2", "hold 3"}) {
		t.Fatalf("from the oldest kept: %q, want the two kept", got)
	}
}

func TestChangesRefusals(t *testing.T) {
	t.Parallel()
	a := newAPI(t, defaultPolicy)
	e := a.createEvent(10)
	other := a.createEvent(10)
	path := "/events/" + e.ID + "/changes?"
	for _, tt := range []struct {
		query  string
		status int
		code   string
	}{
		{"limit=0", http.StatusBadRequest, "INVALID_LIMIT"},
		{"limit=1001", http.StatusBadRequest, "INVALID_LIMIT"},
		{"limit=-1", http.StatusBadRequest, "INVALID_LIMIT"},
		{"limit=%2B5", http.StatusBadRequest, "INVALID_LIMIT"},
		{"limit=abc", http.StatusBadRequest, "INVALID_LIMIT"},
		{"limit=", http.StatusBadRequest, "INVALID_LIMIT"},
		{"limit=1&limit=2", http.StatusBadRequest, "INVALID_LIMIT"},
		{"limit=99999999999999999999", http.StatusBadRequest, "INVALID_LIMIT"},
		{"after=x", http.StatusBadRequest, "INVALID_POSITION"},
		{"after=", http.StatusBadRequest, "INVALID_POSITION"},
		{"after=1-", http.StatusBadRequest, "INVALID_POSITION"},
		{"seat=", http.StatusBadRequest, "INVALID_SEAT_ID"},
		{"seat=x", http.StatusBadRequest, "INVALID_SEAT_ID"},
		{"seat=" + e.ID + ".0", http.StatusBadRequest, "INVALID_SEAT_ID"},
		{"seat=" + seatOf(other, 1), http.StatusNotFound, "SEAT_NOT_FOUND"},
		{"limt=5", http.StatusBadRequest, "UNKNOWN_PARAMETER"},
		{"limit=5&Seat=" + seatOf(e, 1), http.StatusBadRequest, "UNKNOWN_PARAMETER"},
		{"after=x&bogus=", http.StatusBadRequest, "UNKNOWN_PARAMETER"},
	} {
		if r := a.get(path + tt.query); r.Code != tt.status || errorCode(t, r) != tt.code {
			t.Errorf("%s: %d %s, want %d %s", tt.query, r.Code, r.Body, tt.status, tt.code)
		}
	}
	wantError(t, a.get("/events/0b6c3c1e-8a52-4c5e-9a57-0f6a3d2b9e10/changes"), http.StatusNotFound, "EVENT_NOT_FOUND")
	wantError(t, a.get("/events/x/changes"), http.StatusNotFound, "EVENT_NOT_FOUND")
	// The limits themselves pass.
	for _, q := range []string{"limit=1", "limit=1000", "after=0-0", "seat=" + seatOf(e, 1)} {
		if r := a.get(path + q); r.Code != http.StatusOK {
			t.Errorf("%s: %d %s", q, r.Code, r.Body)
		}
	}
	// The largest position parses, and is no position of the event.
	wantError(t, a.get(path+"after=99999999999999-0"), http.StatusGone, "CHANGES_TRIMMED")
}

// TestChangesHideHolders: the history shows a holder under the rule of the
// stream and of every seat answer (with keys or tokens on: a key with
// holders:read sees every holder, a buyer's token its own holds, anyone
// else none), in a page and in one seat's page alike.
func TestChangesHideHolders(t *testing.T) {
	t.Parallel()
	secret := identitytest.NewSecret(t)
	a := newStreamAPI(t, streamSetup{opts: identityOptions(t, keysOn|tokensOn, secret, time.Now)})
	e := a.createWith(bearerOf("admin"))
	for _, hold := range []application.CartRequest{
		{Event: e.ID, User: "alice", IDs: []string{seatOf(e, 1)}},
		{Event: e.ID, User: "carol", IDs: []string{seatOf(e, 2)}},
	} {
		if _, err := a.svc.HoldSeats(t.Context(), hold); err != nil {
			t.Fatal(err)
		}
	}
	alice := identitytest.Mint(t, secret, "alice", time.Now().Add(time.Hour), "")
	for name, tc := range map[string]struct {
		credential []string
		want       [2]string // the holders of seats 1 and 2 shown
	}{
		"anonymous":     {nil, [2]string{"", ""}},
		"holders:read":  {[]string{authorizationHeader, bearerOf("reader")}, [2]string{"alice", "carol"}},
		"seats:write":   {[]string{authorizationHeader, bearerOf("seats")}, [2]string{"", ""}},
		"alice's token": {[]string{buyerTokenHeader, alice}, [2]string{"alice", ""}},
	} {
		all := decode[pageJSON](t, a.send(http.MethodGet, "/events/"+e.ID+"/changes", "", tc.credential...), http.StatusOK)
		if len(all.Changes) != 2 || all.Changes[0].UUID != tc.want[0] || all.Changes[1].UUID != tc.want[1] {
			t.Errorf("%s sees the history %+v, want holders %q", name, all.Changes, tc.want)
		}
		for i, n := range []int{1, 2} {
			one := decode[pageJSON](t, a.send(http.MethodGet, "/events/"+e.ID+"/changes?seat="+url.QueryEscape(seatOf(e, n)), "", tc.credential...), http.StatusOK)
			if len(one.Changes) != 1 || one.Changes[0].UUID != tc.want[i] {
				t.Errorf("%s sees seat %d's history %+v, want holder %q", name, n, one.Changes, tc.want[i])
			}
		}
	}
}
