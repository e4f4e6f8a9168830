package application

import (
	"context"

	"github.com/seatres/reservation/domain"
)

// LimitCheck is one rate limit that a request counts against.
type LimitCheck struct {
	// Key names who is limited, e.g. "buyer:<uuid>" or "ip:<addr>"; the
	// limiter scopes and encodes it, so any string is safe.
	Key  string
	Rate domain.Rate
}

// Limiter counts requests against rate limits that every instance of the
// service shares, by the rule of domain.Rate's GCRA, on the store's clock.
type Limiter interface {
	// Allow counts one request against each check, in one round trip, and
	// answers their decisions in the same order. A check that refuses
	// consumes nothing of its own limit; the others of the same call that
	// allow do. It returns an error wrapping ErrUnavailable when it cannot
	// decide.
	Allow(ctx context.Context, checks []LimitCheck) ([]domain.Decision, error)
}
