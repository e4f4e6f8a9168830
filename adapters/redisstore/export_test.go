package redisstore

import "github.com/seatres/reservation/domain"

// HoldRuns reports how many runs of holds of event e are in Redis, and how
// many holds wait for the next one (see batcher).
func (s *Store) HoldRuns(e domain.EventID) (running, waiting int) {
	s.holds.mu.Lock()
	defer s.holds.mu.Unlock()
	for k, r := range s.holds.keys {
		if k.event == e {
			return r.running, len(r.waiting)
		}
	}
	return 0, 0
}

// LimitRuns reports how many runs of limits of a standalone Redis are in
// it, and how many calls wait for the next one.
func (l *Limiter) LimitRuns() (running, waiting int) { return l.batches.state(0) }

// MaxRuns is maxRuns, for the tests of batches.
const MaxRuns = maxRuns
