package domain_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/seatres/reservation/domain"
)

// event returns a valid event of total seats in rows of perRow.
func event(t testing.TB, total, perRow int) domain.Event {
	t.Helper()
	e, err := domain.NewEvent(eventID, "Rows", total, perRow)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// seatsOf returns the seats of e as stored, seat n at index n-1, from a
// picture of them, one character a seat (spaces and '|' only separate rows
// for the reader): '.' available, 'x' held live by bob, 'e' held by bob
// but expired at t0, 'r' reserved by bob, 'a' held live by alice, 'R'
// reserved by alice. Live holds last until t0+30s.
func seatsOf(t testing.TB, e domain.Event, picture string) []domain.Seat {
	t.Helper()
	picture = strings.NewReplacer(" ", "", "|", "").Replace(picture)
	if len(picture) != e.TotalSeats {
		t.Fatalf("picture of %d seats for an event of %d", len(picture), e.TotalSeats)
	}
	live := t0.Add(30 * time.Second)
	seats := make([]domain.Seat, e.TotalSeats)
	for i, c := range picture {
		id := e.Seat(i + 1)
		switch c {
		case '.':
			seats[i] = domain.NewSeat(id)
		case 'x':
			seats[i] = domain.Seat{ID: id, Status: domain.OnHold, Holder: "bob", HoldExpiresAt: live}
		case 'e':
			seats[i] = domain.Seat{ID: id, Status: domain.OnHold, Holder: "bob", HoldExpiresAt: t0}
		case 'r':
			seats[i] = domain.Seat{ID: id, Status: domain.Reserved, Holder: "bob"}
		case 'a':
			seats[i] = domain.Seat{ID: id, Status: domain.OnHold, Holder: "alice", HoldExpiresAt: live}
		case 'R':
			seats[i] = domain.Seat{ID: id, Status: domain.Reserved, Holder: "alice"}
		default:
			t.Fatalf("seat %d: unknown %q in picture", i+1, c)
		}
	}
	return seats
}

// availableAt tells Best which seats of seats are available at now.
func availableAt(t testing.TB, e domain.Event, seats []domain.Seat, now time.Time) func(int) bool {
	return func(n int) bool {
		if n < 1 || n > e.TotalSeats {
			t.Errorf("Best asked about seat %d of an event of %d", n, e.TotalSeats)
			return false
		}
		return seats[n-1].At(now).Status == domain.Available
	}
}

func TestBest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		total   int
		perRow  int
		give    string
		best    domain.BestAvailable
		want    []int
		wantErr error
	}{
		{name: "first seats of an empty event", total: 10, give: "..... .....", best: domain.BestAvailable{Count: 3}, want: []int{1, 2, 3}},
		{name: "one seat", total: 10, perRow: 5, give: "xxxxx xx.x.", best: domain.BestAvailable{Count: 1}, want: []int{8}},
		{name: "lowest run in one row", total: 15, perRow: 5, give: "x.x.. ..... .....", best: domain.BestAvailable{Count: 2}, want: []int{4, 5}},
		{name: "a run fills a whole row", total: 15, perRow: 5, give: "x.... ..... .....", best: domain.BestAvailable{Count: 5}, want: []int{6, 7, 8, 9, 10}},
		// 4, 5, 6 are consecutive numbers but in two rows.
		{name: "runs never cross rows", total: 15, perRow: 5, give: ".xx.. ...x. .....", best: domain.BestAvailable{Count: 3}, want: []int{6, 7, 8}},
		{name: "runs never cross rows, adjacent", total: 15, perRow: 5, give: ".xx.. ...x. .....", best: domain.BestAvailable{Count: 3, Adjacent: true}, want: []int{6, 7, 8}},
		{name: "a later, longer run of the same row", total: 10, perRow: 10, give: "..x...x...", best: domain.BestAvailable{Count: 3}, want: []int{4, 5, 6}},
		{name: "last row shorter", total: 12, perRow: 5, give: "x.x.x .x.x. ..", best: domain.BestAvailable{Count: 2}, want: []int{11, 12}},
		{name: "last row too short for the run", total: 12, perRow: 5, give: "x.x.x .x.x. ..", best: domain.BestAvailable{Count: 3}, want: []int{2, 4, 6}},
		{name: "last row too short, adjacent", total: 12, perRow: 5, give: "x.x.x .x.x. ..", best: domain.BestAvailable{Count: 3, Adjacent: true}, wantErr: domain.ErrNotEnoughSeats},
		{name: "fallback to the lowest seats when no row has a run", total: 10, perRow: 5, give: ".x.x. .x.x.", best: domain.BestAvailable{Count: 2}, want: []int{1, 3}},
		{name: "adjacent, no row has a run", total: 10, perRow: 5, give: ".x.x. .x.x.", best: domain.BestAvailable{Count: 2, Adjacent: true}, wantErr: domain.ErrNotEnoughSeats},
		{name: "fallback takes every seat left", total: 10, perRow: 5, give: ".x.x. .x.x.", best: domain.BestAvailable{Count: 6}, want: []int{1, 3, 5, 6, 8, 10}},
		{name: "more than a row, one row", total: 10, perRow: 0, give: "x......... ", best: domain.BestAvailable{Count: 7}, want: []int{2, 3, 4, 5, 6, 7, 8}},
		{name: "more than a row, rows of 5", total: 10, perRow: 5, give: "x.... .....", best: domain.BestAvailable{Count: 7}, want: []int{2, 3, 4, 5, 6, 7, 8}},
		{name: "more than a row, adjacent", total: 10, perRow: 5, give: "..... .....", best: domain.BestAvailable{Count: 6, Adjacent: true}, wantErr: domain.ErrNotEnoughSeats},
		{name: "rows of one seat", total: 10, perRow: 1, give: "x.x.......", best: domain.BestAvailable{Count: 1, Adjacent: true}, want: []int{2}},
		{name: "rows of one seat, two", total: 10, perRow: 1, give: "x.x.......", best: domain.BestAvailable{Count: 2}, want: []int{2, 4}},
		{name: "expired holds are available", total: 10, perRow: 5, give: "eeexx .....", best: domain.BestAvailable{Count: 3, Adjacent: true}, want: []int{1, 2, 3}},
		{name: "reserved and held seats are not", total: 10, perRow: 5, give: "rxaR. .r...", best: domain.BestAvailable{Count: 2}, want: []int{8, 9}},
		{name: "not enough seats", total: 10, perRow: 5, give: "xxrxx x.x.r", best: domain.BestAvailable{Count: 3}, wantErr: domain.ErrNotEnoughSeats},
		{name: "no seat at all", total: 10, perRow: 5, give: "xxrxx xxxxr", best: domain.BestAvailable{Count: 1}, wantErr: domain.ErrNotEnoughSeats},
		{name: "exactly enough", total: 10, perRow: 5, give: "xxrxx x.x.r", best: domain.BestAvailable{Count: 2}, want: []int{7, 9}},
		{name: "more than the event", total: 10, perRow: 5, give: "..... .....", best: domain.BestAvailable{Count: 11}, wantErr: domain.ErrNotEnoughSeats},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := event(t, tt.total, tt.perRow)
			got, err := e.Best(availableAt(t, e, seatsOf(t, e, tt.give), t0), tt.best)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
			if err != nil && got != nil {
				t.Fatalf("refusal answered seats %v", got)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("Best = %v, want %v", got, tt.want)
			}
		})
	}
}
