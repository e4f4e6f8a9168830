package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

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

// refusalStatus is the status of each refusal of the rules, whose code is
// the refusal's own. errorTable takes the refusals from domain.Refusals(),
// so that a new one cannot be forgotten here: TestEveryRefusalHasAStatus
// fails (and the refusal would answer 500).
var refusalStatus = map[*domain.Refusal]int{
	domain.ErrEventNotFound:        http.StatusNotFound,
	domain.ErrSeatNotFound:         http.StatusNotFound,
	domain.ErrEventExists:          http.StatusConflict,
	domain.ErrSeatHeld:             http.StatusConflict,
	domain.ErrSeatReserved:         http.StatusConflict,
	domain.ErrHoldLimit:            http.StatusTooManyRequests,
	domain.ErrCoolDown:             http.StatusTooManyRequests, // with Retry-After
	domain.ErrNotEnoughSeats:       http.StatusConflict,
	domain.ErrNotHolder:            http.StatusForbidden,
	domain.ErrNotOnHold:            http.StatusConflict,
	domain.ErrHoldLifetime:         http.StatusConflict,
	domain.ErrNoLiveHold:           http.StatusForbidden,
	domain.ErrIdempotencyKeyReused: http.StatusUnprocessableEntity,
	domain.ErrQuotaExceeded:        http.StatusConflict,
	domain.ErrInvalidName:          http.StatusBadRequest,
	domain.ErrInvalidTotalSeats:    http.StatusBadRequest,
	domain.ErrInvalidSeatsPerRow:   http.StatusBadRequest,
	domain.ErrInvalidUser:          http.StatusBadRequest,
	domain.ErrInvalidSeatID:        http.StatusBadRequest,
	domain.ErrInvalidSeatIDs:       http.StatusBadRequest,
	domain.ErrInvalidPosition:      http.StatusBadRequest,
	domain.ErrInvalidCount:         http.StatusBadRequest,
	domain.ErrInvalidIdemKey:       http.StatusBadRequest,
}

