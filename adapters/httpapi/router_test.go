package httpapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/seatres/reservation/adapters/metrics"
	"github.com/seatres/reservation/api"
	"github.com/seatres/reservation/application"
	"github.com/seatres/reservation/domain"
)

func TestUnknownRoutesAndMethods(t *testing.T) {
	t.Parallel()
	a := newAPI(t, defaultPolicy)
	e := a.createEvent(10)
	tests := []struct {
		method, target string
		status         int
		code, allow    string
	}{
		{http.MethodGet, "/nope", 404, "NOT_FOUND", ""},
		{http.MethodGet, "/events", 404, "NOT_FOUND", ""},
		{http.MethodGet, "/events/" + e.ID + "/", 404, "NOT_FOUND", ""},
		{http.MethodGet, "/seats/get/" + e.ID + "%2F1", 404, "SEAT_NOT_FOUND", ""},
		{http.MethodGet, "/seats/get/" + e.ID + "/1", 404, "NOT_FOUND", ""},
		{http.MethodGet, "/seats/list", 404, "NOT_FOUND", ""},
		{http.MethodPost, "/seats/hold/", 404, "NOT_FOUND", ""},
		{http.MethodGet, "/seats/hold", 405, "METHOD_NOT_ALLOWED", "POST"},
		{http.MethodPut, "/seats/reserve", 405, "METHOD_NOT_ALLOWED", "POST"},
		{http.MethodGet, "/events/create", 405, "METHOD_NOT_ALLOWED", "POST"}, // not GET /events/{id}
		{http.MethodPost, "/events/" + e.ID, 405, "METHOD_NOT_ALLOWED", "GET, HEAD, DELETE"},
		{http.MethodPut, "/events/" + e.ID, 405, "METHOD_NOT_ALLOWED", "GET, HEAD, DELETE"},
		{http.MethodHead, "/seats/hold", 405, "METHOD_NOT_ALLOWED", "POST"},
		{http.MethodOptions, "/seats/hold", 405, "METHOD_NOT_ALLOWED", "POST"},
		{http.MethodGet, "/events/" + e.ID + "/hold", 405, "METHOD_NOT_ALLOWED", "POST"},
		{http.MethodPut, "/events/" + e.ID + "/release", 405, "METHOD_NOT_ALLOWED", "POST"},
		{http.MethodPost, "/events/" + e.ID + "/summary", 405, "METHOD_NOT_ALLOWED", "GET, HEAD"},
		{http.MethodPost, "/events/" + e.ID + "/hold/", 404, "NOT_FOUND", ""},
		{http.MethodPost, "/events/" + e.ID + "/cancel", 404, "NOT_FOUND", ""},
		{http.MethodPost, "/events/" + e.ID + "/seats/hold", 404, "NOT_FOUND", ""},
		{http.MethodGet, "/events/create/summary", 404, "EVENT_NOT_FOUND", ""}, // "create" is no event
	}
	for _, tt := range tests {
		r := a.do(tt.method, tt.target, "", "")
		if tt.method != http.MethodHead {
			wantError(t, r, tt.status, tt.code)
		} else if r.Code != tt.status {
			t.Errorf("%s %s: got %d, want %d", tt.method, tt.target, r.Code, tt.status)
		}
		if got := r.Header().Get("Allow"); got != tt.allow {
			t.Errorf("%s %s: Allow = %q, want %q", tt.method, tt.target, got, tt.allow)
		}
	}
}

// downStore is a store that cannot be reached.
type downStore struct{}

var errDown = fmt.Errorf("%w: dial tcp 192.0.2.1:6379: connect: connection refused", application.ErrUnavailable)

func (downStore) Ping(context.Context) error                      { return errDown }
func (downStore) CreateEvent(context.Context, domain.Event) error { return errDown }
func (downStore) Event(context.Context, domain.EventID) (domain.Event, error) {
	return domain.Event{}, errDown
}
func (downStore) AvailableSeats(context.Context, domain.EventID) (domain.Event, []int, domain.Version, error) {
	return domain.Event{}, nil, domain.Version{}, errDown
}
func (downStore) ListVersion(context.Context, domain.EventID) (domain.Version, bool, error) {
	return domain.Version{}, false, errDown
}
func (downStore) Snapshot(context.Context, domain.EventID) (domain.Event, []int, domain.Position, error) {
	return domain.Event{}, nil, domain.Position{}, errDown
}
func (downStore) Changes(context.Context, domain.EventID, domain.Position, int) ([]domain.Record, error) {
	return nil, errDown
}
func (downStore) Wait(context.Context, map[domain.EventID]domain.Position, time.Duration) ([]domain.EventID, error) {
	return nil, errDown
}
func (downStore) Expire(context.Context, domain.EventID) (time.Time, error) {
	return time.Time{}, errDown
}
func (downStore) Seat(context.Context, domain.SeatID) (domain.Seat, error) {
	return domain.Seat{}, errDown
}
func (downStore) Summary(context.Context, domain.EventID) (domain.Summary, error) {
	return domain.Summary{}, errDown
}
func (downStore) Hold(context.Context, domain.EventID, []domain.SeatID, domain.UserID, domain.HoldPolicy, application.Idem) ([]domain.Seat, error) {
	return nil, errDown
}
func (downStore) HoldBest(context.Context, domain.EventID, domain.BestAvailable, domain.UserID, domain.HoldPolicy, application.Idem) ([]domain.Seat, error) {
	return nil, errDown
}
func (downStore) Refresh(context.Context, domain.EventID, []domain.SeatID, domain.UserID, domain.HoldPolicy, application.Idem) ([]domain.Seat, error) {
	return nil, errDown
}
func (downStore) Reserve(context.Context, domain.EventID, []domain.SeatID, domain.UserID, application.Idem) ([]domain.Seat, error) {
	return nil, errDown
}
func (downStore) Release(context.Context, domain.EventID, []domain.SeatID, domain.UserID, application.Idem) ([]domain.Seat, error) {
	return nil, errDown
}

