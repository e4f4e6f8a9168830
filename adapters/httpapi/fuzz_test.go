package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/seatres/reservation/adapters/memstore"
	"github.com/seatres/reservation/adapters/metrics"
	"github.com/seatres/reservation/application"
	"github.com/seatres/reservation/application/storetest"
	"github.com/seatres/reservation/domain"
)

// Fuzz targets, one per request body and path parameter. Whatever the
// input, the answer is one that api/openapi.yaml describes for the
// operation (checked by testAPI), its status is one the operation may
// answer (never a 5xx), and a success is consistent with what the API
// shows afterwards. Seed inputs beyond the f.Add ones are in
// testdata/fuzz/<target>; `make fuzz` runs each target longer.

// fuzzEvent and fuzzOther are written in inputs for the ids of two events
// that exist, so that the fuzzer reaches real seats, of the path's event
// and of another, as easily as made-up ones.
const (
	fuzzEvent = "$EVENT"
	fuzzOther = "$OTHER"
)

// fuzzAPI is one router for all the inputs of a target, over two events of
// 20 seats in rows of 5; the state that inputs leave behind (holds,
// reservations, events) is part of what later inputs meet.
type fuzzAPI struct {
	router *testAPI
	store  *memstore.Store
	svc    *application.Service
	events [2]domain.Event // $EVENT, $OTHER
}

func newFuzzAPI(f *testing.F) *fuzzAPI {
	c := storetest.NewClock(time.Date(2026, 3, 1, 18, 0, 0, 123456789, time.UTC))
	store := memstore.New(c.Now)
	feed := application.NewFeed(store, zap.NewNop(), application.FeedConfig{})
	feed.Start()
	f.Cleanup(feed.Close)
	svc := application.NewService(store, defaultPolicy, application.WithFeed(feed))
	fa := &fuzzAPI{router: &testAPI{router: NewRouter(svc, zap.NewNop(), metrics.New()), clock: c}, store: store, svc: svc}
	for i := range fa.events {
		e, err := svc.CreateEvent(context.Background(), application.NewEvent{Name: "Fuzz", TotalSeats: 20, SeatsPerRow: 5})
		if err != nil {
			f.Fatal(err)
		}
		fa.events[i] = e
	}
	return fa
}

// seats is every seat of both events as it is now.
func (fa *fuzzAPI) seats(t *testing.T) []domain.Seat {
	var seats []domain.Seat
	for _, e := range fa.events {
		for n := 1; n <= e.TotalSeats; n++ {
			s, err := fa.store.Seat(context.Background(), e.Seat(n))
			if err != nil {
				t.Fatal(err)
			}
			seats = append(seats, s)
		}
	}
	return seats
}

// on returns the API for one input, whose failures go to t.
func (fa *fuzzAPI) on(t *testing.T) *testAPI {
	a := *fa.router
	a.t = t
	return &a
}

func (fa *fuzzAPI) expand(s string) string {
	return strings.NewReplacer(fuzzEvent, string(fa.events[0].ID), fuzzOther, string(fa.events[1].ID)).Replace(s)
}

// wantStatus fails t unless the status is one of want.
func wantStatus(t *testing.T, got int, body string, want ...int) {
	t.Helper()
	if !slices.Contains(want, got) {
		t.Fatalf("status %d, want one of %v: %s", got, want, body)
	}
}

