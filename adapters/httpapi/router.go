package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// NewRouter returns the HTTP API over uc: the routes of api/openapi.yaml,
// JSON answers for unknown paths and methods, request ids, metrics, panic
// recovery and one log line per request. The options turn on its guard
// (guard.go), traces (tracing.go) and CORS (cors.go), all off without them.
func NewRouter(uc UseCases, log *zap.Logger, m Metrics, opts ...Option) *gin.Engine {
	g := newGuard(opts)
	r := gin.New()
	r.HandleMethodNotAllowed = true
	r.RedirectTrailingSlash = false // "/events/x/" is not a path of the contract
	r.UseRawPath = true             // an id's %2F is part of the id, not a separator
	g.trustProxies(r)
	g.useTracing(r)
	// Metrics before recovery, so that a recovered panic counts as a 500.
	r.Use(requestID(), m.Middleware(), logRequests(log, g.tracing != nil), recoverPanics(log))
	// CORS after the log, so that preflights are logged and counted like
	// any request; before every refusal, so that a page can read it.
	g.useCORS(r)
	r.Use(limitHeaders()) // before the guard, which reads headers (server.go)
	r.NoRoute(func(c *gin.Context) { writeError(c, errNoRoute) })
	r.NoMethod(func(c *gin.Context) { writeError(c, errMethodNotAllowed) })

	h := handler{uc: uc}
	// The guard's groups: every route of the API is in one. Every path
	// that answers GET answers HEAD alike (RFC 9110 wants both of a
	// general-purpose server): the same handlers, status and headers, and
	// net/http drops the body.
	read, create, change := g.group(r, reads), g.group(r, creates), g.group(r, seatChanges)
	get := func(routes gin.IRoutes, path string, handler gin.HandlerFunc) {
		routes.GET(path, handler)
		routes.HEAD(path, handler)
	}
	create.POST("/events/create", h.createEvent)
	// gin needs one wildcard name at one position: the event is :id in
	// every path under /events/.
	get(read, "/events/:id", h.event)
	g.group(r, deletes).DELETE("/events/:id", h.deleteEvent)
	get(read, "/events/:id/summary", h.summary)
	get(read, "/events/:id/stream", newStreams(uc, m, g.streamsPerIP).serve) // stream.go
	get(read, "/events/:id/changes", h.changes)                              // changes.go
	// mappage.go: the seat map and its assets, reads like the API's that
	// the page makes.
	get(read, "/events/:id/map", seatMap)
	get(read, seatMapScriptPath, seatMapScriptAsset)
	get(read, seatMapStylePath, seatMapStyleAsset)
	change.POST("/events/:id/hold", cartChange("Seats held", readHold, uc.HoldSeats))
	change.POST("/events/:id/refresh", cartChange("Seat holds refreshed", readRefresh, uc.RefreshCart))
	change.POST("/events/:id/reserve", cartChange("Seats reserved", readReserve, uc.ReserveSeats))
	change.POST("/events/:id/release", cartChange("Seats released", readRelease, uc.Release))
	// OpenAPI matches a concrete path before a templated one, so GET
	// /events/create is a method that /events/create lacks, not the event
	// "create".
	get(r, "/events/create", func(c *gin.Context) {
		c.Header("Allow", http.MethodPost)
		writeError(c, errMethodNotAllowed)
	})
	get(read, "/seats/list/:eventId", newLists(uc, g.maxLists).serve) // lists.go
	get(read, "/seats/get/:id", h.seat)
	change.POST("/seats/hold", seatChange("Seat held", uc.Hold))
	refresh := seatChange("Seat hold refreshed", uc.Refresh)
	change.POST("/seats/refresh", refresh)
	change.POST("/seats/hold/refresh", refresh) // the original service's path
	change.POST("/seats/reserve", seatChange("Seat reserved", uc.Reserve))
	// The document and its docs page, the probes and the metrics are in no
	// group of the guard: open to all and unlimited, they cost less than a
	// limiter call.
	get(r, "/openapi.yaml", openAPIDocument)
	get(r, "/docs", docs) // docs.go: the page that renders the document
	get(r, docsScriptPath, docsScript)
	get(r, "/", rootRedirect)
	get(r, "/healthz", healthz) // uptime checkers send HEAD
	get(r, "/readyz", h.readyz)
	get(r, "/metrics", gin.WrapH(m.Handler()))
	return r
}

// logRequests writes one line per request. Routes are logged as patterns
// (the path only when no route matched), so lines group by endpoint. With
// traces on, the line carries the request's trace id.
func logRequests(log *zap.Logger, traces bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		status := c.Writer.Status()
		level := zapcore.InfoLevel
		switch {
		case errors.Is(answered(c), errTooManyLists):
			// The list cap at work (lists.go), thousands a second under a
			// crowd: an answer, logged at info and so sampled, not a fault.
		case status == http.StatusServiceUnavailable:
			level = zapcore.WarnLevel
		case status >= http.StatusInternalServerError:
			level = zapcore.ErrorLevel
		}
		ce := log.Check(level, "request")
		if ce == nil {
			return
		}
		route := c.FullPath()
		fields := []zap.Field{
			zap.String("method", c.Request.Method),
			zap.String("route", route),
			zap.Int("status", status),
			zap.Duration("latency", time.Since(start)),
			zap.Int("bytes", max(c.Writer.Size(), 0)),
			zap.String("request_id", c.Writer.Header().Get(requestIDKey)),
		}
		if route == "" {
			fields = append(fields, zap.String("path", c.Request.URL.Path))
		}
		if key := keyName(c); key != "" {
			fields = append(fields, zap.String("key", key)) // its name: never a secret or token
		}
		if traces {
			fields = appendTraceID(fields, c)
		}
		if err := answered(c); err != nil {
			fields = append(fields, zap.Error(err))
		}
		ce.Write(fields...)
	}
}

// recoverPanics turns a panic into a 500 INTERNAL answer and an error log
// with the stack, so one bad request cannot take the server down.
func recoverPanics(log *zap.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			p := recover()
			if p == nil {
				return
			}
			if err, ok := p.(error); ok && errors.Is(err, http.ErrAbortHandler) {
				panic(p) // net/http's way to drop the connection on purpose
			}
			log.Error("panic while handling a request", zap.Any("panic", p), zap.StackSkip("stack", 1))
			c.Abort()
			if !c.Writer.Written() {
				writeError(c, fmt.Errorf("%w: panic: %v", errInternal, p))
			}
		}()
		c.Next()
	}
}
