package httpapi

import (
	_ "embed"

	"github.com/gin-gonic/gin"

	"github.com/seatres/reservation/domain"
)

// The seat map: GET /events/{id}/map is a page, in seatmap/, that draws
// the event's seats and follows its stream, with a cart for one UUID. It is
// plain HTML, CSS and JavaScript built into the binary; its policy lets it
// load and call nothing but this service.

// The routes of the page's script and style. The page names them by URLs
// relative to its own (../../seatmap/...), so that it also works behind a
// proxy that serves the API under a path prefix.
const (
	seatMapScriptPath = "/seatmap/map.js"
	seatMapStylePath  = "/seatmap/map.css"
)

var (
	//go:embed seatmap/index.html
	seatMapHTML []byte
	//go:embed seatmap/map.js
	seatMapJS []byte
	//go:embed seatmap/map.css
	seatMapCSS []byte
)

// The assets are small: hashed when the package loads, each gzipped on the
// first request that accepts it.
var (
	seatMapPage   = newAsset(seatMapHTML, "text/html; charset=utf-8")
	seatMapScript = newAsset(seatMapJS, "text/javascript; charset=utf-8")
	seatMapStyle  = newAsset(seatMapCSS, "text/css; charset=utf-8")
)

// seatMapPolicy allows the page its own script and style sheet, and
// requests (fetch, EventSource) to this service only. The script sets the
// grid's width through the CSSOM, which the policy does not govern; no
// inline script or style is allowed. The icon is a data: URL. The page has
// no form to send: its buttons call fetch.
const seatMapPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; " +
	"img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// seatMap answers the page for any well-formed event id, without reading
// the store: the page asks for the event itself, and says so when there is
// none. An id that cannot name an event is 404 EVENT_NOT_FOUND, as on every
// route of an event.
func seatMap(c *gin.Context) {
	if _, err := domain.ParseEventID(c.Param("id")); err != nil {
		writeError(c, err)
		return
	}
	c.Header("Content-Security-Policy", seatMapPolicy)
	c.Header("Referrer-Policy", "no-referrer")
	seatMapPage.serve(c)
}

func seatMapScriptAsset(c *gin.Context) { seatMapScript.serve(c) }

func seatMapStyleAsset(c *gin.Context) { seatMapStyle.serve(c) }
