package domain

import "time"

// Rate is a rate limit: Count requests per Period on average, with up to
// Burst of them at once. A Count of 0 means no limit.
type Rate struct {
	Count  int
	Period time.Duration
	Burst  int
}

// Off reports whether r limits nothing.
func (r Rate) Off() bool { return r.Count <= 0 }

// Decision is a rate limit's answer to one request.
type Decision struct {
	Allowed bool
	// Remaining is how many more requests would pass now, after this one.
	Remaining int
	// RetryAfter is, when refused, how long until one request would pass.
	RetryAfter time.Duration
	// Reset is how long until the whole burst is available again.
	Reset time.Duration
}