func FuzzCreateEvent(f *testing.F) {
	for _, seed := range []struct{ contentType, body string }{
		{"application/json", `{"name":"Spring concert","totalSeats":100}`},
		{"application/json; charset=utf-8", `{"totalSeats":1e1,"name":"\u00e9\ud83c\udfab"}`},
		{"application/json", `{"name":"a","totalSeats":10,"name":"b"}`},
		{"application/json", `{"name":"a","totalSeats":100,"seatsPerRow":7}`},
		{"application/json", `{"name":"a","totalSeats":10,"seatsPerRow":0}`},
		{"application/json", `{"name":"a","totalSeats":10,"seatsPerRow":null}`},
		{"application/json", `{"name":` + strings.Repeat("[", 100) + `}`},
		{"text/plain", `{"name":"a","totalSeats":10}`},
		{"", ``},
	} {
		f.Add(seed.contentType, seed.body)
	}
	fa := newFuzzAPI(f)
	f.Fuzz(func(t *testing.T, contentType, body string) {
		a := fa.on(t)
		r := a.do(http.MethodPost, "/events/create", contentType, fa.expand(body))
		wantStatus(t, r.Code, r.Body.String(), http.StatusCreated, http.StatusBadRequest,
			http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType)
		if r.Code != http.StatusCreated {
			return
		}
		created := decode[eventJSON](t, r, http.StatusCreated)
		if got := decode[eventJSON](t, a.get("/events/"+created.ID), http.StatusOK); got != created {
			t.Fatalf("created %+v, read back %+v", created, got)
		}
	})
}

// seatChangePaths are the paths FuzzSeatChange posts to, by its first
// argument.
var seatChangePaths = []string{holdPath, refreshPath, originalPath, reservePath}

func FuzzSeatChange(f *testing.F) {
	for _, seed := range []struct {
		path uint8
		body string
	}{
		{0, `{"id":"$EVENT.1","UUID":"alice"}`},
		{1, `{"id":"$EVENT.1","UUID":"alice"}`},
		{2, `{"UUID":"bob","id":"$EVENT.1"}`},
		{3, `{"id":"$EVENT.1","UUID":"alice"}`},
		{0, `{"id":"$EVENT.20","UUID":"{$EVENT}:*"}`},
		{0, `{"id":"{$EVENT}.1","UUID":"alice"}`},
		{3, `{"id":"$EVENT.1","UUID":"alice","UUID":"bob"}`},
		{0, `{"id":"$EVENT.1\n","UUID":"alice"}`},
	} {
		f.Add(seed.path, seed.body)
	}
	fa := newFuzzAPI(f)
	f.Fuzz(func(t *testing.T, path uint8, body string) {
		a := fa.on(t)
		r := a.post(seatChangePaths[int(path)%len(seatChangePaths)], fa.expand(body))
		wantStatus(t, r.Code, r.Body.String(), http.StatusOK, http.StatusBadRequest, http.StatusForbidden,
			http.StatusNotFound, http.StatusConflict, http.StatusRequestEntityTooLarge, http.StatusTooManyRequests)
		if r.Code != http.StatusOK {
			return
		}
		changed := decode[changeJSON](t, r, http.StatusOK).Seat
		if got := decode[seatJSON](t, a.get("/seats/get/"+url.PathEscape(changed.ID)), http.StatusOK); got != changed {
			t.Fatalf("answered %+v, read back %+v", changed, got)
		}
		var req struct{ ID, UUID string }
		if err := json.Unmarshal([]byte(fa.expand(body)), &req); err != nil || req.ID != changed.ID || req.UUID != changed.UUID {
			t.Fatalf("request %s answered with seat %+v", body, changed)
		}
	})
}

