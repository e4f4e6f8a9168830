package httpapi

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/seatres/reservation/application"
	"github.com/seatres/reservation/domain"
)

// Limits are the rate limits of the API; a Rate that is Off limits nothing.
type Limits struct {
	// Buyer counts seat changes per buyer: the buyer token's sub, else the
	// body's UUID.
	Buyer domain.Rate
	// IP counts every API request per client IP (not /healthz, /readyz or
	// /metrics, which probes and scrapers call).
	IP domain.Rate
	// Key counts every request per API key.
	Key domain.Rate
	// Create counts creates per API key, per client IP without a key.
	Create domain.Rate
}

func (l Limits) off() bool { return l.Buyer.Off() && l.IP.Off() && l.Key.Off() && l.Create.Off() }

var errRateLimited = errors.New("rate limit reached")

// limit counts the request against every limit of the route rt that is on,
// in one call to the limiter; buyer is a seat change's UUID, which
// allowBuyer has held to the buyer token's sub.
// It answers the request itself, and reports false, when a limit refuses
// it or the limiter cannot tell: then nothing is attempted, so that a
// limiter's failure is a 503, never a wrong answer about seats.
//
// Unknown paths (404, 405) are not counted: they cost less than the
// limiter's call would.
func (cl *caller) limit(c *gin.Context, rt route, buyer string) bool {
	if cl.g.limiter == nil {
		return true
	}
	checks := cl.checks(rt, buyer)
	if len(checks) == 0 {
		return true
	}
	decisions, err := cl.g.limiter.Allow(c.Request.Context(), checks)
	if err != nil {
		deny(c, fmt.Errorf("rate limits: %w", err))
		return false
	}
	i := tightest(decisions)
	if i < 0 {
		return true
	}
	d, check := decisions[i], checks[i]
	name, _, _ := strings.Cut(check.Key, ":")
	burst := max(check.Rate.Burst, 1)
	// The IETF httpapi draft's structured fields: the quota q is the burst,
	// earned back whole in the window w; r of it remain, whole again in t.
	c.Header("RateLimit-Policy", `"`+name+`";q=`+strconv.Itoa(burst)+";w="+retryAfter(check.Rate.Span()))
	c.Header("RateLimit", `"`+name+`";r=`+strconv.Itoa(d.Remaining)+";t="+retryAfter(d.Reset))
	c.Header("Retry-After", retryAfter(d.RetryAfter))
	deny(c, fmt.Errorf("%w: %s", errRateLimited, name))
	return false
}

// checks are the limits that the caller's request to rt counts against,
// keyed "ip:<addr>", "key:<name>", "create:<key name or addr>" and
// "buyer:<uuid>".
func (cl *caller) checks(rt route, buyer string) []application.LimitCheck {
	l := cl.g.limits
	checks := make([]application.LimitCheck, 0, 3)
	add := func(r domain.Rate, kind, who string) {
		if !r.Off() {
			checks = append(checks, application.LimitCheck{Key: kind + ":" + who, Rate: r})
		}
	}
	add(l.IP, "ip", cl.ip)
	if cl.keyed {
		add(l.Key, "key", cl.key.Name)
	}
	if rt.create {
		if cl.keyed {
			add(l.Create, "create", cl.key.Name)
		} else {
			add(l.Create, "create", cl.ip)
		}
	}
	if rt.seats {
		add(l.Buyer, "buyer", buyer)
	}
	return checks
}

// tightest is the refusal that asks the longest wait, -1 when every limit
// allows.
func tightest(decisions []domain.Decision) int {
	at := -1
	for i, d := range decisions {
		if !d.Allowed && (at < 0 || d.RetryAfter > decisions[at].RetryAfter) {
			at = i
		}
	}
	return at
}
