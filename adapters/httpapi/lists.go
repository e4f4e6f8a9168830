package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/gin-gonic/gin"

	"github.com/seatres/reservation/domain"
)

// The list of an event's available seats serves a crowd: a seat map that
// polls it. Three things keep a crowd from costing an instance more than
// one reader does, or from starving the buyers who hold seats on it:
//
//   - The lists of one event that arrive while one is being read and
//     encoded share the next read (freshReads, keyed by event): one store
//     read, one encoding of its bytes, and at most one gzip of them, for
//     all of them. Not the read in flight, as singleflight would: that one
//     began before they arrived, and an answer older than its request
//     breaks the histories' linearizability (tests/history caught it: a
//     list that missed a release made just before it). So every answer is
//     one the store gave between its request and its answer, and a list
//     waits at most two reads. A failed read fails all who shared it.
//   - The read runs detached from the cancellation of the request that
//     started it, so that a client that goes away does not fail the
//     others; the store bounds it with its own timeout.
//   - At most WithMaxLists lists are answered at once, from their arrival
//     to the end of their write (encoding is shared, the writes of 1.3 MB
//     each are not, and lists of different events are read and encoded
//     apart); one past the cap is answered 503 TOO_MANY_LISTS with
//     Retry-After at once, never queued, and no other call waits for a
//     list. A slow reader keeps its place until the write deadline. The
//     cap is not the smaller the better: a crowd that is refused asks
//     again at once, and on 2 CPUs a cap of 4 made so many refusals that
//     they slowed the holds more than 16 or 64 lists did (README, the
//     crowd in cmd/loadbench).
//
// The list is conditional (issue #11): its ETag is the list's Version,
// and a request whose If-None-Match names it is answered 304 without a
// body. Such a request first asks the store for the Version alone
// (ListVersion, which reads no seats; shared as the reads are), before it
// takes a place under the cap: a crowd of seat maps that poll an event
// which did not change costs no listing. When the store cannot tell the
// Version so (a hold may have expired unrecorded), the list is read, and
// its own Version decides.
//
// The sharing is this adapter's, not the use case's: what is shared is the
// answer's bytes, which only the adapter has, and freshReads here shares
// the read with them; HTTP is the only caller of the list.

var errTooManyLists = errors.New("too many seat lists in progress on this instance; retry later")

// WithMaxLists caps the lists answered at once (see above); 0 is no cap.
func WithMaxLists(n int) Option { return func(g *guard) { g.maxLists = n } }

// lists answers GET /seats/list/{eventId}.
type lists struct {
	uc       UseCases
	reads    freshReads[*listing]
	versions freshReads[listVersion]
	slots    chan struct{} // one token per list in progress; nil: no cap
}

// listVersion is what ListVersion answers.
type listVersion struct {
	v  domain.Version
	ok bool
}

func newLists(uc UseCases, capacity int) *lists {
	l := &lists{uc: uc}
	if capacity > 0 {
		l.slots = make(chan struct{}, capacity)
	}
	return l
}

// listing is one shared read of an event's available seats, encoded.
type listing struct {
	etag    []string // the ETag header's value, shared by its answers
	plain   []byte
	gzipped func() []byte // plain compressed, on first use, once
}

func (l *lists) serve(c *gin.Context) {
	h := c.Writer.Header()
	// On every answer (its errors do not vary, its 200 does), added to
	// the Vary: Origin of CORS.
	h.Add("Vary", "Accept-Encoding")
	id := c.Param("eventId")
	match, conditional := c.Request.Header[ifNoneMatchHeader]
	if conditional {
		lv, err := l.versions.do(id, func() (listVersion, error) {
			v, ok, err := l.uc.ListVersion(context.WithoutCancel(c.Request.Context()), id)
			return listVersion{v, ok}, err
		})
		if err != nil {
			writeError(c, err)
			return
		}
		if lv.ok {
			if etag := etagOf(lv.v); noneMatch(match, etag) {
				notModified(c, []string{etag})
				return
			}
		}
	}
	if l.slots != nil {
		select {
		case l.slots <- struct{}{}:
			defer func() { <-l.slots }()
		default:
			h.Set("Retry-After", "1")
			writeError(c, errTooManyLists)
			return
		}
	}
	list, err := l.reads.do(id, func() (*listing, error) {
		return l.read(context.WithoutCancel(c.Request.Context()), id)
	})
	if err != nil {
		writeError(c, err)
		return
	}
	if conditional && noneMatch(match, list.etag[0]) {
		notModified(c, list.etag)
		return
	}
	h["Etag"] = list.etag
	body := list.plain
	if gzipAccepted(c.Request.Header["Accept-Encoding"]) {
		body = list.gzipped()
		h["Content-Encoding"] = gzipEncoding
	}
	h["Content-Type"] = jsonContentType
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	c.Status(http.StatusOK)
	// A failed write is a client gone, or cut off by the write deadline:
	// nothing to answer. The bytes are shared: a slow reader holds no
	// copy of its own.
	_, _ = c.Writer.Write(body)
}

