package httpapi

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/seatres/reservation/adapters/httpapi/browsertest"
	"github.com/seatres/reservation/adapters/memstore"
	"github.com/seatres/reservation/adapters/metrics"
	"github.com/seatres/reservation/application"
	"github.com/seatres/reservation/application/storetest"
	"github.com/seatres/reservation/domain"
)

// The origins of the CORS tests: the ticketing site's, which is listed,
// and another, which is not.
const (
	siteOrigin  = "https://tickets.example.com"
	otherOrigin = "https://evil.example"
)

// The request headers a page may send and the response headers it may
// read, as a browser compares them: in any case and order.
var (
	wantAllowedHeaders = []string{"authorization", "content-type", "idempotency-key", "if-none-match",
		"last-event-id", "x-buyer-token", "x-request-id", "traceparent", "tracestate", "baggage"}
	wantExposedHeaders = []string{"allow", "content-encoding", "etag", "location", "ratelimit",
		"ratelimit-policy", "retry-after", "www-authenticate", "x-request-id"}
)

// newCORSAPI is the open API with the site's origin listed.
func newCORSAPI(t *testing.T) *testAPI {
	t.Helper()
	return newAPIWith(t, WithCORS([]string{siteOrigin}))
}

// newAPIWith is the API of newAPI with opts.
func newAPIWith(t *testing.T, opts ...Option) *testAPI {
	t.Helper()
	c := storetest.NewClock(time.Date(2026, 3, 1, 18, 0, 0, 0, time.UTC))
	svc := application.NewService(memstore.New(c.Now), defaultPolicy)
	return &testAPI{t: t, router: NewRouter(svc, zaptest.NewLogger(t), metrics.New(), opts...), clock: c}
}

// sendPreflight sends the preflight of a page of origin that would send
// method to path with a JSON body and a buyer token. It is no operation of
// api/openapi.yaml (whose description documents CORS), so its answer is
// not checked against the contract.
func sendPreflight(t *testing.T, router *gin.Engine, origin, method, path string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodOptions, path, nil)
	req.Header.Set(originHeader, origin)
	req.Header.Set(requestMethodHeader, method)
	req.Header.Set("Access-Control-Request-Headers", "content-type,x-buyer-token")
	rec := httptest.NewRecorder()
	router.ServeHTTP(rec, req)
	return rec
}

