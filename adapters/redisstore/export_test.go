package redisstore

import "github.com/seatres/reservation/domain"

// HoldsWaiting reports whether a batch of holds of event e runs,
// and how many holds wait for the next one (see batcher).
func (s *Store) HoldsWaiting(e domain.EventID) (running bool, waiting int) {
	s.holds.mu.Lock()
	defer s.holds.mu.Unlock()
	for k, w := range s.holds.running {
		if k.event == e {
			return true, len(w)
		}
	}
	return false, 0
}

// LimitsWaiting reports whether a batch of limits of a standalone Redis
// runs, and how many calls wait for the next one.
func (l *Limiter) LimitsWaiting() (running bool, waiting int) { return l.batches.waiting(0) }
