package httpapi

import (
	"bytes"
	"net/http"
	"net/url"
	"regexp"
	"testing"

	"github.com/getkin/kin-openapi/openapi3filter"

	"github.com/seatres/reservation/domain"
)

// The contract checker knows no style sheet's media type (docs_test.go
// registers the page's and the script's).
func init() { openapi3filter.RegisterBodyDecoder("text/css", openapi3filter.FileBodyDecoder) }

// TestSeatMapServed: the page, for an event and for a well-formed id of
// none (the page says "not found" itself), its script and its style answer
// their files with their types, the cache headers and, for the page, its
// policy; an unchanged asset is a 304.
func TestSeatMapServed(t *testing.T) {
	t.Parallel()
	a := newAPI(t, defaultPolicy)
	e := a.createRows(40, 10)
	tests := []struct {
		give, wantType string
		wantBody       []byte
		wantPolicy     string
	}{
		{"/events/" + e.ID + "/map", "text/html; charset=utf-8", seatMapHTML, seatMapPolicy},
		{"/events/00000000-0000-4000-8000-000000000000/map", "text/html; charset=utf-8", seatMapHTML, seatMapPolicy},
		{seatMapScriptPath, "text/javascript; charset=utf-8", seatMapJS, ""},
		{seatMapStylePath, "text/css; charset=utf-8", seatMapCSS, ""},
	}
	for _, tt := range tests {
		r := a.get(tt.give)
		h := r.Header()
		if r.Code != http.StatusOK || !bytes.Equal(r.Body.Bytes(), tt.wantBody) || h.Get("Content-Type") != tt.wantType {
			t.Fatalf("GET %s: got %d %q, %d bytes; want 200 %q, %d bytes", tt.give, r.Code, h.Get("Content-Type"), r.Body.Len(), tt.wantType, len(tt.wantBody))
		}
		if got := h.Get("Content-Security-Policy"); got != tt.wantPolicy {
			t.Errorf("GET %s: Content-Security-Policy = %q, want %q", tt.give, got, tt.wantPolicy)
		}
		etag := h.Get("ETag")
		if h.Get("Cache-Control") != "no-cache" || h.Get("X-Content-Type-Options") != "nosniff" || etag == "" {
			t.Errorf("GET %s: Cache-Control %q, X-Content-Type-Options %q, ETag %q", tt.give, h.Get("Cache-Control"), h.Get("X-Content-Type-Options"), etag)
		}
		if again := a.send(http.MethodGet, tt.give, "", "If-None-Match", etag); again.Code != http.StatusNotModified || again.Body.Len() != 0 {
			t.Errorf("GET %s with its ETag: got %d, %d bytes; want 304", tt.give, again.Code, again.Body.Len())
		}
	}
	// The page's relative URLs, from any event's page, name the asset routes.
	base, _ := url.Parse("http://service/prefix/events/" + e.ID + "/map")
	refs := regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllStringSubmatch(string(seatMapHTML), -1)
	var found []string
	for _, ref := range refs {
		if u, _ := url.Parse(ref[1]); u.Scheme == "data" {
			continue // the empty icon
		}
		found = append(found, base.ResolveReference(&url.URL{Path: ref[1]}).Path)
	}
	want := []string{"/prefix" + seatMapStylePath, "/prefix" + seatMapScriptPath}
	if len(found) != len(want) || found[0] != want[0] || found[1] != want[1] {
		t.Errorf("the page refers to %q, want %q", found, want)
	}
}

// TestSeatMapBadID: a path whose id cannot name an event is the 404 of
// every route of an event.
func TestSeatMapBadID(t *testing.T) {
	t.Parallel()
	a := newAPI(t, defaultPolicy)
	for _, id := range []string{"not-an-event", "00000000-0000-4000-8000-00000000000A", "%2F"} {
		r := a.get("/events/" + id + "/map")
		wantError(t, r, http.StatusNotFound, "EVENT_NOT_FOUND")
		if got := r.Header().Get("Content-Security-Policy"); got != "" {
			t.Errorf("id %q: a JSON error with a page's policy %q", id, got)
		}
	}
}

// TestSeatMapConfined: the page runs nothing inline, which its policy
// would block, and its files name no other origin; the script knows the
// statuses by the names the API gives them.
func TestSeatMapConfined(t *testing.T) {
	t.Parallel()
	inline := regexp.MustCompile(`<script(?:\s[^>]*)?>[^<]|<style|\sstyle=|\son\w+=`)
	if m := inline.Find(seatMapHTML); m != nil {
		t.Errorf("the page has inline script or style: %q", m)
	}
	origin := regexp.MustCompile(`(?i)\b(?:https?|wss?):|["'(]//`)
	for name, body := range map[string][]byte{"index.html": seatMapHTML, "map.js": seatMapJS, "map.css": seatMapCSS} {
		if m := origin.Find(body); m != nil {
			t.Errorf("%s names another origin: %q", name, m)
		}
	}
	for _, s := range []domain.Status{domain.Available, domain.OnHold, domain.Reserved} {
		if !bytes.Contains(seatMapJS, []byte("'"+s.String()+"': '")) {
			t.Errorf("map.js does not know the status %q", s)
		}
	}
}
