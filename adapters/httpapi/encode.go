package httpapi

import (
	"bytes"
	"encoding/json"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/seatres/reservation/application"
	"github.com/seatres/reservation/domain"
)

// Responses are appended to a byte slice rather than marshalled by
// reflection: a listing holds up to 10,000 seats, and this keeps it one
// pass over the seats into a reused buffer. Each shape of api/openapi.yaml
// has one append function here.

// expiryLayout is RFC 3339 in UTC with milliseconds.
const expiryLayout = "2006-01-02T15:04:05.000Z"

// maxPooledBuffer keeps the buffer of any usual answer for reuse (a cart's
// is the largest; a listing has a buffer of its own, see
// encodeAvailableSeats), and lets an unusually large one go.
const maxPooledBuffer = 64 << 10

var buffers = sync.Pool{New: func() any { return new([]byte) }}

// jsonContentType is shared by every response (net/http only reads it), so
// that setting it allocates nothing.
var jsonContentType = []string{"application/json"}

// respond writes the JSON body that fill appends to an empty buffer.
func respond(c *gin.Context, status int, fill func([]byte) []byte) {
	buf := buffers.Get().(*[]byte)
	b := fill((*buf)[:0])
	c.Writer.Header()["Content-Type"] = jsonContentType
	c.Status(status)
	_, _ = c.Writer.Write(b) // a failed write is a client gone: nothing to answer
	putBuffer(buf, b)
}

// putBuffer gives b, grown from *buf, back to the pool.
func putBuffer(buf *[]byte, b []byte) {
	if cap(b) <= maxPooledBuffer {
		*buf = b
		buffers.Put(buf)
	}
}

// encodeAvailableSeats encodes the listing of an event's available seats,
// given by number (about 1.3 MB for 10,000), into a buffer of its exact
// size (the seats differ only in their numbers' digits), made once per
// shared read of the list (lists.go) and never pooled: the answers of
// every request that joined the read are written from it.
func encodeAvailableSeats(e domain.Event, numbers []int) []byte {
	var templateBuf, headBuf [256]byte
	seatHead, seatTail := seatTemplate(templateBuf[:0], e)
	head := appendListHead(headBuf[:0], e, len(numbers))
	b := make([]byte, 0, len(head)+listSeatsSize(len(seatHead)+len(seatTail), numbers)+len(listEnd))
	b = append(b, head...)
	b = appendListSeats(b, seatHead, seatTail, numbers)
	return append(b, listEnd...)
}

func appendEvent(b []byte, e domain.Event) []byte {
	b = append(b, `{"id":"`...)
	b = append(b, e.ID...) // a canonical UUID: nothing to escape
	b = append(b, `","name":`...)
	b = appendString(b, e.Name)
	b = append(b, `,"totalSeats":`...)
	b = strconv.AppendInt(b, int64(e.TotalSeats), 10)
	b = append(b, `,"seatsPerRow":`...)
	b = strconv.AppendInt(b, int64(e.SeatsPerRow), 10)
	return append(b, '}')
}

func appendSummary(b []byte, s domain.Summary) []byte {
	b = append(b, `{"total":`...)
	b = strconv.AppendInt(b, int64(s.Total), 10)
	b = append(b, `,"available":`...)
	b = strconv.AppendInt(b, int64(s.Available), 10)
	b = append(b, `,"onHold":`...)
	b = strconv.AppendInt(b, int64(s.OnHold), 10)
	b = append(b, `,"reserved":`...)
	b = strconv.AppendInt(b, int64(s.Reserved), 10)
	return append(b, '}')
}

// appendSeat is the one encoding of a seat, in every response.
func appendSeat(b []byte, s domain.Seat) []byte {
	b = append(b, `{"id":"`...)
	b = s.ID.AppendText(b) // a UUID, a dot and digits: nothing to escape
	b = append(b, `","eventId":"`...)
	b = append(b, s.ID.Event...)
	b = append(b, `",`...)
	b = appendSeatState(b, s)
	return append(b, '}')
}

// appendSeatState appends the members of a seat's state: its holder,
// status and, on hold, expiry.
func appendSeatState(b []byte, s domain.Seat) []byte {
	b = append(b, `"UUID":`...)
	b = appendString(b, string(s.Holder))
	b = append(b, `,"status":"`...)
	b = append(b, s.Status.String()...)
	b = append(b, '"')
	if s.Status == domain.OnHold {
		b = append(b, `,"holdExpiresAt":"`...)
		b = s.HoldExpiresAt.UTC().AppendFormat(b, expiryLayout)
		b = append(b, '"')
	}
	return b
}

// listEnd closes a listing's seats and the listing.
const listEnd = "]}"

// appendListHead encodes a listing up to its first seat.
func appendListHead(b []byte, e domain.Event, total int) []byte {
	b = append(b, `{"total":`...)
	b = strconv.AppendInt(b, int64(total), 10)
	b = append(b, `,"event":`...)
	b = appendEvent(b, e)
	return append(b, `,"seats":[`...)
}

