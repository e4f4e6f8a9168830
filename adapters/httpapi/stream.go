package httpapi

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/seatres/reservation/application"
	"github.com/seatres/reservation/domain"
)

// GET /events/{eventId}/stream: the changes of an event as Server-Sent
// Events (the wire is in api/openapi.yaml). The use case's Subscription
// gives the batches (application/feed.go); this handler writes them:
//
//   - changes at most once per streamEvery, each message with every change
//     since the last (up to the Feed's batch, a thousand records: the rest
//     come in the next message), which is all a connection holds;
//   - a heartbeat comment after heartbeatEvery without a message, so that
//     proxies and clients see a live connection;
//   - each write with a deadline of its own (streamWriteTimeout), which
//     replaces the server's WriteTimeout for this response: a stream lasts
//     as long as its client. A subscriber whose write does not complete by
//     then cannot keep up: it is disconnected (and counted), and resumes
//     with Last-Event-ID, from the store if it is far behind, rather than
//     being buffered here without bound;
//   - the server's read deadline is cleared: net/http's background read of
//     the connection would otherwise end the request at ReadTimeout.
//
// The stream ends when the client goes, the event is deleted (a gone
// event), the store fails, or the Feed closes on shutdown: the client
// reconnects, to another instance if this one is going.

// Stream tuning.
const (
	streamEvery        = 100 * time.Millisecond
	heartbeatEvery     = 15 * time.Second
	streamWriteTimeout = 5 * time.Second
)

// The constant lines of the stream.
var (
	streamRetry     = []byte("retry: 2000\n\n")
	streamHeartbeat = []byte(": heartbeat\n\n")
	streamHeaders   = map[string][]string{
		"Content-Type":  {"text/event-stream"},
		"Cache-Control": {"no-cache"},
		// Tells nginx not to buffer the stream.
		"X-Accel-Buffering": {"no"},
	}
)

// lastEventIDHeader is in canonical form, to read it from the map.
const lastEventIDHeader = "Last-Event-Id"

type streams struct {
	uc    UseCases
	m     Metrics
	enc   *streamEncodings
	perIP *openStreams // nil: no cap
}

// WithMaxStreamsPerIP caps the streams one client IP (as the rate limits
// count it: an IPv4 address, an IPv6 /64) has open at once; 0 is no cap.
// A stream is held for as long as its client reads it, so without this cap
// one script could open every stream the instance serves
// (RESERVATION_STREAM_MAX_SUBSCRIBERS) and leave every seat map a 503; with
// it, one past its IP's cap is answered 429 TOO_MANY_STREAMS at once.
func WithMaxStreamsPerIP(n int) Option { return func(g *guard) { g.streamsPerIP = n } }

var errTooManyStreams = errors.New("this client IP has as many streams open as it may; close one, or retry later")

func newStreams(uc UseCases, m Metrics, perIP int) streams {
	s := streams{uc: uc, m: m, enc: newStreamEncodings()}
	if perIP > 0 {
		s.perIP = &openStreams{max: perIP, open: map[string]int{}}
	}
	return s
}

// openStreams counts the streams open by each client IP.
type openStreams struct {
	max  int
	mu   sync.Mutex
	open map[string]int // IP -> its streams; an IP with none has no entry
}

// take counts a stream of ip, unless ip has max open already.
func (o *openStreams) take(ip string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.open[ip] >= o.max {
		return false
	}
	o.open[ip]++
	return true
}

// put uncounts a stream of ip.
func (o *openStreams) put(ip string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.open[ip]--; o.open[ip] == 0 {
		delete(o.open, ip)
	}
}

