package storetest

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/seatres/reservation/application"
	"github.com/seatres/reservation/domain"
)

// Rates used by the limiter's cases: slow refills nothing within a test
// (its interval is an hour), so what it grants is exact; quick refills
// within a few round trips, to watch a limit recover on a real clock.
var (
	slow  = domain.Rate{Count: 1, Period: time.Hour, Burst: 3}
	quick = domain.Rate{Count: 5, Period: 250 * time.Millisecond, Burst: 2}
)

// RunLimiter runs the contract of application.Limiter against limiters
// made by newLimiter. Each test limits keys of its own, so limiters may
// share state between calls; newLimiter may return the same limiter every
// time, and limiters it returns within one test must share their limits,
// as instances of the service on one Redis do. Callers pass no check whose
// rate is Off; a limiter answers one allowed and counts nothing for it.
func RunLimiter(t *testing.T, newLimiter func(t *testing.T) application.Limiter) {
	cases := []struct {
		name string
		test func(*testing.T, func(*testing.T) application.Limiter)
	}{
		{"burst then refusal", testLimitBurst},
		{"recovery", testLimitRecovery},
		{"independent keys", testLimitKeys},
		{"one refusal among checks", testLimitOneRefuses},
		{"off", testLimitOff},
		{"hostile keys", testLimitHostileKeys},
		{"race one key", testLimitRace},
		{"two instances", testLimitTwoInstances},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { t.Parallel(); c.test(t, newLimiter) })
	}
}

// limitKey is a key no other test uses.
func limitKey(name string) string { return "test:" + uuid.NewString() + ":" + name }

// allow makes one call of checks and fails the test unless it answers a
// decision for each.
func allow(t testing.TB, l application.Limiter, checks ...application.LimitCheck) []domain.Decision {
	t.Helper()
	ds, err := l.Allow(context.Background(), checks)
	if err != nil {
		t.Fatalf("Allow: %v", err)
	}
	if len(ds) != len(checks) {
		t.Fatalf("Allow answered %d decisions for %d checks", len(ds), len(checks))
	}
	return ds
}

// allowOne makes a call of one check.
func allowOne(t testing.TB, l application.Limiter, key string, r domain.Rate) domain.Decision {
	t.Helper()
	return allow(t, l, application.LimitCheck{Key: key, Rate: r})[0]
}

// wantGranted fails unless d allows with remaining requests left and a
// Reset of the TAT that many grants leave: (n-1) to n intervals of r, n
// being the grants made, since slow's clock hardly moves within a test.
func wantGranted(t testing.TB, what string, r domain.Rate, d domain.Decision, remaining int) {
	t.Helper()
	n := time.Duration(max(r.Burst, 1) - remaining)
	if !d.Allowed || d.Remaining != remaining || d.RetryAfter != 0 || d.Reset <= (n-1)*r.Interval() || d.Reset > n*r.Interval() {
		t.Fatalf("%s: %+v, want allowed with %d remaining and a Reset of at most %v intervals", what, d, remaining, n)
	}
}

// wantRefused fails unless d refuses, with a RetryAfter of at most an
// interval.
func wantRefused(t testing.TB, what string, r domain.Rate, d domain.Decision) {
	t.Helper()
	if d.Allowed || d.Remaining != 0 || d.RetryAfter <= 0 || d.RetryAfter > r.Interval() || d.Reset < d.RetryAfter {
		t.Fatalf("%s: %+v, want refused with a RetryAfter of at most %v", what, d, r.Interval())
	}
}

func testLimitBurst(t *testing.T, newLimiter func(*testing.T) application.Limiter) {
	l := newLimiter(t)
	tests := []struct {
		name string
		give domain.Rate
		want int // grants before the first refusal
	}{
		{"burst of 3", slow, 3},
		{"burst of 1", domain.Rate{Count: 1, Period: time.Hour, Burst: 1}, 1},
		{"no burst is a burst of 1", domain.Rate{Count: 2, Period: time.Hour}, 1},
		{"negative burst is a burst of 1", domain.Rate{Count: 1, Period: time.Hour, Burst: -1}, 1},
		{"burst of 10", domain.Rate{Count: 60, Period: time.Hour, Burst: 10}, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			key := limitKey("burst")
			for i := range tt.want {
				wantGranted(t, "request in the burst", tt.give, allowOne(t, l, key, tt.give), tt.want-1-i)
			}
			for range 2 {
				wantRefused(t, "request past the burst", tt.give, allowOne(t, l, key, tt.give))
			}
		})
	}
}

