package memstore

import (
	"context"
	"sync"
	"time"

	"github.com/seatres/reservation/application"
	"github.com/seatres/reservation/domain"
)

var _ application.Limiter = (*Limiter)(nil)

// Limiter is the in-process application.Limiter: the TAT of each limit
// (see domain.Rate) in a map, under one lock. Its limits are this
// process's only, as the memory store's events are.
type Limiter struct {
	now func() time.Time

	mu   sync.Mutex
	tats map[string]time.Time
	// sweepAt is the size of tats at which the next call drops the TATs
	// that have passed (a limit whole again is the same as none): twice
	// what was left by the last sweep, so that sweeping costs each call
	// O(1) on average and the map holds only limits in use.
	sweepAt int
}

// NewLimiter returns a limiter with no limit used yet, that reads time
// from now.
func NewLimiter(now func() time.Time) *Limiter {
	return &Limiter{now: now, tats: make(map[string]time.Time), sweepAt: minSweep}
}

// Allow implements application.Limiter. All the checks are decided at one
// instant, under the lock. A check whose rate is Off is allowed and counts
// nothing.
func (l *Limiter) Allow(_ context.Context, checks []application.LimitCheck) ([]domain.Decision, error) {
	out := make([]domain.Decision, len(checks))
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.sweep(now)
	for i, c := range checks {
		tat, d := c.Rate.Take(l.tats[c.Key], now)
		// Only a grant moves a TAT past now; an Off rate or a refusal
		// leaves it as it was, and a limit never used stays out of the map.
		if d.Allowed && tat.After(now) {
			l.tats[c.Key] = tat
		}
		out[i] = d
	}
	return out, nil
}

func (l *Limiter) sweep(now time.Time) {
	if len(l.tats) < l.sweepAt {
		return
	}
	for k, tat := range l.tats {
		if !tat.After(now) {
			delete(l.tats, k)
		}
	}
	l.sweepAt = max(minSweep, 2*len(l.tats))
}

// provideLimiter is the limiter of the service on the process's clock.
func provideLimiter() *Limiter { return NewLimiter(time.Now) }