func (s streams) serve(c *gin.Context) {
	after, err := streamStart(c.Request)
	if err != nil {
		writeError(c, err)
		return
	}
	if s.perIP != nil {
		ip := ipBucket(c.ClientIP())
		if !s.perIP.take(ip) {
			c.Header("Retry-After", "1")
			writeError(c, errTooManyStreams)
			return
		}
		defer s.perIP.put(ip)
	}
	sub, err := s.uc.Stream(c.Request.Context(), c.Param("id"), after)
	if err != nil {
		if errors.Is(err, application.ErrTooManySubscribers) {
			c.Header("Retry-After", "1")
		}
		writeError(c, err)
		return
	}
	defer sub.Close()
	if c.Request.Method == http.MethodHead {
		// What a GET would start with, and no stream to hold open.
		maps.Copy(c.Writer.Header(), streamHeaders)
		return
	}
	// The use case took both: they parse.
	event, _ := domain.ParseEventID(c.Param("id"))
	var from domain.Position
	if after != "" {
		from, _ = domain.ParsePosition(after)
	}
	w := &sseWriter{c: c, rc: http.NewResponseController(errorFlusher(c.Writer)), cl: callerOf(c), creds: c.Request.Header, enc: s.enc, ee: s.enc.acquire(event), last: from}
	defer s.enc.release(event)
	if err := deadlineErr(w.rc.SetReadDeadline(time.Time{})); err != nil {
		return
	}
	maps.Copy(c.Writer.Header(), streamHeaders)
	c.Status(http.StatusOK)
	err = w.run(c.Request.Context(), sub)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		s.m.SlowSubscriber()
	}
	if err != nil && !errors.Is(err, application.ErrFeedClosed) && c.Request.Context().Err() == nil {
		c.Set(answeredKey{}, err) // for the log line: why the stream ended
	}
}

// streamStart is where a stream starts: after the Last-Event-ID that a
// reconnecting EventSource sends, or else after ?after=, or "" (a
// snapshot). An empty Last-Event-ID is none, as EventSource sends none
// after an empty id; an empty or repeated ?after= is a mistake.
func streamStart(r *http.Request) (string, error) {
	query := r.URL.Query()
	if err := knownParams(query, "after"); err != nil {
		return "", err
	}
	if ids := r.Header[lastEventIDHeader]; len(ids) > 1 {
		return "", domain.ErrInvalidPosition
	} else if len(ids) == 1 && ids[0] != "" {
		return ids[0], nil
	}
	return positionParam(query)
}

// errUnknownParameter refuses a query parameter that the path does not
// take: a typo (?afer=, ?limt=5) taken for none would answer another
// stream or page than the one asked for, and nothing would show it.
var errUnknownParameter = errors.New("unknown query parameter")

// knownParams refuses a query that names a parameter other than names.
func knownParams(query url.Values, names ...string) error {
	var unknown []string
	for name := range query {
		if !slices.Contains(names, name) {
			unknown = append(unknown, strconv.Quote(name))
		}
	}
	if unknown == nil {
		return nil
	}
	slices.Sort(unknown)
	return fmt.Errorf("%w %s: this path takes %s", errUnknownParameter, strings.Join(unknown, ", "), strings.Join(names, ", "))
}

// positionParam is the ?after= of a query, "" when it has none.
func positionParam(query url.Values) (string, error) {
	values, ok := query["after"]
	if !ok {
		return "", nil
	}
	if len(values) != 1 || values[0] == "" {
		return "", domain.ErrInvalidPosition
	}
	return values[0], nil
}

// sseWriter writes the messages of one stream.
type sseWriter struct {
	c         *gin.Context
	rc        *http.ResponseController
	cl        *caller
	creds     http.Header // the request's, which the caller is identified by again
	enc       *streamEncodings
	ee        *eventEncodings
	last      domain.Position // of the last record (or snapshot) written
	lastWrite time.Time
}

// streamBuffers hold messages while they are written: a stream holds no
// buffer between its messages, so that a thousand quiet subscribers cost
// no memory of messages, and busy ones reuse the same few buffers.
var streamBuffers = sync.Pool{New: func() any { return new([]byte) }}

// maxStreamBuffer keeps the buffer of a message of a thousand usual
// records for reuse, and lets a larger one go.
const maxStreamBuffer = 1 << 20

