package redisstore

import "github.com/seatres/reservation/domain"

// HoldsWaiting reports whether a batch of one-seat holds of event e runs
// (see holdBatches), and how many holds wait for the next one.
func (s *Store) HoldsWaiting(e domain.EventID) (running bool, waiting int) {
	s.batches.mu.Lock()
	defer s.batches.mu.Unlock()
	for k, w := range s.batches.running {
		if k.event == e {
			return true, len(w)
		}
	}
	return false, 0
}
