package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/seatres/reservation/adapters/identity"
	"github.com/seatres/reservation/adapters/identity/identitytest"
	"github.com/seatres/reservation/adapters/memstore"
	"github.com/seatres/reservation/adapters/metrics"
	"github.com/seatres/reservation/application"
	"github.com/seatres/reservation/application/storetest"
	"github.com/seatres/reservation/domain"
)

// The API keys of the guard's tests, one per set of scopes that matters.
var testKeys = []identitytest.Key{
	{Name: "admin", Secret: "admin-secret-3f9a1c", Scopes: []identity.Scope{identity.ScopeEventsWrite, identity.ScopeSeatsWrite, identity.ScopeHoldersRead}},
	{Name: "events", Secret: "events-secret-8b2e4d", Scopes: []identity.Scope{identity.ScopeEventsWrite}},
	{Name: "seats", Secret: "seats-secret-5c7f0a", Scopes: []identity.Scope{identity.ScopeSeatsWrite}},
	{Name: "reader", Secret: "reader-secret-1d6b9e", Scopes: []identity.Scope{identity.ScopeHoldersRead}},
}

// bearerOf is the Authorization value of the test key named name.
func bearerOf(name string) string {
	for _, k := range testKeys {
		if k.Name == name {
			return "Bearer " + k.Secret
		}
	}
	panic("no test key " + name)
}

// What a guardAPI turns on.
const (
	keysOn = 1 << iota
	tokensOn
)

// guardAPI is the router with its guard on, over the real use cases and
// the in-memory store; every outcome is checked against api/openapi.yaml.
type guardAPI struct {
	*testAPI
	svc    *application.Service
	secret []byte // signs buyer tokens
	logs   *observer.ObservedLogs
}

// newGuardAPI returns the API with keys and tokens as on says, and opts.
func newGuardAPI(t *testing.T, on int, opts ...Option) *guardAPI {
	t.Helper()
	c := storetest.NewClock(time.Date(2026, 3, 1, 18, 0, 0, 0, time.UTC))
	a := &guardAPI{svc: application.NewService(memstore.New(c.Now), defaultPolicy), secret: identitytest.NewSecret(t)}
	core, logs := observer.New(zap.DebugLevel)
	a.logs = logs
	opts = append(identityOptions(t, on, a.secret, c.Now), opts...)
	a.testAPI = &testAPI{t: t, router: NewRouter(a.svc, zap.New(core), metrics.New(), opts...), clock: c}
	return a
}

// identityOptions turn on the test keys and tokens signed with secret, as
// on says.
func identityOptions(tb testing.TB, on int, secret []byte, now func() time.Time) []Option {
	tb.Helper()
	var opts []Option
	if on&keysOn != 0 {
		keys, err := identity.LoadKeys(identitytest.WriteKeys(tb, testKeys...))
		if err != nil {
			tb.Fatal(err)
		}
		opts = append(opts, WithKeys(keys))
	}
	if on&tokensOn != 0 {
		tokens, err := identity.NewTokens(identity.TokenConfig{SecretFile: identitytest.WriteSecret(tb, secret), Now: now})
		if err != nil {
			tb.Fatal(err)
		}
		opts = append(opts, WithBuyerTokens(tokens))
	}
	return opts
}

// newFuzzGuard is the router of a fuzz target, as newGuardAPI's with
// keys and tokens as on says.
func newFuzzGuard(f *testing.F, on int) (router *testAPI, secret []byte) {
	c := storetest.NewClock(time.Date(2026, 3, 1, 18, 0, 0, 0, time.UTC))
	secret = identitytest.NewSecret(f)
	svc := application.NewService(memstore.New(c.Now), defaultPolicy)
	return &testAPI{router: NewRouter(svc, zap.NewNop(), metrics.New(), identityOptions(f, on, secret, c.Now)...), clock: c}, secret
}

// token is a valid buyer token of sub, for an hour.
func (a *guardAPI) token(sub string) string {
	return identitytest.Mint(a.t, a.secret, sub, a.clock.Now().Add(time.Hour), "")
}

// send sends a request with the header fields of pairs (name, value; a
// name given twice is sent twice); a body is sent as JSON.
func (a *testAPI) send(method, target, body string, pairs ...string) *httptest.ResponseRecorder {
	a.t.Helper()
	contentType := ""
	if body != "" {
		contentType = "application/json"
	}
	req := a.request(method, target, contentType, body)
	for i := 0; i < len(pairs); i += 2 {
		req.Header.Add(pairs[i], pairs[i+1])
	}
	return a.serve(req, body)
}