// run writes the stream until it ends, and returns why. It waits for the
// next message's turn before it asks for a batch: the batch then holds
// every change since the last message, and a busy event wakes each
// subscriber once per streamEvery at most, not at every change.
func (w *sseWriter) run(ctx context.Context, sub *application.Subscription) error {
	if err := w.write(streamRetry); err != nil {
		return err
	}
	var lastMsg time.Time // zero: the first may go at once
	for {
		if err := waitUntil(ctx, lastMsg.Add(streamEvery)); err != nil {
			return err
		}
		next, cancel := context.WithDeadline(ctx, w.lastWrite.Add(heartbeatEvery))
		b, err := sub.Next(next)
		quiet := err != nil && next.Err() != nil && ctx.Err() == nil
		cancel()
		if denied := w.identify(); denied != nil && (quiet || err == nil) {
			return errors.Join(denied, w.message(func(b []byte) []byte {
				e := classify(denied)
				b = append(b, "event: denied\ndata: "...)
				b = appendError(b, e.message(denied), e.code, nil)
				return append(b, "\n\n"...)
			}))
		}
		switch {
		case quiet:
			err = w.write(streamHeartbeat)
		case errors.Is(err, domain.ErrEventNotFound):
			return w.message(func(b []byte) []byte {
				b = append(b, "event: gone\ndata: "...)
				b = appendError(b, domain.ErrEventNotFound.Error(), domain.ErrEventNotFound.Code(), nil)
				return append(b, "\n\n"...)
			})
		case err != nil:
			return err
		case b.Snapshot != nil:
			err = w.snapshot(b.Snapshot)
		}
		if err == nil && len(b.Records) > 0 {
			err = w.changes(b.Records)
			lastMsg = w.lastWrite
		}
		if err != nil {
			return err
		}
	}
}

// identify checks the stream's credentials again before each message, as
// every request has them checked: a key taken out of the keys file (a
// SIGHUP's reload) or a buyer token past its expiry would otherwise keep
// showing a long-lived stream what they no longer may (holders), and a
// key's scopes are the file's as it is now. It returns the refusal that a
// new request with them would get, nil while they are good.
func (w *sseWriter) identify() error {
	if w.cl == nil || !w.cl.g.identifies() {
		return nil
	}
	cl := &caller{g: w.cl.g, ip: w.cl.ip}
	if err := cl.identify(w.creds); err != nil {
		return err
	}
	w.cl = cl
	return nil
}

func (w *sseWriter) snapshot(s *application.Snapshot) error {
	w.last = s.Position
	return w.message(func(b []byte) []byte {
		b = append(b, "id: "...)
		b = s.Position.AppendText(b)
		b = append(b, "\nevent: snapshot\ndata: "...)
		b = appendSnapshot(b, s)
		return append(b, "\n\n"...)
	})
}

func (w *sseWriter) changes(records []domain.Record) error {
	after := w.last
	w.last = records[len(records)-1].Position
	var head [64]byte
	h := append(head[:0], "id: "...)
	h = w.last.AppendText(h)
	h = append(h, "\nevent: changes\ndata: {\"changes\":["...)
	pieces := w.enc.pieces(w.ee, after, records, w.cl)
	if pieces == nil {
		return w.message(func(b []byte) []byte {
			b = append(b, h...)
			b = appendChanges(b, records, w.cl.seesHolder)
			return append(b, changesTail...)
		})
	}
	return w.write(append([][]byte{h}, append(pieces, changesTail)...)...)
}

var changesTail = []byte("]}\n\n")

// message writes the message that fill appends to an empty buffer.
func (w *sseWriter) message(fill func([]byte) []byte) error {
	buf := streamBuffers.Get().(*[]byte)
	b := fill((*buf)[:0])
	err := w.write(b)
	if cap(b) <= maxStreamBuffer {
		*buf = b
		streamBuffers.Put(buf)
	}
	return err
}

// write writes and flushes the parts of a message within
// streamWriteTimeout. A large part goes from its slice to the connection,
// past the response's buffer.
func (w *sseWriter) write(parts ...[]byte) error {
	if err := deadlineErr(w.rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))); err != nil {
		return err
	}
	for _, b := range parts {
		if _, err := w.c.Writer.Write(b); err != nil {
			return err
		}
	}
	w.lastWrite = time.Now()
	return w.rc.Flush()
}

