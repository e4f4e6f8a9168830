package httpapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"go.uber.org/zap/zaptest"

	"github.com/seatres/reservation/adapters/memstore"
	"github.com/seatres/reservation/adapters/metrics"
	"github.com/seatres/reservation/application"
	"github.com/seatres/reservation/application/storetest"
	"github.com/seatres/reservation/domain"
)

var defaultPolicy = domain.HoldPolicy{TTL: time.Minute, MaxSeats: 6}

// testAPI is the router over the real use cases and the in-memory store.
// Every answer it gets is checked against api/openapi.yaml.
type testAPI struct {
	t      *testing.T
	router *gin.Engine
	clock  *storetest.Clock
}

func newAPI(t *testing.T, policy domain.HoldPolicy) *testAPI {
	// Sub-millisecond start, to see holdExpiresAt truncated to milliseconds.
	c := storetest.NewClock(time.Date(2026, 3, 1, 18, 0, 0, 123456789, time.UTC))
	return newAPIOver(t, application.NewService(memstore.New(c.Now), policy), c)
}

func newAPIOver(t *testing.T, uc UseCases, c *storetest.Clock) *testAPI {
	return &testAPI{t: t, router: NewRouter(uc, zaptest.NewLogger(t), metrics.New()), clock: c}
}

// do sends a request; target is percent-encoded, contentType may be empty.
func (a *testAPI) do(method, target, contentType, body string) *httptest.ResponseRecorder {
	a.t.Helper()
	return a.serve(a.request(method, target, contentType, body), body)
}

// request builds a request for serve.
func (a *testAPI) request(method, target, contentType, body string) *http.Request {
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return req
}

// serve serves req, whose body is body, and checks the answer against the
// contract.
func (a *testAPI) serve(req *http.Request, body string) *httptest.ResponseRecorder {
	a.t.Helper()
	rec := httptest.NewRecorder()
	a.router.ServeHTTP(rec, req)
	checkContract(a.t, req, []byte(body), rec)
	return rec
}

func (a *testAPI) get(target string) *httptest.ResponseRecorder {
	a.t.Helper()
	return a.do(http.MethodGet, target, "", "")
}

func (a *testAPI) post(target, body string) *httptest.ResponseRecorder {
	a.t.Helper()
	return a.do(http.MethodPost, target, "application/json", body)
}

// seatRequest is the body of hold, refresh and reserve.
func seatRequest(id, user string) string {
	b, _ := json.Marshal(map[string]string{"id": id, "UUID": user})
	return string(b)
}

// postKey posts body to target with the Idempotency-Key key.
func (a *testAPI) postKey(target, key, body string) *httptest.ResponseRecorder {
	a.t.Helper()
	req := a.request(http.MethodPost, target, "application/json", body)
	req.Header.Set(idempotencyKeyHeader, key)
	return a.serve(req, body)
}

// createEvent creates an event, which must succeed.
func (a *testAPI) createEvent(totalSeats int) eventJSON {
	a.t.Helper()
	return a.createRows(totalSeats, 0)
}

// createRows creates an event in rows of seatsPerRow (0: one row), which
// must succeed.
func (a *testAPI) createRows(totalSeats, seatsPerRow int) eventJSON {
	a.t.Helper()
	body := map[string]any{"name": "Spring concert", "totalSeats": totalSeats}
	if seatsPerRow != 0 {
		body["seatsPerRow"] = seatsPerRow
	}
	b, _ := json.Marshal(body)
	return decode[eventJSON](a.t, a.post("/events/create", string(b)), http.StatusCreated)
}

// The changes of a cart, by the last element of their path.
const (
	opHold    = "hold"
	opRefresh = "refresh"
	opReserve = "reserve"
	opRelease = "release"
)

var cartOps = []string{opHold, opRefresh, opReserve, opRelease}

func cartPath(event, op string) string { return "/events/" + event + "/" + op }