// FuzzCartChange posts any body to the cart changes of $EVENT (by its
// first argument, whose upper bits also move the clock by up to 15 s, so
// that holds expire). Whatever the body: no 5xx, an error body with its
// error and code, a refusal that changes no seat of either event, and
// seats answered as they now are, in the state their change gives them.
func FuzzCartChange(f *testing.F) {
	for _, seed := range []struct {
		op   uint8
		body string
	}{
		{0, `{"UUID":"alice","ids":["$EVENT.1","$EVENT.2"]}`},
		{0, `{"UUID":"bob","bestAvailable":{"count":3,"adjacent":true}}`},
		{0, `{"UUID":"bob","bestAvailable":{"count":2}}`},
		{1, `{"UUID":"alice"}`},
		{2, `{"UUID":"alice","ids":["$EVENT.2","$EVENT.1"]}`},
		{3, `{"UUID":"alice","ids":["$EVENT.1"]}`},
		{3, `{"UUID":"bob"}`},
		{0, `{"UUID":"alice","ids":["$EVENT.3","$OTHER.3"]}`},
		{0, `{"UUID":"alice","ids":["$EVENT.4"],"bestAvailable":{"count":1}}`},
		{3, `{"UUID":"alice","ids":null}`},
		{2, `{"UUID":"alice","ids":["$EVENT.21"]}`},
		{0, `{"UUID":"{$EVENT}:*","ids":["{$EVENT}.1","$EVENT.*"]}`},
	} {
		f.Add(seed.op, seed.body)
	}
	fa := newFuzzAPI(f)
	f.Fuzz(func(t *testing.T, op uint8, body string) {
		a := fa.on(t)
		a.clock.Advance(time.Duration(op>>4) * time.Second)
		path := cartOps[int(op)%len(cartOps)]
		before := fa.seats(t)
		r := a.post(cartPath(string(fa.events[0].ID), path), fa.expand(body))
		wantStatus(t, r.Code, r.Body.String(), http.StatusOK, http.StatusBadRequest, http.StatusForbidden, http.StatusNotFound,
			http.StatusConflict, http.StatusRequestEntityTooLarge, http.StatusTooManyRequests)
		if r.Code != http.StatusOK {
			if e := unmarshal[errorJSON](t, r.Body.Bytes()); e.Error == "" || e.Code == "" {
				t.Fatalf("error body %s", r.Body)
			}
			if after := fa.seats(t); !slices.Equal(after, before) {
				t.Fatalf("refused with %s, but seats changed\nbefore %+v\nafter  %+v", r.Body, before, after)
			}
			return
		}
		var req struct{ UUID string }
		if err := json.Unmarshal([]byte(fa.expand(body)), &req); err != nil {
			t.Fatalf("accepted %s: %v", body, err)
		}
		want := map[string]string{opHold: "On hold", opRefresh: "On hold", opReserve: "Reserved", opRelease: "Available"}[path]
		for _, s := range decode[seatsJSON](t, r, http.StatusOK).Seats {
			if got := decode[seatJSON](t, a.get("/seats/get/"+url.PathEscape(s.ID)), http.StatusOK); got != s {
				t.Fatalf("answered %+v, read back %+v", s, got)
			}
			if s.Status != want || s.EventID != string(fa.events[0].ID) || (s.UUID != req.UUID) != (want == "Available") {
				t.Fatalf("%s by %q answered %+v", path, req.UUID, s)
			}
		}
	})
}

// FuzzIdempotencyKey: a key is refused, with INVALID_IDEMPOTENCY_KEY,
// exactly when it is not 1 to 255 printable ASCII characters; any other
// key answers the create or the release as its first time, however often
// it is sent.
func FuzzIdempotencyKey(f *testing.F) {
	for _, key := range []string{"k", "", `"8e03978e-40d5-43e8-bc93-6894a57f9324"`, "*", "{$EVENT}", "rsv:{$EVENT}:seats", "a\nb", "\x00", "é", strings.Repeat("k", 256)} {
		f.Add(false, key)
		f.Add(true, key)
	}
	fa := newFuzzAPI(f)
	f.Fuzz(func(t *testing.T, create bool, key string) {
		a := fa.on(t)
		path, body, status := cartPath(string(fa.events[0].ID), opRelease), `{"UUID":"fuzz"}`, http.StatusOK
		if create {
			path, body, status = "/events/create", `{"name":"Fuzz","totalSeats":10}`, http.StatusCreated
		}
		key = fa.expand(key)
		r := a.postKey(path, key, body)
		valid := len(key) >= 1 && len(key) <= 255 && !strings.ContainsFunc(key, func(r rune) bool { return r < ' ' || r > '~' })
		if valid && r.Code != status || !valid && (r.Code != http.StatusBadRequest || errorCode(t, r) != "INVALID_IDEMPOTENCY_KEY") {
			t.Fatalf("key %q (valid: %v) answered %d %s", key, valid, r.Code, r.Body)
		}
	})
}

