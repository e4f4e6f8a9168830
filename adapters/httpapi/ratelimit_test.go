package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/seatres/reservation/adapters/memstore"
	"github.com/seatres/reservation/application"
	"github.com/seatres/reservation/domain"
)

// allLimits turns every limit on, each with its own rate.
var allLimits = Limits{Buyer: perSecond(1, 2), IP: perSecond(2, 4), Key: perSecond(3, 6), Create: perSecond(4, 8)}

// TestLimitChecks: each request makes one call to the limiter, with the
// checks of its route (a refusal of the guard: of its IP and key), or none
// for the document, the probes, the metrics, unknown paths and bad bodies.
func TestLimitChecks(t *testing.T) {
	t.Parallel()
	open := &fakeLimiter{}
	openAPI := newGuardAPI(t, 0, WithLimiter(open, allLimits))
	openEvent := openAPI.event()
	guarded := &fakeLimiter{}
	guardedAPI := newGuardAPI(t, keysOn|tokensOn, WithLimiter(guarded, allLimits))
	event := guardedAPI.event()
	admin := []string{authorizationHeader, bearerOf("admin")}
	const ip = "192.0.2.1" // httptest's peer
	tests := []struct {
		name    string
		guarded bool // keys and tokens on
		method  string
		path    string
		body    string
		header  []string
		want    []string // nil: no call
	}{
		{"read", false, http.MethodGet, "/seats/get/$SEAT", "", nil, []string{"ip:" + ip}},
		{"read with a key", true, http.MethodGet, "/events/$EVENT", "", admin, []string{"key:admin"}},
		{"anonymous create", false, http.MethodPost, "/events/create", `{"name":"a","totalSeats":10}`, nil, []string{"ip:" + ip, "create:" + ip}},
		{"create with a key", true, http.MethodPost, "/events/create", `{"name":"a","totalSeats":10}`, admin, []string{"key:admin", "create:admin"}},
		{"anonymous hold", false, http.MethodPost, holdPath, seatRequest("$SEAT", "alice"), nil, []string{"ip:" + ip, "buyer:alice"}},
		{"hold with a key", true, http.MethodPost, holdPath, seatRequest("$SEAT", "alice"), []string{authorizationHeader, bearerOf("seats")}, []string{"key:seats", "buyer:alice"}},
		{"cart with a token", true, http.MethodPost, "/events/$EVENT/refresh", idsBody("bob"), []string{buyerTokenHeader, "$BOB"}, []string{"ip:" + ip, "buyer:bob"}},
		{"spec", false, http.MethodGet, "/openapi.yaml", "", nil, nil},
		{"healthz", false, http.MethodGet, "/healthz", "", nil, nil},
		{"readyz", false, http.MethodGet, "/readyz", "", nil, nil},
		{"metrics", false, http.MethodGet, "/metrics", "", nil, nil},
		{"no route", false, http.MethodGet, "/nowhere", "", nil, nil},
		{"bad body", false, http.MethodPost, holdPath, `{"id":1}`, nil, nil},
		{"no credentials", true, http.MethodPost, holdPath, seatRequest("$SEAT", "alice"), nil, []string{"ip:" + ip}},
		{"a bad token", true, http.MethodGet, "/events/$EVENT", "", []string{buyerTokenHeader, "forged"}, []string{"ip:" + ip}},
		{"a guessed key", true, http.MethodGet, "/events/$EVENT", "", []string{authorizationHeader, "Bearer guess"}, []string{"ip:" + ip}},
		{"a key without the scope", true, http.MethodPost, "/events/create", `{"name":"a","totalSeats":10}`, []string{authorizationHeader, bearerOf("seats")}, []string{"key:seats"}},
		{"another buyer's UUID", true, http.MethodPost, holdPath, seatRequest("$SEAT", "alice"), []string{buyerTokenHeader, "$BOB"}, []string{"ip:" + ip}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, e, limiter := openAPI, openEvent, open
			if tt.guarded {
				a, e, limiter = guardedAPI, event, guarded
			}
			expand := strings.NewReplacer("$EVENT", e.ID, "$SEAT", seatOf(e, i+1), "$BOB", a.token("bob")).Replace
			header := slices.Clone(tt.header)
			for j := range header {
				header[j] = expand(header[j])
			}
			// One test at a time per limiter: the subtests do not run in
			// parallel.
			limiter.reset()
			r := a.send(tt.method, expand(tt.path), expand(tt.body), header...)
			var want [][]string
			if tt.want != nil {
				want = [][]string{tt.want}
			}
			if got := limiter.keys(); !slices.EqualFunc(got, want, slices.Equal) {
				t.Errorf("got %d, limiter calls %q, want %q", r.Code, got, want)
			}
			for _, call := range limiter.calls {
				for _, c := range call {
					if kind, _, _ := strings.Cut(c.Key, ":"); c.Rate != rateOf(kind) {
						t.Errorf("check %s with rate %+v", c.Key, c.Rate)
					}
				}
			}
		})
	}
}

