package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"hash/maphash"
	"sync"
	"time"

	"github.com/seatres/reservation/domain"
)

// The subscribers' side of GET /events/{id}/stream (stream.go runs them).
// Each one reads its stream as it comes, checks it and keeps only counts:
// a thousand subscribers of a sale of thousands of changes a second read
// more than a gigabyte a second on the machine's two CPUs, which the
// service under test shares. So no SSE library (one that hands each
// message over as a string allocates it): lines are read from a bufio
// buffer in place, a long data line piece by piece, and each change is
// cut out of it by the marker every change begins with, which cannot
// occur inside a JSON string (its quotes would be escaped there). What a
// subscriber keeps of its changes is their count and a hash of their
// bytes in order, to compare with GET /events/{id}/changes afterwards
// (stream.go), and a histogram of their lags.

// changeMarker begins every change on the wire, and nothing else.
const changeMarker = `{"position":"`

// The other parts of a message that a subscriber reads.
var (
	dataPrefix  = []byte("data: ")
	atField     = []byte(`","at":"`)
	changesEnd  = []byte("]}\n")
	changesHead = []byte(`data: {"changes":[`)
)

// changeSeed keys the hash of the changes, the same for every subscriber
// and for the history.
var changeSeed = maphash.MakeSeed()

// hashChange is the hash of a change's bytes.
func hashChange(change []byte) uint64 { return maphash.Bytes(changeSeed, change) }

// mixHash adds the hash of a change to sum, the hash of the changes before
// it: the order counts.
func mixHash(sum, h uint64) uint64 { return (sum ^ h) * 0x100000001b3 }

// atLayout is how a change's store time is written: UTC, milliseconds.
const atLayout = "2006-01-02T15:04:05.000Z"

// kind is the event type of the message being read.
type kind uint8

const (
	kindNone kind = iota
	kindSnapshot
	kindChanges
	kindGone
	kindOther
)

// subscriber is what one stream showed, over its connections (a
// subscriber disconnected resumes, stream.go). The fields but progress are
// its reading goroutine's until it returns.
type subscriber struct {
	snapshot domain.Position // where its changes start
	snapped  bool
	// What the messages read to their end showed: a connection that ends
	// within a message leaves it out, and the next one, after the last
	// message's id, has its changes again.
	seen     position
	messages int
	changes  int
	lags     lagHistogram
	bytes    int64 // all that came
	resumes  int   // connections after the first

	// The message being read.
	kind    kind
	id      []byte
	next    position // seen and the changes of the message so far
	msgLags []int64  // their lags, µs
	arrived int64    // µs since the epoch: when its data line began to come
	carry   []byte   // the start of a change cut by the end of a piece
	inData  bool     // the current line is a data line of changes, not all read
	skip    bool     // the current line is one to skip, not all read
	partial []byte   // the start of a line of another field, cut by the buffer

	// The last store time read, and the start of its day.
	atText  [len(atLayout)]byte
	atUs    int64
	dayText [10]byte
	dayUs   int64

	progress progress
}

// position is where a subscriber's changes are.
type position struct {
	last domain.Position // of the last change (or the snapshot)
	text []byte          // its text, to tell a record's next seat cheaply
	lag  int64           // the last change's lag, µs
	sum  uint64          // mixHash of every change in order
}

func (p *position) copyFrom(q *position) {
	p.last, p.text, p.lag, p.sum = q.last, append(p.text[:0], q.text...), q.lag, q.sum
}

// resumeAt is the Last-Event-ID of the next connection: the id of the
// last message read to its end.
func (s *subscriber) resumeAt() string {
	if len(s.seen.text) == 0 {
		return s.snapshot.String()
	}
	return string(s.seen.text)
}

// connected starts reading a new connection: from its first line.
func (s *subscriber) connected() {
	s.kind, s.inData, s.skip = kindNone, false, false
	s.carry, s.partial = s.carry[:0], s.partial[:0]
}

// progress is what the run polls while the subscriber reads.
type progress struct {
	mu       sync.Mutex
	snapped  bool
	snapshot domain.Position
	last     domain.Position
}

func (p *progress) get() (snapped bool, last domain.Position) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.snapped, p.last
}

// errStreamProblem marks what is wrong with a stream, as opposed to its
// connection ending.
var errStreamProblem = errors.New("stream")

func (s *subscriber) problem(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errStreamProblem, fmt.Sprintf(format, args...))
}