func TestStoreUnavailable(t *testing.T) {
	t.Parallel()
	a := newAPIOver(t, application.NewService(downStore{}, defaultPolicy), nil)
	const event = "0b6c3c1e-8a52-4c5e-9a57-0f6a3d2b9e10"
	seat := seatRequest(event+".1", "alice")
	cart := idsBody("alice", event+".1")
	for _, req := range []struct{ method, target, body string }{
		{http.MethodGet, "/events/" + event + "/summary", ""},
		{http.MethodPost, cartPath(event, opHold), cart},
		{http.MethodPost, cartPath(event, opHold), bestRequest("alice", 1, false)},
		{http.MethodPost, cartPath(event, opRefresh), idsBody("alice")},
		{http.MethodPost, cartPath(event, opReserve), cart},
		{http.MethodPost, cartPath(event, opRelease), cart},
		{http.MethodPost, cartPath(event, opRelease), idsBody("alice")},
		{http.MethodPost, "/events/create", `{"name":"a","totalSeats":10}`},
		{http.MethodGet, "/events/" + event, ""},
		{http.MethodGet, "/seats/list/" + event, ""},
		{http.MethodGet, "/seats/get/" + event + ".1", ""},
		{http.MethodPost, holdPath, seat},
		{http.MethodPost, refreshPath, seat},
		{http.MethodPost, originalPath, seat},
		{http.MethodPost, reservePath, seat},
	} {
		r := a.do(req.method, req.target, "application/json", req.body)
		wantError(t, r, http.StatusServiceUnavailable, "STORE_UNAVAILABLE")
		if strings.Contains(r.Body.String(), "192.0.2.1") {
			t.Errorf("%s %s: the answer shows the store's address: %s", req.method, req.target, r.Body)
		}
	}
}

// stubUseCases answers Event with event; its other use cases are not
// called by the tests that use it.
type stubUseCases struct {
	UseCases
	event func(ctx context.Context, id string) (domain.Event, error)
}

func (s stubUseCases) Event(ctx context.Context, id string) (domain.Event, error) {
	return s.event(ctx, id)
}

func TestPanicIsInternalError(t *testing.T) {
	t.Parallel()
	a := newAPIOver(t, stubUseCases{event: func(_ context.Context, id string) (domain.Event, error) {
		if id == "bug" {
			panic("a bug")
		}
		return domain.Event{ID: "0b6c3c1e-8a52-4c5e-9a57-0f6a3d2b9e10", Name: "a", TotalSeats: 10, SeatsPerRow: 10}, nil
	}}, nil)
	r := a.get("/events/bug")
	wantError(t, r, http.StatusInternalServerError, "INTERNAL")
	if strings.Contains(r.Body.String(), "a bug") {
		t.Errorf("the answer shows the panic: %s", r.Body)
	}
	decode[eventJSON](t, a.get("/events/next"), http.StatusOK) // still serving
}

func TestUnknownErrorIsInternalError(t *testing.T) {
	t.Parallel()
	a := newAPIOver(t, stubUseCases{event: func(context.Context, string) (domain.Event, error) {
		return domain.Event{}, errors.New("secret detail")
	}}, nil)
	r := a.get("/events/x")
	wantError(t, r, http.StatusInternalServerError, "INTERNAL")
	if strings.Contains(r.Body.String(), "secret detail") {
		t.Errorf("the answer shows the error: %s", r.Body)
	}
}