// read reads and encodes the listing of the event id.
func (l *lists) read(ctx context.Context, id string) (*listing, error) {
	e, numbers, v, err := l.uc.AvailableSeats(ctx, id)
	if err != nil {
		return nil, err
	}
	plain := encodeAvailableSeats(e, numbers)
	return &listing{etag: []string{etagOf(v)}, plain: plain, gzipped: sync.OnceValue(func() []byte { return gzipList(plain) })}, nil
}

// ifNoneMatchHeader is in canonical form, to read it from the map.
const ifNoneMatchHeader = "If-None-Match"

// etagOf is the ETag of a list of Version v: a strong tag, the same for
// the plain and the gzipped answer, since Vary: Accept-Encoding keeps
// caches from mixing them.
func etagOf(v domain.Version) string {
	var b [48]byte
	t := append(b[:0], '"')
	t = v.AppendText(t)
	return string(append(t, '"'))
}

// noneMatch reports whether an If-None-Match (RFC 9110, 13.1.2) names
// etag or is "*": the client has that list. Its comparison is the weak
// one, so that W/"x" matches "x".
func noneMatch(values []string, etag string) bool {
	for _, v := range values {
		for tag := range strings.SplitSeq(v, ",") {
			tag = strings.TrimSpace(tag)
			if tag == "*" || strings.TrimPrefix(tag, "W/") == etag {
				return true
			}
		}
	}
	return false
}

// notModified answers 304 with the list's ETag (and the Vary set before),
// without a body.
func notModified(c *gin.Context, etag []string) {
	c.Writer.Header()["Etag"] = etag
	c.Status(http.StatusNotModified)
	c.Writer.WriteHeaderNow()
}

// freshReads shares reads of a key among the callers that arrive while a
// read of it is running: they wait for the next read, which starts when
// the running one ends, so that none of them gets a read begun before it
// arrived. One read runs per key at a time, and one more waits at most.
type freshReads[T any] struct {
	mu      sync.Mutex
	running map[string]*freshCall[T] // the read that the next callers share, nil while none waits
}

// freshCall is one read, of the first caller that waits for it.
type freshCall[T any] struct {
	read func() (T, error)
	done chan struct{} // closed once v and err are set
	v    T
	err  error
}

// do returns what read (or that of another caller of key) gives, read
// after this call began.
func (f *freshReads[T]) do(key string, read func() (T, error)) (T, error) {
	f.mu.Lock()
	next, busy := f.running[key]
	if !busy {
		if f.running == nil {
			f.running = make(map[string]*freshCall[T])
		}
		f.running[key] = nil
		f.mu.Unlock()
		c := &freshCall[T]{read: read, done: make(chan struct{})}
		f.run(key, c)
		return c.v, c.err
	}
	if next == nil {
		next = &freshCall[T]{read: read, done: make(chan struct{})}
		f.running[key] = next
	}
	f.mu.Unlock()
	<-next.done
	return next.v, next.err
}

// run reads for c, then starts the read of those who came meanwhile, if
// any, in a goroutine of its own: c's caller has its answer now.
func (f *freshReads[T]) run(key string, c *freshCall[T]) {
	c.v, c.err = c.read()
	f.mu.Lock()
	next := f.running[key]
	if next == nil {
		delete(f.running, key)
	} else {
		f.running[key] = nil
	}
	f.mu.Unlock()
	close(c.done)
	if next != nil {
		go f.run(key, next)
	}
}
