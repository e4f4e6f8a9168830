package httpapi

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// deleteEvent handles DELETE /events/{id}: 204 No Content once the event
// and all kept of it are gone, 404 EVENT_NOT_FOUND for an event that is
// not there, whether it never was or a delete removed it (a client that
// retries after a lost answer reads 404 as done).
func (h handler) deleteEvent(c *gin.Context) {
	if err := h.uc.DeleteEvent(c.Request.Context(), c.Param("id")); err != nil {
		writeError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
