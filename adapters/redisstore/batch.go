package redisstore

import (
	"context"
	"strconv"
	"sync"

	"github.com/redis/rueidis"

	"github.com/seatres/reservation/domain"
)

// The hold of one seat without an idempotency key is most of a flash
// sale's load, and most of its cost is Redis running the hold script: its
// own work and each Redis call it makes, which one hold or many of an
// event could share (the clock, the reclaim, the holds hash read and
// written, the seats' bytes, the queue). So the holds of one seat that
// arrive for an event while another batch of the event is running wait
// for it to end and then go together, as one run of holdOnesSource: each
// hold as it would have run alone, one after the other, in one atomic
// step. Nothing waits when nothing else runs: a hold alone goes at once,
// and a batch is whatever came during the one before, up to maxBatch.
//
// Each answer is one the store gave between the request and its answer:
// every hold of a batch was waiting when the batch ran. The holds of a
// batch share its outcome when Redis fails: each gets the error it would
// have got alone, and each may have been applied, as a hold alone may.
//
// The batch runs in the goroutine of its first hold, which on its end
// hands the next batch to the first of its holds: no goroutine of the
// store's own, and none that serves a hold after answering its own.

// maxBatch bounds the holds of one batch: its arguments, and the Redis
// time one run takes from the event's other calls.
const maxBatch = 64

// batchKey groups holds that can share a run: one event, one policy (a
// service has one).
type batchKey struct {
	event  domain.EventID
	policy *policyArgs
}

// holdBatches are the holds waiting, by batchKey.
type holdBatches struct {
	mu      sync.Mutex
	running map[batchKey][]*oneHold // present while a batch of the key runs: the holds waiting
}

// oneHold is a hold waiting in a batch, and then its answer.
type oneHold struct {
	user domain.UserID
	seat string // its number, as the script takes it
	msg  rueidis.RedisMessage
	err  error
	// wake gets nil once the hold is answered, or the batch the hold
	// leads (itself first), for it to run.
	wake chan []*oneHold
}

// holdOne holds seat n of event ev for user, in a batch.
func (s *Store) holdOne(ctx context.Context, ev *cachedEvent, n int, user domain.UserID, pa *policyArgs) (rueidis.RedisMessage, error) {
	h := &oneHold{user: user, seat: strconv.Itoa(n)}
	k := batchKey{event: ev.ID, policy: pa}
	b := &s.batches
	b.mu.Lock()
	waiting, busy := b.running[k]
	if !busy {
		b.running[k] = nil
		b.mu.Unlock()
		s.runBatch(ctx, ev, k, []*oneHold{h})
		return h.msg, h.err
	}
	h.wake = make(chan []*oneHold, 1)
	b.running[k] = append(waiting, h)
	b.mu.Unlock()
	if batch := <-h.wake; batch != nil {
		s.runBatch(ctx, ev, k, batch)
	}
	return h.msg, h.err
}

// runBatch runs batch, whose first hold is the caller's, answers the
// others, and hands the holds that came meanwhile to the first of them.
// The run does not end with the caller's request: the others wait on it.
func (s *Store) runBatch(ctx context.Context, ev *cachedEvent, k batchKey, batch []*oneHold) {
	args := make([]string, 0, 4+2*len(batch))
	args = append(args, ev.total, k.policy.ttl, k.policy.maxSeats, k.policy.maxLifetime)
	for _, h := range batch {
		args = append(args, string(h.user), h.seat)
	}
	msg, err := s.run(context.WithoutCancel(ctx), s.scripts.holdOnes, ev.keys[keySeats:keyIdems], args)
	answerBatch(batch, msg, err)
	b := &s.batches
	b.mu.Lock()
	next := b.running[k]
	if len(next) == 0 {
		delete(b.running, k)
	} else {
		n := min(len(next), maxBatch)
		next, b.running[k] = next[:n:n], next[n:]
	}
	b.mu.Unlock()
	for _, h := range batch[1:] {
		h.wake <- nil
	}
	if len(next) > 0 {
		next[0].wake <- next
	}
}

// answerBatch gives each hold of batch its answer from the batch's: one
// per hold, or one for all (the event is gone) or the error of the run.
func answerBatch(batch []*oneHold, msg rueidis.RedisMessage, err error) {
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