// pathSeeds are ids for the path parameters.
var pathSeeds = []string{
	fuzzEvent, fuzzEvent + ".1", fuzzEvent + ".20", fuzzEvent + ".21", "{" + fuzzEvent + "}", fuzzEvent + ".*",
	"create", "", "/", "%", "\n", "rsv:{" + fuzzEvent + "}:seats", strings.ToUpper(fuzzEvent),
}

// fuzzPath fuzzes one path parameter: GET prefix+id must answer one of
// want, and a 200 must be about the id asked for, as read by idOf.
func fuzzPath(f *testing.F, prefix string, idOf func(t *testing.T, body []byte) string, want ...int) {
	for _, seed := range pathSeeds {
		f.Add(seed)
	}
	fa := newFuzzAPI(f)
	f.Fuzz(func(t *testing.T, id string) {
		id = fa.expand(id)
		target := prefix + url.PathEscape(id)
		r := fa.on(t).get(target)
		if r.Code == http.StatusRequestHeaderFieldsTooLarge && headerBytes(httptest.NewRequest(http.MethodGet, target, nil)) > maxHeaderBytes {
			return // a request line longer than all headers may be
		}
		wantStatus(t, r.Code, r.Body.String(), want...)
		if r.Code == http.StatusOK {
			if got := idOf(t, r.Body.Bytes()); got != id {
				t.Fatalf("asked for %q, got %q", id, got)
			}
		}
	})
}

func FuzzGetEvent(f *testing.F) {
	// 405: "/events/create" is POST's path.
	fuzzPath(f, "/events/", func(t *testing.T, b []byte) string { return unmarshal[eventJSON](t, b).ID },
		http.StatusOK, http.StatusNotFound, http.StatusMethodNotAllowed)
}

func FuzzListSeats(f *testing.F) {
	fuzzPath(f, "/seats/list/", func(t *testing.T, b []byte) string { return unmarshal[listJSON](t, b).Event.ID },
		http.StatusOK, http.StatusNotFound)
}

func FuzzGetSeat(f *testing.F) {
	fuzzPath(f, "/seats/get/", func(t *testing.T, b []byte) string { return unmarshal[seatJSON](t, b).ID },
		http.StatusOK, http.StatusNotFound)
}

func unmarshal[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("body %s: %v", b, err)
	}
	return v
}

// FuzzStreamPosition: a stream's start, Last-Event-ID (header true) or
// ?after=, is refused with INVALID_POSITION exactly when it is not a
// position (an empty Last-Event-ID is none); any other starts the stream.
// A request whose header block passes the cap is 431 first, whatever it
// carries.
// The request's context is done from the start, so that a stream that
// starts ends at once: after its snapshot, when it has no position.
func FuzzStreamPosition(f *testing.F) {
	for _, pos := range []string{"", "0-0", "1-0", "1764672000123-7", "18446744073709551615-18446744073709551615",
		"18446744073709551616-0", "1", "-", "1-", "-1", "+1-0", "1-+0", " 1-0", "1-0\n", "0x1-0", "1_0-0", "١-٠", "1-0-0",
		strings.Repeat("9", maxHeaderBytes) + "-0"} {
		f.Add(true, pos)
		f.Add(false, pos)
	}
	fa := newFuzzAPI(f)
	done, cancel := context.WithCancel(context.Background())
	cancel()
	f.Fuzz(func(t *testing.T, header bool, pos string) {
		a := fa.on(t)
		target := "/events/" + string(fa.events[0].ID) + "/stream"
		if !header {
			target += "?after=" + url.QueryEscape(pos)
		}
		req := a.request(http.MethodGet, target, "", "").WithContext(done)
		if header {
			req.Header[lastEventIDHeader] = []string{pos}
		}
		tooLarge := headerBytes(req) > maxHeaderBytes
		r := a.serve(req, "")
		if tooLarge {
			wantError(t, r, http.StatusRequestHeaderFieldsTooLarge, "REQUEST_HEADERS_TOO_LARGE")
			return
		}
		_, err := domain.ParsePosition(pos)
		valid := err == nil || header && pos == ""
		if valid != (r.Code == http.StatusOK) || !valid && (r.Code != http.StatusBadRequest || errorCode(t, r) != "INVALID_POSITION") {
			t.Fatalf("position %q (valid: %v, header: %v) answered %d %s", pos, valid, header, r.Code, r.Body)
		}
		if valid && !strings.HasPrefix(r.Body.String(), "retry: 2000\n\n") {
			t.Fatalf("a stream that starts with %q", r.Body)
		}
	})
}