// read reads a stream until it ends or is wrong, and returns why; clock is
// the time of an arrival.
func (s *subscriber) read(r *bufio.Reader, clock func() time.Time) error {
	for {
		line, err := r.ReadSlice('\n')
		full := err == nil
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return err
		}
		s.bytes += int64(len(line))
		var problem error
		switch {
		case s.inData:
			problem = s.changesPiece(line, full)
			s.inData = !full
		case s.skip:
			s.skip = !full
		case len(s.partial) > 0 || !full && !bytes.HasPrefix(line, dataPrefix):
			// A field longer than the buffer (rare): whole, then read.
			s.partial = append(s.partial, line...)
			if full {
				problem = s.line(s.partial, true, clock)
				s.partial = s.partial[:0]
			}
		default:
			problem = s.line(line, full, clock)
		}
		if problem != nil {
			return problem
		}
	}
}

// line reads a line, or the first piece of a data line.
func (s *subscriber) line(line []byte, full bool, clock func() time.Time) error {
	switch {
	case len(line) == 1: // the end of a message
		return s.dispatch()
	case bytes.HasPrefix(line, []byte("id: ")):
		s.id = append(s.id[:0], bytes.TrimSuffix(line[len("id: "):], []byte("\n"))...)
	case bytes.HasPrefix(line, []byte("event: ")):
		switch string(bytes.TrimSuffix(line[len("event: "):], []byte("\n"))) {
		case "snapshot":
			s.kind = kindSnapshot
		case "changes":
			s.kind = kindChanges
		case "gone":
			s.kind = kindGone
		default:
			s.kind = kindOther
		}
	case bytes.HasPrefix(line, dataPrefix):
		if s.kind != kindChanges {
			s.skip = !full // a snapshot's position is its id
			return nil
		}
		// (A buffer of 16 bytes cuts even the head.)
		if !bytes.HasPrefix(line, changesHead) && !bytes.HasPrefix(changesHead, line) {
			return s.problem("a changes message's data %q", snippet(line))
		}
		s.arrived = clock().UnixMicro()
		s.next.copyFrom(&s.seen)
		s.msgLags = s.msgLags[:0]
		s.inData = !full
		return s.changesPiece(line, full)
	}
	return nil // retry:, a comment
}

// dispatch ends a message.
func (s *subscriber) dispatch() error {
	k := s.kind
	s.kind = kindNone
	switch k {
	case kindSnapshot:
		if s.snapped {
			return s.problem("a second snapshot (a reset) at %s after %s", s.id, s.seen.last)
		}
		p, ok := parsePosition(s.id)
		if !ok {
			return s.problem("a snapshot's id %q", s.id)
		}
		s.snapshot, s.seen.last, s.snapped = p, p, true
	case kindChanges:
		if len(s.msgLags) == 0 {
			return s.problem("a changes message with no changes")
		}
		if !bytes.Equal(s.id, s.next.text) {
			return s.problem("a changes message's id %s, its last change at %s", s.id, s.next.text)
		}
		s.seen, s.next = s.next, s.seen // next is set anew for each message
		for _, lag := range s.msgLags {
			s.lags.add(lag)
		}
		s.changes += len(s.msgLags)
		s.messages++
	case kindGone:
		return s.problem("the event is gone")
	case kindNone:
		return nil // a blank line after a comment or retry:
	default:
		return s.problem("a message of another kind")
	}
	s.progress.mu.Lock()
	s.progress.snapped, s.progress.snapshot, s.progress.last = s.snapped, s.snapshot, s.seen.last
	s.progress.mu.Unlock()
	return nil
}

// changesPiece reads a piece of the data line of a changes message; last
// says it ends the line. A change that the piece cuts is kept in carry
// for the next.
func (s *subscriber) changesPiece(piece []byte, last bool) error {
	buf := piece
	if len(s.carry) > 0 {
		s.carry = append(s.carry, piece...)
		buf = s.carry
	}
	start := -1 // of the change being read
	for i := 0; ; {
		j := bytes.Index(buf[i:], []byte(changeMarker))
		if j < 0 {
			break
		}
		j += i
		if start >= 0 {
			if buf[j-1] != ',' {
				return s.problem("changes not separated by a comma: %q", snippet(buf[start:j]))
			}
			if err := s.change(buf[start : j-1]); err != nil {
				return err
			}
		}
		start, i = j, j+len(changeMarker)
	}
	if last {
		s.carry = s.carry[:0]
		if start < 0 {
			return nil // no change: dispatch says so
		}
		if !bytes.HasSuffix(buf, changesEnd) {
			return s.problem("a changes message ends %q", snippet(buf[max(0, len(buf)-40):]))
		}
		return s.change(buf[start : len(buf)-len(changesEnd)])
	}
	keep := buf
	if start >= 0 {
		keep = buf[start:]
	}
	// keep may be within carry: append copies as memmove does.
	s.carry = append(s.carry[:0], keep...)
	return nil
}

