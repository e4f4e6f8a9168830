package httpapi

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/seatres/reservation/domain"
)

func TestAppendString(t *testing.T) {
	t.Parallel()
	for _, s := range []string{
		"", "plain ASCII ~", `"quoted"`, `back\slash`, "new\nline", "tab\t", "nul\x00", "del\x7f",
		"é 日本 🎫", "\u2028\u2029", "<script>&", "bad \xff utf-8", "cut \xe6\x97",
	} {
		got := appendString([]byte("prefix"), s)
		rest, ok := strings.CutPrefix(string(got), "prefix")
		if !ok || !json.Valid([]byte(rest)) {
			t.Errorf("appendString(%q) = %q, not the prefix and a JSON value", s, got)
			continue
		}
		// Reads back as encoding/json's encoding does (which replaces
		// invalid UTF-8).
		std, _ := json.Marshal(s)
		var back, want string
		if err := json.Unmarshal([]byte(rest), &back); err != nil || json.Unmarshal(std, &want) != nil || back != want {
			t.Errorf("appendString(%q) = %s, reads back as %q (%v), want %q", s, rest, back, err, want)
		}
	}
}

// TestAppendSeat compares the hand-written encoding of a seat with
// encoding/json's of the shape that api/openapi.yaml describes.
func TestAppendSeat(t *testing.T) {
	t.Parallel()
	type seat struct {
		ID            string `json:"id"`
		EventID       string `json:"eventId"`
		UUID          string `json:"UUID"`
		Status        string `json:"status"`
		HoldExpiresAt string `json:"holdExpiresAt,omitempty"`
	}
	const event = "0b6c3c1e-8a52-4c5e-9a57-0f6a3d2b9e10"
	id := domain.SeatID{Event: event, Number: 10000}
	paris := time.FixedZone("UTC+2", 2*60*60)
	tests := []struct {
		give domain.Seat
		want seat
	}{
		{domain.NewSeat(id), seat{event + ".10000", event, "", "Available", ""}},
		{domain.Seat{ID: id, Status: domain.OnHold, Holder: `"al\ice"`, HoldExpiresAt: time.Date(2026, 3, 1, 20, 1, 2, 3999999, paris)},
			seat{event + ".10000", event, `"al\ice"`, "On hold", "2026-03-01T18:01:02.003Z"}},
		{domain.Seat{ID: id, Status: domain.Reserved, Holder: "bob"}, seat{event + ".10000", event, "bob", "Reserved", ""}},
	}
	for _, tt := range tests {
		want, _ := json.Marshal(tt.want)
		if got := appendSeat(nil, tt.give); string(got) != string(want) {
			t.Errorf("appendSeat(%+v)\n got %s\nwant %s", tt.give, got, want)
		}
	}
}

// TestEncodeAvailableSeats: the listing is what appendSeat makes of each
// seat, whatever the numbers' widths, in a buffer of its exact size.
func TestEncodeAvailableSeats(t *testing.T) {
	t.Parallel()
	e := domain.Event{ID: "0b6c3c1e-8a52-4c5e-9a57-0f6a3d2b9e10", Name: "a\"b", TotalSeats: 10000}
	for _, numbers := range [][]int{nil, {7}, {1, 2, 10, 99, 100, 1000, 9999, 10000}} {
		want := `{"total":` + strconv.Itoa(len(numbers)) + `,"event":` + string(appendEvent(nil, e)) + `,"seats":[`
		for i, n := range numbers {
			if i > 0 {
				want += ","
			}
			want += string(appendSeat(nil, domain.NewSeat(e.Seat(n))))
		}
		want += "]}"
		if got := encodeAvailableSeats(e, numbers); string(got) != want || cap(got) != len(got) {
			t.Errorf("%v:\n got %s (capacity %d)\nwant %s", numbers, got, cap(got), want)
		}
	}
}

// TestAppendShapes compares the other hand-written encodings with
// encoding/json's of the shapes that api/openapi.yaml describes.
func TestAppendShapes(t *testing.T) {
	t.Parallel()
	type (
		event struct {
			ID          string `json:"id"`
			Name        string `json:"name"`
			TotalSeats  int    `json:"totalSeats"`
			SeatsPerRow int    `json:"seatsPerRow"`
		}
		summary struct {
			Total     int `json:"total"`
			Available int `json:"available"`
			OnHold    int `json:"onHold"`
			Reserved  int `json:"reserved"`
		}
		seatsChange struct {
			Message string            `json:"message"`
			Seats   []json.RawMessage `json:"seats"`
		}
		errorBody struct {
			Error string   `json:"error"`
			Code  string   `json:"code"`
			Seats []string `json:"seats,omitempty"`
		}
	)
	e := domain.Event{ID: "0b6c3c1e-8a52-4c5e-9a57-0f6a3d2b9e10", Name: "a\"b", TotalSeats: 10000, SeatsPerRow: 12}
	seats := []domain.Seat{
		domain.NewSeat(e.Seat(10000)),
		{ID: e.Seat(1), Status: domain.OnHold, Holder: "é", HoldExpiresAt: time.Date(2026, 3, 1, 18, 0, 0, 0, time.UTC)},
	}
	tests := []struct {
		got  []byte
		want any
	}{
		{appendEvent(nil, e), event{string(e.ID), e.Name, 10000, 12}},
		{appendSummary(nil, domain.Summary{Total: 10000, Available: 9990, OnHold: 7, Reserved: 3}), summary{10000, 9990, 7, 3}},
		{appendSeatsChange(nil, "Seats held", seats), seatsChange{"Seats held", []json.RawMessage{appendSeat(nil, seats[0]), appendSeat(nil, seats[1])}}},
		{appendSeatsChange(nil, "Seats released", nil), seatsChange{"Seats released", []json.RawMessage{}}},
		{appendError(nil, "a \"refusal\"", "SEAT_HELD", nil), errorBody{Error: `a "refusal"`, Code: "SEAT_HELD"}},
		{appendError(nil, "r", "SEAT_HELD", []string{e.Seat(1).String(), e.Seat(10000).String()}),
			errorBody{Error: "r", Code: "SEAT_HELD", Seats: []string{e.Seat(1).String(), e.Seat(10000).String()}}},
		// An id of no seat, as a client sent it.
		{appendError(nil, "r", "SEAT_NOT_FOUND", []string{"a \"seat\"\té"}), errorBody{Error: "r", Code: "SEAT_NOT_FOUND", Seats: []string{"a \"seat\"\té"}}},
	}
	for _, tt := range tests {
		want, _ := json.Marshal(tt.want)
		if string(tt.got) != string(want) {
			t.Errorf("\n got %s\nwant %s", tt.got, want)
		}
	}
}