// event creates an event of 20 seats with the admin key.
func (a *guardAPI) event() eventJSON {
	a.t.Helper()
	r := a.send(http.MethodPost, "/events/create", `{"name":"Guarded","totalSeats":20}`, authorizationHeader, bearerOf("admin"))
	return decode[eventJSON](a.t, r, http.StatusCreated)
}

// wantDenied checks a refusal of the guard: its status, code and
// WWW-Authenticate ("" for none).
func wantDenied(t *testing.T, r *httptest.ResponseRecorder, status int, code, challenge string) {
	t.Helper()
	wantError(t, r, status, code)
	if got := r.Header().Get("WWW-Authenticate"); got != challenge {
		t.Errorf("WWW-Authenticate = %q, want %q", got, challenge)
	}
}

const (
	challenge         = "Bearer"
	tokenChallenge    = `Bearer error="invalid_token"`
	eventsScopeDenied = `Bearer error="insufficient_scope", scope="events:write"`
	seatsScopeDenied  = `Bearer error="insufficient_scope", scope="seats:write"`
)

// outcome is what a test wants of an outcome: its status, and for a
// refusal its code and WWW-Authenticate.
type outcome struct {
	status    int
	code      string
	challenge string
}

func (w outcome) check(t *testing.T, r *httptest.ResponseRecorder) {
	t.Helper()
	if w.code == "" {
		if r.Code != w.status {
			t.Errorf("got %d %s, want %d", r.Code, r.Body, w.status)
		}
		return
	}
	wantDenied(t, r, w.status, w.code, w.challenge)
}

var (
	wantCreated  = outcome{status: http.StatusCreated}
	wantOK       = outcome{status: http.StatusOK}
	wantUnauth   = outcome{http.StatusUnauthorized, "UNAUTHENTICATED", challenge}
	wantBadToken = outcome{http.StatusUnauthorized, "INVALID_BUYER_TOKEN", tokenChallenge}
	wantNoEvents = outcome{http.StatusForbidden, "FORBIDDEN", eventsScopeDenied}
	wantNoSeats  = outcome{http.StatusForbidden, "FORBIDDEN", seatsScopeDenied}
	wantMismatch = outcome{http.StatusForbidden, "UUID_MISMATCH", ""}
)

// TestScopes: with keys on, what each key (or none, or a bad header) may
// do: create, change a seat (one seat, a cart), read.
func TestScopes(t *testing.T) {
	t.Parallel()
	a := newGuardAPI(t, keysOn)
	e := a.event()
	tests := []struct {
		name                     string
		give                     []string // Authorization values
		create, seat, cart, read outcome
	}{
		{"none", nil, wantUnauth, wantUnauth, wantUnauth, wantOK},
		{"admin", []string{bearerOf("admin")}, wantCreated, wantOK, wantOK, wantOK},
		{"events", []string{bearerOf("events")}, wantCreated, wantNoSeats, wantNoSeats, wantOK},
		{"seats", []string{bearerOf("seats")}, wantNoEvents, wantOK, wantOK, wantOK},
		{"reader", []string{bearerOf("reader")}, wantNoEvents, wantNoSeats, wantNoSeats, wantOK},
		{"scheme in lower case", []string{"bearer " + testKeys[0].Secret}, wantCreated, wantOK, wantOK, wantOK},
		{"spaces", []string{"Bearer    " + testKeys[0].Secret}, wantCreated, wantOK, wantOK, wantOK},
		{"unknown key", []string{"Bearer not-a-key"}, wantUnauth, wantUnauth, wantUnauth, wantUnauth},
		{"secret alone", []string{testKeys[0].Secret}, wantUnauth, wantUnauth, wantUnauth, wantUnauth},
		{"other scheme", []string{"Basic " + testKeys[0].Secret}, wantUnauth, wantUnauth, wantUnauth, wantUnauth},
		{"no secret", []string{"Bearer"}, wantUnauth, wantUnauth, wantUnauth, wantUnauth},
		{"blank secret", []string{"Bearer  "}, wantUnauth, wantUnauth, wantUnauth, wantUnauth},
		{"empty", []string{""}, wantUnauth, wantUnauth, wantUnauth, wantUnauth},
		{"two words", []string{bearerOf("admin") + " x"}, wantUnauth, wantUnauth, wantUnauth, wantUnauth},
		{"twice", []string{bearerOf("admin"), bearerOf("admin")}, wantUnauth, wantUnauth, wantUnauth, wantUnauth},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A buyer token, which is off, changes nothing.
			h := []string{buyerTokenHeader, "eyJhbGciOiJIUzI1NiJ9.e30.x"}
			for _, v := range tt.give {
				h = append(h, authorizationHeader, v)
			}
			tt.create.check(t, a.send(http.MethodPost, "/events/create", `{"name":"Scoped","totalSeats":10}`, h...))
			user := "buyer-" + tt.name
			tt.seat.check(t, a.send(http.MethodPost, holdPath, seatRequest(seatOf(e, 2*i+1), user), h...))
			tt.cart.check(t, a.send(http.MethodPost, cartPath(e.ID, opHold), idsBody(user+"-cart", seatOf(e, 2*i+2)), h...))
			tt.read.check(t, a.send(http.MethodGet, "/seats/get/"+seatOf(e, 1), "", h...))
		})
	}
}

