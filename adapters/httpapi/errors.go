package httpapi

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/seatres/reservation/application"
	"github.com/seatres/reservation/domain"
)

// Refusals found by the HTTP layer itself, before any use case runs.
var (
	errInvalidJSON      = errors.New("invalid JSON body")
	errBodyTooLarge     = fmt.Errorf("request body is over %d bytes", maxBodyBytes)
	errMediaType        = errors.New("Content-Type must be application/json")
	errNoRoute          = errors.New("no such path")
	errMethodNotAllowed = errors.New("method not allowed on this path")
	errInternal         = errors.New("internal error")
)

// apiError is how one kind of error is answered.
type apiError struct {
	err    error // matched with errors.Is
	status int
	code   string
}

// errorTable is the one place where errors become status codes. Codes are
// part of the contract (api/openapi.yaml's ErrorCode lists the same set).
var errorTable = []apiError{
	{domain.ErrInvalidName, http.StatusBadRequest, "INVALID_NAME"},
	{domain.ErrInvalidTotalSeats, http.StatusBadRequest, "INVALID_TOTAL_SEATS"},
	{domain.ErrInvalidUser, http.StatusBadRequest, "INVALID_UUID"},
	{domain.ErrInvalidSeatID, http.StatusBadRequest, "INVALID_SEAT_ID"},
	{domain.ErrEventNotFound, http.StatusNotFound, "EVENT_NOT_FOUND"},
	{domain.ErrSeatNotFound, http.StatusNotFound, "SEAT_NOT_FOUND"},
	{domain.ErrSeatHeld, http.StatusConflict, "SEAT_HELD"},
	{domain.ErrSeatReserved, http.StatusConflict, "SEAT_RESERVED"},
	{domain.ErrHoldLimit, http.StatusTooManyRequests, "HOLD_LIMIT_REACHED"},
	{domain.ErrNotHolder, http.StatusForbidden, "NOT_HOLDER"},
	{domain.ErrNotOnHold, http.StatusConflict, "NOT_ON_HOLD"},
	{domain.ErrNoLiveHold, http.StatusForbidden, "NO_LIVE_HOLD"},
	{domain.ErrEventExists, http.StatusConflict, "EVENT_EXISTS"},
	{application.ErrUnavailable, http.StatusServiceUnavailable, "STORE_UNAVAILABLE"},
	{errInvalidJSON, http.StatusBadRequest, "INVALID_JSON"},
	{errBodyTooLarge, http.StatusRequestEntityTooLarge, "BODY_TOO_LARGE"},
	{errMediaType, http.StatusUnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE"},
	{errNoRoute, http.StatusNotFound, "NOT_FOUND"},
	{errMethodNotAllowed, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED"},
	internalError,
}

var internalError = apiError{errInternal, http.StatusInternalServerError, "INTERNAL"}

// classify finds how err is answered; an error the table does not know is
// a bug, answered as errInternal.
func classify(err error) apiError {
	for _, e := range errorTable {
		if errors.Is(err, e.err) {
			return e
		}
	}
	return internalError
}

// message is the sentence a client reads: a refusal explains itself (its
// ids came from the client), a server error shows only its kind, because
// its details (addresses, internal messages) are for the log.
func (e apiError) message(err error) string {
	if e.status >= http.StatusInternalServerError {
		return e.err.Error()
	}
	return err.Error()
}

// writeError answers err. Server errors are attached to the request so that
// its log line carries them.
func writeError(c *gin.Context, err error) {
	e := classify(err)
	if e.status >= http.StatusInternalServerError {
		_ = c.Error(err)
	}
	respond(c, e.status, func(b []byte) []byte { return appendError(b, e.message(err), e.code) })
}