// rateOf is allLimits' rate of a kind of check.
func rateOf(kind string) domain.Rate {
	return map[string]domain.Rate{"buyer": allLimits.Buyer, "ip": allLimits.IP, "key": allLimits.Key, "create": allLimits.Create}[kind]
}

// TestRateLimited: a refusal of any limit is a 429 RATE_LIMITED with the
// wait and the draft's headers of the most restrictive refusal, and the
// request is not attempted.
func TestRateLimited(t *testing.T) {
	t.Parallel()
	// Refused: buyer after 1.5 s (burst 20 at 10/s: a window of 2 s),
	// create after 0.2 s; the others allow.
	limiter := &fakeLimiter{decide: func(c application.LimitCheck) domain.Decision {
		switch kind, _, _ := strings.Cut(c.Key, ":"); kind {
		case "buyer":
			return domain.Decision{RetryAfter: 1500 * time.Millisecond, Reset: 2500 * time.Millisecond}
		case "create":
			return domain.Decision{RetryAfter: 200 * time.Millisecond, Reset: time.Minute}
		}
		return domain.Decision{Allowed: true, Remaining: 3, Reset: time.Second}
	}}
	limits := Limits{Buyer: perSecond(10, 20), IP: perSecond(100, 100), Create: domain.Rate{Count: 10, Period: time.Minute, Burst: 5}}
	a := newGuardAPI(t, 0, WithLimiter(limiter, limits))
	e, err := a.svc.CreateEvent(context.Background(), application.NewEvent{Name: "Limited", TotalSeats: 10})
	if err != nil {
		t.Fatal(err)
	}
	seat := e.Seat(1).String()
	tests := []struct {
		name                   string
		path, body             string
		retry, policy, current string
	}{
		{"seat", holdPath, seatRequest(seat, "alice"), "2", `"buyer";q=20;w=2`, `"buyer";r=0;t=3`},
		{"cart", cartPath(string(e.ID), opHold), idsBody("alice", seat), "2", `"buyer";q=20;w=2`, `"buyer";r=0;t=3`},
		{"create", "/events/create", `{"name":"a","totalSeats":10}`, "1", `"create";q=5;w=30`, `"create";r=0;t=60`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := a.send(http.MethodPost, tt.path, tt.body)
			wantError(t, r, http.StatusTooManyRequests, "RATE_LIMITED")
			for _, h := range []struct{ name, want string }{
				{"Retry-After", tt.retry}, {"RateLimit-Policy", tt.policy}, {"RateLimit", tt.current},
			} {
				if got := r.Header().Get(h.name); got != h.want {
					t.Errorf("%s = %q, want %q", h.name, got, h.want)
				}
			}
		})
	}
	if s, err := a.svc.Seat(context.Background(), seat); err != nil || s.Status != domain.Available {
		t.Errorf("the refused holds changed the seat: %+v, %v", s, err)
	}
	if events := a.send(http.MethodGet, "/events/"+string(e.ID), ""); events.Code != http.StatusOK {
		t.Errorf("a read, which no limit refuses, got %d", events.Code)
	}
}

// TestLimiterFails: when the limiter cannot decide, the request is not
// attempted and answers 503 STORE_UNAVAILABLE, never a seat's answer.
func TestLimiterFails(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		give error
		want int
		code string
	}{
		{"unavailable", fmt.Errorf("limit: %w: redis: i/o timeout", application.ErrUnavailable), http.StatusServiceUnavailable, "STORE_UNAVAILABLE"},
		{"a bug", errors.New("limiter broke"), http.StatusInternalServerError, "INTERNAL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := newGuardAPI(t, 0, WithLimiter(&fakeLimiter{err: tt.give}, allLimits))
			e, err := a.svc.CreateEvent(context.Background(), application.NewEvent{Name: "Down", TotalSeats: 10})
			if err != nil {
				t.Fatal(err)
			}
			seat := e.Seat(1).String()
			for _, r := range []struct{ method, path, body string }{
				{http.MethodPost, holdPath, seatRequest(seat, "alice")},
				{http.MethodPost, cartPath(string(e.ID), opHold), idsBody("alice", seat)},
				{http.MethodPost, "/events/create", `{"name":"a","totalSeats":10}`},
				{http.MethodGet, "/seats/get/" + seat, ""},
			} {
				wantError(t, a.send(r.method, r.path, r.body), tt.want, tt.code)
			}
			if s, err := a.svc.Seat(context.Background(), seat); err != nil || s.Status != domain.Available {
				t.Errorf("the seat changed: %+v, %v", s, err)
			}
		})
	}
}

