package redisstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"sync"
	"time"

	"github.com/redis/rueidis"

	"github.com/seatres/reservation/application"
	"github.com/seatres/reservation/domain"
)

var _ application.Limiter = (*Limiter)(nil)

// Limiter is the application.Limiter on the store's Redis: every instance
// of the service that shares the Redis shares the limits. Each limit is one
// key holding its TAT (see domain.Rate), changed by limitScript on Redis's
// clock. The checks of one slot that arrive together go in one run (see
// batcher): every request of a sale is checked, most of them against the
// same IP's and key's limits.
type Limiter struct {
	s       *Store
	batches batcher[uint16, *limitRun]
}

// NewLimiter returns the limiter on s's client, within s's timeout.
func NewLimiter(s *Store) *Limiter { return &Limiter{s: s} }

// limitSource is GCRA, domain.Rate.Take's rule, on Redis's clock in
// microseconds (Lua's numbers hold them exactly; string.format prints them
// whole, where Lua's own printing would round them to 14 digits), for
// every limit it is given, at one instant, one after the other: a key
// given twice (the checks of a batch, which share an IP's or an API key's
// limit) is taken twice, the second time from the TAT the first left, and
// written once. A key expires when its TAT passes: a limit whole again is
// the same as none.
//
// KEYS[i]: the i-th limit's TAT, µs since the epoch
// ARGV[2i-1], ARGV[2i]: its rate's Interval and Span, µs
// Answers {now, then for each limit the TAT it was taken from (0 when
// none) and the TAT left}: a request was refused when the two TATs are
// the same.
//
// It may run when Redis is out of memory (allow-oom): its keys are a few
// bytes that expire within a burst's span, and a limiter refused there
// would refuse the reads that a full Redis still serves.
const limitSource = `#!lua flags=allow-oom
local t = redis.call('TIME')
local now = t[1] * 1000000 + t[2]
local out = {now}
-- One MGET for all, and one SET per key changed, at the end, of its last
-- TAT: each call from Lua costs Redis about as much as a small command
-- does. taken is the TAT of each key so far, keys[k] the one read.
local olds, taken, keys = redis.call('MGET', unpack(KEYS)), {}, {}
for i = 1, #KEYS do
  local k = KEYS[i]
  local old = taken[k]
  if not old then
    old = tonumber(olds[i]) or 0
    keys[#keys + 1], keys[k] = k, old
  end
  local tat = math.max(old, now) + tonumber(ARGV[2 * i - 1])
  if tat - now > tonumber(ARGV[2 * i]) then tat = old end
  taken[k] = tat
  out[2 * i], out[2 * i + 1] = old, tat
end
for i = 1, #keys do
  local k = keys[i]
  local tat = taken[k]
  if tat ~= keys[k] then
    redis.call('SET', k, string.format('%d', tat), 'PX', math.ceil((tat - now) / 1000))
  end
end
return out
`

// limitScript is sent only when Redis does not know limitSHA yet (see
// Allow). It is retried when a connection fails: a run whose answer was lost
// then counts its requests twice, which refuses sooner, never grants more.
var (
	limitScript = rueidis.NewLuaScriptRetryable(limitSource)
	limitSHA    = sha1Hex(limitSource)
)

// limitKey is the key of the limit named k. Its hash tag is a digest of k
// and nothing else: any k (braces and all) makes a key of one slot, and
// limits spread over a cluster's nodes, away from the events' slots. The
// prefix is the store's (see key).
func limitKey(k string) string {
	sum := sha256.Sum256([]byte(k))
	return "rsv:rl:{" + hex.EncodeToString(sum[:16]) + "}"
}