// idsBody is the body of a cart change by user of the seats ids (none:
// no ids member).
func idsBody(user string, ids ...string) string {
	body := map[string]any{"UUID": user}
	if ids != nil {
		body["ids"] = ids
	}
	b, _ := json.Marshal(body)
	return string(b)
}

// bestRequest is the body of a hold of the best available seats.
func bestRequest(user string, count int, adjacent bool) string {
	b, _ := json.Marshal(map[string]any{"UUID": user, "bestAvailable": map[string]any{"count": count, "adjacent": adjacent}})
	return string(b)
}

// cart posts a cart change of the event e, which must succeed.
func (a *testAPI) cart(e eventJSON, op, body string) seatsJSON {
	a.t.Helper()
	return decode[seatsJSON](a.t, a.post(cartPath(e.ID, op), body), http.StatusOK)
}

// state is every seat of e as GET /seats/get shows it.
func (a *testAPI) state(e eventJSON) []seatJSON {
	a.t.Helper()
	seats := make([]seatJSON, e.TotalSeats)
	for i := range seats {
		seats[i] = decode[seatJSON](a.t, a.get("/seats/get/"+seatOf(e, i+1)), http.StatusOK)
	}
	return seats
}

// change posts a seat request to path, which must succeed.
func (a *testAPI) change(path, id, user string) changeJSON {
	a.t.Helper()
	return decode[changeJSON](a.t, a.post(path, seatRequest(id, user)), http.StatusOK)
}

func seatOf(e eventJSON, n int) string { return e.ID + "." + strconv.Itoa(n) }

// The shapes of the answers, to read them in tests.
type (
	eventJSON struct {
		ID          string `json:"id"`
		Name        string `json:"name"`
		TotalSeats  int    `json:"totalSeats"`
		SeatsPerRow int    `json:"seatsPerRow"`
	}
	seatJSON struct {
		ID            string `json:"id"`
		EventID       string `json:"eventId"`
		UUID          string `json:"UUID"`
		Status        string `json:"status"`
		HoldExpiresAt string `json:"holdExpiresAt"`
	}
	changeJSON struct {
		Message string   `json:"message"`
		Seat    seatJSON `json:"seat"`
	}
	listJSON struct {
		Total int        `json:"total"`
		Event eventJSON  `json:"event"`
		Seats []seatJSON `json:"seats"`
	}
	seatsJSON struct {
		Message string     `json:"message"`
		Seats   []seatJSON `json:"seats"`
	}
	summaryJSON struct {
		Total     int `json:"total"`
		Available int `json:"available"`
		OnHold    int `json:"onHold"`
		Reserved  int `json:"reserved"`
	}
	errorJSON struct {
		Error string   `json:"error"`
		Code  string   `json:"code"`
		Seats []string `json:"seats"`
	}
)

// decode reads an answer that must have status want.
func decode[T any](t *testing.T, r *httptest.ResponseRecorder, want int) T {
	t.Helper()
	var v T
	if r.Code != want {
		t.Fatalf("status %d, want %d: %s", r.Code, want, r.Body)
	}
	if err := json.Unmarshal(r.Body.Bytes(), &v); err != nil {
		t.Fatalf("body %s: %v", r.Body, err)
	}
	return v
}

// wantError checks an error answer's status and code.
func wantError(t *testing.T, r *httptest.ResponseRecorder, status int, code string) {
	t.Helper()
	if r.Code != status || errorCode(t, r) != code {
		t.Errorf("got %d %s, want %d %s", r.Code, r.Body, status, code)
	}
}

// wantSeatsError checks an error answer's status and code, and that it
// names exactly the seats (nil: no seats member).
func wantSeatsError(t *testing.T, r *httptest.ResponseRecorder, status int, code string, seats ...string) {
	t.Helper()
	var e errorJSON
	if err := json.Unmarshal(r.Body.Bytes(), &e); err != nil || r.Code != status || e.Code != code || !slices.Equal(e.Seats, seats) ||
		(seats == nil) != !strings.Contains(r.Body.String(), `"seats"`) {
		t.Errorf("got %d %s, want %d %s with seats %q", r.Code, r.Body, status, code, seats)
	}
}
