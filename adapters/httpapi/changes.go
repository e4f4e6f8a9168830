package httpapi

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/seatres/reservation/application"
	"github.com/seatres/reservation/domain"
)

// defaultChangesLimit is the page of GET /events/{eventId}/changes
// without ?limit=.
const defaultChangesLimit = 100

// changes answers GET /events/{eventId}/changes: a page of the event's
// history, for as long as the store keeps it (RESERVATION_STREAM_MAX_LEN
// records).
func (h handler) changes(c *gin.Context) {
	q, err := changesQuery(c)
	if err != nil {
		writeError(c, err)
		return
	}
	page, err := h.uc.Changes(c.Request.Context(), q)
	if err != nil {
		writeError(c, err)
		return
	}
	cl := callerOf(c)
	callerDependent(c)
	respond(c, http.StatusOK, func(b []byte) []byte { return appendChangesPage(b, page, cl) })
}

// changesQuery reads the query of a page of changes. Each parameter is
// given once at most; given empty, it is a mistake, not its default; one
// of another name is a mistake too.
func changesQuery(c *gin.Context) (application.ChangesQuery, error) {
	q := application.ChangesQuery{Event: c.Param("id"), Limit: defaultChangesLimit}
	query := c.Request.URL.Query()
	err := knownParams(query, "after", "limit", "seat")
	if err != nil {
		return q, err
	}
	if q.After, err = positionParam(query); err != nil {
		return q, err
	}
	if values, ok := query["limit"]; ok {
		if len(values) != 1 {
			return q, application.ErrInvalidLimit
		}
		// Digits only: Atoi would take a sign.
		n, err := strconv.Atoi(values[0])
		if err != nil || values[0][0] < '0' || values[0][0] > '9' {
			return q, application.ErrInvalidLimit
		}
		q.Limit = n // its range is the use case's to check
	}
	if values, ok := query["seat"]; ok {
		if len(values) != 1 || values[0] == "" {
			return q, domain.ErrInvalidSeatID
		}
		q.Seat = values[0]
	}
	return q, nil
}
