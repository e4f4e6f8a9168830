package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/seatres/reservation/adapters/identity"
	"github.com/seatres/reservation/application"
	"github.com/seatres/reservation/domain"
)

// The guard (issue #10): who may do what (API keys with scopes, buyer
// tokens), whose holders an answer shows, and how often a client may ask
// (rate limits, in ratelimit.go). Each part is off unless its Option is
// given; with none, NewRouter installs no middleware at all and the API is
// the original's, open to anyone.

// KeyRing finds the API key of a secret (*identity.Keys).
type KeyRing interface {
	Lookup(secret string) (identity.Key, bool)
}

// BuyerTokens verifies a buyer token (*identity.Tokens): it returns the
// buyer the token acts for (its sub), or an error wrapping
// identity.ErrInvalidToken.
type BuyerTokens interface {
	Verify(token string) (buyer string, err error)
}

var (
	_ KeyRing     = (*identity.Keys)(nil)
	_ BuyerTokens = (*identity.Tokens)(nil)
)

// Option configures the guard of NewRouter.
type Option func(*guard)

// WithKeys turns API keys on: creating and deleting events needs a key with
// events:write, and a seat change a key with seats:write or a buyer token.
func WithKeys(k KeyRing) Option { return func(g *guard) { g.keys = k } }

// WithBuyerTokens turns buyer tokens on: a seat change with a token acts
// for the token's buyer only. Without WithKeys, creating and deleting
// events is then refused to everyone, since no key can be valid: a guard
// that is on does not leave the event writes open.
func WithBuyerTokens(t BuyerTokens) Option { return func(g *guard) { g.tokens = t } }

// WithLimiter turns the rate limits on, each of limits that is not Off.
func WithLimiter(l application.Limiter, limits Limits) Option {
	return func(g *guard) { g.limiter, g.limits = l, limits }
}

// WithTrustedProxies names the proxies whose X-Forwarded-For gives the
// client's IP for the per-IP limit. Without it no peer is trusted and the
// client's IP is the peer's.
func WithTrustedProxies(proxies []netip.Prefix) Option {
	return func(g *guard) { g.proxies = proxies }
}

// guard is the configuration of the middleware.
type guard struct {
	keys    KeyRing     // nil: no API keys
	tokens  BuyerTokens // nil: no buyer tokens
	limiter application.Limiter
	limits  Limits
	blocks  *ipBlocks // the IPs past their limit, when it is on
	proxies []netip.Prefix
	tracing gin.HandlerFunc // nil: no traces (tracing.go)
	cors    gin.HandlerFunc // nil: no CORS (cors.go)
	// seatsNeed says what a seat change needs, in a 401's message.
	seatsNeed string
	maxLists  int // lists answered at once; 0: no cap (lists.go)
	// streamsPerIP: streams one client IP has open at once; 0: no cap
	// (stream.go).
	streamsPerIP int
}

func newGuard(opts []Option) *guard {
	g := &guard{}
	for _, o := range opts {
		o(g)
	}
	if g.limits.off() {
		g.limiter = nil // no limit to ask it about
	}
	if g.limiter != nil && !g.limits.IP.Off() {
		g.blocks = newIPBlocks(time.Now)
	}
	switch {
	case g.keys != nil && g.tokens != nil:
		g.seatsNeed = "a seat change needs an API key with seats:write or a buyer token (X-Buyer-Token)"
	case g.keys != nil:
		g.seatsNeed = "a seat change needs an API key with seats:write"
	default:
		g.seatsNeed = "a seat change needs a buyer token (X-Buyer-Token)"
	}
	return g
}

// identifies reports whether callers are told apart: keys or tokens are on.
func (g *guard) identifies() bool { return g.keys != nil || g.tokens != nil }

// trustProxies makes gin's ClientIP the peer's address, or the one that
// X-Forwarded-For gives when the peer is a trusted proxy. gin trusts every
// peer and X-Real-IP too by default, which would let any client choose its
// IP, and so its rate limit.
func (g *guard) trustProxies(r *gin.Engine) {
	r.RemoteIPHeaders = []string{"X-Forwarded-For"}
	var proxies []string
	for _, p := range g.proxies {
		proxies = append(proxies, p.String())
	}
	if err := r.SetTrustedProxies(proxies); err != nil {
		// Only a zero netip.Prefix fails to parse: a bug of the caller.
		panic(fmt.Sprintf("httpapi: trusted proxies: %v", err))
	}
}

// route is what a group of routes asks of its callers.
type route struct {
	scope identity.Scope // the API key's scope it needs, if any
	// seats marks a seat change: it needs a key with seats:write or a
	// buyer token, and its limits wait for the body to name the buyer
	// (allowBuyer).
	seats bool
	// create counts against the create limit.
	create bool
}