// seatTemplate appends the encoding of seat 1 of e, available, to b, and
// cuts it around its number: available seats of e differ only in their
// number, so each is encoded as head, its number, tail.
func seatTemplate(b []byte, e domain.Event) (head, tail []byte) {
	var idBuf [48]byte
	first := e.Seat(1)
	template := appendSeat(b, domain.NewSeat(first))
	id := first.AppendText(idBuf[:0])
	number := bytes.Index(template, id) + len(id) - 1 // the "1" of the seat's id
	return template[:number], template[number+1:]
}

// appendListSeats encodes the seats numbers of a listing, each after a
// comma but the first.
func appendListSeats(b, head, tail []byte, numbers []int) []byte {
	for i, n := range numbers {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, head...)
		b = strconv.AppendInt(b, int64(n), 10)
		b = append(b, tail...)
	}
	return b
}

// listSeatsSize is the length of what appendListSeats makes of every seat
// of numbers, each template bytes and its number long.
func listSeatsSize(template int, numbers []int) int {
	size := max(len(numbers)-1, 0) // the commas
	for _, n := range numbers {
		size += template + 1
		for ; n >= 10; n /= 10 {
			size++
		}
	}
	return size
}

// appendSeatChange encodes the answer to hold, refresh and reserve of one
// seat.
func appendSeatChange(b []byte, message string, s domain.Seat) []byte {
	b = append(b, `{"message":`...)
	b = appendString(b, message)
	b = append(b, `,"seat":`...)
	b = appendSeat(b, s)
	return append(b, '}')
}

// appendSeatsChange encodes the answer to a change of a cart.
func appendSeatsChange(b []byte, message string, seats []domain.Seat) []byte {
	b = append(b, `{"message":`...)
	b = appendString(b, message)
	b = append(b, `,"seats":[`...)
	for i, s := range seats {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendSeat(b, s)
	}
	return append(b, "]}"...)
}

// appendError encodes an error; seats, when not nil, are the ids of the
// seats that caused it.
func appendError(b []byte, message, code string, seats []string) []byte {
	b = append(b, `{"error":`...)
	b = appendString(b, message)
	b = append(b, `,"code":"`...)
	b = append(b, code...) // upper-case letters and underscores
	b = append(b, '"')
	if seats != nil {
		b = append(b, `,"seats":[`...)
		for i, id := range seats {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, id) // an id as the client sent it may need escaping
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

// appendString appends s as a JSON string. Printable ASCII, the usual case,
// is copied as is; anything else is left to encoding/json's escaping.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c >= utf8.RuneSelf || c == '"' || c == '\\' {
			quoted, _ := json.Marshal(s) // a string always marshals
			return append(b, quoted...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendChanges appends the changes of records, one per seat, as the
// elements of a JSON array; a seat's holder is shown where sees says so
// (a caller's seesHolder), "" elsewhere. A change names its seat by number:
// the stream and the history are of one event, whose id would be most of
// each change's bytes, and a thousand subscribers of a busy sale read
// every byte a thousand times.
func appendChanges(b []byte, records []domain.Record, sees func(domain.UserID) bool) []byte {
	for i, r := range records {
		for j, s := range r.Seats {
			if i > 0 || j > 0 {
				b = append(b, ',')
			}
			if !sees(s.Holder) {
				s.Holder = ""
			}
			b = append(b, `{"position":"`...)
			b = r.Position.AppendText(b)
			b = append(b, `","op":"`...)
			b = append(b, r.Op.String()...)
			b = append(b, `","at":"`...)
			b = r.At.UTC().AppendFormat(b, expiryLayout)
			b = append(b, `","seat":`...)
			b = strconv.AppendInt(b, int64(s.ID.Number), 10)
			b = append(b, ',')
			b = appendSeatState(b, s)
			b = append(b, '}')
		}
	}
	return b
}

// appendChangesPage encodes a page of an event's history.
func appendChangesPage(b []byte, page application.ChangesPage, cl *caller) []byte {
	b = append(b, `{"changes":[`...)
	b = appendChanges(b, page.Records, cl.seesHolder)
	b = append(b, `],"next":"`...)
	b = page.Next.AppendText(b)
	return append(b, `"}`...)
}

// appendSnapshot encodes a stream's snapshot: its available seats as runs
// of consecutive numbers, [from, to] inclusive, which keeps the snapshot of
// a 10,000-seat event a few bytes while its seats are all free.
func appendSnapshot(b []byte, s *application.Snapshot) []byte {
	b = append(b, `{"position":"`...)
	b = s.Position.AppendText(b)
	b = append(b, `","event":`...)
	b = appendEvent(b, s.Event)
	b = append(b, `,"available":[`...)
	for i, run := range s.Available {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		b = strconv.AppendInt(b, int64(run.From), 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, int64(run.To), 10)
		b = append(b, ']')
	}
	return append(b, "]}"...)
}