// TestClientIP: X-Forwarded-For names the client only when the peer is a
// trusted proxy; X-Real-IP never does.
func TestClientIP(t *testing.T) {
	t.Parallel()
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32")}
	tests := []struct {
		name    string
		proxies []netip.Prefix
		peer    string
		header  []string
		want    string
	}{
		{"no proxy trusted", nil, "10.0.0.1:4000", []string{"X-Forwarded-For", "203.0.113.7"}, "ip:10.0.0.1"},
		{"trusted proxy", proxies, "10.0.0.1:4000", []string{"X-Forwarded-For", "203.0.113.7"}, "ip:203.0.113.7"},
		{"spoofed behind a proxy", proxies, "10.0.0.1:4000", []string{"X-Forwarded-For", "198.51.100.9, 203.0.113.7"}, "ip:203.0.113.7"},
		{"two proxies", proxies, "10.0.0.1:4000", []string{"X-Forwarded-For", "203.0.113.7, 10.0.0.2"}, "ip:203.0.113.7"},
		{"untrusted peer", proxies, "192.0.2.1:4000", []string{"X-Forwarded-For", "203.0.113.7"}, "ip:192.0.2.1"},
		{"X-Real-IP", proxies, "10.0.0.1:4000", []string{"X-Real-IP", "203.0.113.7"}, "ip:10.0.0.1"},
		{"IPv6 proxy", proxies, "[2001:db8::1]:4000", []string{"X-Forwarded-For", "2001:db8:ffff::1, 203.0.113.8"}, "ip:203.0.113.8"},
		{"no header", proxies, "10.0.0.1:4000", nil, "ip:10.0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			limiter := &fakeLimiter{}
			a := newGuardAPI(t, 0, WithLimiter(limiter, Limits{IP: perSecond(10, 10)}), WithTrustedProxies(tt.proxies))
			req := a.request(http.MethodGet, "/events/x", "", "")
			req.RemoteAddr = tt.peer
			for i := 0; i < len(tt.header); i += 2 {
				req.Header.Add(tt.header[i], tt.header[i+1])
			}
			a.serve(req, "")
			if got := limiter.keys(); !slices.EqualFunc(got, [][]string{{tt.want}}, slices.Equal) {
				t.Errorf("limited as %q, want %q", got, tt.want)
			}
		})
	}
}

// TestLimitsInMemory: the memory store's limiter refuses past the burst,
// each limit by its own key, and the refusal is no HOLD_LIMIT_REACHED.
func TestLimitsInMemory(t *testing.T) {
	t.Parallel()
	limiter := memstore.NewLimiter(time.Now)
	a := newGuardAPI(t, tokensOn, WithLimiter(limiter, Limits{Buyer: domain.Rate{Count: 1, Period: time.Hour, Burst: 2}}))
	e, err := a.svc.CreateEvent(context.Background(), application.NewEvent{Name: "Memory", TotalSeats: 10})
	if err != nil {
		t.Fatal(err)
	}
	alice := []string{buyerTokenHeader, a.token("alice")}
	for n, want := range []int{http.StatusOK, http.StatusOK, http.StatusTooManyRequests} {
		r := a.send(http.MethodPost, holdPath, seatRequest(e.Seat(n+1).String(), "alice"), alice...)
		if r.Code != want {
			t.Fatalf("hold %d: got %d %s, want %d", n+1, r.Code, r.Body, want)
		}
		if want == http.StatusTooManyRequests {
			wantError(t, r, want, "RATE_LIMITED")
			if r.Header().Get("Retry-After") == "" || !strings.HasPrefix(r.Header().Get("RateLimit"), `"buyer";r=0;t=`) {
				t.Errorf("headers %v", r.Header())
			}
		}
	}
	// Another buyer has a limit of its own.
	bob := []string{buyerTokenHeader, a.token("bob")}
	decode[changeJSON](t, a.send(http.MethodPost, holdPath, seatRequest(e.Seat(5).String(), "bob"), bob...), http.StatusOK)
}