var (
	reads       = route{}
	creates     = route{scope: identity.ScopeEventsWrite, create: true}
	deletes     = route{scope: identity.ScopeEventsWrite}
	seatChanges = route{seats: true}
)

// group returns a group of r's routes guarded as rt asks; with the guard
// all off, a group with no middleware.
func (g *guard) group(r *gin.Engine, rt route) *gin.RouterGroup {
	if !g.identifies() && g.limiter == nil {
		return r.Group("")
	}
	return r.Group("", g.middleware(rt))
}

// middleware identifies the caller, checks that it may use the route and,
// except for a seat change that passes, counts the request against its
// limits.
func (g *guard) middleware(rt route) gin.HandlerFunc {
	return func(c *gin.Context) {
		cl := &caller{g: g}
		if g.limiter != nil {
			cl.ip = ipBucket(c.ClientIP())
		}
		if r, ok := g.blocks.refused(cl.ip); ok {
			r.answer(c) // before any credential is read
			return
		}
		// Set first, so that the log line names a key that lacks a scope.
		c.Set(callerKey{}, cl)
		err := cl.identify(c.Request.Header)
		if err == nil {
			err = cl.may(rt)
		}
		switch {
		case err != nil:
			denyCounted(c, cl, err)
		case !rt.seats:
			cl.limit(c, rt, "")
		}
	}
}

// denyCounted answers err once the request has counted against the limits
// of its IP and key: guessing keys or forging tokens is as limited as any
// request, and past the limit every guess gets the same 429.
func denyCounted(c *gin.Context, cl *caller, err error) {
	if cl.limit(c, reads, "") {
		deny(c, err)
	}
}

// Refusals of the guard. errInvalidBuyerToken is identity's own, which
// every error of Verify wraps, so that a client reads why its token is
// refused (expired, badly signed, ...).
var (
	errUnauthenticated   = errors.New("authentication required")
	errInvalidBuyerToken = identity.ErrInvalidToken
	errForbidden         = errors.New("forbidden")
	errUUIDMismatch      = errors.New("the UUID is not the buyer token's subject")
)

// missingScope is the refusal of a key that lacks a scope; it is
// errForbidden.
type missingScope identity.Scope

func (s missingScope) Error() string   { return "the API key lacks the scope " + string(s) }
func (missingScope) Is(err error) bool { return err == errForbidden }

// deny answers err with the WWW-Authenticate of RFC 6750 that goes with it,
// and stops the request there.
func deny(c *gin.Context, err error) {
	var scope missingScope
	switch {
	case errors.Is(err, errUnauthenticated):
		c.Header("WWW-Authenticate", "Bearer")
	case errors.Is(err, errInvalidBuyerToken):
		c.Header("WWW-Authenticate", `Bearer error="invalid_token"`)
	case errors.As(err, &scope):
		c.Header("WWW-Authenticate", `Bearer error="insufficient_scope", scope="`+string(scope)+`"`)
	}
	writeError(c, err)
	c.Abort()
}

// The credentials' headers, in canonical form to read them from the map.
const (
	authorizationHeader = "Authorization"
	buyerTokenHeader    = "X-Buyer-Token"
)

// caller is who sent a request, as far as the guard can tell.
type caller struct {
	g     *guard
	ip    string       // the client's IP (its /64 for IPv6), when limits are on
	key   identity.Key // the API key, when keyed
	keyed bool
	buyer string // the buyer token's sub, "" without a token
}

// callerKey keys the caller in a gin.Context.
type callerKey struct{}

// callerOf returns the request's caller, nil when the guard is off.
func callerOf(c *gin.Context) *caller {
	v, _ := c.Get(callerKey{})
	cl, _ := v.(*caller)
	return cl
}

// identify reads the credentials the guard knows (a key when keys are on,
// a buyer token when tokens are: another header is no credential of this
// service, and is ignored). Each one sent is checked, even where none is
// needed: a wrong one is a client's mistake
// best told at once, not a silent anonymous request. A header given twice
// names no one caller, and is refused.
func (cl *caller) identify(h http.Header) error {
	if values, ok := h[authorizationHeader]; ok && cl.g.keys != nil {
		secret, err := bearer(values)
		if err != nil {
			return err
		}
		if cl.key, cl.keyed = cl.g.keys.Lookup(secret); !cl.keyed {
			return fmt.Errorf("%w: unknown API key", errUnauthenticated)
		}
	}
	if values, ok := h[buyerTokenHeader]; ok && cl.g.tokens != nil {
		if len(values) != 1 {
			return fmt.Errorf("%w: X-Buyer-Token given %d times", errInvalidBuyerToken, len(values))
		}
		buyer, err := cl.g.tokens.Verify(values[0])
		if err != nil {
			return err
		}
		cl.buyer = buyer
	}
	return nil
}

