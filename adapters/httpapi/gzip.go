package httpapi

import (
	"bytes"
	"strconv"
	"strings"
	"sync"

	"github.com/klauspost/compress/gzip"
)

// Compression of the large answers: the listing (gzip.go's listGzipLevel,
// per shared read, see lists.go), the document and the docs page's script
// (their best level, once per process, see docs.go). An answer is
// compressed only for a request whose Accept-Encoding accepts gzip, and
// each of these answers says Vary: Accept-Encoding, so that a cache keeps
// its two forms apart.

// gzipEncoding is shared by every answer that sets it (net/http only reads
// it), so that setting it allocates nothing.
var gzipEncoding = []string{"gzip"}

// listGzipLevel is the level of a listing's compression, paid once per
// shared read of a list (lists.go). Measured on the 10,000-seat list
// (1,309,036 bytes), a fresh writer each time: klauspost/compress makes
// 30.6 KB in 2.1 ms at level 1, 28.8 KB in 2.7 ms at 2, 28.2 KB in 5.6 ms
// at 6 (the default) and 28.0 KB in 21 ms at 9; compress/gzip 31.2 KB in
// 2.7 ms at 1 and 28.8 KB in 7.3 ms at 6. Every level is far below 64 KB,
// so the fastest wins.
const listGzipLevel = gzip.BestSpeed

// gzipWriters are reused at listGzipLevel: a writer carries buffers of
// several hundred KB, which a crowd would otherwise allocate at every read.
var gzipWriters = sync.Pool{New: func() any {
	w, _ := gzip.NewWriterLevel(nil, listGzipLevel) // a valid level: no error
	return w
}}

// gzipList compresses a listing at listGzipLevel.
func gzipList(b []byte) []byte {
	w := gzipWriters.Get().(*gzip.Writer)
	defer gzipWriters.Put(w)
	return gzipWith(w, b)
}

// gzipBest compresses a constant answer at the best level: it is done once.
func gzipBest(b []byte) []byte {
	w, _ := gzip.NewWriterLevel(nil, gzip.BestCompression) // a valid level: no error
	return gzipWith(w, b)
}

func gzipWith(w *gzip.Writer, b []byte) []byte {
	var out bytes.Buffer
	out.Grow(len(b) / 16)
	w.Reset(&out)
	// Writing to a bytes.Buffer fails only when memory runs out, which
	// panics anyway.
	_, _ = w.Write(b)
	_ = w.Close()
	return out.Bytes()
}

// gzipAccepted reports whether a request with these Accept-Encoding field
// values takes a gzip-coded answer (RFC 9110, 12.5.3): gzip (or its alias
// x-gzip), else "*", with a q-value above 0 and, when identity is named,
// not below identity's. No field, or an empty one, asks for no coding.
// (No served library parses this field: goautoneg parses media ranges
// only, and klauspost/compress's gzhttp keeps its parser to itself, in a
// handler that compresses every answer again.)
func gzipAccepted(values []string) bool {
	gzipQ, identityQ, anyQ := -1.0, -1.0, -1.0 // -1: not named
	for _, v := range values {
		for item := range strings.SplitSeq(v, ",") {
			coding, params, _ := strings.Cut(item, ";")
			q := qValue(params)
			switch strings.ToLower(strings.TrimSpace(coding)) {
			case "gzip", "x-gzip":
				gzipQ = max(gzipQ, q)
			case "identity":
				identityQ = max(identityQ, q)
			case "*":
				anyQ = max(anyQ, q)
			}
		}
	}
	if gzipQ < 0 {
		gzipQ = anyQ
	}
	return gzipQ > 0 && gzipQ >= identityQ
}

// qValue is the weight of a coding's parameters (";q=0.5"): 1 without one,
// 0 for one that is not a number from 0 to 1, so that a malformed weight
// never turns a coding on.
func qValue(params string) float64 {
	for p := range strings.SplitSeq(params, ";") {
		name, value, _ := strings.Cut(strings.TrimSpace(p), "=")
		if !strings.EqualFold(strings.TrimSpace(name), "q") {
			continue
		}
		q, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil || q < 0 || q > 1 {
			return 0
		}
		return q
	}
	return 1
}
