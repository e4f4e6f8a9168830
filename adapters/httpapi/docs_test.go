package httpapi

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"

	"github.com/seatres/reservation/adapters/httpapi/browsertest"
	"github.com/seatres/reservation/api"
)

// The contract checker decodes a response body by its media type, and knows
// none of the docs routes' types: their bodies are strings to it.
func init() {
	openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.FileBodyDecoder)
	openapi3filter.RegisterBodyDecoder("text/javascript", openapi3filter.FileBodyDecoder)
}

// TestDocsServed: the page, its script and the redirect of / answer what
// the page needs, with the policy and the cache headers, and a conditional
// request for an unchanged asset is a 304.
func TestDocsServed(t *testing.T) {
	t.Parallel()
	a := newAPI(t, defaultPolicy)
	tests := []struct {
		give, wantType string
		wantBody       []byte
	}{
		{"/docs", "text/html; charset=utf-8", []byte(docsPage)},
		{docsScriptPath, "text/javascript; charset=utf-8", redocScript},
	}
	for _, tt := range tests {
		r := a.get(tt.give)
		h := r.Header()
		if r.Code != http.StatusOK || !bytes.Equal(r.Body.Bytes(), tt.wantBody) || h.Get("Content-Type") != tt.wantType {
			t.Fatalf("GET %s: got %d %q, %d bytes; want 200 %q, %d bytes", tt.give, r.Code, h.Get("Content-Type"), r.Body.Len(), tt.wantType, len(tt.wantBody))
		}
		etag := h.Get("ETag")
		if h.Get("Cache-Control") != "no-cache" || etag == "" {
			t.Errorf("GET %s: Cache-Control %q, ETag %q", tt.give, h.Get("Cache-Control"), etag)
		}
		if again := a.send(http.MethodGet, tt.give, "", "If-None-Match", etag); again.Code != http.StatusNotModified || again.Body.Len() != 0 {
			t.Errorf("GET %s with its ETag: got %d, %d bytes; want 304", tt.give, again.Code, again.Body.Len())
		}
		if other := a.send(http.MethodGet, tt.give, "", "If-None-Match", `"stale"`); other.Code != http.StatusOK {
			t.Errorf("GET %s with another ETag: got %d, want 200", tt.give, other.Code)
		}
	}
	page := a.get("/docs")
	if got := page.Header().Get("Content-Security-Policy"); got != docsPolicy {
		t.Errorf("Content-Security-Policy = %q", got)
	}
	// The page's relative URLs name the routes of the script and the document.
	base, _ := url.Parse("http://service/docs")
	for _, ref := range regexp.MustCompile(`(?:src|spec-url)="([^"]+)"`).FindAllStringSubmatch(docsPage, -1) {
		target := base.ResolveReference(&url.URL{Path: ref[1]}).Path
		if r := a.get(target); r.Code != http.StatusOK {
			t.Errorf("the page refers to %q, which is %s: got %d", ref[1], target, r.Code)
		}
	}
	if r := a.get("/"); r.Code != http.StatusFound || r.Header().Get("Location") != "docs" {
		t.Errorf("GET /: got %d, Location %q; want 302 to docs", r.Code, r.Header().Get("Location"))
	}
}

func TestMatchesETag(t *testing.T) {
	t.Parallel()
	tests := []struct {
		give string
		want bool
	}{
		{`"v1"`, true},
		{`W/"v1"`, true},
		{`"v0", "v1"`, true},
		{`"v0",W/"v1"`, true},
		{`*`, true},
		{``, false},
		{`"v0"`, false},
		{`v1`, false},
		{`"v1`, false},
	}
	for _, tt := range tests {
		if got := matchesETag(tt.give, `"v1"`); got != tt.want {
			t.Errorf("matchesETag(%q) = %v, want %v", tt.give, got, tt.want)
		}
	}
}

// TestRedocVersion: the bundle is the version that redoc/VERSION names,
// as `make vendor-redoc` leaves them.
func TestRedocVersion(t *testing.T) {
	t.Parallel()
	version, err := os.ReadFile("redoc/VERSION")
	if err != nil {
		t.Fatal(err)
	}
	want := "* Version: " + strings.TrimSpace(string(version)) + "\n"
	if head := redocScript[:min(len(redocScript), 512)]; !bytes.Contains(head, []byte(want)) {
		t.Errorf("redoc/VERSION says %q, the bundle begins %q", version, head)
	}
}