// errorFlusher is the writer under w that reports a failed flush: gin's
// writer has Flush, which drops the error, and a ResponseController calls
// it rather than look under it. A flush cut by the write deadline then
// went unseen: the server cancelled the request, and the stream ended as
// if its client had gone, not as a slow subscriber (stream_slow_subscribers_total,
// TestStreamDisconnectsASlowSubscriber, which failed about 1 run in 8).
func errorFlusher(w http.ResponseWriter) http.ResponseWriter {
	for {
		if _, ok := w.(interface{ FlushError() error }); ok {
			return w
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return w
		}
		w = u.Unwrap()
	}
}

// deadlineErr is err, but nil for a writer that has no deadlines (a test's
// recorder).
func deadlineErr(err error) error {
	if errors.Is(err, http.ErrNotSupported) {
		return nil
	}
	return err
}

// waitUntil waits for t or for ctx to be done.
func waitUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// streamEncodings keeps the encodings of the records that the streams of
// this instance write, per event followed and in the two forms that most
// subscribers read: every holder shown, every holder hidden (see
// seesHolder). The subscribers of an event write the same records in the
// same order, each in batches of its own: encoded once, in a run of
// consecutive records, a batch is a slice of that run (or of two), which
// each subscriber writes as it is, so that a subscriber costs the service
// no encoding, no copy and no buffer of its own. A buyer whose token sees
// its own holds gets the hidden form but for the records of its own seats:
// a batch with one of those is encoded for it alone, as is one no longer
// kept (a subscriber far behind).
type streamEncodings struct {
	mu     sync.Mutex
	events map[domain.EventID]*eventEncodings
}

// eventEncodings is one event's, while it has subscribers here.
type eventEncodings struct {
	subs  int
	forms [2]encodedRuns
}

// encodedRuns is an event's records in one form: the current run, and the
// previous one, whose records the current one may go on from. A run stops
// growing at encodedRunBytes; the next one replaces the previous, so that
// an event costs at most about twice that per form in use: 1 to 2 s of a
// sale of 6,000 changes a second, well more than its subscribers lag
// (p99 0.4 s at 1,000 subscribers, make bench); one further behind is
// written encodings of its own.
type encodedRuns struct {
	cur, prev *encodedRun
	// follows tells that cur begins right after prev's last record.
	follows bool
}

const encodedRunBytes = 1 << 20

// encodedRun is consecutive records of an event, encoded: data holds, for
// each, a comma and its changes; ends[i] is the end of record i's in data.
// Bytes once in data are never changed: a subscriber writes them while
// others append.
type encodedRun struct {
	positions []domain.Position
	ends      []int
	data      []byte
}

// The forms of the encodings, and who sees the holders in each.
const (
	holdersShown = iota
	holdersHidden
)

var formSees = [2]func(domain.UserID) bool{
	holdersShown:  func(domain.UserID) bool { return true },
	holdersHidden: func(h domain.UserID) bool { return h == "" },
}

func newStreamEncodings() *streamEncodings {
	return &streamEncodings{events: make(map[domain.EventID]*eventEncodings)}
}

// acquire returns e's encodings, kept until the last release.
func (se *streamEncodings) acquire(e domain.EventID) *eventEncodings {
	se.mu.Lock()
	defer se.mu.Unlock()
	ee := se.events[e]
	if ee == nil {
		ee = new(eventEncodings)
		se.events[e] = ee
	}
	ee.subs++
	return ee
}

func (se *streamEncodings) release(e domain.EventID) {
	se.mu.Lock()
	defer se.mu.Unlock()
	if ee := se.events[e]; ee != nil {
		if ee.subs--; ee.subs == 0 {
			delete(se.events, e)
		}
	}
}