// TestBuyerTokens: with tokens on (and no keys), a seat change needs a
// valid token and acts for its sub only; events cannot be wantCreated at all.
func TestBuyerTokens(t *testing.T) {
	t.Parallel()
	a := newGuardAPI(t, tokensOn)
	e, err := a.svc.CreateEvent(context.Background(), application.NewEvent{Name: "Tokens", TotalSeats: 40})
	if err != nil {
		t.Fatal(err)
	}
	now := a.clock.Now()
	other := identitytest.NewSecret(t)
	tests := []struct {
		name       string
		give       []string // X-Buyer-Token values
		user       string   // the body's UUID
		seat, read outcome
	}{
		{"none", nil, "alice", wantUnauth, wantOK},
		{"valid", []string{a.token("alice")}, "alice", wantOK, wantOK},
		{"another buyer's UUID", []string{a.token("alice")}, "bob", wantMismatch, wantOK},
		{"the UUID hidden from others", []string{a.token("alice")}, "", wantMismatch, wantOK},
		{"expired", []string{identitytest.Mint(t, a.secret, "alice", now.Add(-time.Minute), "")}, "alice", wantBadToken, wantBadToken},
		{"no exp", []string{identitytest.Mint(t, a.secret, "alice", time.Time{}, "")}, "alice", wantBadToken, wantBadToken},
		{"another secret", []string{identitytest.Mint(t, other, "alice", now.Add(time.Hour), "")}, "alice", wantBadToken, wantBadToken},
		{"unsigned", []string{identitytest.Sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType,
			identitytest.Claims("alice", now.Add(time.Hour), ""))}, "alice", wantBadToken, wantBadToken},
		{"garbage", []string{"not.a.token"}, "alice", wantBadToken, wantBadToken},
		{"empty", []string{""}, "alice", wantBadToken, wantBadToken},
		{"twice", []string{a.token("alice"), a.token("alice")}, "alice", wantBadToken, wantBadToken},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h []string
			for _, v := range tt.give {
				h = append(h, buyerTokenHeader, v)
			}
			seat := e.Seat(2*i + 1).String()
			tt.seat.check(t, a.send(http.MethodPost, holdPath, seatRequest(seat, tt.user), h...))
			tt.seat.check(t, a.send(http.MethodPost, cartPath(string(e.ID), opHold), idsBody(tt.user, e.Seat(2*i+2).String()), h...))
			tt.read.check(t, a.send(http.MethodGet, "/seats/get/"+seat, "", h...))
		})
	}
	t.Run("creates need a key, and there are none", func(t *testing.T) {
		for _, h := range [][]string{nil, {buyerTokenHeader, a.token("alice")}, {authorizationHeader, bearerOf("admin")}} {
			wantUnauth.check(t, a.send(http.MethodPost, "/events/create", `{"name":"Open?","totalSeats":10}`, h...))
		}
	})
}

