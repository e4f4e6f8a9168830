package httpapi

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"net/http"
	"strings"
	"sync"

	"github.com/gin-gonic/gin"

	"github.com/seatres/reservation/api"
)

// The API docs page: GET /docs is a small HTML page on which Redoc, vendored
// in redoc/ (its README says how it was fetched), renders the document of
// GET /openapi.yaml in the browser. Everything the page needs is built into
// the binary, and its Content-Security-Policy lets it load nothing from
// anywhere else.

// Redoc's script: its URL relative to the page's (see docsPage), and its
// route.
const (
	docsScriptURL  = "docs/redoc.standalone.js"
	docsScriptPath = "/" + docsScriptURL
)

//go:embed redoc/redoc.standalone.js
var redocScript []byte

// docsPage loads the script and the document by relative URLs, so that the
// page also works behind a proxy that serves the API under a path prefix.
// Redoc's telemetry is off (the policy would block it anyway), and the
// empty icon keeps the browser from asking for /favicon.ico.
const docsPage = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Seat reservation API docs</title>
<link rel="icon" href="data:,">
</head>
<body>
<redoc spec-url="openapi.yaml" disable-telemetry="true"></redoc>
<script type="module" src="` + docsScriptURL + `"></script>
</body>
</html>
`

// docsPolicy allows the page its own script and requests to this service
// only. Redoc's styles (styled-components) go into empty <style> elements
// that it fills through the CSSOM, which the policy does not govern: the
// hash is that of the empty string, so no inline style with content, and
// no style attribute in markup, is allowed. Redoc's icon font and the
// page's empty icon are data: URLs. Redoc's "Built with Redocly" logo, an
// image on Redocly's CDN, is blocked, and Redoc then leaves it out.
const docsPolicy = "default-src 'none'; script-src 'self'; connect-src 'self'; " +
	"style-src 'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='; " +
	"img-src data:; font-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// asset is a fixed response of the docs routes and of the document: its
// body as is and gzipped (gzip.go), each with its own ETag, since they are
// two representations.
type asset struct {
	body        []byte
	contentType string
	etag        string
	gzipped     func() []byte // body at gzip's best level, on first use, once
	gzipETag    string
}

func newAsset(body []byte, contentType string) asset {
	sum := sha256.Sum256(body)
	tag := hex.EncodeToString(sum[:16])
	return asset{body: body, contentType: contentType, etag: `"` + tag + `"`,
		gzipped: sync.OnceValue(func() []byte { return gzipBest(body) }), gzipETag: `"` + tag + `-gzip"`}
}

// docsAssets hashes the 2 MB script once per process, on the first request,
// rather than in every NewRouter; each asset is compressed on the first
// request that accepts gzip.
var docsAssets = sync.OnceValues(func() (page, script asset) {
	return newAsset([]byte(docsPage), "text/html; charset=utf-8"),
		newAsset(redocScript, "text/javascript; charset=utf-8")
})

// specAsset is api/openapi.yaml, served at /openapi.yaml.
var specAsset = sync.OnceValue(func() asset { return newAsset(api.OpenAPI, "application/yaml") })

// serve answers the asset, gzipped when the request accepts it. The
// assets change only with the binary, and their URLs do not say which
// binary: browsers keep them but revalidate every time (no-cache), and the
// ETag makes that a 304 until an upgrade. http.ServeContent would also
// answer Range and If-Match, with a plain-text 416 or an empty 412 where
// this API answers JSON errors, and no asset needs them: a server may
// ignore Range.
func (a asset) serve(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("Cache-Control", "no-cache")
	h.Add("Vary", "Accept-Encoding") // to CORS's Vary: Origin
	h.Set("X-Content-Type-Options", "nosniff")
	body, etag := a.body, a.etag
	gzipped := gzipAccepted(c.Request.Header["Accept-Encoding"])
	if gzipped {
		body, etag = a.gzipped(), a.gzipETag
	}
	h.Set("ETag", etag)
	if matchesETag(c.GetHeader("If-None-Match"), etag) {
		c.Status(http.StatusNotModified)
		return
	}
	if gzipped {
		h["Content-Encoding"] = gzipEncoding
	}
	c.Data(http.StatusOK, a.contentType, body)
}

// matchesETag reports whether an If-None-Match list names etag, or is "*",
// by the weak comparison that RFC 9110 prescribes for it (W/ is ignored).
func matchesETag(list, etag string) bool {
	for tag := range strings.SplitSeq(list, ",") {
		tag = strings.TrimPrefix(strings.TrimSpace(tag), "W/")
		if tag == etag || tag == "*" {
			return true
		}
	}
	return false
}

// docs answers the page, with the policy that confines it.
func docs(c *gin.Context) {
	page, _ := docsAssets()
	c.Header("Content-Security-Policy", docsPolicy)
	c.Header("Referrer-Policy", "no-referrer")
	page.serve(c)
}

// docsScript answers Redoc's bundle.
func docsScript(c *gin.Context) {
	_, script := docsAssets()
	script.serve(c)
}

// openAPIDocument answers the document.
func openAPIDocument(c *gin.Context) { specAsset().serve(c) }

// rootRedirect sends a visitor of / to the docs page, by a relative URL for
// the same reason as docsPage's. It is 302, not 301, so that / may answer
// something else some day without browsers remembering the redirect.
func rootRedirect(c *gin.Context) {
	c.Header("Location", "docs")
	c.Status(http.StatusFound)
}
