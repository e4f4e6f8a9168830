package httpapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/seatres/reservation/adapters/memstore"
	"github.com/seatres/reservation/application"
	"github.com/seatres/reservation/application/storetest"
	"github.com/seatres/reservation/domain"
)

// countingUseCases counts the lists that read seats.
type countingUseCases struct {
	*application.Service
	lists atomic.Int64
}

func (u *countingUseCases) AvailableSeats(ctx context.Context, id string) (domain.Event, []int, domain.Version, error) {
	u.lists.Add(1)
	return u.Service.AvailableSeats(ctx, id)
}

func newCountingAPI(t *testing.T) (*testAPI, *countingUseCases) {
	c := storetest.NewClock(time.Date(2026, 3, 1, 18, 0, 0, 0, time.UTC))
	uc := &countingUseCases{Service: application.NewService(memstore.New(c.Now), defaultPolicy)}
	return newAPIOver(t, uc, c), uc
}

// listIf lists e with the If-None-Match values match (none: no field) and
// Accept-Encoding gzip.
func (a *testAPI) listIf(e eventJSON, match ...string) *httptest.ResponseRecorder {
	a.t.Helper()
	req := a.request(http.MethodGet, "/seats/list/"+e.ID, "", "")
	req.Header.Set("Accept-Encoding", "gzip")
	for _, m := range match {
		req.Header.Add(ifNoneMatchHeader, m)
	}
	return a.serve(req, "")
}

var listETag = regexp.MustCompile(`^"\d+-\d+\.\d+"$`)

func TestListETag(t *testing.T) {
	t.Parallel()
	a, uc := newCountingAPI(t)
	e := a.createEvent(10)
	first := a.listIf(e)
	etag := first.Header().Get("ETag")
	if first.Code != http.StatusOK || !listETag.MatchString(etag) {
		t.Fatalf("list: %d, ETag %q", first.Code, etag)
	}
	reads := uc.lists.Load()
	for _, match := range [][]string{{etag}, {"*"}, {"W/" + etag}, {`"other", ` + etag}, {`"other"`, etag}} {
		r := a.listIf(e, match...)
		if r.Code != http.StatusNotModified || r.Body.Len() != 0 || r.Header().Get("ETag") != etag ||
			!strings.Contains(r.Header().Get("Vary"), "Accept-Encoding") || r.Header().Get("Content-Encoding") != "" {
			t.Errorf("If-None-Match %q: %d %q, headers %v; want 304 with the ETag and Vary", match, r.Code, r.Body, r.Header())
		}
	}
	// Nothing expired unrecorded: the 304s read no seats.
	if n := uc.lists.Load(); n != reads {
		t.Errorf("304s read the seats %d times", n-reads)
	}
	if r := a.listIf(e, `"other"`); r.Code != http.StatusOK || r.Header().Get("ETag") != etag {
		t.Errorf("another ETag: %d, ETag %q; want the list", r.Code, r.Header().Get("ETag"))
	}

	a.cart(e, opHold, idsBody("alice", seatOf(e, 1)))
	held := a.listIf(e, etag)
	if held.Code != http.StatusOK || held.Header().Get("ETag") == etag || !listETag.MatchString(held.Header().Get("ETag")) {
		t.Fatalf("after a hold: %d, ETag %q (was %q); want a new list", held.Code, held.Header().Get("ETag"), etag)
	}
	// The hold expires: the seats differ, its record is not there yet,
	// so the version names the expiry.
	a.clock.Advance(defaultPolicy.TTL + time.Second)
	expired := a.listIf(e, held.Header().Get("ETag"))
	if expired.Code != http.StatusOK || expired.Header().Get("ETag") == held.Header().Get("ETag") {
		t.Fatalf("after the hold's expiry: %d, ETag %q; want the new list", expired.Code, expired.Header().Get("ETag"))
	}
	if r := a.listIf(e, expired.Header().Get("ETag")); r.Code != http.StatusNotModified {
		t.Errorf("the list after the expiry again: %d, want 304", r.Code)
	}
}

func TestListETagOfUnknownEvent(t *testing.T) {
	t.Parallel()
	a, _ := newCountingAPI(t)
	r := a.listIf(eventJSON{ID: "0b6c3c1e-8a52-4c5e-9a57-0f6a3d2b9e10"}, "*")
	wantError(t, r, http.StatusNotFound, "EVENT_NOT_FOUND")
}