// bearer returns the secret of an Authorization header of the Bearer
// scheme (RFC 6750): the scheme in any case, spaces, then the secret.
func bearer(values []string) (string, error) {
	if len(values) != 1 {
		return "", fmt.Errorf("%w: Authorization given %d times", errUnauthenticated, len(values))
	}
	scheme, secret, _ := strings.Cut(values[0], " ")
	secret = strings.TrimLeft(secret, " ")
	if !strings.EqualFold(scheme, "Bearer") || secret == "" || strings.ContainsAny(secret, " \t") {
		return "", fmt.Errorf(`%w: Authorization must be "Bearer <key>"`, errUnauthenticated)
	}
	return secret, nil
}

// may reports whether the caller may use the route rt.
func (cl *caller) may(rt route) error {
	switch {
	case !cl.g.identifies():
		return nil
	case rt.scope != "":
		if !cl.keyed {
			return fmt.Errorf("%w: an API key with %s is needed (Authorization: Bearer <key>)", errUnauthenticated, rt.scope)
		}
		return cl.needs(rt.scope)
	case rt.seats && cl.buyer == "":
		// A token acts for its buyer whatever key comes with it; allowBuyer
		// holds the body to the token.
		if !cl.keyed {
			return fmt.Errorf("%w: %s", errUnauthenticated, cl.g.seatsNeed)
		}
		return cl.needs(identity.ScopeSeatsWrite)
	}
	return nil
}

func (cl *caller) needs(s identity.Scope) error {
	if !cl.key.Has(s) {
		return missingScope(s)
	}
	return nil
}

// allowBuyer is the guard of a seat change once its body names the buyer,
// user: a buyer token acts for its own buyer only, and the request counts
// against the buyer's limit with the others. It answers the request itself
// when it refuses.
func allowBuyer(c *gin.Context, user string) bool {
	cl := callerOf(c)
	if cl == nil {
		return true
	}
	if cl.buyer != "" && user != cl.buyer {
		denyCounted(c, cl, errUUIDMismatch) // not counted against the victim's limit
		return false
	}
	return cl.limit(c, seatChanges, user)
}

// keyName is the name of the request's API key, "" without one: for its
// log line (the secret is never kept).
func keyName(c *gin.Context) string {
	if cl := callerOf(c); cl != nil && cl.keyed {
		return cl.key.Name
	}
	return ""
}

// seesHolder reports whether the caller may see that a seat is held by
// holder: with callers told apart, only a key with holders:read or the
// holder's own token does. The holder's UUID is what refreshes, reserves
// and releases a seat without a token, so it is shown to no one else.
func (cl *caller) seesHolder(holder domain.UserID) bool {
	return cl.seesEveryHolder() || holder == "" || cl.buyer != "" && string(holder) == cl.buyer
}

// seesEveryHolder reports whether the caller sees every seat's holder:
// callers are not told apart, or its key has holders:read.
func (cl *caller) seesEveryHolder() bool {
	return cl == nil || !cl.g.identifies() || cl.keyed && cl.key.Has(identity.ScopeHoldersRead)
}

// callerDependent marks an answer whose holders depend on the caller's
// credentials (see seesHolder), when callers are told apart: a cache keeps
// it for that caller alone, and names the headers it varies with, so that
// no shared cache (a CDN in front of the API) serves one buyer's holds, or
// a holders:read key's view, to another caller. Without the guard every
// caller gets the same answer, which may be shared.
func callerDependent(c *gin.Context) {
	if cl := callerOf(c); cl != nil && cl.g.identifies() {
		h := c.Writer.Header()
		h.Set("Cache-Control", "private")
		h.Add("Vary", authorizationHeader+", "+buyerTokenHeader)
	}
}

// shown is s as the request's caller may see it: its holder "" unless the
// caller may see it.
func shown(c *gin.Context, s domain.Seat) domain.Seat {
	if !callerOf(c).seesHolder(s.Holder) {
		s.Holder = ""
	}
	return s
}

// shownSeats is seats as the request's caller may see them, a copy where a
// holder is hidden: the use case's slice is left as it is.
func shownSeats(c *gin.Context, seats []domain.Seat) []domain.Seat {
	cl := callerOf(c)
	var hidden []domain.Seat
	for i, s := range seats {
		if cl.seesHolder(s.Holder) {
			continue
		}
		if hidden == nil {
			hidden = append([]domain.Seat(nil), seats...)
		}
		hidden[i].Holder = ""
	}
	if hidden == nil {
		return seats
	}
	return hidden
}