// TestRequestContextReachesUseCases: a request whose client has gone away
// hands the use case a cancelled context, so the store can stop waiting.
func TestRequestContextReachesUseCases(t *testing.T) {
	t.Parallel()
	var seen error
	uc := stubUseCases{event: func(ctx context.Context, _ string) (domain.Event, error) {
		seen = ctx.Err()
		return domain.Event{}, fmt.Errorf("%w: %w", application.ErrUnavailable, ctx.Err())
	}}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := httptest.NewRequest(http.MethodGet, "/events/x", nil).WithContext(ctx)
	NewRouter(uc, zap.NewNop(), metrics.New()).ServeHTTP(httptest.NewRecorder(), req)
	if !errors.Is(seen, context.Canceled) {
		t.Errorf("use case saw ctx.Err() = %v, want context.Canceled", seen)
	}
}

// TestRequestLog: one line per request, with its level by status and the
// error of a server error.
func TestRequestLog(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zapcore.InfoLevel)
	router := NewRouter(application.NewService(downStore{}, defaultPolicy), zap.New(core), metrics.New())
	for _, target := range []string{"/openapi.yaml", "/events/0b6c3c1e-8a52-4c5e-9a57-0f6a3d2b9e10", "/nope"} {
		router.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, target, nil))
	}
	entries := logs.All()
	if len(entries) != 3 {
		t.Fatalf("%d log lines, want 3: %v", len(entries), entries)
	}
	want := []struct {
		level  zapcore.Level
		fields map[string]any
	}{
		{zapcore.InfoLevel, map[string]any{"method": "GET", "route": "/openapi.yaml", "status": int64(200), "bytes": int64(len(api.OpenAPI))}},
		{zapcore.WarnLevel, map[string]any{"route": "/events/:id", "status": int64(503),
			"error": "get event 0b6c3c1e-8a52-4c5e-9a57-0f6a3d2b9e10: " + errDown.Error()}},
		{zapcore.InfoLevel, map[string]any{"route": "", "path": "/nope", "status": int64(404)}},
	}
	for i, e := range entries {
		got := e.ContextMap()
		if e.Level != want[i].level || e.Message != "request" {
			t.Errorf("line %d: %s %q, want %s \"request\"", i, e.Level, e.Message, want[i].level)
		}
		if _, ok := got["latency"]; !ok {
			t.Errorf("line %d has no latency: %v", i, got)
		}
		for k, v := range want[i].fields {
			if got[k] != v {
				t.Errorf("line %d: %s = %v (%T), want %v", i, k, got[k], got[k], v)
			}
		}
	}
}

// TestHeadAnswersAsGet: every path that answers GET answers HEAD (RFC
// 9110 §9.1) with the status and headers of its GET and no body, served
// by net/http as in production; the stream's HEAD ends at once (else the
// next request, on the connection the client keeps, would wait for it
// until its deadline). Each path is asked plain and gzipped, found and
// not.
func TestHeadAnswersAsGet(t *testing.T) {
	t.Parallel()
	a := newStreamAPI(t, streamSetup{})
	e := a.createRows(20, 10)
	a.cart(e, "hold", idsBody("alice", seatOf(e, 3), seatOf(e, 4)))
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	send := func(method, path, encoding string) (*http.Response, []byte) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, method, a.url+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if encoding != "" {
			req.Header.Set("Accept-Encoding", encoding)
		}
		r, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		if r.Header.Get("Content-Type") == "text/event-stream" {
			return r, nil // a GET's stream does not end: its headers are enough
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		return r, body
	}
	var gets, heads []string
	for _, route := range a.router.Routes() {
		switch route.Method {
		case http.MethodHead:
			heads = append(heads, route.Path)
		case http.MethodGet:
			gets = append(gets, route.Path)
		}
	}
	slices.Sort(gets)
	slices.Sort(heads)
	if len(gets) < 15 || !slices.Equal(gets, heads) {
		t.Fatalf("the paths of GET and of HEAD differ\nGET:  %q\nHEAD: %q", gets, heads)
	}
	var targets []string
	for _, path := range gets {
		for _, id := range []string{e.ID, "00000000-0000-4000-8000-000000000000"} {
			target := strings.NewReplacer("/seats/get/:id", "/seats/get/"+id+".3", ":id", id, ":eventId", id).Replace(path)
			if target != path || id == e.ID {
				targets = append(targets, target)
			}
		}
	}
	for _, target := range targets {
		for _, encoding := range []string{"", "gzip"} {
			get, body := send(http.MethodGet, target, encoding)
			head, empty := send(http.MethodHead, target, encoding)
			if head.StatusCode != get.StatusCode || len(empty) != 0 {
				t.Errorf("HEAD %s (%q): %d and %d bytes, want %d as GET and none", target, encoding, head.StatusCode, len(empty), get.StatusCode)
			}
			for _, h := range []http.Header{get.Header, head.Header} {
				h.Del("Date")
				h.Del("X-Request-Id")
			}
			if !reflect.DeepEqual(head.Header, get.Header) {
				t.Errorf("HEAD %s (%q): headers differ from GET's (%d bytes)\nHEAD: %v\nGET:  %v", target, encoding, len(body), head.Header, get.Header)
			}
		}
	}
}
