package httpapi

import (
	"encoding/binary"
	"math/rand/v2"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
)

// Metrics is what the API reports to: a middleware that observes every
// request, and the handler of GET /metrics.
type Metrics interface {
	Middleware() gin.HandlerFunc
	Handler() http.Handler
	// ConnectionRefused counts a connection refused at the cap of
	// Config.MaxConns, which no request's metric sees.
	ConnectionRefused()
	// SlowSubscriber counts a stream's subscriber disconnected because a
	// write to it did not complete in time (stream.go).
	SlowSubscriber()
}

const (
	requestIDHeader   = "X-Request-ID"
	maxRequestIDBytes = 128
)

// requestIDKey is requestIDHeader in canonical form, to set and read it in
// a header map without canonicalizing it on every request.
var requestIDKey = http.CanonicalHeaderKey(requestIDHeader)

// requestID gives every request an id, the client's X-Request-ID when it
// sent a sane one, so a client's report and the server's log line meet. The
// id is echoed in the response, where the log line finds it.
func requestID() gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.GetHeader(requestIDHeader)
		if !validRequestID(id) {
			id = newRequestID()
		}
		c.Writer.Header()[requestIDKey] = []string{id}
		c.Next()
	}
}

// newRequestID returns a random (version 4) UUID. An id names a request in
// logs and need not be unguessable, so it comes from math/rand, which takes
// no lock and no system call, unlike crypto/rand.
func newRequestID() string {
	var u uuid.UUID
	binary.LittleEndian.PutUint64(u[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(u[8:], rand.Uint64())
	u[6] = u[6]&0x0f | 0x40 // version 4
	u[8] = u[8]&0x3f | 0x80 // RFC 9562 variant
	return u.String()
}

// validRequestID accepts 1..128 visible ASCII characters: anything else
// could forge log lines or bloat them.
func validRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDBytes {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] > '~' {
			return false
		}
	}
	return true
}

// healthz answers while the process serves; it does not look at the store,
// so an outage of Redis does not get healthy instances restarted.
func healthz(c *gin.Context) {
	respond(c, http.StatusOK, func(b []byte) []byte { return append(b, `{"status":"ok"}`...) })
}

// readyz answers 200 when the store answers, 503 otherwise, so load
// balancers send traffic only to instances that can serve it.
func (h handler) readyz(c *gin.Context) {
	if err := h.uc.Ready(c.Request.Context()); err != nil {
		writeError(c, err)
		return
	}
	respond(c, http.StatusOK, func(b []byte) []byte { return append(b, `{"status":"ready"}`...) })
}