// pieces returns the changes of records, which come right after the
// position after, as cl may see them: one or two slices of kept runs, to
// be written one after the other, or nil when they are not kept (encode
// them with appendChanges).
func (se *streamEncodings) pieces(ee *eventEncodings, after domain.Position, records []domain.Record, cl *caller) [][]byte {
	form := holdersHidden
	switch {
	case cl.seesEveryHolder():
		form = holdersShown
	case cl.buyer != "" && slices.ContainsFunc(records, func(r domain.Record) bool { return heldBy(r.Seats, cl.buyer) }):
		return nil
	}
	se.mu.Lock()
	defer se.mu.Unlock()
	runs := &ee.forms[form]
	runs.add(after, records, formSees[form])
	return runs.find(records)
}

// add appends to the current run the records it does not have yet, when
// they go on from its last one; records after a gap (a subscriber that
// started again from a snapshot) begin a new run.
func (rs *encodedRuns) add(after domain.Position, records []domain.Record, sees func(domain.UserID) bool) {
	cur := rs.cur
	if cur == nil {
		cur = new(encodedRun)
		rs.cur = cur
	}
	m, from := 0, after // records[m:] are new; from, the record before them
	if n := len(cur.positions); n > 0 {
		last := cur.positions[n-1]
		m = sort.Search(len(records), func(i int) bool { return last.Before(records[i].Position) })
		if m == len(records) {
			return
		}
		if m > 0 {
			from = records[m-1].Position
		}
		if from != last {
			// Not the records that follow the run: a new run, unless
			// they are older than it (they are then not kept).
			if m > 0 || !last.Before(records[0].Position) {
				return
			}
			rs.prev, rs.cur, rs.follows = cur, &encodedRun{}, false
			cur = rs.cur
		} else if len(cur.data) >= encodedRunBytes {
			rs.prev, rs.cur, rs.follows = cur, &encodedRun{}, true
			cur = rs.cur
		}
	}
	for _, r := range records[m:] {
		cur.data = append(cur.data, ',')
		cur.data = appendChanges(cur.data, []domain.Record{r}, sees)
		cur.positions = append(cur.positions, r.Position)
		cur.ends = append(cur.ends, len(cur.data))
	}
}

// find returns records as slices of the runs, nil when they are not kept.
// records are consecutive: a run that has the first and, as many records
// on, the last, has them all.
func (rs *encodedRuns) find(records []domain.Record) [][]byte {
	first, last, n := records[0].Position, records[len(records)-1].Position, len(records)
	if i, ok := rs.cur.index(first); ok {
		if j := i + n - 1; j < len(rs.cur.positions) && rs.cur.positions[j] == last {
			return [][]byte{rs.cur.slice(i, j)[1:]}
		}
		return nil
	}
	if rs.prev == nil {
		return nil
	}
	i, ok := rs.prev.index(first)
	if !ok {
		return nil
	}
	inPrev := len(rs.prev.positions) - i
	if n <= inPrev {
		if rs.prev.positions[i+n-1] != last {
			return nil
		}
		return [][]byte{rs.prev.slice(i, i+n-1)[1:]}
	}
	j := n - inPrev - 1 // the last record's index in cur
	if !rs.follows || j >= len(rs.cur.positions) || rs.cur.positions[j] != last {
		return nil
	}
	return [][]byte{rs.prev.slice(i, len(rs.prev.positions)-1)[1:], rs.cur.slice(0, j)}
}

// index finds the record at p in the run.
func (r *encodedRun) index(p domain.Position) (int, bool) {
	i := sort.Search(len(r.positions), func(i int) bool { return !r.positions[i].Before(p) })
	return i, i < len(r.positions) && r.positions[i] == p
}

// slice is the encodings of records i to j of the run, with the comma
// before each.
func (r *encodedRun) slice(i, j int) []byte {
	start := 0
	if i > 0 {
		start = r.ends[i-1]
	}
	return r.data[start:r.ends[j]:r.ends[j]]
}

// heldBy reports whether one of seats is held (or reserved) by buyer.
func heldBy(seats []domain.Seat, buyer string) bool {
	for _, s := range seats {
		if string(s.Holder) == buyer {
			return true
		}
	}
	return false
}
