package domain

import "time"

// Rate is a rate limit: Count requests per Period on average, with up to
// Burst of them at once. A Count of 0 means no limit.
//
// Its rule is GCRA (the generic cell rate algorithm): a limit is one
// instant, its theoretical arrival time (TAT), by which every request
// granted so far would have arrived had they come at the steady rate. A
// request passes when the TAT, pushed on by one Interval, is at most Span
// ahead of now. So a limit is one number to store, and a TAT in the past
// is the same as none: a whole burst is available.
type Rate struct {
	Count  int
	Period time.Duration
	Burst  int
}

// Off reports whether r limits nothing.
func (r Rate) Off() bool { return r.Count <= 0 }

// Interval is the steady spacing of requests, Period/Count, rounded up to a
// whole microsecond, Redis's resolution: so the Redis store counts with the
// same numbers, and the rounding never lets more than Count through per
// Period. It is at least a microsecond, even for a Period of zero or less.
// It is zero for a rate that is Off.
func (r Rate) Interval() time.Duration {
	if r.Off() {
		return 0
	}
	perRequest := ceilDiv(max(r.Period, 0), time.Duration(r.Count))
	return max(ceilDiv(perRequest, time.Microsecond), 1) * time.Microsecond
}

// Span is how far ahead of now the TAT may be after a request passes: the
// burst's worth of intervals (a Burst below 1 is 1). It saturates at the
// longest time.Duration rather than overflow.
func (r Rate) Span() time.Duration {
	t := r.Interval()
	if t == 0 {
		return 0
	}
	burst := time.Duration(max(r.Burst, 1))
	if burst > maxDuration/t {
		return maxDuration
	}
	return burst * t
}

const maxDuration = time.Duration(1<<63 - 1)

// ceilDiv is a/b rounded up, for a >= 0 and b > 0, without overflow.
func ceilDiv(a, b time.Duration) time.Duration {
	if a == 0 {
		return 0
	}
	return (a-1)/b + 1
}

// Take counts one request at now against a limit whose TAT is tat (the zero
// time, or any time not after now, for a limit never used or whole again)
// and returns the TAT to keep and the decision. A refused request returns
// tat as it was: it consumes nothing. A rate that is Off allows everything
// and keeps nothing: it returns tat and a decision that says only Allowed.
func (r Rate) Take(tat, now time.Time) (time.Time, Decision) {
	if r.Off() {
		return tat, Decision{Allowed: true}
	}
	t, span := r.Interval(), r.Span()
	from := tat
	if from.Before(now) {
		from = now // nothing is owed: the limit is whole
	}
	next := from.Add(t)
	ahead := next.Sub(now)
	if ahead > span {
		// Refused: the request passes once now has caught up by the excess.
		return tat, Decision{RetryAfter: ahead - span, Reset: from.Sub(now)}
	}
	return next, Decision{Allowed: true, Remaining: int((span - ahead) / t), Reset: ahead}
}

// Decision is a rate limit's answer to one request, with what the IETF
// RateLimit header fields draft says of the limit after it.
type Decision struct {
	Allowed bool
	// Remaining is how many more requests would pass now, after this one.
	Remaining int
	// RetryAfter is, when refused, how long until one request would pass;
	// it is then more than zero, and zero when allowed.
	RetryAfter time.Duration
	// Reset is how long until the whole burst is available again.
	Reset time.Duration
}
