package domain

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// Position is where a change stands in its event's record of changes,
// numbered as Redis Streams number entries: the store's clock in
// milliseconds and a sequence within that millisecond. Positions of one
// event only grow; the zero Position is before every change.
type Position struct {
	Ms, Seq uint64
}

// ParsePosition reads the text form of a position, as String writes it:
// that one form only.
func ParsePosition(s string) (Position, error) {
	ms, seq, ok := strings.Cut(s, "-")
	if !ok {
		return Position{}, ErrInvalidPosition
	}
	m, err1 := parseDecimal(ms)
	q, err2 := parseDecimal(seq)
	if err1 != nil || err2 != nil {
		return Position{}, ErrInvalidPosition
	}
	return Position{Ms: m, Seq: q}, nil
}

// parseDecimal reads a number in its one form: digits only, no sign, no
// spaces, no leading zero, so that a position has one text.
func parseDecimal(s string) (uint64, error) {
	if s == "" || len(s) > 20 || strings.Trim(s, "0123456789") != "" || len(s) > 1 && s[0] == '0' {
		return 0, ErrInvalidPosition
	}
	return strconv.ParseUint(s, 10, 64)
}

func (p Position) String() string { return string(p.AppendText(make([]byte, 0, 24))) }

// AppendText appends the text form, for encoders that avoid allocations.
func (p Position) AppendText(b []byte) []byte {
	b = strconv.AppendUint(b, p.Ms, 10)
	b = append(b, '-')
	return strconv.AppendUint(b, p.Seq, 10)
}

// Before reports whether p comes before q.
func (p Position) Before(q Position) bool {
	return p.Ms < q.Ms || p.Ms == q.Ms && p.Seq < q.Seq
}

// Prev is the position right before p, with no position between them; the
// zero position has none (ok false). A store that knows the oldest record
// it keeps, not the last it dropped, tells with it where the kept ones
// start.
func (p Position) Prev() (Position, bool) {
	switch {
	case p.Seq > 0:
		return Position{Ms: p.Ms, Seq: p.Seq - 1}, true
	case p.Ms > 0:
		return Position{Ms: p.Ms - 1, Seq: math.MaxUint64}, true
	}
	return Position{}, false
}

// Next is the position right after p, with no position between them;
// the last position there can be has none (ok false). A store that reads
// the records from one position on, and not after one, starts at it.
func (p Position) Next() (Position, bool) {
	switch {
	case p.Seq < math.MaxUint64:
		return Position{Ms: p.Ms, Seq: p.Seq + 1}, true
	case p.Ms < math.MaxUint64:
		return Position{Ms: p.Ms + 1}, true
	}
	return Position{}, false
}

// Born is the position of an event created at now, before its first
// change: the millisecond after now, with no record there yet. A store
// numbers the event's records after it, and an event of the same id
// deleted before it made its records at or before now, so they all come
// before it (unless that event lived and died within now's millisecond),
// and a reader that resumes from one of them is told (see Predates).
// Its position before any change is Born, never the zero position that
// every event had otherwise: two events of one id share no version (but
// again those of one millisecond).
func Born(now time.Time) Position {
	return Position{Ms: uint64(max(now.UnixMilli(), 0)) + 1}
}

// Predates reports whether a reader at p, resuming the event born at born,
// read an earlier event of that id, deleted since: the records after p are
// not the ones it missed, so it starts again from a snapshot. The zero
// position is the start of every event (and every event created before
// births were kept has born zero).
func (p Position) Predates(born Position) bool {
	return p != Position{} && p.Before(born)
}

// Op is the operation that made a change.
type Op uint8

const (
	OpHold Op = iota + 1
	OpRefresh
	OpReserve
	OpRelease
	// OpExpire is a hold that ended at its expiry, recorded by the store.
	OpExpire
)

var opNames = [...]string{OpHold: "hold", OpRefresh: "refresh", OpReserve: "reserve", OpRelease: "release", OpExpire: "expired"}

func (o Op) String() string {
	if int(o) < len(opNames) && opNames[o] != "" {
		return opNames[o]
	}
	return "op(" + strconv.Itoa(int(o)) + ")"
}

// Record is what one atomic step of the store changed: the seats its
// operations of kind Op changed, as they became, at one position and one
// instant of the store's clock. A step is one operation, or holds that a
// store makes together (the Redis store's batch of the holds that arrive
// at once): their seats, one hold after another. A step that changes no
// seat (a refusal, a repeat of an idempotent change, the reserve of a seat
// already the user's) records nothing; the seats of a cart change share
// one record, so that a reader never sees half of it.
type Record struct {
	Position Position
	Op       Op
	At       time.Time
	Seats    []Seat
}

// Version names the state of an event's seats as a list shows it: the
// position of its last record and how many holds had expired at the list's
// instant without an expiry recorded yet (their seats count as available
// at once, before their record comes). At one position the set of holds
// only loses members to time, so the count tells the states apart: two
// lists of the same Version show the same seats.
type Version struct {
	Position Position
	Expired  int
}

// AppendText appends <position>.<expired>, the form of an ETag's content.
func (v Version) AppendText(b []byte) []byte {
	b = v.Position.AppendText(b)
	b = append(b, '.')
	return strconv.AppendInt(b, int64(v.Expired), 10)
}

func (v Version) String() string { return string(v.AppendText(make([]byte, 0, 32))) }
