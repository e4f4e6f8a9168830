package application

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/seatres/reservation/domain"
)

// The Expirer records expiries while no change comes: a hold that ends at
// its expiry is recorded (OpExpire) by the next change of its event, and
// a seat map must not wait for one. So the Expirer keeps when each event
// it knows of has its next hold end (the holds this instance made, from
// their answers, and those the Feed reads), and calls Store.Expire for an
// event once that time has come; Expire answers the next one.
//
// The times are the store's clock, compared with this instance's: a clock
// behind the store's by d delays the records by d, one ahead makes a few
// early calls, each answering the same next time. The rules never depend
// on it (an expired hold is available whether or not it is recorded), so
// a failed call is only retried at the next tick, and an event past
// maxTracked is left to its next change.

// Expirer tuning.
const (
	// expireEvery is the ticker's period: with the call's own time, an
	// expiry is recorded within about this after it, well within the
	// second the stream promises.
	expireEvery = 250 * time.Millisecond
	// maxTracked bounds the events tracked at once.
	maxTracked = 100_000
	// expireCalls bounds the Expire calls in flight at once.
	expireCalls = 16
)

// Expirer calls Store.Expire for events whose holds are due to end.
type Expirer struct {
	store Store
	log   *zap.Logger
	now   func() time.Time
	every time.Duration

	mu  sync.Mutex
	due map[domain.EventID]time.Time

	stop  context.CancelFunc
	ended chan struct{}
}

// NewExpirer returns an Expirer over store, not yet ticking (Start).
func NewExpirer(store Store, log *zap.Logger) *Expirer {
	return &Expirer{store: store, log: log, now: time.Now, every: expireEvery, due: make(map[domain.EventID]time.Time)}
}

// Track notes that a hold of event e ends at at. It is on the hot path of
// every hold: a map lookup under a lock, and a write only when at is
// earlier than the time already tracked.
func (x *Expirer) Track(e domain.EventID, at time.Time) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if cur, ok := x.due[e]; ok {
		if at.Before(cur) {
			x.due[e] = at
		}
		return
	}
	if len(x.due) < maxTracked {
		x.due[e] = at
	}
}

// Start starts the ticker, until Stop.
func (x *Expirer) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	x.stop, x.ended = cancel, make(chan struct{})
	go func() {
		defer close(x.ended)
		t := time.NewTicker(x.every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				x.tick(ctx)
			}
		}
	}()
}

// Stop stops the ticker and waits for its calls to end. It follows Start.
func (x *Expirer) Stop() {
	x.stop()
	<-x.ended
}

// tick calls Expire for every event due, in parallel, and tracks the next
// time each answers.
func (x *Expirer) tick(ctx context.Context) {
	now := x.now()
	x.mu.Lock()
	var due []domain.EventID
	for e, at := range x.due {
		if !at.After(now) {
			due = append(due, e)
			// Taken out while its call runs: a Track meanwhile puts it
			// back, and the answer is merged with it (Track keeps the
			// earlier), so that no hold made during the call is lost.
			delete(x.due, e)
		}
	}
	x.mu.Unlock()
	var wg sync.WaitGroup
	calls := make(chan struct{}, expireCalls)
	for _, e := range due {
		calls <- struct{}{}
		wg.Go(func() {
			defer func() { <-calls }()
			x.expire(ctx, e, now)
		})
	}
	wg.Wait()
}

func (x *Expirer) expire(ctx context.Context, e domain.EventID, now time.Time) {
	next, err := x.store.Expire(ctx, e)
	switch {
	case errors.Is(err, domain.ErrEventNotFound):
		// Deleted: nothing more to record.
	case err != nil:
		if ctx.Err() == nil {
			x.log.Debug("record the expiries of an event", zap.String("event", string(e)), zap.Error(err))
		}
		x.Track(e, now) // due still: the next tick tries again
	case !next.IsZero():
		x.Track(e, next)
	}
}
