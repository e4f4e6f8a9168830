package domain

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits of an event, from the original contract.
const (
	MinTotalSeats = 10
	MaxTotalSeats = 10000
	MaxNameLength = 200
	MaxUserLength = 128
)

// EventID identifies an event. It is a canonical lowercase UUID, so it never
// contains characters that mean something to a store (Redis hash tags, glob
// patterns, separators).
type EventID string

// ParseEventID accepts only the canonical form; anything else names no event.
func ParseEventID(s string) (EventID, error) {
	if !isCanonicalUUID(s) {
		return "", ErrEventNotFound
	}
	return EventID(s), nil
}

func isCanonicalUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return false
			}
		}
	}
	return true
}

// Event is a named set of seats numbered 1..TotalSeats, in rows of
// SeatsPerRow: seat n is in row ceil(n/SeatsPerRow), and the last row may
// be shorter.
type Event struct {
	ID          EventID
	Name        string
	TotalSeats  int
	SeatsPerRow int
}

// NewEvent validates a new event. A seatsPerRow of 0 puts every seat in one
// row.
func NewEvent(id EventID, name string, totalSeats, seatsPerRow int) (Event, error) {
	if _, err := ParseEventID(string(id)); err != nil {
		return Event{}, err
	}
	if !printable(name, MaxNameLength) {
		return Event{}, ErrInvalidName
	}
	if totalSeats < MinTotalSeats || totalSeats > MaxTotalSeats {
		return Event{}, ErrInvalidTotalSeats
	}
	if seatsPerRow == 0 {
		seatsPerRow = totalSeats
	}
	if seatsPerRow < 1 || seatsPerRow > totalSeats {
		return Event{}, ErrInvalidSeatsPerRow
	}
	return Event{ID: id, Name: name, TotalSeats: totalSeats, SeatsPerRow: seatsPerRow}, nil
}

// Seat returns the id of seat number n, which must be in 1..TotalSeats.
func (e Event) Seat(n int) SeatID { return SeatID{Event: e.ID, Number: n} }

// Has reports whether the seat belongs to this event.
func (e Event) Has(id SeatID) bool {
	return id.Event == e.ID && id.Number >= 1 && id.Number <= e.TotalSeats
}

// SeatID names a seat by its event and its number, so a store finds the
// event of a seat without a lookup. Its text form is "<eventID>.<number>".
type SeatID struct {
	Event  EventID
	Number int
}

const seatSep = '.'

func (id SeatID) String() string {
	return string(id.AppendText(make([]byte, 0, 42)))
}

// AppendText appends the text form, for encoders that avoid allocations.
func (id SeatID) AppendText(b []byte) []byte {
	b = append(b, id.Event...)
	b = append(b, seatSep)
	return strconv.AppendInt(b, int64(id.Number), 10)
}

// ParseSeatID parses the text form. Ids are opaque to clients, so a
// malformed one is simply a seat that does not exist.
func ParseSeatID(s string) (SeatID, error) {
	if s == "" {
		return SeatID{}, ErrInvalidSeatID
	}
	i := strings.LastIndexByte(s, seatSep)
	if i < 0 || !isCanonicalUUID(s[:i]) {
		return SeatID{}, ErrSeatNotFound
	}
	// Canonical numbers only (digits, no sign, no leading zero), so each seat
	// has exactly one id.
	digits := s[i+1:]
	if len(digits) == 0 || len(digits) > 5 || digits[0] == '0' {
		return SeatID{}, ErrSeatNotFound
	}
	n := 0
	for _, c := range []byte(digits) {
		if c < '0' || c > '9' {
			return SeatID{}, ErrSeatNotFound
		}
		n = n*10 + int(c-'0')
	}
	if n > MaxTotalSeats {
		return SeatID{}, ErrSeatNotFound
	}
	return SeatID{Event: EventID(s[:i]), Number: n}, nil
}

// UserID is the buyer's identifier: any printable text of 1 to 128
// characters (a UUID is typical, not required).
type UserID string

// NewUserID validates a user identifier.
func NewUserID(s string) (UserID, error) {
	if !printable(s, MaxUserLength) {
		return "", ErrInvalidUser
	}
	return UserID(s), nil
}

// printable reports whether s is valid UTF-8 of 1..max characters, not all
// blank, and free of control characters (Cc: they only ever come from bugs
// or attacks, and would corrupt logs) and of format characters (Cf: bidi
// overrides and isolates, zero-width spaces and joiners, the soft hyphen,
// the byte order mark, tag characters). Format characters are invisible:
// they make a name read otherwise than it is stored (U+202E shows the rest
// of a name backwards) and two UUIDs look the same that are not. The price
// is that emoji joined by U+200D and Persian words with U+200C are refused
// too.
func printable(s string, max int) bool {
	if len(s) > max*utf8.UTFMax || !utf8.ValidString(s) || strings.TrimSpace(s) == "" {
		return false
	}
	n := 0
	for _, r := range s {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return false
		}
		n++
	}
	return n <= max
}
