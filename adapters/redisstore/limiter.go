package redisstore

import (
	"context"
	"crypto/sha1"
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
// whole, where Lua's own printing would round them to 14 digits). The key
// expires when its TAT passes: a limit whole again is the same as none.
//
// KEYS[1]: the limit's TAT, µs since the epoch
// ARGV[1]: the rate's Interval, µs
// ARGV[2]: the rate's Span, µs
// Answers {now, the TAT read (0 when none), the TAT left}: the request was
// refused when the two TATs are the same.
const limitSource = `
local t = redis.call('TIME')
local now = t[1] * 1000000 + t[2]
local old = tonumber(redis.call('GET', KEYS[1])) or 0
local tat = math.max(old, now) + tonumber(ARGV[1])
if tat - now > tonumber(ARGV[2]) then return {now, old, old} end
redis.call('SET', KEYS[1], string.format('%d', tat), 'PX', math.ceil((tat - now) / 1000))
return {now, old, tat}
`

// limitScript is sent only when Redis does not know limitSHA yet (see
// Allow). It is retried when a connection fails: a run whose answer was lost
// then counts its request twice, which refuses sooner, never grants more.
var (
	limitScript = rueidis.NewLuaScriptRetryable(limitSource)
	limitSHA    = func() string { sum := sha1.Sum([]byte(limitSource)); return hex.EncodeToString(sum[:]) }()
)

// limitKey is the key of the limit named k. Its hash tag is a digest of k
// and nothing else: any k (braces and all) makes a key of one slot, and
// limits spread over a cluster's nodes, away from the events' slots. The
// prefix is the store's (see key).
func limitKey(k string) string {
	sum := sha256.Sum256([]byte(k))
	return "rsv:rl:{" + hex.EncodeToString(sum[:16]) + "}"
}

// Allow implements application.Limiter: one EVALSHA per check, all sent in
// one round trip (on a cluster, one to each node concerned, at once). A
// check whose script Redis does not know (a restarted or new node) is sent
// again with the script. A check whose rate is Off is allowed and sends
// nothing.
func (l *Limiter) Allow(ctx context.Context, checks []application.LimitCheck) ([]domain.Decision, error) {
	out := make([]domain.Decision, len(checks))
	type sent struct {
		check      int
		keys, args []string
	}
	b := l.s.client.B()
	runs := make([]sent, 0, len(checks))
	cmds := make(rueidis.Commands, 0, len(checks))
	for i, c := range checks {
		if c.Rate.Off() {
			out[i] = domain.Decision{Allowed: true}
			continue
		}
		run := sent{check: i, keys: []string{limitKey(c.Key)}, args: []string{micros(c.Rate.Interval()), micros(c.Rate.Span())}}
		runs = append(runs, run)
		cmds = append(cmds, b.Evalsha().Sha1(limitSHA).Numkeys(1).Key(run.keys...).Arg(run.args...).Build().ToRetryable())
	}
	if len(cmds) == 0 {
		return out, nil
	}
	ctx, cancel := context.WithTimeout(ctx, l.s.timeout)
	defer cancel()
	for j, res := range l.s.client.DoMulti(ctx, cmds...) {
		run := runs[j]
		if err, ok := rueidis.IsRedisErr(res.Error()); ok && err.IsNoScript() {
			res = limitScript.Exec(ctx, l.s.client, run.keys, run.args)
		}
		msg, err := res.ToMessage()
		if err != nil {
			return nil, unavailable(err)
		}
		if out[run.check], err = decision(checks[run.check].Rate, msg); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// decision is the domain's decision from what the script read: Take on
// the same TAT at the same instant. The script's own rule must have left
// the TAT Take leaves, or the two have drifted apart.
func decision(r domain.Rate, msg rueidis.RedisMessage) (domain.Decision, error) {
	v, err := msg.AsIntSlice()
	if err != nil || len(v) != 3 {
		return domain.Decision{}, errMalformed
	}
	tat, d := r.Take(time.UnixMicro(v[1]), time.UnixMicro(v[0]))
	if tat.UnixMicro() != v[2] {
		return domain.Decision{}, errMalformed
	}
	return d, nil
}

// micros is a duration in limitSource's unit.
func micros(d time.Duration) string { return strconv.FormatInt(d.Microseconds(), 10) }
