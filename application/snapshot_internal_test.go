package application

import (
	"slices"
	"testing"

	"github.com/seatres/reservation/domain"
)

// A snapshot keeps its seats as runs, in a slice of their size: the Feed
// keeps one for every event it follows.
func TestSnapshotRuns(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		seats []int
		want  []SeatRun
	}{
		{nil, []SeatRun{}},
		{[]int{4}, []SeatRun{{4, 4}}},
		{[]int{1, 2, 3, 5, 7, 8}, []SeatRun{{1, 3}, {5, 5}, {7, 8}}},
		{[]int{1, 3, 5}, []SeatRun{{1, 1}, {3, 3}, {5, 5}}},
	} {
		got := newSnapshot(domain.Event{}, tc.seats, domain.Position{}).Available
		if !slices.Equal(got, tc.want) || cap(got) != len(tc.want) {
			t.Errorf("runs of %v = %v (cap %d), want %v", tc.seats, got, cap(got), tc.want)
		}
	}
	all := make([]int, domain.MaxTotalSeats)
	for i := range all {
		all[i] = i + 1
	}
	if got := newSnapshot(domain.Event{}, all, domain.Position{}).Available; !slices.Equal(got, []SeatRun{{1, domain.MaxTotalSeats}}) {
		t.Errorf("the runs of a free event = %v", got)
	}
}
