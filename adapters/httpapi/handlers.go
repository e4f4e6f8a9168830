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
	Event(ctx context.Context, id string) (domain.Event, error)
	AvailableSeats(ctx context.Context, eventID string) (domain.Event, []int, error)
	Seat(ctx context.Context, id string) (domain.Seat, error)
	Hold(ctx context.Context, seatID, user string) (domain.Seat, error)
	Refresh(ctx context.Context, seatID, user string) (domain.Seat, error)
	Reserve(ctx context.Context, seatID, user string) (domain.Seat, error)
}

var _ UseCases = (*application.Service)(nil)

// handler turns requests into use-case calls. Each call gets the request's
// context (not the pooled gin.Context, which gin recycles once the handler
// returns), so a client that goes away cancels its store call.
type handler struct {
	uc UseCases
}

func (h handler) createEvent(c *gin.Context) {
	var (
		name       string
		totalSeats int
	)
	if err := decodeBody(c, field{name: "name", text: &name}, field{name: "totalSeats", integer: &totalSeats}); err != nil {
		writeError(c, err)
		return
	}
	e, err := h.uc.CreateEvent(c.Request.Context(), application.NewEvent{Name: name, TotalSeats: totalSeats})
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

func (h handler) availableSeats(c *gin.Context) {
	e, numbers, err := h.uc.AvailableSeats(c.Request.Context(), c.Param("eventId"))
	if err != nil {
		writeError(c, err)
		return
	}
	respond(c, http.StatusOK, func(b []byte) []byte { return appendAvailableSeats(b, e, numbers) })
}

func (h handler) seat(c *gin.Context) {
	s, err := h.uc.Seat(c.Request.Context(), c.Param("id"))
	if err != nil {
		writeError(c, err)
		return
	}
	respond(c, http.StatusOK, func(b []byte) []byte { return appendSeat(b, s) })
}

// seatChange handles hold, refresh and reserve, which share their request
// {"id", "UUID"} and their answer {message, seat}.
func seatChange(message string, change func(ctx context.Context, seatID, user string) (domain.Seat, error)) gin.HandlerFunc {
	return func(c *gin.Context) {
		var id, user string
		if err := decodeBody(c, field{name: "id", text: &id}, field{name: "UUID", text: &user}); err != nil {
			writeError(c, err)
			return
		}
		s, err := change(c.Request.Context(), id, user)
		if err != nil {
			writeError(c, err)
			return
		}
		respond(c, http.StatusOK, func(b []byte) []byte { return appendSeatChange(b, message, s) })
	}
}