// FuzzChanges fuzzes the query of GET /events/$EVENT/changes, whose
// changes are a few holds and releases: whatever the query, an answer of
// the spec and never a 5xx, and a page that keeps to the query: its
// changes after its after, in order, of its seat, and next the position
// of its last change (or its after).
func FuzzChanges(f *testing.F) {
	for _, q := range []string{"", "limit=1", "limit=1000", "limit=1001", "limit=0", "limit=-1", "limit=%2B1", "limit=1e2", "limit=01",
		"after=0-0", "after=1-0", "after=x", "after=", "seat=$EVENT.1", "seat=$OTHER.1", "seat=$EVENT.21", "seat=x", "seat=",
		"limit=1&limit=1", "after=0-0&after=0-0", "seat=$EVENT.1&limit=1&after=0-0", "limit=1;after=0-0", "%zz"} {
		f.Add(q)
	}
	fa := newFuzzAPI(f)
	ctx := context.Background()
	e := string(fa.events[0].ID)
	for n := 1; n <= 3; n++ {
		r := application.CartRequest{Event: e, User: "fuzz", IDs: []string{e + "." + strconv.Itoa(n), e + "." + strconv.Itoa(n+1)}}
		if _, err := fa.svc.HoldSeats(ctx, r); err != nil {
			f.Fatal(err)
		}
		if _, err := fa.svc.Release(ctx, r); err != nil {
			f.Fatal(err)
		}
	}
	f.Fuzz(func(t *testing.T, query string) {
		query = fa.expand(query)
		if strings.ContainsFunc(query, func(r rune) bool { return r <= ' ' || r > '~' }) {
			return // no request line carries it: a client sends it percent-encoded
		}
		r := fa.on(t).get("/events/" + e + "/changes?" + query)
		wantStatus(t, r.Code, r.Body.String(), http.StatusOK, http.StatusBadRequest, http.StatusNotFound, http.StatusGone)
		if r.Code != http.StatusOK {
			return
		}
		values := (&url.URL{RawQuery: query}).Query() // as the server reads it
		page := unmarshal[pageJSON](t, r.Body.Bytes())
		after := domain.Position{}
		if v := values.Get("after"); v != "" {
			var err error
			if after, err = domain.ParsePosition(v); err != nil {
				t.Fatalf("after %q answered %s", v, r.Body)
			}
		}
		next, err := domain.ParsePosition(page.Next)
		if err != nil {
			t.Fatalf("next %q", page.Next)
		}
		last := after
		for _, c := range page.Changes {
			p, err := domain.ParsePosition(c.Position)
			if err != nil || p.Before(last) || p == after {
				t.Fatalf("change at %q after %s", c.Position, last)
			}
			if seat := values.Get("seat"); seat != "" && e+"."+strconv.Itoa(c.Seat) != seat {
				t.Fatalf("a change of seat %d in the page of seat %s", c.Seat, seat)
			}
			last = p
		}
		// A seat's page goes on where its scan stopped, past its last
		// change.
		if last != next && (values.Get("seat") == "" || next.Before(last)) {
			t.Fatalf("next %s, the page's last change at %s", next, last)
		}
	})
}
