package httpapi

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/seatres/reservation/adapters/memstore"
	"github.com/seatres/reservation/application"
	"github.com/seatres/reservation/application/storetest"
	"github.com/seatres/reservation/domain"
)

func (downStore) CreateOwnedEvent(context.Context, domain.Event, application.Quota) error {
	return errDown
}
func (downStore) DeleteEvent(context.Context, domain.EventID) error { return errDown }

// TestDeleteEvent: a deleted event and its seats are not found by any
// route, a second delete is 404 too, and the id can be created again.
func TestDeleteEvent(t *testing.T) {
	t.Parallel()
	a := newAPI(t, defaultPolicy)
	e := a.createEvent(10)
	a.change("/seats/hold", seatOf(e, 1), "alice")

	r := a.do(http.MethodDelete, "/events/"+e.ID, "", "")
	if r.Code != http.StatusNoContent || r.Body.Len() != 0 {
		t.Fatalf("DELETE = %d %q, want 204 and no body", r.Code, r.Body)
	}
	tests := []struct {
		give       *testRequest
		wantStatus int
		wantCode   string
	}{
		{&testRequest{http.MethodGet, "/events/" + e.ID, ""}, http.StatusNotFound, "EVENT_NOT_FOUND"},
		{&testRequest{http.MethodGet, "/events/" + e.ID + "/summary", ""}, http.StatusNotFound, "EVENT_NOT_FOUND"},
		{&testRequest{http.MethodGet, "/seats/list/" + e.ID, ""}, http.StatusNotFound, "EVENT_NOT_FOUND"},
		{&testRequest{http.MethodGet, "/seats/get/" + seatOf(e, 1), ""}, http.StatusNotFound, "SEAT_NOT_FOUND"},
		{&testRequest{http.MethodPost, "/seats/hold", seatRequest(seatOf(e, 2), "bob")}, http.StatusNotFound, "SEAT_NOT_FOUND"},
		{&testRequest{http.MethodPost, "/seats/reserve", seatRequest(seatOf(e, 1), "alice")}, http.StatusNotFound, "SEAT_NOT_FOUND"},
		{&testRequest{http.MethodPost, cartPath(e.ID, opHold), idsBody("bob", seatOf(e, 2))}, http.StatusNotFound, "EVENT_NOT_FOUND"},
		{&testRequest{http.MethodPost, cartPath(e.ID, opRelease), idsBody("alice")}, http.StatusNotFound, "EVENT_NOT_FOUND"},
		{&testRequest{http.MethodDelete, "/events/" + e.ID, ""}, http.StatusNotFound, "EVENT_NOT_FOUND"},
		{&testRequest{http.MethodDelete, "/events/not-an-event", ""}, http.StatusNotFound, "EVENT_NOT_FOUND"},
	}
	for _, tt := range tests {
		contentType := ""
		if tt.give.body != "" {
			contentType = "application/json"
		}
		t.Run(tt.give.method+" "+tt.give.target, func(t *testing.T) {
			wantError(t, a.do(tt.give.method, tt.give.target, contentType, tt.give.body), tt.wantStatus, tt.wantCode)
		})
	}
}

type testRequest struct{ method, target, body string }

// TestDeleteFreesTheStore: a memory store at its cap of seats answers 507
// STORE_FULL to a create, until a delete makes room.
func TestDeleteFreesTheStore(t *testing.T) {
	t.Parallel()
	c := storetest.NewClock(time.Date(2026, 3, 1, 18, 0, 0, 0, time.UTC))
	a := newAPIOver(t, application.NewService(memstore.New(c.Now, memstore.WithMaxSeats(30)), defaultPolicy), c)
	first, _ := a.createEvent(20), a.createEvent(10)
	wantError(t, a.post("/events/create", `{"name":"One too many","totalSeats":10}`), http.StatusInsufficientStorage, "STORE_FULL")
	if r := a.do(http.MethodDelete, "/events/"+first.ID, "", ""); r.Code != http.StatusNoContent {
		t.Fatalf("DELETE = %d %s, want 204", r.Code, r.Body)
	}
	a.createEvent(20)
}

// TestDeleteStoreDown: a store that cannot be reached is 503, as for every
// other route.
func TestDeleteStoreDown(t *testing.T) {
	t.Parallel()
	a := newAPIOver(t, application.NewService(downStore{}, defaultPolicy), nil)
	wantError(t, a.do(http.MethodDelete, "/events/0b6f3c1e-8d0a-4f43-9a52-3c2f1e5d7a90", "", ""), http.StatusServiceUnavailable, "STORE_UNAVAILABLE")
}
