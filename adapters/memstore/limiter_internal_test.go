package memstore

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/seatres/reservation/application"
	"github.com/seatres/reservation/application/storetest"
	"github.com/seatres/reservation/domain"
)

// White-box tests of the limiter: what it keeps, and its clock.

var limitT0 = time.Date(2026, 12, 1, 20, 0, 0, 0, time.UTC)

func allowAt(t *testing.T, l *Limiter, key string, r domain.Rate) domain.Decision {
	t.Helper()
	ds, err := l.Allow(context.Background(), []application.LimitCheck{{Key: key, Rate: r}})
	if err != nil || len(ds) != 1 {
		t.Fatalf("Allow: %+v, %v", ds, err)
	}
	return ds[0]
}

// TestLimiterForgets: 10,000 keys used once each, ten per interval, never
// leave more than minSweep limits in memory, and never one in use.
func TestLimiterForgets(t *testing.T) {
	t.Parallel()
	c := storetest.NewClock(limitT0)
	l := NewLimiter(c.Now)
	r := domain.Rate{Count: 1, Period: time.Second, Burst: 1}
	key := func(n int) string { return fmt.Sprint("buyer:", n) }
	for n := range 10000 {
		if d := allowAt(t, l, key(n), r); !d.Allowed {
			t.Fatalf("key %d: %+v", n, d)
		}
		if len(l.tats) > minSweep {
			t.Fatalf("after %d keys the limiter keeps %d", n+1, len(l.tats))
		}
		c.Advance(r.Interval() / 10)
	}
	// The keys of the last interval are still limited.
	for n := 10000 - 9; n < 10000; n++ {
		if d := allowAt(t, l, key(n), r); d.Allowed {
			t.Fatalf("key %d, used %v ago, forgotten: %+v", n, time.Duration(10000-n)*r.Interval()/10, d)
		}
	}
}

// TestLimiterClock: the limiter decides on its clock, to the nanosecond.
func TestLimiterClock(t *testing.T) {
	t.Parallel()
	c := storetest.NewClock(limitT0)
	l := NewLimiter(c.Now)
	r := domain.Rate{Count: 10, Period: time.Second, Burst: 2}
	tests := []struct {
		give time.Duration // from limitT0
		want domain.Decision
	}{
		{0, domain.Decision{Allowed: true, Remaining: 1, Reset: 100 * time.Millisecond}},
		{0, domain.Decision{Allowed: true, Reset: 200 * time.Millisecond}},
		{0, domain.Decision{RetryAfter: 100 * time.Millisecond, Reset: 200 * time.Millisecond}},
		{100*time.Millisecond - 1, domain.Decision{RetryAfter: 1, Reset: 100*time.Millisecond + 1}},
		{100 * time.Millisecond, domain.Decision{Allowed: true, Reset: 200 * time.Millisecond}},
		{300 * time.Millisecond, domain.Decision{Allowed: true, Remaining: 1, Reset: 100 * time.Millisecond}},
	}
	for i, tt := range tests {
		c.Set(limitT0.Add(tt.give))
		if got := allowAt(t, l, "k", r); got != tt.want {
			t.Fatalf("request %d at t0+%v: %+v, want %+v", i, tt.give, got, tt.want)
		}
	}
}
