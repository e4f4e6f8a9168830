package redisstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"

	"github.com/redis/rueidis"

	"github.com/seatres/reservation/application"
	"github.com/seatres/reservation/domain"
)

var _ application.Limiter = (*Limiter)(nil)

// Limiter is the application.Limiter on the store's Redis: every instance
// of the service that shares the Redis shares the limits. Each limit is one
// key holding its TAT (see domain.Rate), changed by limitScript on Redis's
// clock.
type Limiter struct{ s *Store }

// NewLimiter returns the limiter on s's client, within s's timeout.
func NewLimiter(s *Store) *Limiter { return &Limiter{s: s} }

// limitSource is GCRA, domain.Rate.Take's rule, on Redis's clock in
// microseconds (Lua's numbers hold them exactly; string.format prints them
// whole, where Lua's own printing would round them to 14 digits), for
// every limit it is given, at one instant. A key expires when its TAT
// passes: a limit whole again is the same as none.
//
// KEYS[i]: the i-th limit's TAT, µs since the epoch
// ARGV[2i-1], ARGV[2i]: its rate's Interval and Span, µs
// Answers {now, then for each limit the TAT read (0 when none) and the TAT
// left}: a request was refused when the two TATs are the same.
//
// It may run when Redis is out of memory (allow-oom): its keys are a few
// bytes that expire within a burst's span, and a limiter refused there
// would refuse the reads that a full Redis still serves.
const limitSource = `#!lua flags=allow-oom
local t = redis.call('TIME')
local now = t[1] * 1000000 + t[2]
local out = {now}
-- One MGET for all: each call from Lua costs Redis about as much as a
-- small command does.
local olds = redis.call('MGET', unpack(KEYS))
for i = 1, #KEYS do
  local old = tonumber(olds[i]) or 0
  local tat = math.max(old, now) + tonumber(ARGV[2 * i - 1])
  if tat - now > tonumber(ARGV[2 * i]) then
    tat = old
  else
    redis.call('SET', KEYS[i], string.format('%d', tat), 'PX', math.ceil((tat - now) / 1000))
  end
  out[2 * i], out[2 * i + 1] = old, tat
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
// to their nodes at once), since a script's keys share a slot there. A
// script Redis does not know yet (a restarted or new node) is sent again
// with its text. A check whose rate is Off is allowed and sends nothing.
func (l *Limiter) Allow(ctx context.Context, checks []application.LimitCheck) ([]domain.Decision, error) {
	out := make([]domain.Decision, len(checks))
	type run struct {
		checks     []int
		keys, args []string
	}
	var runs []*run
	bySlot := map[uint16]*run{}
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
			r = &run{}
			bySlot[slot] = r
			runs = append(runs, r)
		}
		r.checks = append(r.checks, i)
		r.keys = append(r.keys, key)
		r.args = append(r.args, micros(c.Rate.Interval()), micros(c.Rate.Span()))
	}
	if len(runs) == 0 {
		return out, nil
	}
	cmds := make(rueidis.Commands, len(runs))
	for j, r := range runs {
		cmds[j] = b.Evalsha().Sha1(limitSHA).Numkeys(int64(len(r.keys))).Key(r.keys...).Arg(r.args...).Build().ToRetryable()
	}
	ctx, cancel := context.WithTimeout(ctx, l.s.timeout)
	defer cancel()
	for j, res := range l.s.client.DoMulti(ctx, cmds...) {
		r := runs[j]
		if err, ok := rueidis.IsRedisErr(res.Error()); ok && err.IsNoScript() {
			res = limitScript.Exec(ctx, l.s.client, r.keys, r.args)
		}
		msg, err := res.ToMessage()
		if err != nil {
			return nil, unavailable(err)
		}
		v, err := msg.AsIntSlice()
		if err != nil || len(v) != 1+2*len(r.checks) {
			return nil, errMalformed
		}
		for k, i := range r.checks {
			if out[i], err = decision(checks[i].Rate, v[0], v[1+2*k], v[2+2*k]); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
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
