package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

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
		{fmt.Errorf("get seat x.1: %w", domain.ErrSeatNotFound), 404, "SEAT_NOT_FOUND", "get seat x.1: seat not found"},
		{fmt.Errorf("hold seat x.1: %w", domain.ErrSeatHeld), 409, "SEAT_HELD", "hold seat x.1: " + domain.ErrSeatHeld.Error()},
		{fmt.Errorf("hold seat x.1: %w", domain.ErrSeatReserved), 409, "SEAT_RESERVED", "hold seat x.1: seat is already reserved"},
		{fmt.Errorf("hold seat x.1: %w", domain.ErrHoldLimit), 429, "HOLD_LIMIT_REACHED", "hold seat x.1: " + domain.ErrHoldLimit.Error()},
		// Same sentence as ErrSeatHeld, another refusal.
		{fmt.Errorf("refresh seat x.1: %w", domain.ErrNotHolder), 403, "NOT_HOLDER", "refresh seat x.1: " + domain.ErrNotHolder.Error()},
		{domain.ErrNotOnHold, 409, "NOT_ON_HOLD", domain.ErrNotOnHold.Error()},
		{domain.ErrNoLiveHold, 403, "NO_LIVE_HOLD", domain.ErrNoLiveHold.Error()},
		{fmt.Errorf("create event: %w", domain.ErrEventExists), 409, "EVENT_EXISTS", "create event: event already exists"},
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

// TestErrorTableStatuses: every row maps to an error status, and no two
// rows share an error or a code.
func TestErrorTableStatuses(t *testing.T) {
	t.Parallel()
	errs := map[error]bool{}
	codes := map[string]bool{}
	for _, e := range errorTable {
		if e.status < 400 || http.StatusText(e.status) == "" {
			t.Errorf("%s: status %d", e.code, e.status)
		}
		if errs[e.err] || codes[e.code] {
			t.Errorf("%s (%v) appears twice", e.code, e.err)
		}
		errs[e.err], codes[e.code] = true, true
	}
}
