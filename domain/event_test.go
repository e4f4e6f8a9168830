package domain_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/seatres/reservation/domain"
)

const eventID = "0f8fad5b-d9cb-469f-a165-70867728950e"

func TestNewEvent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		id      domain.EventID
		give    string
		seats   int
		perRow  int
		want    int // SeatsPerRow of the event
		wantErr error
	}{
		{name: "smallest", id: eventID, give: "A", seats: 10, want: 10},
		{name: "largest", id: eventID, give: strings.Repeat("é", 200), seats: 10000, want: 10000},
		{name: "unicode", id: eventID, give: "Концерт 🎵", seats: 500, want: 500},
		{name: "one row by default", id: eventID, give: "A", seats: 37, perRow: 0, want: 37},
		{name: "rows of one seat", id: eventID, give: "A", seats: 37, perRow: 1, want: 1},
		{name: "rows of 10, last one shorter", id: eventID, give: "A", seats: 37, perRow: 10, want: 10},
		{name: "one full row", id: eventID, give: "A", seats: 37, perRow: 37, want: 37},
		{name: "row longer than the event", id: eventID, give: "A", seats: 37, perRow: 38, wantErr: domain.ErrInvalidSeatsPerRow},
		{name: "negative row", id: eventID, give: "A", seats: 37, perRow: -1, wantErr: domain.ErrInvalidSeatsPerRow},
		{name: "empty name", id: eventID, give: "", seats: 10, wantErr: domain.ErrInvalidName},
		{name: "blank name", id: eventID, give: " \t ", seats: 10, wantErr: domain.ErrInvalidName},
		{name: "long name", id: eventID, give: strings.Repeat("a", 201), seats: 10, wantErr: domain.ErrInvalidName},
		{name: "control character", id: eventID, give: "a\nb", seats: 10, wantErr: domain.ErrInvalidName},
		{name: "invalid UTF-8", id: eventID, give: "a\xffb", seats: 10, wantErr: domain.ErrInvalidName},
		// Format characters (Cf) are invisible: a name must read as stored.
		{name: "right-to-left override", id: eventID, give: "Concert \u202Egnirps", seats: 10, wantErr: domain.ErrInvalidName},
		{name: "left-to-right embedding", id: eventID, give: "\u202Aa", seats: 10, wantErr: domain.ErrInvalidName},
		{name: "pop directional formatting", id: eventID, give: "a\u202C", seats: 10, wantErr: domain.ErrInvalidName},
		{name: "first strong isolate", id: eventID, give: "a\u2068b\u2069", seats: 10, wantErr: domain.ErrInvalidName},
		{name: "arabic letter mark", id: eventID, give: "a\u061Cb", seats: 10, wantErr: domain.ErrInvalidName},
		{name: "zero-width space", id: eventID, give: "Con\u200Bcert", seats: 10, wantErr: domain.ErrInvalidName},
		{name: "zero-width joiner", id: eventID, give: "👩\u200D👩", seats: 10, wantErr: domain.ErrInvalidName},
		{name: "word joiner", id: eventID, give: "a\u2060b", seats: 10, wantErr: domain.ErrInvalidName},
		{name: "byte order mark", id: eventID, give: "\uFEFFConcert", seats: 10, wantErr: domain.ErrInvalidName},
		{name: "only a soft hyphen", id: eventID, give: "\u00AD", seats: 10, wantErr: domain.ErrInvalidName},
		{name: "tag character", id: eventID, give: "a\U000E0041", seats: 10, wantErr: domain.ErrInvalidName},
		// Their visible neighbours stay.
		{name: "hyphen and no-break space", id: eventID, give: "Rock\u2010n\u00A0Roll", seats: 10, want: 10},
		{name: "combining accent and variation selector", id: eventID, give: "Cafe\u0301 \u2764\uFE0F", seats: 10, want: 10},
		{name: "too few seats", id: eventID, give: "A", seats: 9, wantErr: domain.ErrInvalidTotalSeats},
		{name: "too many seats", id: eventID, give: "A", seats: 10001, wantErr: domain.ErrInvalidTotalSeats},
		{name: "bad id", id: "{x}", give: "A", seats: 10, wantErr: domain.ErrEventNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, err := domain.NewEvent(tt.id, tt.give, tt.seats, tt.perRow)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
			want := domain.Event{ID: tt.id, Name: tt.give, TotalSeats: tt.seats, SeatsPerRow: tt.want}
			if err == nil && e != want {
				t.Fatalf("event = %+v, want %+v", e, want)
			}
		})
	}
}

