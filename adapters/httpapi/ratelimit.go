package httpapi

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

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
	// /metrics, which probes and scrapers call) but those with a valid API
	// key: a trusted back end acts for many buyers from few addresses, and
	// its key's limit counts it. An IP past its limit is refused everything,
	// keyed requests included, until the limit lets it in again (see
	// ipBlocks), so that guessing keys stays limited.
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
// Unknown paths (404, 405) and seat changes whose body is refused (400,
// 413, 415) are not counted: they cost less than the limiter's call would,
// and reach no store.
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
	for j, d := range decisions {
		if !d.Allowed && strings.HasPrefix(checks[j].Key, ipCheck) {
			cl.g.blocks.add(cl.ip, refusalOf(checks[j], d))
		}
	}
	refusalOf(checks[i], decisions[i]).answer(c)
	return false
}

// refusal is how a limit refused a request, for its answer.
type refusal struct {
	name      string // the limit's kind: ip, key, buyer or create
	burst     int
	window    time.Duration // in which the burst is earned back
	remaining int
	reset     time.Duration
	retry     time.Duration
}

func refusalOf(check application.LimitCheck, d domain.Decision) refusal {
	name, _, _ := strings.Cut(check.Key, ":")
	return refusal{name: name, burst: max(check.Rate.Burst, 1), window: check.Rate.Span(),
		remaining: d.Remaining, reset: d.Reset, retry: d.RetryAfter}
}

// answer answers the request 429 RATE_LIMITED with the IETF httpapi
// draft's structured fields: the quota q is the burst, earned back whole in
// the window w; r of it remain, whole again in t.
func (r refusal) answer(c *gin.Context) {
	c.Header("RateLimit-Policy", `"`+r.name+`";q=`+strconv.Itoa(r.burst)+";w="+retryAfter(r.window))
	c.Header("RateLimit", `"`+r.name+`";r=`+strconv.Itoa(r.remaining)+";t="+retryAfter(r.reset))
	c.Header("Retry-After", retryAfter(r.retry))
	deny(c, fmt.Errorf("%w: %s", errRateLimited, r.name))
}

// ipCheck starts the key of an IP's limit check.
const ipCheck = "ip:"

// ipBucket is who an IP's limit counts: an IPv4 address, or the /64 of an
// IPv6 one, which is what one client is given (RFC 6177), so that a client
// cannot pass its limit by changing the 64 bits it chooses.
func ipBucket(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil || !a.Is6() || a.Is4In6() {
		return ip
	}
	return netip.PrefixFrom(a, 64).Masked().String()
}

// maxBlocks bounds the IPs an instance remembers as past their limit; past
// it, the expired ones are swept (at most once a second, so that a flood of
// IPs does not make each refusal a sweep), and a new one is not remembered
// while there is no room (the shared limit still refuses it, one call
// later).
const maxBlocks = 1 << 16

// ipBlocks are the IPs that this instance saw refused by the IP limit, each
// until it would pass again. A request from one is refused before its
// credentials are read: a key does not lift an IP's limit, so guessing keys
// from an IP past its limit learns nothing, right guess or wrong. Each
// instance learns of an IP from its own refusals, one shared limit call
// after another instance did.
type ipBlocks struct {
	mu    sync.Mutex
	ips   map[string]blocked
	now   func() time.Time
	swept time.Time // the last sweep
}

// blocked is an IP's refusal by its limit, at a moment.
type blocked struct {
	at time.Time
	r  refusal
}

func newIPBlocks(now func() time.Time) *ipBlocks {
	return &ipBlocks{ips: make(map[string]blocked), now: now}
}

// add remembers that ip's limit refused it with r, now. A nil ipBlocks (no
// IP limit) remembers nothing.
func (b *ipBlocks) add(ip string, r refusal) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	if len(b.ips) >= maxBlocks && now.Sub(b.swept) >= time.Second {
		b.swept = now
		for ip, x := range b.ips {
			if !now.Before(x.at.Add(x.r.retry)) {
				delete(b.ips, ip)
			}
		}
	}
	if len(b.ips) >= maxBlocks {
		return
	}
	b.ips[ip] = blocked{at: now, r: r}
}

// refused returns the refusal of ip's limit as it stands now, if ip is
// still past it.
func (b *ipBlocks) refused(ip string) (refusal, bool) {
	if b == nil {
		return refusal{}, false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	x, ok := b.ips[ip]
	if !ok {
		return refusal{}, false
	}
	elapsed := b.now().Sub(x.at)
	if elapsed >= x.r.retry {
		delete(b.ips, ip)
		return refusal{}, false
	}
	r := x.r
	r.remaining, r.retry, r.reset = 0, r.retry-elapsed, max(r.reset-elapsed, r.retry-elapsed)
	return r, true
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
	if cl.keyed {
		add(l.Key, "key", cl.key.Name)
	} else {
		add(l.IP, "ip", cl.ip)
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