// headerList is a comma-separated header value as a sorted set, in lower
// case.
func headerList(v string) []string {
	var out []string
	for item := range strings.SplitSeq(v, ",") {
		if item = strings.ToLower(strings.TrimSpace(item)); item != "" {
			out = append(out, item)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// wantVaryOrigin fails t unless the answer varies by Origin.
func wantVaryOrigin(t *testing.T, h http.Header) {
	t.Helper()
	if !slices.Contains(headerList(strings.Join(h.Values("Vary"), ",")), "origin") {
		t.Errorf("Vary = %q, want Origin among them", h.Values("Vary"))
	}
}

// wantNoCORS fails t if the answer has a header of CORS.
func wantNoCORS(t *testing.T, h http.Header) {
	t.Helper()
	for name := range h {
		if strings.HasPrefix(name, "Access-Control-") {
			t.Errorf("%s = %q, want no CORS header", name, h[name])
		}
	}
}

// TestCORSPreflight: the preflight of a listed origin on every path of the
// API is a 204 that names the origin, the path's methods, every request
// header the API reads and how long to keep it. The methods are those that
// the path's 405 names in Allow: its routes' methods (and on
// /events/create, where gin's Allow also names the DELETE of
// /events/{id}, that too: a page that sends it gets the API's JSON
// answer).
func TestCORSPreflight(t *testing.T) {
	t.Parallel()
	a := newCORSAPI(t)
	methods := map[string][]string{} // path with its parameters filled in: its methods
	param := regexp.MustCompile(`:\w+`)
	for _, r := range a.router.Routes() {
		path := param.ReplaceAllString(r.Path, "x")
		methods[path] = append(methods[path], r.Method)
	}
	if len(methods) < 10 {
		t.Fatalf("the router has %d paths: %q", len(methods), methods)
	}
	for path, want := range methods {
		r := sendPreflight(t, a.router, siteOrigin, want[0], path)
		h := r.Header()
		if r.Code != http.StatusNoContent || r.Body.Len() != 0 {
			t.Errorf("preflight of %s: got %d %s, want 204 and no body", path, r.Code, r.Body)
		}
		if got := h.Values("Access-Control-Allow-Origin"); !slices.Equal(got, []string{siteOrigin}) {
			t.Errorf("preflight of %s: Access-Control-Allow-Origin = %q, want %q", path, got, siteOrigin)
		}
		got := headerList(h.Get("Access-Control-Allow-Methods"))
		allow := a.do(http.MethodOptions, path, "", "").Header().Get("Allow")
		if !slices.Equal(got, headerList(allow)) {
			t.Errorf("preflight of %s: Access-Control-Allow-Methods = %q, want those of its 405's Allow %q", path, got, allow)
		}
		for _, m := range headerList(strings.Join(want, ",")) {
			if !slices.Contains(got, m) {
				t.Errorf("preflight of %s: Access-Control-Allow-Methods = %q, without its route's %s", path, got, m)
			}
		}
		if path != "/events/create" && len(got) != len(want) {
			t.Errorf("preflight of %s: Access-Control-Allow-Methods = %q, want its routes' %q", path, got, want)
		}
		if got := headerList(h.Get("Access-Control-Allow-Headers")); !slices.Equal(got, sorted(wantAllowedHeaders)) {
			t.Errorf("preflight of %s: Access-Control-Allow-Headers = %q, want %q", path, got, sorted(wantAllowedHeaders))
		}
		if got := h.Get("Access-Control-Max-Age"); got != "600" {
			t.Errorf("preflight of %s: Access-Control-Max-Age = %q, want 600", path, got)
		}
		if h.Get("Access-Control-Allow-Credentials") != "" {
			t.Errorf("preflight of %s: Access-Control-Allow-Credentials = %q: the API reads no cookie", path, h.Get("Access-Control-Allow-Credentials"))
		}
		wantVaryOrigin(t, h)
	}
}

// TestCORSPreflightRefused: the preflight of an origin that is not listed
// (or of two origins at once) is a 403 ORIGIN_NOT_ALLOWED without a CORS
// header, which the browser refuses; one of a path that does not exist is
// the 404 of any unknown path; an OPTIONS that is no preflight is the 405
// it always was.
func TestCORSPreflightRefused(t *testing.T) {
	t.Parallel()
	a := newCORSAPI(t)
	for _, origin := range []string{otherOrigin, "null", "https://tickets.example.com.evil.example", "http://tickets.example.com", strings.ToUpper(siteOrigin)} {
		r := sendPreflight(t, a.router, origin, http.MethodPost, holdPath)
		wantError(t, r, http.StatusForbidden, "ORIGIN_NOT_ALLOWED")
		if !strings.Contains(r.Body.String(), origin) {
			t.Errorf("origin %s: the message %s does not name it", origin, r.Body)
		}
		wantNoCORS(t, r.Header())
		wantVaryOrigin(t, r.Header())
	}
	req := httptest.NewRequest(http.MethodOptions, holdPath, nil)
	req.Header.Add(originHeader, siteOrigin)
	req.Header.Add(originHeader, otherOrigin)
	req.Header.Set(requestMethodHeader, http.MethodPost)
	twice := httptest.NewRecorder()
	a.router.ServeHTTP(twice, req)
	wantError(t, twice, http.StatusForbidden, "ORIGIN_NOT_ALLOWED")
	wantNoCORS(t, twice.Header())

	unknown := sendPreflight(t, a.router, siteOrigin, http.MethodGet, "/nowhere")
	wantError(t, unknown, http.StatusNotFound, "NOT_FOUND")
	wantNoCORS(t, unknown.Header())

	plain := a.send(http.MethodOptions, holdPath, "")
	wantError(t, plain, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED")
	wantNoCORS(t, plain.Header())
}

// TestCORSActualRequests: the answers to a listed origin's page, successes
// and refusals, name the origin and the headers it may read; another
// origin's page gets the same answer without them, as the server does the
// same whoever asks.
func TestCORSActualRequests(t *testing.T) {
	t.Parallel()
	a := newCORSAPI(t)
	e := a.createEvent(10)
	tests := []struct {
		name               string
		method, path, body string
		want               int
	}{
		{"read", http.MethodGet, "/events/" + e.ID, "", http.StatusOK},
		{"create", http.MethodPost, "/events/create", `{"name":"From a page","totalSeats":10}`, http.StatusCreated},
		{"hold", http.MethodPost, holdPath, seatRequest(seatOf(e, 1), "alice"), http.StatusOK},
		{"refusal", http.MethodPost, holdPath, seatRequest(seatOf(e, 1), "bob"), http.StatusConflict},
		{"wrong method", http.MethodDelete, holdPath, "", http.StatusMethodNotAllowed},
		{"document", http.MethodGet, "/openapi.yaml", "", http.StatusOK},
	}
	for _, tt := range tests {
		r := a.send(tt.method, tt.path, tt.body, originHeader, siteOrigin)
		h := r.Header()
		if r.Code != tt.want {
			t.Errorf("%s: got %d %s, want %d", tt.name, r.Code, r.Body, tt.want)
		}
		if got := h.Values("Access-Control-Allow-Origin"); !slices.Equal(got, []string{siteOrigin}) {
			t.Errorf("%s: Access-Control-Allow-Origin = %q, want %q", tt.name, got, siteOrigin)
		}
		if got := headerList(h.Get("Access-Control-Expose-Headers")); !slices.Equal(got, sorted(wantExposedHeaders)) {
			t.Errorf("%s: Access-Control-Expose-Headers = %q, want %q", tt.name, got, sorted(wantExposedHeaders))
		}
		wantVaryOrigin(t, h)
	}
	other := a.send(http.MethodGet, "/events/"+e.ID, "", originHeader, otherOrigin)
	alone := a.get("/events/" + e.ID)
	if other.Code != http.StatusOK || other.Body.String() != alone.Body.String() {
		t.Errorf("read from another origin: got %d %s, want %d %s", other.Code, other.Body, alone.Code, alone.Body)
	}
	wantNoCORS(t, other.Header())
	wantVaryOrigin(t, other.Header())
	wantNoCORS(t, alone.Header())
	wantVaryOrigin(t, alone.Header()) // a cache must not give it to a page
}

// TestCORSOff: without origins, no middleware adds a header: a preflight
// is the 405 that OPTIONS always was, and no answer varies by Origin.
func TestCORSOff(t *testing.T) {
	t.Parallel()
	for name, a := range map[string]*testAPI{"no option": newAPI(t, defaultPolicy), "no origin": newAPIWith(t, WithCORS(nil))} {
		r := sendPreflight(t, a.router, siteOrigin, http.MethodPost, holdPath)
		wantError(t, r, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED")
		wantNoCORS(t, r.Header())
		get := a.send(http.MethodGet, "/healthz", "", originHeader, siteOrigin)
		wantNoCORS(t, get.Header())
		if v := get.Header().Values("Vary"); len(v) != 0 || get.Code != http.StatusOK {
			t.Errorf("%s: GET /healthz from a page: got %d, Vary %q; want 200 and no Vary", name, get.Code, v)
		}
	}
}

// TestCORSPreflightPassesTheGuard: with keys, tokens and limits on, a
// preflight needs no credential and costs no limit (the limiter is not
// asked); its log line is written like any other. The actual requests are
// guarded as ever, and a page can read why one was refused: a 401's
// WWW-Authenticate, a 429's Retry-After.
func TestCORSPreflightPassesTheGuard(t *testing.T) {
	t.Parallel()
	limiter := &fakeLimiter{}
	a := newGuardAPI(t, keysOn|tokensOn, WithLimiter(limiter, allLimits), WithCORS([]string{siteOrigin}))
	e := a.event()
	limiter.reset()
	for _, path := range []string{holdPath, "/events/create", "/events/" + e.ID, cartPath(e.ID, opHold)} {
		if r := sendPreflight(t, a.router, siteOrigin, http.MethodPost, path); r.Code != http.StatusNoContent {
			t.Errorf("preflight of %s: got %d %s, want 204", path, r.Code, r.Body)
		}
	}
	if calls := limiter.keys(); len(calls) != 0 {
		t.Errorf("preflights asked the limiter %q", calls)
	}
	logged := 0
	for _, entry := range a.logs.FilterMessage("request").All() {
		if f := entry.ContextMap(); f["method"] == http.MethodOptions && f["status"] == int64(http.StatusNoContent) {
			logged++
		}
	}
	if logged != 4 {
		t.Errorf("%d log lines of a 204 preflight, want 4", logged)
	}

	denied := a.send(http.MethodPost, holdPath, seatRequest(seatOf(e, 1), "alice"), originHeader, siteOrigin)
	wantDenied(t, denied, http.StatusUnauthorized, "UNAUTHENTICATED", challenge)
	if denied.Header().Get("Access-Control-Allow-Origin") != siteOrigin {
		t.Errorf("a 401 to a page lacks Access-Control-Allow-Origin: %q", denied.Header())
	}

	limited := newGuardAPI(t, keysOn, WithLimiter(memstore.NewLimiter(time.Now), Limits{IP: domain.Rate{Count: 1, Period: time.Hour, Burst: 1}}),
		WithCORS([]string{siteOrigin}))
	for range 3 {
		if r := sendPreflight(t, limited.router, siteOrigin, http.MethodGet, "/events/x"); r.Code != http.StatusNoContent {
			t.Fatalf("preflight past the IP's limit: got %d %s, want 204", r.Code, r.Body)
		}
	}
	for i, want := range []int{http.StatusNotFound, http.StatusTooManyRequests} { // the burst is 1: the preflights took none
		r := limited.send(http.MethodGet, "/events/x", "", originHeader, siteOrigin)
		if r.Code != want || r.Header().Get("Access-Control-Allow-Origin") != siteOrigin {
			t.Fatalf("read %d from a page: got %d, Access-Control-Allow-Origin %q; want %d and the origin", i+1, r.Code, r.Header().Get("Access-Control-Allow-Origin"), want)
		}
		if want == http.StatusTooManyRequests && r.Header().Get("Retry-After") == "" {
			t.Errorf("a 429 without Retry-After: %q", r.Header())
		}
	}
}

// TestParseOrigin: an origin is taken in the form a browser sends it, and
// anything else is refused with what to write instead.
func TestParseOrigin(t *testing.T) {
	t.Parallel()
	for give, want := range map[string]string{
		"https://tickets.example.com":     "https://tickets.example.com",
		"HTTPS://Tickets.Example.COM":     "https://tickets.example.com",
		"https://tickets.example.com:443": "https://tickets.example.com",
		"http://localhost:80":             "http://localhost",
		"http://127.0.0.1:5173":           "http://127.0.0.1:5173",
		"https://example.com:8443":        "https://example.com:8443",
		"http://[::1]:3000":               "http://[::1]:3000",
		"capacitor://localhost":           "capacitor://localhost",
	} {
		if got, err := ParseOrigin(give); err != nil || got != want {
			t.Errorf("ParseOrigin(%q) = %q, %v; want %q", give, got, err, want)
		}
	}
	for give, want := range map[string]string{
		"*":                             "wildcards are refused, since the API takes credentials",
		"https://*.example.com":         "wildcards are refused",
		"tickets.example.com":           "want scheme://host[:port]",
		"null":                          "want scheme://host[:port]",
		"https://":                      "want scheme://host[:port]",
		"https://:443":                  "want scheme://host[:port]",
		"https://tickets.example.com:":  "want scheme://host[:port]",
		"https://user@example.com":      "want scheme://host[:port]",
		"mailto:someone@example.com":    "want scheme://host[:port]",
		"https://tickets.example.com/":  "no path, query or fragment (want https://tickets.example.com)",
		"https://tickets.example.com/a": "no path",
		"https://example.com?":          "no path, query",
		"https://example.com?a=1":       "no path, query",
		"https://example.com#":          "fragment",
		"https://example.com:https":     "want scheme://host[:port]",
	} {
		if got, err := ParseOrigin(give); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseOrigin(%q) = %q, %v; want an error with %q", give, got, err, want)
		}
	}
}

// corsPage is a page of another origin that creates an event through the
// API at %s with a JSON body and an Idempotency-Key, which takes a
// preflight, and writes what it could read of the answer into the DOM.
const corsPage = `<!doctype html>
<html><body><pre id="out">pending</pre><script>
const out = document.getElementById("out");
fetch(%q + "/events/create", {
  method: "POST",
  headers: {"Content-Type": "application/json", "Idempotency-Key": "page-1"},
  body: JSON.stringify({name: "From a page", totalSeats: 10}),
}).then(async r => {
  out.textContent = "status=" + r.status + " request-id=" + r.headers.get("X-Request-ID") + " body=" + await r.text();
}).catch(e => { out.textContent = "blocked: " + e; });
</script></body></html>`

// TestCORSInBrowser: in headless Chromium, a page of the listed origin
// creates an event through the API on another origin and reads its answer
// and an exposed header; a page of an origin that is not listed is
// refused by the browser after its preflight, and the API never sees its
// POST. Two loopback ports are two origins.
func TestCORSInBrowser(t *testing.T) {
	t.Parallel()
	bin := browsertest.Chromium(t)
	listed, other := httptest.NewUnstartedServer(nil), httptest.NewUnstartedServer(nil)
	site := "http://" + listed.Listener.Addr().String()
	var (
		mu   sync.Mutex
		seen []string // "METHOD path status" of the API's requests
	)
	router := newAPIWith(t, WithCORS([]string{site})).router
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w}
		router.ServeHTTP(rec, r)
		mu.Lock()
		seen = append(seen, fmt.Sprintf("%s %s %d %s", r.Method, r.URL.Path, rec.status, r.Header.Get(originHeader)))
		mu.Unlock()
	}))
	t.Cleanup(api.Close)
	page := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, corsPage, api.URL)
	})
	for _, s := range []*httptest.Server{listed, other} {
		s.Config.Handler = page
		s.Start()
		t.Cleanup(s.Close)
	}
	trap := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusForbidden) }))
	t.Cleanup(trap.Close)

	var (
		doms [2]string
		errs [2]error
		wg   sync.WaitGroup
	)
	for i, s := range []*httptest.Server{listed, other} {
		wg.Go(func() { doms[i], _, errs[i] = dumpDOM(t.Context(), bin, s.URL+"/", trap.URL) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	created := regexp.MustCompile(`status=201 request-id=[0-9a-f-]{36} body=\{"id":"[0-9a-f-]{36}"`)
	if !created.MatchString(doms[0]) {
		t.Errorf("the listed origin's page did not read a 201 and its X-Request-ID:\n%s", doms[0])
	}
	if !strings.Contains(doms[1], "blocked: TypeError") {
		t.Errorf("the other origin's page was not refused by the browser:\n%s", doms[1])
	}
	mu.Lock()
	defer mu.Unlock()
	refused := "http://" + other.Listener.Addr().String()
	want := []string{
		"OPTIONS /events/create 204 " + site,
		"POST /events/create 201 " + site,
		"OPTIONS /events/create 403 " + refused,
	}
	if got := sorted(seen); !slices.Equal(got, sorted(want)) {
		t.Errorf("the API served %q, want %q", seen, want)
	}
}

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}

// FuzzCORSOrigin: whatever a setting or a page names as its origin,
// ParseOrigin takes it in a form that it keeps as it is (so that a listed
// origin is compared as a browser sends it), and a preflight from it is
// 204 with the origin when it is the listed one and a 403 without CORS
// headers otherwise: never a 5xx.
func FuzzCORSOrigin(f *testing.F) {
	for _, s := range []string{siteOrigin, otherOrigin, "null", "*", "HTTPS://Tickets.Example.com:443", "http://[::1]:80", "https://a.example/", "https://a.example#", "\x00", ""} {
		f.Add(s)
	}
	router := NewRouter(application.NewService(memstore.New(time.Now), defaultPolicy), zap.NewNop(), metrics.New(), WithCORS([]string{siteOrigin}))
	f.Fuzz(func(t *testing.T, origin string) {
		if parsed, err := ParseOrigin(origin); err == nil {
			if again, err := ParseOrigin(parsed); err != nil || again != parsed {
				t.Errorf("ParseOrigin(%q) = %q, which parses as %q, %v", origin, parsed, again, err)
			}
		}
		req := httptest.NewRequest(http.MethodOptions, holdPath, nil)
		req.Header[originHeader] = []string{origin}
		req.Header.Set(requestMethodHeader, http.MethodPost)
		r := httptest.NewRecorder()
		router.ServeHTTP(r, req)
		switch got := r.Header().Get("Access-Control-Allow-Origin"); {
		case origin == siteOrigin:
			if r.Code != http.StatusNoContent || got != siteOrigin {
				t.Errorf("preflight from %q: got %d, Access-Control-Allow-Origin %q", origin, r.Code, got)
			}
		case r.Code != http.StatusForbidden || got != "":
			t.Errorf("preflight from %q: got %d %s, Access-Control-Allow-Origin %q; want 403 without it", origin, r.Code, r.Body, got)
		}
	})
}
