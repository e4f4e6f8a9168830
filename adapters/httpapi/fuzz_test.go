package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/seatres/reservation/adapters/memstore"
	"github.com/seatres/reservation/adapters/metrics"
	"github.com/seatres/reservation/application"
)

// Fuzz targets, one per request body and path parameter. Whatever the
// input, the answer is one that api/openapi.yaml describes for the
// operation (checked by testAPI), its status is one the operation may
// answer (never a 5xx), and a success is consistent with what the API
// shows afterwards. Seed inputs beyond the f.Add ones are in
// testdata/fuzz/<target>; `make fuzz` runs each target longer.

// fuzzEvent is written in inputs for the id of an event that exists, so
// that the fuzzer reaches real seats as easily as made-up ones.
const fuzzEvent = "$EVENT"

// fuzzAPI is one router for all the inputs of a target, over an event of
// 20 seats; the state that inputs leave behind (holds, reservations,
// events) is part of what later inputs meet.
type fuzzAPI struct {
	router *testAPI
	event  string
}

func newFuzzAPI(f *testing.F) *fuzzAPI {
	c := &clock{now: time.Date(2026, 3, 1, 18, 0, 0, 123456789, time.UTC)}
	svc := application.NewService(memstore.New(c.Now), defaultPolicy)
	e, err := svc.CreateEvent(context.Background(), "Fuzz", 20)
	if err != nil {
		f.Fatal(err)
	}
	return &fuzzAPI{router: &testAPI{router: NewRouter(svc, zap.NewNop(), metrics.New()), clock: c}, event: string(e.ID)}
}

// on returns the API for one input, whose failures go to t.
func (fa *fuzzAPI) on(t *testing.T) *testAPI {
	a := *fa.router
	a.t = t
	return &a
}

func (fa *fuzzAPI) expand(s string) string { return strings.ReplaceAll(s, fuzzEvent, fa.event) }

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
		r := fa.on(t).get(prefix + url.PathEscape(id))
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
