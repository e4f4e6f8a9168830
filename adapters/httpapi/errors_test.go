package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/seatres/reservation/adapters/memstore"
	"github.com/seatres/reservation/adapters/metrics"
	"github.com/seatres/reservation/application"
	"github.com/seatres/reservation/domain"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		give        error
		wantStatus  int
		wantCode    string
		wantMessage string
	}{
		{domain.ErrInvalidName, 400, "INVALID_NAME", domain.ErrInvalidName.Error()},
		{domain.ErrInvalidTotalSeats, 400, "INVALID_TOTAL_SEATS", domain.ErrInvalidTotalSeats.Error()},
		{domain.ErrInvalidUser, 400, "INVALID_UUID", domain.ErrInvalidUser.Error()},
		{domain.ErrInvalidSeatID, 400, "INVALID_SEAT_ID", domain.ErrInvalidSeatID.Error()},
		{domain.ErrEventNotFound, 404, "EVENT_NOT_FOUND", "event not found"},
		{fmt.Errorf("get seat x.1: %w", domain.ErrSeatNotFound), 404, "SEAT_NOT_FOUND", "seat not found"},
		{fmt.Errorf("hold seat x.1: %w", domain.ErrSeatHeld), 409, "SEAT_HELD", domain.ErrSeatHeld.Error()},
		{fmt.Errorf("hold seat x.1: %w", domain.ErrSeatReserved), 409, "SEAT_RESERVED", "seat is already reserved"},
		{fmt.Errorf("hold seat x.1: %w", domain.ErrHoldLimit), 429, "HOLD_LIMIT_REACHED", domain.ErrHoldLimit.Error()},
		// Same sentence as ErrSeatHeld, another refusal.
		{fmt.Errorf("refresh seat x.1: %w", domain.ErrNotHolder), 403, "NOT_HOLDER", domain.ErrNotHolder.Error()},
		{domain.ErrNotOnHold, 409, "NOT_ON_HOLD", domain.ErrNotOnHold.Error()},
		{domain.ErrNoLiveHold, 403, "NO_LIVE_HOLD", domain.ErrNoLiveHold.Error()},
		{fmt.Errorf("create event: %w", domain.ErrEventExists), 409, "EVENT_EXISTS", "event already exists"},
		{domain.ErrInvalidSeatsPerRow, 400, "INVALID_SEATS_PER_ROW", domain.ErrInvalidSeatsPerRow.Error()},
		{domain.ErrInvalidSeatIDs, 400, "INVALID_SEAT_IDS", domain.ErrInvalidSeatIDs.Error()},
		{domain.ErrInvalidCount, 400, "INVALID_SEAT_COUNT", domain.ErrInvalidCount.Error()},
		{domain.ErrInvalidIdemKey, 400, "INVALID_IDEMPOTENCY_KEY", domain.ErrInvalidIdemKey.Error()},
		{domain.ErrNotEnoughSeats, 409, "NOT_ENOUGH_SEATS", domain.ErrNotEnoughSeats.Error()},
		{fmt.Errorf("hold seats of u in e: %w", &domain.CoolDownError{RetryAfter: time.Second}), 429, "HOLD_LIFETIME_REACHED", domain.ErrCoolDown.Error() + " (in 1s)"},
		{domain.ErrHoldLifetime, 409, "HOLD_LIFETIME_REACHED", domain.ErrHoldLifetime.Error()},
		{domain.ErrIdempotencyKeyReused, 422, "IDEMPOTENCY_KEY_REUSED", domain.ErrIdempotencyKeyReused.Error()},
		{fmt.Errorf("reserve seats of u in e: %w", &domain.SeatsError{Err: domain.ErrNoLiveHold, Seats: []domain.SeatID{{Event: "e", Number: 1}}}), 403, "NO_LIVE_HOLD",
			domain.ErrNoLiveHold.Error() + ": e.1"},
		{fmt.Errorf("hold seat x.1: %w", errDown), 503, "STORE_UNAVAILABLE", "store unavailable"},
		{application.ErrUnavailable, 503, "STORE_UNAVAILABLE", "store unavailable"},
		{fmt.Errorf("%w: unknown field %q", errInvalidJSON, "x"), 400, "INVALID_JSON", `invalid JSON body: unknown field "x"`},
		{errBodyTooLarge, 413, "BODY_TOO_LARGE", "request body is over 16384 bytes"},
		{errMediaType, 415, "UNSUPPORTED_MEDIA_TYPE", "Content-Type must be application/json"},
		{errNoRoute, 404, "NOT_FOUND", "no such path"},
		{errMethodNotAllowed, 405, "METHOD_NOT_ALLOWED", "method not allowed on this path"},
		{fmt.Errorf("%w: panic: boom", errInternal), 500, "INTERNAL", "internal error"},
		{errors.New("unexpected"), 500, "INTERNAL", "internal error"},
	}
	for _, tt := range tests {
		e := classify(tt.give)
		if e.status != tt.wantStatus || e.code != tt.wantCode {
			t.Errorf("classify(%v) = %d %s, want %d %s", tt.give, e.status, e.code, tt.wantStatus, tt.wantCode)
		}
		if got := e.message(tt.give); got != tt.wantMessage {
			t.Errorf("message(%v) = %q, want %q", tt.give, got, tt.wantMessage)
		}
	}
}

// TestEveryRefusalHasAStatus: the table answers every refusal of the
// rules with its own code and an error status; a refusal missing from
// refusalStatus would answer 500.
func TestEveryRefusalHasAStatus(t *testing.T) {
	t.Parallel()
	for _, r := range domain.Refusals() {
		e := classify(fmt.Errorf("op: %w", r))
		if e.err != r || e.code != r.Code() || e.status < 400 || e.status >= 500 {
			t.Errorf("%s (%v) answers %d %s", r.Code(), r, e.status, e.code)
		}
	}
	if len(refusalStatus) != len(domain.Refusals()) {
		t.Errorf("refusalStatus has %d entries for %d refusals", len(refusalStatus), len(domain.Refusals()))
	}
}

