package redisstore

import (
	"context"
	"strconv"
	"sync"

	"github.com/redis/rueidis"

	"github.com/seatres/reservation/domain"
)

// A flash sale's calls are many of one kind at once: holds of an event,
// and the rate limits they are checked against. Most of such a
// call's cost is Redis running its script (its own work and each Redis
// call it makes) and the round trip to it, which calls that arrive
// together could share. So the calls of one key (an event, a slot) that
// arrive while maxRuns runs of the key are in Redis wait for one to end
// and then go together, as one run of a script made for a batch: each
// call as it would have run alone, one after the other, in one atomic
// step. Nothing waits when little else runs: a call that finds fewer runs
// goes at once, alone, and a batch is whatever came while the key's runs
// were all busy, up to maxBatch.
//
// Each answer is one the store gave between the request and its answer:
// every call of a batch was waiting when the batch ran. The calls of a
// batch share its outcome when Redis fails: each gets the error it would
// have got alone, and each may have been applied, as a call alone may.
//
// A batch runs in the goroutine of its first call, which on its end hands
// the next batch to the first of its calls: no goroutine of the store's
// own, and none that serves a call after answering its own.

// maxBatch bounds the calls of one batch: its arguments, and the Redis
// time one run takes from the other calls of its slot.
const maxBatch = 64

// maxRuns is how many runs of one key may be in Redis at once: a call
// that finds fewer goes at once, alone, and only one that finds this many
// waits. With one, a key's runs would go one round trip after another,
// and a few clients, whose calls seldom meet, would wait for each other's
// round trips as much as they shared them. With two, one run gathers
// while the other is in Redis; more let calls go alone that would have
// shared a run, and each run costs Redis its own prologue and each call
// a round trip: at 64 connections on 2 cores, 8 gave single-seat holds
// 58% of their ceiling, carts of 6 47% and best available 49%, 2 gave
// 65%, 56% and 55%, and holds beside a crowd a lower p99 (bin/loadbench,
// 3 rounds of each, 2026-12-05).
const maxRuns = 2

// batcher runs calls (T, which a run answers in place) in batches by key.
type batcher[K comparable, T any] struct {
	mu   sync.Mutex
	keys map[K]*runs[T] // present while a run of the key is in Redis
}

// runs is what a key has in Redis, and the calls that wait for a run.
type runs[T any] struct {
	running int
	waiting []*batched[T]
}

// batched is a call waiting for its batch.
type batched[T any] struct {
	call T
	// wake gets nil once the call is answered, or the batch the call
	// leads (itself first), for it to run.
	wake chan []*batched[T]
}

// do runs call in a batch of key k, with run, which answers each call of
// a batch: every call of a key has the same run.
func (b *batcher[K, T]) do(k K, call T, run func([]T)) {
	me := &batched[T]{call: call}
	b.mu.Lock()
	if b.keys == nil {
		b.keys = map[K]*runs[T]{}
	}
	r := b.keys[k]
	if r == nil {
		r = &runs[T]{}
		b.keys[k] = r
	}
	if r.running < maxRuns {
		r.running++
		b.mu.Unlock()
		b.lead(k, []*batched[T]{me}, run)
		return
	}
	me.wake = make(chan []*batched[T], 1)
	r.waiting = append(r.waiting, me)
	b.mu.Unlock()
	if batch := <-me.wake; batch != nil {
		b.lead(k, batch, run)
	}
}

// lead runs batch, whose first call is the caller's, wakes the others, and
// hands the calls that came meanwhile to the first of them, whose run
// takes this one's place.
func (b *batcher[K, T]) lead(k K, batch []*batched[T], run func([]T)) {
	calls := make([]T, len(batch))
	for i, c := range batch {
		calls[i] = c.call
	}
	run(calls)
	b.mu.Lock()
	r := b.keys[k]
	next := r.waiting
	if len(next) == 0 {
		if r.running--; r.running == 0 {
			delete(b.keys, k)
		}
	} else {
		n := min(len(next), maxBatch)
		next, r.waiting = next[:n:n], next[n:]
	}
	b.mu.Unlock()
	for _, c := range batch[1:] {
		c.wake <- nil
	}
	if len(next) > 0 {
		next[0].wake <- next
	}
}

// state reports how many runs of k are in Redis, and how many calls wait
// for the next one.
func (b *batcher[K, T]) state(k K) (running, waiting int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if r := b.keys[k]; r != nil {
		return r.running, len(r.waiting)
	}
	return 0, 0
}

// holdKey groups holds that can share a run of holdsSource: one event, one
// policy (a service has one), and of one kind: a run of best-available
// holds is not retried when a connection fails (a second run would pick
// more seats), one of listed seats is.
type holdKey struct {
	event  domain.EventID
	policy *policyArgs
	best   bool
}

// holdCall is a hold of a batch, of listed seats or the best available,
// and then its answer.
type holdCall struct {
	user  domain.UserID
	seats []string // the numbers of the listed seats, as the script takes them
	best  domain.BestAvailable
	msg   rueidis.RedisMessage
	err   error
}

// args appends the hold's arguments of holdsSource.
func (h *holdCall) args(args []string) []string {
	args = append(args, string(h.user))
	if h.seats == nil {
		return append(args, strconv.Itoa(-h.best.Count), flag(h.best.Adjacent))
	}
	return append(append(args, strconv.Itoa(len(h.seats))), h.seats...)
}

// holdBatched makes hold h of event ev in a batch.
func (s *Store) holdBatched(ctx context.Context, ev *cachedEvent, h *holdCall, pa *policyArgs) (rueidis.RedisMessage, error) {
	k := holdKey{event: ev.ID, policy: pa, best: h.seats == nil}
	s.holds.do(k, h, func(batch []*holdCall) {
		// The run is the batch's, not the request's: the others wait on it.
		s.runHolds(context.WithoutCancel(ctx), ev, pa, k.best, batch)
	})
	return h.msg, h.err
}

// runHolds runs batch, holds of event ev, all of listed seats or all of the
// best available, in one run of its script, and answers each.
func (s *Store) runHolds(ctx context.Context, ev *cachedEvent, pa *policyArgs, best bool, batch []*holdCall) {
	script := s.scripts.holds
	if best {
		script = s.scripts.holdsBest
	}
	args := make([]string, 0, 5+(3+len(batch[0].seats))*len(batch))
	args = append(args, ev.total, pa.ttl, pa.maxSeats, pa.maxLifetime, strconv.Itoa(ev.SeatsPerRow))
	for _, h := range batch {
		args = h.args(args)
	}
	msg, err := s.run(ctx, script, ev.keys[keySeats:keyIdems], args)
	answerHolds(batch, msg, err)
}

// answerHolds gives each hold of batch its answer from the batch's: one
// per hold, or one for all (the event is gone) or the error of the run.
func answerHolds(batch []*holdCall, msg rueidis.RedisMessage, err error) {
	var replies []rueidis.RedisMessage
	if err == nil {
		replies, err = msg.ToArray()
	}
	if err == nil && len(replies) > 0 && replies[0].IsInt64() {
		replies = nil // {code}: the same answer for every hold
	} else if err == nil && len(replies) != len(batch) {
		err = errMalformed
	}
	for i, h := range batch {
		switch {
		case err != nil:
			h.err = err
		case replies == nil:
			h.msg = msg
		default:
			h.msg = replies[i]
		}
	}
}