// otherErrors are the errors that are no refusal of the rules: the
// store's, and this adapter's own.
var otherErrors = []apiError{
	{application.ErrUnavailable, http.StatusServiceUnavailable, "STORE_UNAVAILABLE"},
	{application.ErrStoreFull, http.StatusInsufficientStorage, "STORE_FULL"},
	{errInvalidJSON, http.StatusBadRequest, "INVALID_JSON"},
	{errBodyTooLarge, http.StatusRequestEntityTooLarge, "BODY_TOO_LARGE"},
	{errMediaType, http.StatusUnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE"},
	{errNoRoute, http.StatusNotFound, "NOT_FOUND"},
	{errMethodNotAllowed, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED"},
	// The guard's (guard.go, ratelimit.go).
	{errUnauthenticated, http.StatusUnauthorized, "UNAUTHENTICATED"},
	{errInvalidBuyerToken, http.StatusUnauthorized, "INVALID_BUYER_TOKEN"},
	{errForbidden, http.StatusForbidden, "FORBIDDEN"},
	{errUUIDMismatch, http.StatusForbidden, "UUID_MISMATCH"},
	{errRateLimited, http.StatusTooManyRequests, "RATE_LIMITED"},
	{errHeadersTooLarge, http.StatusRequestHeaderFieldsTooLarge, "REQUEST_HEADERS_TOO_LARGE"}, // server.go
	{errTooManyConns, http.StatusServiceUnavailable, "TOO_MANY_CONNECTIONS"},                  // listener.go
	{errTooManyLists, http.StatusServiceUnavailable, "TOO_MANY_LISTS"},                        // lists.go
	{errOriginNotAllowed, http.StatusForbidden, "ORIGIN_NOT_ALLOWED"},                         // cors.go
	// The stream and the history (stream.go, changes.go).
	{application.ErrInvalidLimit, http.StatusBadRequest, "INVALID_LIMIT"},
	{errUnknownParameter, http.StatusBadRequest, "UNKNOWN_PARAMETER"},
	{application.ErrTrimmed, http.StatusGone, "CHANGES_TRIMMED"},
	{application.ErrTooManySubscribers, http.StatusServiceUnavailable, "TOO_MANY_SUBSCRIBERS"}, // with Retry-After
	{errTooManyStreams, http.StatusTooManyRequests, "TOO_MANY_STREAMS"},                        // with Retry-After
	internalError,
}

var internalError = apiError{errInternal, http.StatusInternalServerError, "INTERNAL"}

// errorTable is the one place where errors become status codes. Codes are
// part of the contract (api/openapi.yaml's ErrorCode lists the same set).
var errorTable = newErrorTable()

func newErrorTable() []apiError {
	var table []apiError
	for _, r := range domain.Refusals() {
		if status, ok := refusalStatus[r]; ok {
			table = append(table, apiError{r, status, r.Code()})
		}
	}
	return append(table, otherErrors...)
}

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

// message is the sentence a client reads. A refusal of the rules reads
// the same on every path: its own sentence (with the seats or the wait it
// names, which came from the client), without the context the use case
// wrapped it in ("list seats of E: "), which is for the log. This
// adapter's own errors say what was wrong with the request. A server
// error shows only its kind, because its details (addresses, internal
// messages) are for the log.
func (e apiError) message(err error) string {
	if e.status >= http.StatusInternalServerError {
		return e.err.Error()
	}
	var (
		seats    *domain.SeatsError
		unknown  *application.UnknownSeatsError
		coolDown *domain.CoolDownError
		refusal  *domain.Refusal
	)
	switch {
	case errors.As(err, &seats):
		return seats.Error()
	case errors.As(err, &unknown):
		return unknown.Error()
	case errors.As(err, &coolDown):
		return coolDown.Error()
	case errors.As(err, &refusal):
		return refusal.Error()
	}
	return err.Error()
}

// writeError answers err. The error is kept with the request so that its
// log line carries it whole, with the context its answer leaves out; a
// server error is also attached as gin's error, which marks the request's
// span an error (a refusal is an answer, not a failure). A refusal that
// names seats (a cart's) lists them, and one of a buyer in their cool-down
// says when to come back.
func writeError(c *gin.Context, err error) {
	e := classify(err)
	if e.status >= http.StatusInternalServerError {
		_ = c.Error(err)
	}
	c.Set(answeredKey{}, err)
	seats := namedSeats(err)
	if cd := (*domain.CoolDownError)(nil); errors.As(err, &cd) {
		c.Header("Retry-After", retryAfter(cd.RetryAfter))
	}
	respond(c, e.status, func(b []byte) []byte { return appendError(b, e.message(err), e.code, seats) })
}

// namedSeats are the ids that a refusal of a cart names, nil for none:
// seats the rules refused, or ids of no seat of the event as the client
// sent them.
func namedSeats(err error) []string {
	if se := (*domain.SeatsError)(nil); errors.As(err, &se) {
		ids := make([]string, len(se.Seats))
		for i, id := range se.Seats {
			ids[i] = id.String()
		}
		return ids
	}
	if ue := (*application.UnknownSeatsError)(nil); errors.As(err, &ue) {
		return ue.IDs
	}
	return nil
}

// answeredKey keeps the error a request was answered with, for its log
// line (see answered).
type answeredKey struct{}

// answered is the error c's request was answered with, nil for none.
func answered(c *gin.Context) error {
	v, _ := c.Get(answeredKey{})
	err, _ := v.(error)
	return err
}

// retryAfter is a Retry-After value: whole seconds, rounded up, so that a
// client that waits that long is not refused again.
func retryAfter(d time.Duration) string {
	return strconv.FormatInt(int64((d+time.Second-1)/time.Second), 10)
}