// TestKeyAndToken: with both on, a token is held to its sub even with a
// seats:write key, and a token suffices without one.
func TestKeyAndToken(t *testing.T) {
	t.Parallel()
	a := newGuardAPI(t, keysOn|tokensOn)
	e := a.event()
	tests := []struct {
		name string
		give []string // header pairs
		user string
		want outcome
	}{
		{"seats key and the token's UUID", []string{authorizationHeader, bearerOf("seats"), buyerTokenHeader, a.token("alice")}, "alice", wantOK},
		{"seats key and another UUID", []string{authorizationHeader, bearerOf("seats"), buyerTokenHeader, a.token("alice")}, "bob", wantMismatch},
		{"reader key and a token", []string{authorizationHeader, bearerOf("reader"), buyerTokenHeader, a.token("carol")}, "carol", wantOK},
		{"reader key alone", []string{authorizationHeader, bearerOf("reader")}, "carol", wantNoSeats},
		{"a token alone", []string{buyerTokenHeader, a.token("dave")}, "dave", wantOK},
		{"unknown key and a token", []string{authorizationHeader, "Bearer nope", buyerTokenHeader, a.token("erin")}, "erin", wantUnauth},
		{"seats key and a bad token", []string{authorizationHeader, bearerOf("seats"), buyerTokenHeader, "x"}, "frank", wantBadToken},
		{"nothing", nil, "gina", wantUnauth},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.want.check(t, a.send(http.MethodPost, holdPath, seatRequest(seatOf(e, i+1), tt.user), tt.give...))
		})
	}
}

// TestEveryRouteGuarded: with keys on, every route that is no read refuses
// a request without credentials, and every route but the document's (and
// its docs page's), the probes' and the metrics' counts against the IP
// limit: a new route that is in no group of the guard fails here.
func TestEveryRouteGuarded(t *testing.T) {
	t.Parallel()
	refuseAll := &fakeLimiter{decide: func(application.LimitCheck) domain.Decision {
		return domain.Decision{RetryAfter: time.Second, Reset: time.Second}
	}}
	keys := newGuardAPI(t, keysOn)
	limited := newGuardAPI(t, keysOn, WithLimiter(refuseAll, Limits{IP: perSecond(10, 10)}))
	unguarded := []string{"/openapi.yaml", "/docs", docsScriptPath, "/", "/healthz", "/readyz", "/metrics", "/events/create"}
	for _, route := range keys.router.Routes() {
		t.Run(route.Method+" "+route.Path, func(t *testing.T) {
			path := strings.NewReplacer(":id", "x", ":eventId", "x").Replace(route.Path)
			r, l := keys.send(route.Method, path, ""), limited.send(route.Method, path, "")
			read := route.Method == http.MethodGet || route.Method == http.MethodHead
			switch {
			case read && slices.Contains(unguarded, route.Path):
				if r.Code == http.StatusUnauthorized || l.Code == http.StatusTooManyRequests {
					t.Errorf("got %d and %d, want it unguarded", r.Code, l.Code)
				}
				return
			case read:
				if r.Code == http.StatusUnauthorized {
					t.Errorf("a read got %d", r.Code)
				}
			default:
				wantDenied(t, r, http.StatusUnauthorized, "UNAUTHENTICATED", challenge)
			}
			wantError(t, l, http.StatusTooManyRequests, "RATE_LIMITED")
		})
	}
}

