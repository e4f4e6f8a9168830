package httpapi

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/seatres/reservation/application"
	"github.com/seatres/reservation/domain"
)

// UseCases is what the HTTP API asks of the application.
type UseCases interface {
	Ready(ctx context.Context) error
	CreateEvent(ctx context.Context, r application.NewEvent) (domain.Event, error)
	DeleteEvent(ctx context.Context, id string) error
	Event(ctx context.Context, id string) (domain.Event, error)
	AvailableSeats(ctx context.Context, eventID string) (domain.Event, []int, domain.Version, error)
	ListVersion(ctx context.Context, eventID string) (domain.Version, bool, error)
	Stream(ctx context.Context, eventID, after string) (*application.Subscription, error)
	Changes(ctx context.Context, q application.ChangesQuery) (application.ChangesPage, error)
	Summary(ctx context.Context, eventID string) (domain.Summary, error)
	Seat(ctx context.Context, id string) (domain.Seat, error)
	Hold(ctx context.Context, seatID, user string) (domain.Seat, error)
	Refresh(ctx context.Context, seatID, user string) (domain.Seat, error)
	Reserve(ctx context.Context, seatID, user string) (domain.Seat, error)
	HoldSeats(ctx context.Context, r application.CartRequest) ([]domain.Seat, error)
	RefreshCart(ctx context.Context, r application.CartRequest) ([]domain.Seat, error)
	ReserveSeats(ctx context.Context, r application.CartRequest) ([]domain.Seat, error)
	Release(ctx context.Context, r application.CartRequest) ([]domain.Seat, error)
}

var _ UseCases = (*application.Service)(nil)

// handler turns requests into use-case calls. Each call gets the request's
// context (not the pooled gin.Context, which gin recycles once the handler
// returns), so a client that goes away cancels its store call.
type handler struct {
	uc UseCases
}

func (h handler) createEvent(c *gin.Context) {
	r, err := readCreate(c)
	if err == nil {
		r.IdempotencyKey, err = idempotencyKey(c)
	}
	if err != nil {
		writeError(c, err)
		return
	}
	r.Owner = keyName(c) // whose quota the event counts against
	e, err := h.uc.CreateEvent(c.Request.Context(), r)
	if err != nil {
		writeError(c, err)
		return
	}
	respond(c, http.StatusCreated, func(b []byte) []byte { return appendEvent(b, e) })
}

func (h handler) event(c *gin.Context) {
	e, err := h.uc.Event(c.Request.Context(), c.Param("id"))
	if err != nil {
		writeError(c, err)
		return
	}
	respond(c, http.StatusOK, func(b []byte) []byte { return appendEvent(b, e) })
}

func (h handler) summary(c *gin.Context) {
	s, err := h.uc.Summary(c.Request.Context(), c.Param("id"))
	if err != nil {
		writeError(c, err)
		return
	}
	respond(c, http.StatusOK, func(b []byte) []byte { return appendSummary(b, s) })
}

func (h handler) seat(c *gin.Context) {
	s, err := h.uc.Seat(c.Request.Context(), c.Param("id"))
	if err != nil {
		writeError(c, err)
		return
	}
	s = shown(c, s)
	callerDependent(c)
	respond(c, http.StatusOK, func(b []byte) []byte { return appendSeat(b, s) })
}

// seatChange handles hold, refresh and reserve of one seat, which share
// their request {"id", "UUID"} and their answer {message, seat}.
func seatChange(message string, change func(ctx context.Context, seatID, user string) (domain.Seat, error)) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, user, err := readSeat(c)
		if err != nil {
			writeError(c, err)
			return
		}
		if !allowBuyer(c, user) {
			return
		}
		s, err := change(c.Request.Context(), id, user)
		if err != nil {
			writeError(c, err)
			return
		}
		s = shown(c, s)
		respond(c, http.StatusOK, func(b []byte) []byte { return appendSeatChange(b, message, s) })
	}
}

// cartChange handles a change of a buyer's cart in the event of the path:
// read reads its body, change is its use case. They share the
// Idempotency-Key header and the answer {message, seats}.
func cartChange(message string, read func(*gin.Context) (application.CartRequest, error),
	change func(context.Context, application.CartRequest) ([]domain.Seat, error)) gin.HandlerFunc {
	return func(c *gin.Context) {
		r, err := read(c)
		if err == nil {
			r.Event = c.Param("id")
			r.IdempotencyKey, err = idempotencyKey(c)
		}
		if err != nil {
			writeError(c, err)
			return
		}
		if !allowBuyer(c, r.User) {
			return
		}
		seats, err := change(c.Request.Context(), r)
		if err != nil {
			writeError(c, err)
			return
		}
		seats = shownSeats(c, seats)
		respond(c, http.StatusOK, func(b []byte) []byte { return appendSeatsChange(b, message, seats) })
	}
}

// idempotencyKeyHeader is in canonical form, to read it from a header map
// without canonicalizing it on every request.
const idempotencyKeyHeader = "Idempotency-Key"

// idempotencyKey returns the request's Idempotency-Key (the IETF httpapi
// draft's), "" when it has none. The key is the value as sent, the draft's
// quotes included: a client sends its key the same way every time, so it
// finds its answer without the server parsing a structured field. A
// header that is empty or given twice names no one key: it is refused, not
// taken for none, so that no client believes a request protected that is
// not.
func idempotencyKey(c *gin.Context) (string, error) {
	values, ok := c.Request.Header[idempotencyKeyHeader]
	if !ok {
		return "", nil
	}
	if len(values) != 1 || values[0] == "" {
		return "", domain.ErrInvalidIdemKey
	}
	return values[0], nil
}