// TestDocsPageRenders loads /docs in headless Chromium and checks that
// Redoc rendered the served document: the summary of every operation in
// the menu (some on the page of their tag, whose group the menu shows
// folded elsewhere), and the hold of a cart on its own page with its path.
// That takes the script to have run and to have read /openapi.yaml.
//
// Every request of the browser to anywhere but this service goes to a trap
// that refuses it, so the page renders here as it would where nothing else
// can be reached. The trap also gets Chromium's own calls (updates,
// accounts), which flags do not all turn off: a request of the page is one
// to a host that Redoc's script or the document names (its CDN, its
// telemetry), and there must be none.
//
// Reading the DOM alone would not see a policy that blocks Redoc's styles
// (the text renders unstyled), so every Content Security Policy violation
// that Chromium reports on the page's console fails the test too, except
// the one the policy means: Redocly's logo. That one must be reported,
// which shows that the console is read at all.
func TestDocsPageRenders(t *testing.T) {
	t.Parallel()
	bin := browsertest.Chromium(t)
	service := httptest.NewServer(newAPI(t, defaultPolicy).router)
	t.Cleanup(service.Close)
	var (
		mu         sync.Mutex
		trapped    []string // the hosts asked for
		violations []string // of the policy, on the console
	)
	// Chromium sends a loopback URL past its proxy: only the others come here.
	trap := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		trapped = append(trapped, r.URL.Hostname()) // CONNECT's and a proxied GET's
		mu.Unlock()
		w.WriteHeader(http.StatusForbidden)
	}))
	t.Cleanup(trap.Close)
	browse := func(fragment string) (string, error) {
		dom, console, err := dumpDOM(t.Context(), bin, service.URL+"/docs"+fragment, trap.URL)
		mu.Lock()
		defer mu.Unlock()
		for _, msg := range cspViolations(console) {
			violations = append(violations, "/docs"+fragment+": "+msg)
		}
		return dom, err
	}
	// Deferred, so that a page that failed to render (a t.Fatal below)
	// still shows what the policy blocked on it.
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, host := range trapped {
			if host == "" || bytes.Contains(redocScript, []byte(host)) || bytes.Contains(api.OpenAPI, []byte(host)) {
				t.Errorf("the page asked for %q, which is not this service", host)
			}
		}
		logo := false
		for _, v := range violations {
			if strings.Contains(v, "'"+redoclyLogo+"' violates") {
				logo = true
				continue
			}
			t.Errorf("the policy blocked something the page needs: %s", v)
		}
		if !logo {
			t.Errorf("no page reported the blocked logo %s on its console, so a violation of the policy would go unseen (did Chromium stop logging the console, or Redoc drop the logo?): %q", redoclyLogo, violations)
		}
	}()

	root, err := browse("")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(root, spec.Info.Title) || strings.Contains(root, "Failed to load API description") {
		t.Fatalf("the page shows no document titled %q:\n%s", spec.Info.Title, root)
	}
	// A tag's page is #/tag; an operation's #/tag/operation, lower case.
	var groups []string
	for _, m := range regexp.MustCompile(`href="(#/[^"/#]+)"`).FindAllStringSubmatch(root, -1) {
		if !slices.Contains(groups, m[1]) {
			groups = append(groups, m[1])
		}
	}
	pages := make([]string, len(groups))
	errs := make([]error, len(groups))
	var wg sync.WaitGroup
	for i, g := range groups {
		wg.Go(func() { pages[i], errs[i] = browse(g) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	pages = append(pages, root)
	rendered := strings.Join(pages, "\n")

	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			if !strings.Contains(rendered, op.Summary) {
				t.Errorf("%s %s: its summary %q is on none of the pages %q", method, path, op.Summary, append(groups, "#/"))
			}
		}
	}

	const cartHold = "/events/{id}/hold"
	hold := spec.Paths.Find(cartHold).Post
	id := strings.ToLower(hold.OperationID)
	link := regexp.MustCompile(`href="(#/[^"#]+/` + regexp.QuoteMeta(id) + `)"`).FindStringSubmatch(rendered)
	if link == nil {
		t.Fatalf("no page links to the operation %q", id)
	}
	page, err := browse(link[1])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(page, cartHold) || !strings.Contains(page, hold.Summary) {
		t.Errorf("the page %s lacks the path %q or the summary %q", link[1], cartHold, hold.Summary)
	}
}