// change checks one change and counts it.
func (s *subscriber) change(c []byte) error {
	rest := c[len(changeMarker):]
	end := bytes.IndexByte(rest, '"')
	if end < 0 {
		return s.problem("a change %q", snippet(c))
	}
	text, n := rest[:end], &s.next
	if bytes.Equal(text, n.text) {
		// The next seat of the record: in the same message.
		if len(s.msgLags) == 0 {
			return s.problem("the seats of the record at %s came in two messages", text)
		}
	} else {
		p, ok := parsePosition(text)
		if !ok {
			return s.problem("a change's position %q", text)
		}
		if !n.last.Before(p) {
			return s.problem("a change at %s after one at %s", text, n.last)
		}
		at, ok := s.parseAt(rest[end:])
		if !ok {
			return s.problem("a change's time in %q", snippet(c))
		}
		n.last, n.text, n.lag = p, append(n.text[:0], text...), s.arrived-at
	}
	s.msgLags = append(s.msgLags, n.lag)
	n.sum = mixHash(n.sum, hashChange(c))
	return nil
}

// parseAt reads the store time in what follows a change's position,
// `","op":"<op>","at":"<time>"`, in µs since the epoch. The changes of a
// millisecond share their time: the last one read is kept.
func (s *subscriber) parseAt(b []byte) (int64, bool) {
	const opField = `","op":"`
	if !bytes.HasPrefix(b, []byte(opField)) {
		return 0, false
	}
	b = b[len(opField):]
	op := bytes.IndexByte(b, '"')
	if op < 0 || !bytes.HasPrefix(b[op:], atField) || len(b) < op+len(atField)+len(atLayout) {
		return 0, false
	}
	t := b[op+len(atField):][:len(atLayout)]
	if bytes.Equal(t, s.atText[:]) {
		return s.atUs, true
	}
	if !bytes.Equal(t[:10], s.dayText[:]) {
		day, err := time.Parse(time.DateOnly, string(t[:10]))
		if err != nil {
			return 0, false
		}
		copy(s.dayText[:], t[:10])
		s.dayUs = day.UnixMicro()
	}
	h, ok1 := digits(t[11:13])
	m, ok2 := digits(t[14:16])
	sec, ok3 := digits(t[17:19])
	ms, ok4 := digits(t[20:23])
	if !ok1 || !ok2 || !ok3 || !ok4 || t[23] != 'Z' {
		return 0, false
	}
	copy(s.atText[:], t)
	s.atUs = s.dayUs + ((h*60+m)*60+sec)*1e6 + ms*1e3
	return s.atUs, true
}

// digits reads decimal digits.
func digits(b []byte) (int64, bool) {
	var n int64
	for _, d := range b {
		if d < '0' || d > '9' {
			return 0, false
		}
		n = 10*n + int64(d-'0')
	}
	return n, true
}

// parsePosition reads "<ms>-<seq>" as domain.ParsePosition does, without
// a string.
func parsePosition(b []byte) (domain.Position, bool) {
	ms, seq, ok := bytes.Cut(b, []byte("-"))
	if !ok || len(ms) == 0 || len(seq) == 0 || len(ms) > 19 || len(seq) > 19 {
		return domain.Position{}, false
	}
	var p domain.Position
	for k, part := range [][]byte{ms, seq} {
		var n uint64
		for _, d := range part {
			if d < '0' || d > '9' {
				return domain.Position{}, false
			}
			n = 10*n + uint64(d-'0')
		}
		if k == 0 {
			p.Ms = n
		} else {
			p.Seq = n
		}
	}
	return p, true
}

// lagHistogram counts lags: by the millisecond below 1 s, by 10 ms below
// 10 s, by 100 ms below 100 s, and one bucket beyond.
type lagHistogram struct {
	counts [lagBuckets]uint32
	n      int64
	max    int64 // µs
}

const lagBuckets = 1000 + 900 + 900 + 1

func lagBucket(us int64) int {
	ms := max(us, 0) / 1000
	switch {
	case ms < 1000:
		return int(ms)
	case ms < 10_000:
		return 1000 + int(ms-1000)/10
	case ms < 100_000:
		return 1900 + int(ms-10_000)/100
	}
	return lagBuckets - 1
}

// bucketTop is the largest lag of bucket i, in ms.
func bucketTop(i int) float64 {
	switch {
	case i < 1000:
		return float64(i + 1)
	case i < 1900:
		return float64(1000 + (i-1000+1)*10)
	case i < lagBuckets-1:
		return float64(10_000 + (i-1900+1)*100)
	}
	return 100_000
}

func (h *lagHistogram) add(us int64) {
	h.counts[lagBucket(us)]++
	h.n++
	h.max = max(h.max, us)
}

func (h *lagHistogram) merge(o *lagHistogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

// percentile is the q-quantile, in ms, rounded up to its bucket's top.
func (h *lagHistogram) percentile(q float64) float64 {
	want := int64(q * float64(h.n))
	var seen int64
	for i, c := range h.counts {
		if seen += int64(c); seen > want || seen == h.n && c > 0 {
			return min(bucketTop(i), float64(h.max)/1000)
		}
	}
	return 0
}