// Allow implements application.Limiter, in one round trip: one EVALSHA
// for all the checks on a standalone Redis, one per slot on a cluster (sent
// to their nodes at once), since a script's keys share a slot there. The
// checks of one slot go in a batch with those of other calls (see
// batcher). A script Redis does not know yet (a restarted or new node) is
// sent again with its text. A check whose rate is Off is allowed and sends
// nothing.
func (l *Limiter) Allow(ctx context.Context, checks []application.LimitCheck) ([]domain.Decision, error) {
	out := make([]domain.Decision, len(checks))
	var runs []*limitRun
	bySlot := map[uint16]*limitRun{}
	cluster := l.s.client.Mode() == rueidis.ClientModeCluster
	b := l.s.client.B()
	for i, c := range checks {
		if c.Rate.Off() {
			out[i] = domain.Decision{Allowed: true}
			continue
		}
		key := limitKey(c.Key)
		var slot uint16
		if cluster {
			cmd := b.Get().Key(key).Build() // only to learn the key's slot
			slot = cmd.Slot()
		}
		r, ok := bySlot[slot]
		if !ok {
			r = &limitRun{slot: slot}
			bySlot[slot] = r
			runs = append(runs, r)
		}
		r.checks = append(r.checks, i)
		r.keys = append(r.keys, key)
		r.args = append(r.args, micros(c.Rate.Interval()), micros(c.Rate.Span()))
	}
	// The request's own context: a batch it leads does not end with it.
	ctx = context.WithoutCancel(ctx)
	var wg sync.WaitGroup
	for _, r := range runs[min(1, len(runs)):] {
		wg.Go(func() { l.batches.do(r.slot, r, func(batch []*limitRun) { l.runBatch(ctx, batch) }) })
	}
	if len(runs) > 0 {
		l.batches.do(runs[0].slot, runs[0], func(batch []*limitRun) { l.runBatch(ctx, batch) })
	}
	wg.Wait()
	for _, r := range runs {
		if r.err != nil {
			return nil, r.err
		}
		for k, i := range r.checks {
			var err error
			if out[i], err = decision(checks[i].Rate, r.taken[0], r.taken[1+2*k], r.taken[2+2*k]); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// limitRun is the checks of one call of Allow in one slot, and then what
// the script answered for them: {now, then a pair of TATs each}.
type limitRun struct {
	slot       uint16
	checks     []int // their indexes in the call's checks
	keys, args []string
	taken      []int64
	err        error
}

// runBatch runs the checks of batch, of one slot, in one script, and gives
// each run its share of the answer.
func (l *Limiter) runBatch(ctx context.Context, batch []*limitRun) {
	keys, args := batch[0].keys, batch[0].args
	if len(batch) > 1 {
		keys, args = nil, nil
		for _, r := range batch {
			keys, args = append(keys, r.keys...), append(args, r.args...)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, l.s.timeout)
	defer cancel()
	c := l.s.client
	res := c.Do(ctx, c.B().Evalsha().Sha1(limitSHA).Numkeys(int64(len(keys))).Key(keys...).Arg(args...).Build().ToRetryable())
	if err, ok := rueidis.IsRedisErr(res.Error()); ok && err.IsNoScript() {
		res = limitScript.Exec(ctx, c, keys, args)
	}
	var v []int64
	msg, err := res.ToMessage()
	if err != nil {
		err = unavailable(err)
	} else if v, err = msg.AsIntSlice(); err != nil || len(v) != 1+2*len(keys) {
		err = errMalformed
	}
	at := 1
	for _, r := range batch {
		if r.err = err; err == nil {
			r.taken = append([]int64{v[0]}, v[at:at+2*len(r.keys)]...)
			at += 2 * len(r.keys)
		}
	}
}

// decision is the domain's decision from what the script read: Take on
// the same TAT at the same instant, now. The script's own rule must have
// left the TAT Take leaves, or the two have drifted apart.
func decision(r domain.Rate, now, read, left int64) (domain.Decision, error) {
	tat, d := r.Take(time.UnixMicro(read), time.UnixMicro(now))
	if tat.UnixMicro() != left {
		return domain.Decision{}, errMalformed
	}
	return d, nil
}

// micros is a duration in limitSource's unit.
func micros(d time.Duration) string { return strconv.FormatInt(d.Microseconds(), 10) }