// redoclyLogo is the image that Redoc shows under its menu and the
// policy blocks (img-src data:): Redoc then leaves it out.
const redoclyLogo = "https://cdn.redoc.ly/redoc/logo-mini-full.svg"

// cspViolations returns the messages of Chromium's console lines in
// stderr (--enable-logging=stderr) that report a violation of the
// Content Security Policy, such as
//
//	[1:1:1202/023026.635849:INFO:CONSOLE:243] "Applying inline style violates the following Content Security Policy directive ...", source: http://.../redoc.standalone.js (243)
//
// cut to their first 300 bytes (a blocked data: URL is long).
func cspViolations(stderr string) []string {
	var out []string
	for line := range strings.Lines(stderr) {
		_, msg, ok := strings.Cut(line, ":CONSOLE")
		if !ok || !strings.Contains(msg, "Content Security Policy") {
			continue
		}
		if _, m, ok := strings.Cut(msg, "] "); ok {
			msg = m
		}
		msg = strings.TrimSpace(msg)
		out = append(out, msg[:min(len(msg), 300)])
	}
	return out
}

func TestCSPViolations(t *testing.T) {
	t.Parallel()
	stderr := `[9:9:1202/023011.388371:ERROR:dbus/bus.cc:405] Failed to connect to the bus
[9:9:1202/023012.251161:INFO:CONSOLE:13869] "
%c Redoc %c 3.0.1 %c
", source: http://127.0.0.1:1/docs/redoc.standalone.js (13869)
[9:9:1202/023012.622994:INFO:CONSOLE:0] "Loading the image 'https://cdn.redoc.ly/redoc/logo-mini-full.svg' violates the following Content Security Policy directive: "img-src data:". The action has been blocked.", source: http://127.0.0.1:1/docs (0)
[9:9:1202/023026.635849:INFO:CONSOLE(243)] "Applying inline style violates the following Content Security Policy directive 'style-src 'self''.", source: http://127.0.0.1:1/docs/redoc.standalone.js (243)
`
	got := cspViolations(stderr)
	if len(got) != 2 || !strings.HasPrefix(got[0], `"Loading the image '`+redoclyLogo+"' violates") || !strings.HasPrefix(got[1], `"Applying inline style`) {
		t.Errorf("cspViolations = %q, want the logo's and the inline style's", got)
	}
}

// browsers bounds the Chromiums running at once: each takes a core or so
// while it loads the page, and the machine's few are shared with the
// package's other parallel tests.
var browsers = make(chan struct{}, 2)

// dumpDOM loads target in headless Chromium, with a fresh profile and
// proxy as the proxy, and returns the page's DOM, unescaped, once the page
// is idle, and Chromium's log, which has the page's console. Chromium's
// virtual time makes "idle" exact: it skips ahead over timers and waits
// for requests, so the budget is time the page's own timers see, not time
// the test waits. The timeout only bounds a browser that hangs, or waits
// for its turn.
func dumpDOM(ctx context.Context, bin, target, proxy string) (dom, log string, err error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	select {
	case browsers <- struct{}{}:
		defer func() { <-browsers }()
	case <-ctx.Done():
		return "", "", ctx.Err()
	}
	profile, err := os.MkdirTemp("", "chromium-")
	if err != nil {
		return "", "", err
	}
	defer os.RemoveAll(profile)
	args := []string{
		"--headless", "--disable-gpu", "--disable-background-networking", "--no-first-run",
		"--disable-component-update", "--disable-sync", "--no-pings", "--disable-default-apps",
		"--disable-extensions", "--disable-domain-reliability", "--disable-client-side-phishing-detection",
		"--disable-features=NetworkTimeServiceQuerying,OptimizationHints,Translate,MediaRouter",
		"--user-data-dir=" + profile, "--proxy-server=" + proxy,
		"--enable-logging=stderr", "--v=0", // the page's console: its policy violations, a failure's message
		"--virtual-time-budget=10000", "--dump-dom", target,
	}
	if os.Geteuid() == 0 {
		args = append(args, "--no-sandbox") // Chromium's sandbox refuses root
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		var console []string
		for _, line := range strings.Split(stderr.String(), "\n") {
			if strings.Contains(line, ":CONSOLE") {
				console = append(console, line)
			}
		}
		return "", "", fmt.Errorf("chromium %s: %w\n%s", target, err, strings.Join(console, "\n"))
	}
	return html.UnescapeString(string(out)), stderr.String(), nil
}