func TestParseEventID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		give    string
		wantErr error
	}{
		{give: eventID},
		{give: "", wantErr: domain.ErrEventNotFound},
		{give: strings.ToUpper(eventID), wantErr: domain.ErrEventNotFound},
		{give: "{" + eventID + "}", wantErr: domain.ErrEventNotFound},
		{give: "urn:uuid:" + eventID, wantErr: domain.ErrEventNotFound},
		{give: strings.ReplaceAll(eventID, "-", ""), wantErr: domain.ErrEventNotFound},
		{give: "0f8fad5b-d9cb-469f-a165-7086772895*e", wantErr: domain.ErrEventNotFound},
		{give: "0f8fad5b-d9cb-469f-a165-70867728950e\n", wantErr: domain.ErrEventNotFound},
	}
	for _, tt := range tests {
		id, err := domain.ParseEventID(tt.give)
		if !errors.Is(err, tt.wantErr) {
			t.Errorf("ParseEventID(%q) error = %v, want %v", tt.give, err, tt.wantErr)
		}
		if err == nil && string(id) != tt.give {
			t.Errorf("ParseEventID(%q) = %q", tt.give, id)
		}
	}
}

func TestSeatIDRoundTrip(t *testing.T) {
	t.Parallel()
	e := domain.Event{ID: eventID, Name: "A", TotalSeats: 10000, SeatsPerRow: 100}
	for _, n := range []int{1, 9, 10, 999, 10000} {
		id := e.Seat(n)
		got, err := domain.ParseSeatID(id.String())
		if err != nil || got != id {
			t.Errorf("ParseSeatID(%q) = %+v, %v; want %+v", id, got, err, id)
		}
		if !e.Has(got) {
			t.Errorf("event does not have its seat %v", got)
		}
	}
	if e.Has(e.Seat(0)) || e.Has(e.Seat(10001)) || e.Has(domain.SeatID{Event: "x", Number: 1}) {
		t.Error("event has a seat outside 1..TotalSeats or of another event")
	}
}

func TestParseSeatID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		give    string
		want    int
		wantErr error
	}{
		{give: eventID + ".1", want: 1},
		{give: eventID + ".10000", want: 10000},
		{give: "", wantErr: domain.ErrInvalidSeatID},
		{give: eventID, wantErr: domain.ErrSeatNotFound},
		{give: eventID + ".", wantErr: domain.ErrSeatNotFound},
		{give: eventID + ".0", wantErr: domain.ErrSeatNotFound},
		{give: eventID + ".01", wantErr: domain.ErrSeatNotFound},
		{give: eventID + ".-1", wantErr: domain.ErrSeatNotFound},
		{give: eventID + ".+1", wantErr: domain.ErrSeatNotFound},
		{give: eventID + ".10001", wantErr: domain.ErrSeatNotFound},
		{give: eventID + ".99999999999999999999", wantErr: domain.ErrSeatNotFound},
		{give: eventID + ".1 ", wantErr: domain.ErrSeatNotFound},
		{give: eventID + ".*", wantErr: domain.ErrSeatNotFound},
		{give: "{" + eventID + "}.1", wantErr: domain.ErrSeatNotFound},
		{give: "rsv:{x}:seats.1", wantErr: domain.ErrSeatNotFound},
		{give: eventID + ".1\n", wantErr: domain.ErrSeatNotFound},
	}
	for _, tt := range tests {
		id, err := domain.ParseSeatID(tt.give)
		if !errors.Is(err, tt.wantErr) {
			t.Errorf("ParseSeatID(%q) error = %v, want %v", tt.give, err, tt.wantErr)
		}
		if err == nil && (id.Number != tt.want || id.Event != eventID) {
			t.Errorf("ParseSeatID(%q) = %+v", tt.give, id)
		}
	}
}

func TestNewUserID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		give    string
		wantErr error
	}{
		{give: "3f2b9c1e-0000-4000-8000-000000000000"},
		{give: "x"},
		{give: "{tag}*:pattern"},
		{give: strings.Repeat("ü", 128)},
		{give: "", wantErr: domain.ErrInvalidUser},
		{give: "   ", wantErr: domain.ErrInvalidUser},
		{give: strings.Repeat("ü", 129), wantErr: domain.ErrInvalidUser},
		{give: "a\nb", wantErr: domain.ErrInvalidUser},
		{give: "a\x00b", wantErr: domain.ErrInvalidUser},
		{give: "\xff", wantErr: domain.ErrInvalidUser},
		// Format characters (Cf) would make two UUIDs look the same.
		{give: "alice\u200B", wantErr: domain.ErrInvalidUser},
		{give: "al\u200Cice", wantErr: domain.ErrInvalidUser},
		{give: "\u202Eecila", wantErr: domain.ErrInvalidUser},
		{give: "alice\u2066", wantErr: domain.ErrInvalidUser},
		{give: "\uFEFF3f2b9c1e-0000-4000-8000-000000000000", wantErr: domain.ErrInvalidUser},
		{give: "al\u00ADice", wantErr: domain.ErrInvalidUser},
		{give: "\U000E0001", wantErr: domain.ErrInvalidUser},
		{give: "al-ice\u00A0b"},
	}
	for _, tt := range tests {
		u, err := domain.NewUserID(tt.give)
		if !errors.Is(err, tt.wantErr) {
			t.Errorf("NewUserID(%q) error = %v, want %v", tt.give, err, tt.wantErr)
		}
		if err == nil && string(u) != tt.give {
			t.Errorf("NewUserID(%q) = %q", tt.give, u)
		}
	}
}