// TestHoldersHidden: with the guard on, a holder's UUID is shown only to a
// key with holders:read and to the holder's own token, in every outcome.
func TestHoldersHidden(t *testing.T) {
	t.Parallel()
	a := newGuardAPI(t, keysOn|tokensOn)
	e := a.event()
	alice := []string{buyerTokenHeader, a.token("alice")}
	viewers := []struct {
		name string
		give []string
		sees bool // alice's holds
	}{
		{"anyone", nil, false},
		{"alice", alice, true},
		{"bob", []string{buyerTokenHeader, a.token("bob")}, false},
		{"seats key", []string{authorizationHeader, bearerOf("seats")}, false},
		{"events key", []string{authorizationHeader, bearerOf("events")}, false},
		{"reader key", []string{authorizationHeader, bearerOf("reader")}, true},
		{"admin key", []string{authorizationHeader, bearerOf("admin")}, true},
	}
	held := decode[changeJSON](t, a.send(http.MethodPost, holdPath, seatRequest(seatOf(e, 2), "alice"), alice...), http.StatusOK)
	if held.Seat.UUID != "alice" {
		t.Errorf("alice's own hold shows UUID %q", held.Seat.UUID)
	}
	decode[seatsJSON](t, a.send(http.MethodPost, cartPath(e.ID, opHold), idsBody("alice", seatOf(e, 3)), alice...), http.StatusOK)
	a.clock.Advance(time.Second)
	for _, v := range viewers {
		t.Run(v.name, func(t *testing.T) {
			want := ""
			if v.sees {
				want = "alice"
			}
			for _, n := range []int{2, 3} {
				got := decode[seatJSON](t, a.send(http.MethodGet, "/seats/get/"+seatOf(e, n), "", v.give...), http.StatusOK)
				if got.UUID != want || got.Status != "On hold" {
					t.Errorf("seat %d shows %q %s, want %q On hold", n, got.UUID, got.Status, want)
				}
			}
		})
	}
	t.Run("change answers", func(t *testing.T) {
		tests := []struct {
			name string
			give []string
			want string
		}{
			{"seats key", []string{authorizationHeader, bearerOf("seats")}, ""},
			{"admin key", []string{authorizationHeader, bearerOf("admin")}, "carol"},
			{"carol's token", []string{buyerTokenHeader, a.token("carol")}, "carol"},
		}
		for i, tt := range tests {
			one := decode[changeJSON](t, a.send(http.MethodPost, holdPath, seatRequest(seatOf(e, 10+i), "carol"), tt.give...), http.StatusOK)
			cart := decode[seatsJSON](t, a.send(http.MethodPost, cartPath(e.ID, opHold), idsBody("carol", seatOf(e, 15+i)), tt.give...), http.StatusOK)
			if one.Seat.UUID != tt.want || len(cart.Seats) != 1 || cart.Seats[0].UUID != tt.want {
				t.Errorf("%s: hold answers show %q and %+v, want %q", tt.name, one.Seat.UUID, cart.Seats, tt.want)
			}
		}
	})
}

// TestCallerDependentAnswers: with the guard on, the answers that show a
// holder only to some callers are private to the caller and vary with its
// credentials, so that no shared cache gives a buyer's holds, or what a
// holders:read key sees, to anyone else; without the guard they may be
// shared, and say nothing of the kind.
func TestCallerDependentAnswers(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		on      int
		private bool
	}{
		{"keys and tokens", keysOn | tokensOn, true},
		{"keys", keysOn, true},
		{"tokens", tokensOn, true},
		{"no guard", 0, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := newGuardAPI(t, tt.on)
			e, err := a.svc.CreateEvent(context.Background(), application.NewEvent{Name: "Cached", TotalSeats: 10})
			if err != nil {
				t.Fatal(err)
			}
			for _, target := range []string{"/seats/get/" + e.Seat(1).String(), "/events/" + string(e.ID) + "/changes"} {
				r := a.send(http.MethodGet, target, "")
				if r.Code != http.StatusOK {
					t.Fatalf("GET %s: %d %s", target, r.Code, r.Body)
				}
				varies := headerList(strings.Join(r.Header().Values("Vary"), ","))
				got := r.Header().Get("Cache-Control") == "private" &&
					slices.Contains(varies, "authorization") && slices.Contains(varies, "x-buyer-token")
				if got != tt.private {
					t.Errorf("GET %s: Cache-Control %q, Vary %q; want private to the caller: %v",
						target, r.Header().Get("Cache-Control"), r.Header().Values("Vary"), tt.private)
				}
				if !tt.private && (r.Header().Get("Cache-Control") != "" || len(varies) != 0) {
					t.Errorf("GET %s without the guard: Cache-Control %q, Vary %q; want neither",
						target, r.Header().Get("Cache-Control"), r.Header().Values("Vary"))
				}
			}
		})
	}
}

