package httpapi

import (
	"context"
	"errors"
	"net/http"
	"os"
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
	uc      UseCases
	m       Metrics
	encoded *encodedRecords
}

func newStreams(uc UseCases, m Metrics) streams {
	return streams{uc: uc, m: m, encoded: newEncodedRecords()}
}

func (s streams) serve(c *gin.Context) {
	after, err := streamStart(c.Request)
	if err != nil {
		writeError(c, err)
		return
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
	w := &sseWriter{c: c, rc: http.NewResponseController(c.Writer), cl: callerOf(c), encoded: s.encoded}
	if err := deadlineErr(w.rc.SetReadDeadline(time.Time{})); err != nil {
		return
	}
	h := c.Writer.Header()
	for k, v := range streamHeaders {
		h[k] = v
	}
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
	if ids := r.Header[lastEventIDHeader]; len(ids) > 1 {
		return "", domain.ErrInvalidPosition
	} else if len(ids) == 1 && ids[0] != "" {
		return ids[0], nil
	}
	return positionParam(r)
}

// positionParam is the ?after= of r, "" when it has none.
func positionParam(r *http.Request) (string, error) {
	values, ok := r.URL.Query()["after"]
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
	encoded   *encodedRecords
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

func (w *sseWriter) snapshot(s *application.Snapshot) error {
	return w.message(func(b []byte) []byte {
		b = append(b, "id: "...)
		b = s.Position.AppendText(b)
		b = append(b, "\nevent: snapshot\ndata: "...)
		b = appendSnapshot(b, s)
		return append(b, "\n\n"...)
	})
}

func (w *sseWriter) changes(records []domain.Record) error {
	return w.message(func(b []byte) []byte {
		b = append(b, "id: "...)
		b = records[len(records)-1].Position.AppendText(b)
		b = append(b, "\nevent: changes\ndata: {\"changes\":["...)
		b = w.encoded.appendChanges(b, records, w.cl)
		return append(b, "]}\n\n"...)
	})
}

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

// write writes and flushes b within streamWriteTimeout.
func (w *sseWriter) write(b []byte) error {
	if err := deadlineErr(w.rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))); err != nil {
		return err
	}
	if _, err := w.c.Writer.Write(b); err != nil {
		return err
	}
	w.lastWrite = time.Now()
	return w.rc.Flush()
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

// encodedRecords keeps the encoding of the records that streams write, in
// the two forms that most subscribers read: every holder shown, every
// holder hidden (see seesHolder). The subscribers of an event write the
// same records, each in messages of its own; encoded once, a record costs
// each of them a copy of its bytes, not an encoding. A buyer whose token
// sees its own holds gets the hidden form but for the records of its own
// seats, encoded for it.
//
// It holds two generations of at most encodedPerGeneration records each:
// a lookup that misses the current one takes the record from the previous
// one, and a full current one becomes the previous, the previous being
// dropped. Subscribers that keep up write a record within a message or two
// of its coming, well within a generation.
type encodedRecords struct {
	mu        sync.Mutex
	cur, prev map[recordKey]*encodedRecord
}

const encodedPerGeneration = 8192

type recordKey struct {
	event domain.EventID
	pos   domain.Position
}

// encodedRecord is a record's changes as the elements of an array, in each
// holderForm, each made on first use.
type encodedRecord [2][]byte

// The forms of an encodedRecord, and who sees the holders in each.
const (
	holdersShown = iota
	holdersHidden
)

var formSees = [2]func(domain.UserID) bool{
	holdersShown:  func(domain.UserID) bool { return true },
	holdersHidden: func(h domain.UserID) bool { return h == "" },
}

func newEncodedRecords() *encodedRecords {
	return &encodedRecords{cur: make(map[recordKey]*encodedRecord), prev: make(map[recordKey]*encodedRecord)}
}

// appendChanges appends the changes of records as cl may see them, as
// appendChanges does, from the encodings kept.
func (er *encodedRecords) appendChanges(b []byte, records []domain.Record, cl *caller) []byte {
	form := holdersHidden
	if cl.seesEveryHolder() {
		form = holdersShown
	}
	er.mu.Lock()
	defer er.mu.Unlock()
	for i := range records {
		if i > 0 {
			b = append(b, ',')
		}
		one := records[i : i+1]
		if form == holdersHidden && cl.buyer != "" && heldBy(one[0].Seats, cl.buyer) {
			b = appendChanges(b, one, cl.seesHolder)
			continue
		}
		// A record has a seat at least, whose id names the event.
		enc := er.lookup(recordKey{one[0].Seats[0].ID.Event, one[0].Position})
		if enc[form] == nil {
			enc[form] = appendChanges(nil, one, formSees[form])
		}
		b = append(b, enc[form]...)
	}
	return b
}

// lookup finds the encodings of the record k, or keeps a new, empty one.
// er.mu is held.
func (er *encodedRecords) lookup(k recordKey) *encodedRecord {
	if enc, ok := er.cur[k]; ok {
		return enc
	}
	enc, ok := er.prev[k]
	if !ok {
		enc = new(encodedRecord)
	}
	if len(er.cur) >= encodedPerGeneration {
		er.prev, er.cur = er.cur, make(map[recordKey]*encodedRecord, encodedPerGeneration)
	}
	er.cur[k] = enc
	return enc
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