// TestErrorTableStatuses: every row maps to an error status, no two rows
// share an error, and two share a code only when the rules give it to
// both (two refusals the API answers alike but for the status).
func TestErrorTableStatuses(t *testing.T) {
	t.Parallel()
	errs := map[error]bool{}
	codes := map[string]error{}
	for _, e := range errorTable {
		if e.status < 400 || http.StatusText(e.status) == "" {
			t.Errorf("%s: status %d", e.code, e.status)
		}
		if errs[e.err] {
			t.Errorf("%s (%v) appears twice", e.code, e.err)
		}
		errs[e.err] = true
		_, refusal := e.err.(*domain.Refusal)
		if other, ok := codes[e.code]; ok {
			if _, otherRefusal := other.(*domain.Refusal); !refusal || !otherRefusal {
				t.Errorf("%s is the code of %v and %v", e.code, other, e.err)
			}
		}
		codes[e.code] = e.err
	}
}

// TestErrorBody: a refusal that names seats lists them, and one of a
// buyer in their cool-down says when to come back, in whole seconds
// rounded up.
func TestErrorBody(t *testing.T) {
	t.Parallel()
	const event = "0b6c3c1e-8a52-4c5e-9a57-0f6a3d2b9e10"
	seats := []domain.SeatID{{Event: event, Number: 7}, {Event: event, Number: 10000}}
	tests := []struct {
		give       error
		wantBody   string
		retryAfter string
	}{
		{fmt.Errorf("hold: %w", &domain.SeatsError{Err: domain.ErrSeatHeld, Seats: seats}),
			`{"error":"seat is on hold for another UUID: ` + event + `.7, ` + event + `.10000","code":"SEAT_HELD","seats":["` +
				event + `.7","` + event + `.10000"]}`, ""},
		{domain.ErrSeatHeld, `{"error":"seat is on hold for another UUID","code":"SEAT_HELD"}`, ""},
		{&domain.CoolDownError{RetryAfter: 59*time.Second + time.Millisecond}, "", "60"},
		{&domain.CoolDownError{RetryAfter: time.Nanosecond}, "", "1"},
		{&domain.CoolDownError{RetryAfter: 2 * time.Minute}, "", "120"},
		{domain.ErrHoldLifetime, "", ""},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		c, _ := gin.CreateTestContext(rec)
		writeError(c, tt.give)
		if tt.wantBody != "" && rec.Body.String() != tt.wantBody {
			t.Errorf("%v:\n got %s\nwant %s", tt.give, rec.Body, tt.wantBody)
		}
		if got := rec.Header().Get("Retry-After"); got != tt.retryAfter {
			t.Errorf("%v: Retry-After %q, want %q", tt.give, got, tt.retryAfter)
		}
	}
}

// TestOneMessageOnEveryPath: an unknown event is refused with the same
// sentence on every path that names it, and its seat on every path that
// names a seat; the use case's context is in the request's log line, not
// in the answer.
func TestOneMessageOnEveryPath(t *testing.T) {
	t.Parallel()
	const event = "0b6c3c1e-8a52-4c5e-9a57-0f6a3d2b9e10"
	seat := event + ".1"
	core, logs := observer.New(zapcore.InfoLevel)
	a := &testAPI{t: t, router: NewRouter(application.NewService(memstore.New(time.Now), defaultPolicy), zap.New(core), metrics.New())}
	requests := []struct {
		method, path, body string
		want               *domain.Refusal
	}{
		{http.MethodGet, "/events/" + event, "", domain.ErrEventNotFound},
		{http.MethodGet, "/events/" + event + "/summary", "", domain.ErrEventNotFound},
		{http.MethodGet, "/seats/list/" + event, "", domain.ErrEventNotFound},
		{http.MethodDelete, "/events/" + event, "", domain.ErrEventNotFound},
		{http.MethodGet, "/seats/get/" + seat, "", domain.ErrSeatNotFound},
		{http.MethodPost, holdPath, seatRequest(seat, "alice"), domain.ErrSeatNotFound},
		{http.MethodPost, refreshPath, seatRequest(seat, "alice"), domain.ErrSeatNotFound},
		{http.MethodPost, reservePath, seatRequest(seat, "alice"), domain.ErrSeatNotFound},
		{http.MethodPost, cartPath(event, opHold), idsBody("alice", seat), domain.ErrEventNotFound},
		{http.MethodPost, cartPath(event, opRefresh), idsBody("alice"), domain.ErrEventNotFound},
		{http.MethodPost, cartPath(event, opReserve), idsBody("alice", seat), domain.ErrEventNotFound},
		{http.MethodPost, cartPath(event, opRelease), idsBody("alice", seat), domain.ErrEventNotFound},
	}
	for _, r := range requests {
		rec := a.do(r.method, r.path, "application/json", r.body)
		var got errorJSON
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || got.Code != r.want.Code() || got.Error != r.want.Error() {
			t.Errorf("%s %s: %d %s, want %s %q", r.method, r.path, rec.Code, rec.Body, r.want.Code(), r.want.Error())
		}
	}
	// The log keeps the use case's context: which call, which id.
	lines := logs.FilterField(zap.String("route", "/seats/list/:eventId")).All()
	if len(lines) != 1 || lines[0].ContextMap()["error"] != "list seats of "+event+": event not found" {
		t.Errorf("log of the listing: %v, want its error with the use case's context", lines)
	}
}