// TestImpersonation: another buyer's UUID, from any outcome, gets a buyer
// with a token of their own nothing: not the seats, not a refresh, and not
// a share of the victim's rate limit.
func TestImpersonation(t *testing.T) {
	t.Parallel()
	limiter := &fakeLimiter{}
	a := newGuardAPI(t, keysOn|tokensOn, WithLimiter(limiter, Limits{Buyer: perSecond(5, 10), IP: perSecond(100, 100)}))
	e := a.event()
	alice := []string{buyerTokenHeader, a.token("alice")}
	bob := []string{buyerTokenHeader, a.token("bob")}
	decode[seatsJSON](t, a.send(http.MethodPost, cartPath(e.ID, opHold), idsBody("alice", seatOf(e, 1), seatOf(e, 2)), alice...), http.StatusOK)
	decode[changeJSON](t, a.send(http.MethodPost, holdPath, seatRequest(seatOf(e, 3), "alice"), alice...), http.StatusOK)
	before := a.holders(e)

	// What bob can learn of the holder: nothing.
	var leaked []string
	for _, n := range []int{1, 2, 3} {
		leaked = append(leaked, decode[seatJSON](t, a.send(http.MethodGet, "/seats/get/"+seatOf(e, n), "", bob...), http.StatusOK).UUID)
	}
	if !slices.Equal(leaked, []string{"", "", ""}) {
		t.Fatalf("bob reads holders %q", leaked)
	}
	limiter.reset()
	a.clock.Advance(10 * time.Second)
	// What bob can do with it, or with alice's UUID learnt elsewhere.
	for _, user := range []string{"", "alice"} {
		for _, p := range []struct{ path, body string }{
			{refreshPath, seatRequest(seatOf(e, 3), user)},
			{"/seats/hold/refresh", seatRequest(seatOf(e, 3), user)},
			{reservePath, seatRequest(seatOf(e, 3), user)},
			{cartPath(e.ID, opRefresh), idsBody(user)},
			{cartPath(e.ID, opReserve), idsBody(user, seatOf(e, 1))},
			{cartPath(e.ID, opRelease), idsBody(user, seatOf(e, 2))},
			{cartPath(e.ID, opRelease), idsBody(user)},
		} {
			wantMismatch.check(t, a.send(http.MethodPost, p.path, p.body, bob...))
		}
	}
	if after := a.holders(e); !slices.Equal(after, before) {
		t.Errorf("alice's seats changed under bob's requests:\n%v\nwant\n%v", after, before)
	}
	calls := limiter.keys()
	if len(calls) == 0 {
		t.Fatal("bob's refused requests counted against no limit, want each against its IP")
	}
	for _, call := range calls {
		if !slices.Equal(call, []string{"ip:192.0.2.1"}) {
			t.Errorf("bob's refused request counted against %q, want its IP alone", call)
		}
	}
}

// holders is seats 1 to 3 of e as the admin key sees them.
func (a *guardAPI) holders(e eventJSON) []seatJSON {
	a.t.Helper()
	var seats []seatJSON
	for _, n := range []int{1, 2, 3} {
		seats = append(seats, decode[seatJSON](a.t, a.send(http.MethodGet, "/seats/get/"+seatOf(e, n), "", authorizationHeader, bearerOf("admin")), http.StatusOK))
	}
	return seats
}

// TestNoSecretInLogs: the request log names the key, and no line of a run
// with keys, tokens and a failing limiter carries a secret or a token.
func TestNoSecretInLogs(t *testing.T) {
	t.Parallel()
	limiter := &fakeLimiter{err: application.ErrUnavailable}
	a := newGuardAPI(t, keysOn|tokensOn, WithLimiter(limiter, Limits{Buyer: perSecond(5, 10)}))
	e := a.event()
	token := a.token("alice")
	forged := token[:len(token)-2] + "xx"
	secrets := []string{token, forged, "Bearer guess"}
	for _, k := range testKeys {
		secrets = append(secrets, k.Secret)
		a.send(http.MethodPost, holdPath, seatRequest(seatOf(e, 1), "alice"), authorizationHeader, "Bearer "+k.Secret, buyerTokenHeader, token)
		a.send(http.MethodPost, "/events/create", `{"name":"Logged","totalSeats":10}`, authorizationHeader, "Bearer "+k.Secret)
	}
	a.send(http.MethodPost, holdPath, seatRequest(seatOf(e, 1), "alice"), buyerTokenHeader, forged)
	a.send(http.MethodGet, "/seats/get/"+seatOf(e, 1), "", authorizationHeader, "Bearer guess")

	var named []string
	for _, entry := range a.logs.All() {
		line := entry.Message + " " + strings.Join(slices.Sorted(func(yield func(string) bool) {
			for k, v := range entry.ContextMap() {
				if !yield(k + "=" + toString(v)) {
					return
				}
			}
		}), " ")
		for _, s := range secrets {
			if strings.Contains(line, s) {
				t.Errorf("log line %q carries a secret", line)
			}
		}
		if key, wantOK := entry.ContextMap()["key"]; wantOK {
			named = append(named, toString(key))
		}
	}
	// admin's create succeeds and the hold fails on the limiter; the
	// others are refused after their key is known.
	for _, k := range testKeys {
		if !slices.Contains(named, k.Name) {
			t.Errorf("no log line names key %q; named %q", k.Name, named)
		}
	}
}