// testLimitRecovery waits, on a real clock, for the times the limiter
// answers: after RetryAfter one request passes; after Reset a whole burst.
func testLimitRecovery(t *testing.T, newLimiter func(*testing.T) application.Limiter) {
	l := newLimiter(t)
	key := limitKey("recovery")
	refusal := exhaust(t, l, key, quick)
	time.Sleep(refusal.RetryAfter)
	d := allowOne(t, l, key, quick)
	if !d.Allowed {
		t.Fatalf("request after the RetryAfter %v: %+v", refusal.RetryAfter, d)
	}
	time.Sleep(d.Reset)
	if d := allowOne(t, l, key, quick); !d.Allowed || d.Remaining != quick.Burst-1 {
		t.Fatalf("request after the Reset: %+v, want a whole burst", d)
	}
}

// exhaust asks until r refuses on key, and returns the refusal. Each
// request refills at most what the time since the last took: a limiter
// that never refuses fails after many requests within one interval.
func exhaust(t *testing.T, l application.Limiter, key string, r domain.Rate) domain.Decision {
	t.Helper()
	const tries = 100
	for range tries {
		if d := allowOne(t, l, key, r); !d.Allowed {
			wantRefused(t, "request past the burst", r, d)
			return d
		}
	}
	t.Fatalf("%d requests on %+v, none refused", tries, r)
	return domain.Decision{}
}

func testLimitKeys(t *testing.T, newLimiter func(*testing.T) application.Limiter) {
	l := newLimiter(t)
	a, b := limitKey("a"), limitKey("b")
	for range slow.Burst {
		allowOne(t, l, a, slow)
	}
	wantRefused(t, "a past its burst", slow, allowOne(t, l, a, slow))
	wantGranted(t, "b after a's burst", slow, allowOne(t, l, b, slow), slow.Burst-1)
}

// testLimitOneRefuses: a call whose checks are decided apart; the check
// refused consumes nothing (its RetryAfter does not grow), the others do.
func testLimitOneRefuses(t *testing.T, newLimiter func(*testing.T) application.Limiter) {
	l := newLimiter(t)
	one := domain.Rate{Count: 1, Period: time.Hour, Burst: 1}
	two := domain.Rate{Count: 1, Period: time.Hour, Burst: 2}
	checks := []application.LimitCheck{{Key: limitKey("b"), Rate: two}, {Key: limitKey("a"), Rate: one}, {Key: limitKey("c"), Rate: two}}
	wantGranted(t, "a alone", one, allowOne(t, l, checks[1].Key, one), 0)

	ds := allow(t, l, checks...)
	wantGranted(t, "b", two, ds[0], 1)
	wantRefused(t, "a", one, ds[1])
	wantGranted(t, "c", two, ds[2], 1)
	again := allow(t, l, checks...)
	wantGranted(t, "b again", two, again[0], 0)
	wantRefused(t, "a again", one, again[1])
	if again[1].RetryAfter > ds[1].RetryAfter {
		t.Fatalf("a refused consumed its limit: RetryAfter %v, then %v", ds[1].RetryAfter, again[1].RetryAfter)
	}
	wantGranted(t, "c again", two, again[2], 0)
	for i, d := range allow(t, l, checks...) {
		wantRefused(t, checks[i].Key+" a third time", checks[i].Rate, d)
	}
}

// testLimitOff: an Off rate is allowed and counts nothing, even on a key
// that another rate limits; an empty call answers nothing.
func testLimitOff(t *testing.T, newLimiter func(*testing.T) application.Limiter) {
	l := newLimiter(t)
	if ds := allow(t, l); len(ds) != 0 {
		t.Fatalf("Allow of no check = %+v", ds)
	}
	key := limitKey("off")
	one := domain.Rate{Count: 1, Period: time.Hour, Burst: 1}
	offs := []application.LimitCheck{{Key: key, Rate: domain.Rate{}}, {Key: key, Rate: domain.Rate{Count: -1, Period: time.Second, Burst: 1}}}
	for range 3 {
		for _, d := range allow(t, l, offs...) {
			if d != (domain.Decision{Allowed: true}) {
				t.Fatalf("Off rate: %+v, want allowed and nothing else", d)
			}
		}
	}
	wantGranted(t, "a limit after Off rates on its key", one, allowOne(t, l, key, one), 0)
	ds := allow(t, l, append(offs, application.LimitCheck{Key: key, Rate: one})...)
	if !ds[0].Allowed || !ds[1].Allowed {
		t.Fatalf("Off rates beside a refusal: %+v", ds)
	}
	wantRefused(t, "the limit beside Off rates", one, ds[2])
}