// TestGuessingLimited: refused credentials count against the IP's limit (a
// valid key does not), and past it a right guess is refused as a wrong one.
func TestGuessingLimited(t *testing.T) {
	t.Parallel()
	hour := domain.Rate{Count: 2, Period: time.Hour, Burst: 2}
	a := newGuardAPI(t, keysOn|tokensOn, WithLimiter(memstore.NewLimiter(time.Now), Limits{IP: hour}))
	tests := []struct {
		give []string
		want int
	}{
		{[]string{authorizationHeader, "Bearer guess-1"}, http.StatusUnauthorized},
		{[]string{buyerTokenHeader, "forged"}, http.StatusUnauthorized},
		{[]string{authorizationHeader, bearerOf("reader")}, http.StatusNotFound}, // no event x
		{[]string{authorizationHeader, "Bearer guess-2"}, http.StatusTooManyRequests},
		{[]string{authorizationHeader, bearerOf("admin")}, http.StatusTooManyRequests},
	}
	for i, tt := range tests {
		if r := a.send(http.MethodGet, "/events/x", "", tt.give...); r.Code != tt.want {
			t.Errorf("request %d: got %d %s, want %d", i+1, r.Code, r.Body, tt.want)
		}
	}
}

// TestBackEndNotLimitedByItsIP: a back end's key acts for many buyers from
// one address, past the IP's limit, which counts the address's other
// requests only; once those pass it, the address is refused everything,
// the key too, without its credentials being read.
func TestBackEndNotLimitedByItsIP(t *testing.T) {
	t.Parallel()
	hour := domain.Rate{Count: 2, Period: time.Hour, Burst: 2}
	a := newGuardAPI(t, keysOn|tokensOn, WithLimiter(memstore.NewLimiter(time.Now), Limits{IP: hour}))
	e, err := a.svc.CreateEvent(context.Background(), application.NewEvent{Name: "Back end", TotalSeats: 10})
	if err != nil {
		t.Fatal(err)
	}
	backEnd := []string{authorizationHeader, bearerOf("seats")}
	for n := 1; n <= 5; n++ { // more than the IP's burst of 2
		decode[changeJSON](t, a.send(http.MethodPost, holdPath, seatRequest(e.Seat(n).String(), fmt.Sprintf("buyer-%d", n)), backEnd...), http.StatusOK)
	}
	for n, want := range []int{http.StatusOK, http.StatusOK, http.StatusTooManyRequests} {
		if r := a.send(http.MethodGet, "/seats/get/"+e.Seat(9).String(), ""); r.Code != want {
			t.Fatalf("anonymous read %d: got %d %s, want %d", n+1, r.Code, r.Body, want)
		}
	}
	r := a.send(http.MethodPost, holdPath, seatRequest(e.Seat(6).String(), "buyer-6"), backEnd...)
	wantError(t, r, http.StatusTooManyRequests, "RATE_LIMITED")
	if !strings.HasPrefix(r.Header().Get("RateLimit-Policy"), `"ip";q=2;`) || r.Header().Get("Retry-After") == "" {
		t.Errorf("the key's request from the IP past its limit: headers %v", r.Header())
	}
}

// TestIPBlocks: an IP is refused until the time its limit said, with the
// wait left; then it is forgotten. With no IP limit there is nothing to
// remember.
func TestIPBlocks(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_000, 0)
	b := newIPBlocks(func() time.Time { return now })
	b.add("192.0.2.7", refusal{name: "ip", burst: 2, window: time.Minute, reset: 40 * time.Second, retry: 10 * time.Second})
	for _, tt := range []struct {
		after       time.Duration
		ok          bool
		retry, rest time.Duration
	}{
		{0, true, 10 * time.Second, 40 * time.Second},
		{4 * time.Second, true, 6 * time.Second, 36 * time.Second},
		{10*time.Second - time.Nanosecond, true, time.Nanosecond, 30*time.Second + time.Nanosecond},
		{10 * time.Second, false, 0, 0},
	} {
		now = time.Unix(1_000, 0).Add(tt.after)
		r, ok := b.refused("192.0.2.7")
		if ok != tt.ok || r.retry != tt.retry || r.reset != tt.rest || ok && r.remaining != 0 {
			t.Errorf("after %v: %+v, %t; want %t, retry %v, reset %v", tt.after, r, ok, tt.ok, tt.retry, tt.rest)
		}
	}
	if _, ok := b.refused("192.0.2.7"); ok || len(b.ips) != 0 {
		t.Errorf("an IP whose wait is over is still kept: %v", b.ips)
	}
	if _, ok := b.refused("192.0.2.8"); ok {
		t.Error("an IP never refused is refused")
	}
	var none *ipBlocks
	none.add("192.0.2.7", refusal{retry: time.Second})
	if _, ok := none.refused("192.0.2.7"); ok {
		t.Error("no IP limit, yet an IP is refused")
	}
}

func TestIPBucket(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ give, want string }{
		{"192.0.2.7", "192.0.2.7"},
		{"2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"},
		{"2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"},
		{"::ffff:192.0.2.7", "::ffff:192.0.2.7"},
		{"not an address", "not an address"},
	} {
		if got := ipBucket(tt.give); got != tt.want {
			t.Errorf("ipBucket(%q) = %q, want %q", tt.give, got, tt.want)
		}
	}
}