func toString(v any) string { return fmt.Sprint(v) }

// fakeLimiter answers each check with decide (nil: allow), or fails with
// err, and records the checks of every call.
type fakeLimiter struct {
	decide func(application.LimitCheck) domain.Decision
	err    error

	mu    sync.Mutex
	calls [][]application.LimitCheck
}

func (l *fakeLimiter) Allow(_ context.Context, checks []application.LimitCheck) ([]domain.Decision, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, slices.Clone(checks))
	if l.err != nil {
		return nil, l.err
	}
	decisions := make([]domain.Decision, len(checks))
	for i, c := range checks {
		decisions[i] = domain.Decision{Allowed: true, Remaining: 1, Reset: time.Second}
		if l.decide != nil {
			decisions[i] = l.decide(c)
		}
	}
	return decisions, nil
}

// keys are the keys of the checks of every call so far.
func (l *fakeLimiter) keys() [][]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var keys [][]string
	for _, call := range l.calls {
		var k []string
		for _, c := range call {
			k = append(k, c.Key)
		}
		keys = append(keys, k)
	}
	return keys
}

func (l *fakeLimiter) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = nil
}

func perSecond(count, burst int) domain.Rate {
	return domain.Rate{Count: count, Period: time.Second, Burst: burst}
}

// FuzzAuthorizationHeader: whatever the Authorization header, a create
// passes the guard (to be refused by its body, 400) only with the secret
// of a key with events:write in it, is 403 only with the secret of a key
// without it, and is 401 otherwise: never a 5xx.
func FuzzAuthorizationHeader(f *testing.F) {
	for _, s := range []string{"", "Bearer", "Bearer ", "bearer x", "Basic YWxhZGRpbjpvcGVuc2VzYW1l", "Bearer\t" + testKeys[0].Secret,
		bearerOf("admin"), bearerOf("reader"), "BEARER  " + testKeys[1].Secret, bearerOf("admin") + "\x00", "Bearer " + strings.Repeat("x", 5000)} {
		f.Add(s)
	}
	fa, _ := newFuzzGuard(f, keysOn)
	f.Fuzz(func(t *testing.T, v string) {
		a := *fa
		a.t = t
		r := a.send(http.MethodPost, "/events/create", `{"name":"Fuzz","totalSeats":1}`, authorizationHeader, v)
		var writer, other bool // v holds the secret of a key with events:write, of another key
		for _, k := range testKeys {
			if strings.Contains(v, k.Secret) {
				if slices.Contains(k.Scopes, identity.ScopeEventsWrite) {
					writer = true
				} else {
					other = true
				}
			}
		}
		switch r.Code {
		case http.StatusBadRequest:
			if !writer {
				t.Errorf("%q passed the guard", v)
			}
		case http.StatusForbidden:
			if !other {
				t.Errorf("%q is a key without events:write", v)
			}
		case http.StatusUnauthorized:
		default:
			t.Errorf("%q: got %d %s", v, r.Code, r.Body)
		}
	})
}

// FuzzBuyerTokenHeader: whatever the X-Buyer-Token header, a hold for
// alice passes the guard (to find no seat, 404) only with alice's token,
// is UUID_MISMATCH only with bob's, and is 401 otherwise: never a 5xx.
func FuzzBuyerTokenHeader(f *testing.F) {
	fa, secret := newFuzzGuard(f, tokensOn)
	now := fa.clock.Now()
	mint := func(sub string, exp time.Time) string { return identitytest.Mint(f, secret, sub, exp, "") }
	alice, bob := mint("alice", now.Add(time.Hour)), mint("bob", now.Add(time.Hour))
	for _, s := range []string{"", "x", alice, bob, alice + " ", " " + alice, alice + "=", mint("alice", now.Add(-time.Hour)),
		identitytest.Mint(f, identitytest.NewSecret(f), "alice", now.Add(time.Hour), ""),
		identitytest.Sign(f, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, identitytest.Claims("alice", now.Add(time.Hour), "")),
		alice + "," + bob, strings.ToUpper(alice), strings.Repeat("a", 5000)} {
		f.Add(s)
	}
	body := seatRequest("0b6c3c1e-8a52-4c5e-9a57-0f6a3d2b9e10.1", "alice")
	f.Fuzz(func(t *testing.T, v string) {
		a := *fa
		a.t = t
		r := a.send(http.MethodPost, holdPath, body, buyerTokenHeader, v)
		switch {
		case r.Code == http.StatusNotFound && v == alice:
		case r.Code == http.StatusForbidden && v == bob:
			wantError(t, r, http.StatusForbidden, "UUID_MISMATCH")
		case r.Code == http.StatusUnauthorized && v != alice && v != bob:
			wantError(t, r, http.StatusUnauthorized, "INVALID_BUYER_TOKEN")
		default:
			t.Errorf("%q: got %d %s", v, r.Code, r.Body)
		}
	})
}