// testLimitHostileKeys: keys that mean something to Redis (hash tags,
// patterns), long or not ASCII, in one call: each is a limit of its own.
func testLimitHostileKeys(t *testing.T, newLimiter func(*testing.T) application.Limiter) {
	l := newLimiter(t)
	base := limitKey("")
	keys := []string{"", "x", "{x}", "{x", "x}", "}{", "{}", "{" + base + "}", "*", "?*[ab]", "a:b", "rl:{x}", "a\nb", "a\x00b",
		strings.Repeat("k", 128), strings.Repeat("ü", 128), "büyer:😀", "\u202eevil"}
	one := domain.Rate{Count: 1, Period: time.Hour, Burst: 1}
	checks := make([]application.LimitCheck, len(keys))
	for i, k := range keys {
		checks[i] = application.LimitCheck{Key: base + k, Rate: one}
	}
	for i, d := range allow(t, l, checks...) {
		wantGranted(t, "key "+checks[i].Key, one, d, 0)
	}
	for i, d := range allow(t, l, checks...) {
		wantRefused(t, "key "+checks[i].Key+" again", one, d)
	}
}

// grants counts what workers goroutines, each making calls calls of one
// check on key through limiters[w % len(limiters)], are granted, and how
// long they took.
func grants(t *testing.T, limiters []application.Limiter, key string, r domain.Rate, workers, calls int) (int, time.Duration) {
	t.Helper()
	var (
		wg      sync.WaitGroup
		granted atomic.Int64
	)
	start := time.Now()
	for w := range workers {
		l := limiters[w%len(limiters)]
		wg.Go(func() {
			for range calls {
				ds, err := l.Allow(context.Background(), []application.LimitCheck{{Key: key, Rate: r}})
				if err != nil || len(ds) != 1 {
					t.Errorf("Allow: %+v, %v", ds, err)
					return
				}
				if ds[0].Allowed {
					granted.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return int(granted.Load()), time.Since(start)
}

// wantWithin fails unless granted is at least the burst and at most what
// r lets through in elapsed (measured around every call, so longer than
// the limiter's own clock saw).
func wantWithin(t *testing.T, what string, r domain.Rate, granted int, elapsed time.Duration) {
	t.Helper()
	if most := r.Burst + int(elapsed/r.Interval()); granted < r.Burst || granted > most {
		t.Fatalf("%s: %d granted in %v, want %d to %d", what, granted, elapsed, r.Burst, most)
	}
}

// testLimitRace: many goroutines on one key. slow grants exactly its
// burst; quick refills meanwhile, within its rate.
func testLimitRace(t *testing.T, newLimiter func(*testing.T) application.Limiter) {
	limiters := []application.Limiter{newLimiter(t)}
	if n, _ := grants(t, limiters, limitKey("slow"), slow, 16, 8); n != slow.Burst {
		t.Fatalf("slow: %d granted, want %d", n, slow.Burst)
	}
	n, elapsed := grants(t, limiters, limitKey("quick"), quick, 16, 20)
	wantWithin(t, "quick", quick, n, elapsed)
}

// testLimitTwoInstances: two limiters (two clients of one Redis) share one
// limit: the sum of their grants stays within it.
func testLimitTwoInstances(t *testing.T, newLimiter func(*testing.T) application.Limiter) {
	limiters := []application.Limiter{newLimiter(t), newLimiter(t)}
	if n, _ := grants(t, limiters, limitKey("slow"), slow, 8, 8); n != slow.Burst {
		t.Fatalf("slow: %d granted by two limiters, want %d", n, slow.Burst)
	}
	n, elapsed := grants(t, limiters, limitKey("quick"), quick, 8, 20)
	wantWithin(t, "quick", quick, n, elapsed)
}
