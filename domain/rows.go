package domain

// BestAvailable asks the server to pick Count available seats. With
// Adjacent, they must be consecutive seats of one row.
type BestAvailable struct {
	Count    int
	Adjacent bool
}

// Best picks b.Count seats among those for which available is true: the
// lowest-numbered run of b.Count consecutive seats within one row; when no
// row has one and b.Adjacent is false, the b.Count lowest-numbered
// available seats. It returns their numbers in ascending order, or
// ErrNotEnoughSeats. b.Count must be at least 1.
func (e Event) Best(available func(n int) bool, b BestAvailable) ([]int, error) {
	run, start := 0, 0
	for n := 1; n <= e.TotalSeats; n++ {
		if (n-1)%e.SeatsPerRow == 0 {
			run = 0 // a run never crosses into the next row
		}
		if !available(n) {
			run = 0
			continue
		}
		if run == 0 {
			start = n
		}
		if run++; run == b.Count {
			return seq(start, b.Count), nil
		}
	}
	if b.Adjacent {
		return nil, ErrNotEnoughSeats
	}
	picked := make([]int, 0, b.Count)
	for n := 1; n <= e.TotalSeats && len(picked) < b.Count; n++ {
		if available(n) {
			picked = append(picked, n)
		}
	}
	if len(picked) < b.Count {
		return nil, ErrNotEnoughSeats
	}
	return picked, nil
}

func seq(from, count int) []int {
	out := make([]int, count)
	for i := range out {
		out[i] = from + i
	}
	return out
}