// BenchmarkGuardedHold: BenchmarkHold's single-seat hold with each layer of
// the guard on, to see what each costs: a key, a buyer token (each buyer's
// verified once, then cached), and every limit on the memory limiter.
func BenchmarkGuardedHold(b *testing.B) {
	unlimited := domain.Rate{Count: 1 << 30, Period: time.Second, Burst: 1 << 30}
	layers := []struct {
		name   string
		on     int // keysOn: the request sends a key; tokensOn: a token
		limits bool
	}{
		{"off", 0, false},
		{"key", keysOn, false},
		{"token", tokensOn, false},
		{"limits", 0, true},
		{"all", keysOn | tokensOn, true},
	}
	for _, l := range layers {
		b.Run(l.name, func(b *testing.B) {
			now := time.Date(2026, 3, 1, 18, 0, 0, 0, time.UTC)
			clock := func() time.Time { return now }
			svc := application.NewService(memstore.New(clock), defaultPolicy)
			e, err := svc.CreateEvent(context.Background(), application.NewEvent{Name: "Spring concert", TotalSeats: domain.MaxTotalSeats})
			if err != nil {
				b.Fatal(err)
			}
			secret := identitytest.NewSecret(b)
			opts := identityOptions(b, l.on, secret, clock)
			if l.limits {
				opts = append(opts, WithLimiter(memstore.NewLimiter(clock), Limits{Buyer: unlimited, IP: unlimited, Key: unlimited, Create: unlimited}))
			}
			router := NewRouter(svc, zap.NewNop(), metrics.New(), opts...)
			bodies := make([][]byte, e.TotalSeats)
			tokens := make([]string, e.TotalSeats)
			for i := range bodies {
				user := "user-" + strconv.Itoa(i)
				bodies[i] = []byte(seatRequest(e.Seat(i+1).String(), user))
				if l.on&tokensOn != 0 {
					tokens[i] = identitytest.Mint(b, secret, user, now.Add(time.Hour), "")
				}
			}
			var body reusableBody
			req := httptest.NewRequest(http.MethodPost, "/seats/hold", &body)
			req.Header.Set("Content-Type", "application/json")
			if l.on&keysOn != 0 {
				req.Header.Set(authorizationHeader, bearerOf("seats"))
			}
			w := &discardWriter{header: http.Header{}}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				n := i % len(bodies)
				body.Reset(bodies[n])
				if l.on&tokensOn != 0 {
					req.Header[buyerTokenHeader] = tokens[n : n+1]
				}
				router.ServeHTTP(w, req)
				if w.status != http.StatusOK {
					b.Fatalf("status %d", w.status)
				}
				i++
			}
		})
	}
}

// TestCreateIdempotencyKeyPerAPIKey: a create's Idempotency-Key is its API
// key's: two ticketing sites that name their creates alike (the same key,
// the same body) get an event each, and each retry its own, where the
// second used to be refused as a key reused by the first.
func TestCreateIdempotencyKeyPerAPIKey(t *testing.T) {
	t.Parallel()
	a := newGuardAPI(t, keysOn)
	body := `{"name":"Arena 2027-01-15","totalSeats":20}`
	create := func(key string) eventJSON {
		t.Helper()
		r := a.send(http.MethodPost, "/events/create", body, authorizationHeader, bearerOf(key), "Idempotency-Key", "arena-2027-01-15")
		return decode[eventJSON](t, r, http.StatusCreated)
	}
	first, second := create("admin"), create("events")
	if first.ID == second.ID {
		t.Fatalf("two API keys' creates under one Idempotency-Key made one event %s", first.ID)
	}
	if again := create("events"); again.ID != second.ID {
		t.Errorf("the second key's retry made %s, want its %s", again.ID, second.ID)
	}
	if again := create("admin"); again.ID != first.ID {
		t.Errorf("the first key's retry made %s, want its %s", again.ID, first.ID)
	}
}
