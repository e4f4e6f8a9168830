package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"
)

// CORS (issue #11): the pages of a few named origins, the ticketing site's,
// may call the API from a browser. Off unless WithCORS names an origin:
// then no header is added and OPTIONS is the 405 it always was.
//
// Neither github.com/rs/cors (v1.11.1) nor github.com/gin-contrib/cors
// (v1.7.7) fits. Both allow one fixed list of methods on every path (rs/cors
// echoes the requested method if it is in it), where this API names the
// methods that the path has (gin's Allow, below). gin-contrib's answers
// every request from an unlisted origin, actual ones too, with a bare 403,
// which would change what a non-browser client that sends Origin gets.
// rs/cors answers a refused preflight with the same success status as an
// allowed one, so that neither the network panel nor the log says why, and
// its gin wrapper is a module of its own that the Go proxy does not serve.
// What remains is a map lookup and a few constant headers.

// WithCORS lets the pages of origins (each as ParseOrigin returns it) call
// the API: their preflights are answered, and the answers they get carry
// the headers that let them read them. With none, nothing is installed.
func WithCORS(origins []string) Option {
	return func(g *guard) {
		if len(origins) == 0 {
			return
		}
		listed := make(map[string]bool, len(origins))
		for _, o := range origins {
			listed[o] = true
		}
		g.cors = corsMiddleware(listed)
	}
}

// ParseOrigin checks that s is an origin as a browser sends it in its
// Origin header, scheme://host[:port], and returns it in that form: scheme
// and host in lower case, without the scheme's default port. A wildcard is
// refused: the API takes credentials (Authorization, X-Buyer-Token), and a
// page that holds one must come from a site that the operator named.
func ParseOrigin(s string) (string, error) {
	if strings.Contains(s, "*") {
		return "", fmt.Errorf("origin %q: wildcards are refused, since the API takes credentials (Authorization, X-Buyer-Token): list each origin whose pages may call it, e.g. https://tickets.example.com", s)
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" || u.Hostname() == "" || strings.HasSuffix(u.Host, ":") || u.Opaque != "" || u.User != nil {
		return "", fmt.Errorf("invalid origin %q (want scheme://host[:port], e.g. https://tickets.example.com)", s)
	}
	if u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery || strings.HasSuffix(s, "#") {
		return "", fmt.Errorf("invalid origin %q: an origin has no path, query or fragment (want %s://%s)", s, u.Scheme, u.Host)
	}
	host := strings.ToLower(u.Host)
	if port := u.Port(); port != "" && port == defaultPorts[u.Scheme] {
		host = strings.TrimSuffix(host, ":"+port) // a browser leaves it out
	}
	return u.Scheme + "://" + host, nil // url.Parse lowers the scheme
}

// defaultPorts are the ports that an origin of the scheme leaves out.
var defaultPorts = map[string]string{"http": "80", "https": "443"}

// errOriginNotAllowed refuses the preflight of a page whose origin is not
// listed. The browser would refuse the page's request either way; the 403
// says why, in the network panel and in the log line.
var errOriginNotAllowed = errors.New("origin not allowed")

// The headers of CORS, in canonical form to set them in a header map.
const (
	originHeader        = "Origin"
	requestMethodHeader = "Access-Control-Request-Method"
)

var (
	// corsRequestHeaders are the request headers that the API reads and a
	// page may send (Accept-Encoding is the browser's own): credentials,
	// the body's type, keys of retries, the conditional list, the
	// stream's resumption, the request id and the trace context.
	corsRequestHeaders = []string{strings.Join([]string{
		authorizationHeader, "Content-Type", idempotencyKeyHeader, "If-None-Match",
		"Last-Event-ID", buyerTokenHeader, requestIDHeader, "traceparent", "tracestate", "baggage",
	}, ", ")}
	// corsExposedHeaders are the response headers that a page may read
	// beyond those always readable (Content-Type, Content-Length,
	// Cache-Control, ...): what to retry after and why, versions and
	// redirects, the request id to report.
	corsExposedHeaders = []string{strings.Join([]string{
		"Allow", "Content-Encoding", "ETag", "Location", "RateLimit", "RateLimit-Policy",
		"Retry-After", "WWW-Authenticate", requestIDHeader,
	}, ", ")}
	// corsMaxAge is how many seconds a browser may keep a preflight's
	// answer (Chromium keeps it two hours at most): ten minutes spare a
	// page most of its preflights.
	corsMaxAge = []string{"600"}
)

// corsMiddleware answers the preflights of the listed origins, refuses
// those of others, and lets the listed origins' pages read every answer.
//
// A preflight is an OPTIONS, a method that no route has: gin runs it
// through the middlewares of the engine (this one among them) before its
// 405, and has then set Allow to the methods the path has. A path with no
// method has no Allow, and its preflight gets the 404 of any unknown path.
// The guard is in the routes' groups, so it never sees a preflight: a
// preflight carries no credentials and counts against no limit.
func corsMiddleware(listed map[string]bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		h := c.Writer.Header()
		// On every answer, with an Origin or not: a cache must not give
		// one origin's answer to another.
		h.Add("Vary", originHeader)
		origin, ok := c.Request.Header[originHeader]
		if !ok {
			return // no page of another origin: nothing to add
		}
		allowed := len(origin) == 1 && listed[origin[0]]
		if c.Request.Method == http.MethodOptions && c.Request.Header.Get(requestMethodHeader) != "" {
			preflight(c, allowed)
			return
		}
		if allowed {
			h["Access-Control-Allow-Origin"] = origin
			h["Access-Control-Expose-Headers"] = corsExposedHeaders
		}
	}
}

// preflight answers the preflight of c: from a listed origin, 204 with
// what its page may send; from another, 403 without a CORS header, which
// the browser refuses.
func preflight(c *gin.Context, allowed bool) {
	h := c.Writer.Header()
	if !allowed {
		c.Abort()
		writeError(c, fmt.Errorf("%w: the pages of %q may not call this API (CORS): it is not among the service's origins", errOriginNotAllowed, strings.Join(c.Request.Header[originHeader], ", ")))
		return
	}
	methods := h.Get("Allow")
	if methods == "" {
		return // no such path: its 404
	}
	h["Access-Control-Allow-Origin"] = c.Request.Header[originHeader]
	h["Access-Control-Allow-Methods"] = []string{methods}
	h["Access-Control-Allow-Headers"] = corsRequestHeaders
	h["Access-Control-Max-Age"] = corsMaxAge
	c.AbortWithStatus(http.StatusNoContent)
}

// useCORS installs the CORS middleware on r, if CORS is on.
func (g *guard) useCORS(r *gin.Engine) {
	if g.cors != nil {
		r.Use(g.cors)
	}
}
