package domain_test

import (
	"testing"
	"time"

	"github.com/seatres/reservation/domain"
)

func TestRateInterval(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		give         domain.Rate
		wantInterval time.Duration
		wantSpan     time.Duration
	}{
		{"even", domain.Rate{Count: 10, Period: time.Second, Burst: 3}, 100 * time.Millisecond, 300 * time.Millisecond},
		{"per minute", domain.Rate{Count: 1, Period: time.Minute, Burst: 5}, time.Minute, 5 * time.Minute},
		// Rounded up: never more than 3 a second.
		{"a third", domain.Rate{Count: 3, Period: time.Second, Burst: 1}, 333334 * time.Microsecond, 333334 * time.Microsecond},
		{"rounded up after the division", domain.Rate{Count: 3, Period: 1000001 * time.Nanosecond, Burst: 2}, 334 * time.Microsecond, 668 * time.Microsecond},
		{"finer than Redis's clock", domain.Rate{Count: 1000000000, Period: time.Second, Burst: 2}, time.Microsecond, 2 * time.Microsecond},
		{"no period", domain.Rate{Count: 5, Burst: 2}, time.Microsecond, 2 * time.Microsecond},
		{"negative period", domain.Rate{Count: 5, Period: -time.Second, Burst: 2}, time.Microsecond, 2 * time.Microsecond},
		{"no burst is a burst of one", domain.Rate{Count: 2, Period: time.Second}, 500 * time.Millisecond, 500 * time.Millisecond},
		{"negative burst is a burst of one", domain.Rate{Count: 2, Period: time.Second, Burst: -4}, 500 * time.Millisecond, 500 * time.Millisecond},
		{"span saturates", domain.Rate{Count: 1, Period: 1000 * time.Hour, Burst: 1 << 40}, 1000 * time.Hour, time.Duration(1<<63 - 1)},
		{"off", domain.Rate{Period: time.Second, Burst: 3}, 0, 0},
		{"off when negative", domain.Rate{Count: -1, Period: time.Second, Burst: 3}, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.give.Interval(); got != tt.wantInterval {
				t.Errorf("Interval() = %v, want %v", got, tt.wantInterval)
			}
			if got := tt.give.Span(); got != tt.wantSpan {
				t.Errorf("Span() = %v, want %v", got, tt.wantSpan)
			}
		})
	}
}

// take is one request at t0+at and the decision it must get.
type take struct {
	at   time.Duration
	want domain.Decision
}

func allowed(remaining int, reset time.Duration) domain.Decision {
	return domain.Decision{Allowed: true, Remaining: remaining, Reset: reset}
}

func refused(retryAfter, reset time.Duration) domain.Decision {
	return domain.Decision{RetryAfter: retryAfter, Reset: reset}
}

// TestRateTake runs sequences of requests on one limit with the clock in
// the test's hands, to the nanosecond of each boundary. tenPerSecond has
// an interval of 100ms.
func TestRateTake(t *testing.T) {
	t.Parallel()
	const ms = time.Millisecond
	tenPerSecond := func(burst int) domain.Rate { return domain.Rate{Count: 10, Period: time.Second, Burst: burst} }
	tests := []struct {
		name    string
		give    domain.Rate
		giveTAT time.Duration // the TAT before the first request, from t0; 0: never used
		want    []take
	}{
		{"burst then refusal", tenPerSecond(3), 0, []take{
			{0, allowed(2, 100*ms)},
			{0, allowed(1, 200*ms)},
			{0, allowed(0, 300*ms)},
			{0, refused(100*ms, 300*ms)},
			{100*ms - 1, refused(1, 200*ms+1)},
			// Exactly at the retry-after: one passes, and only one.
			{100 * ms, allowed(0, 300*ms)},
			{100 * ms, refused(100*ms, 300*ms)},
		}},
		{"steady rate", tenPerSecond(1), 0, []take{
			{0, allowed(0, 100*ms)},
			{50 * ms, refused(50*ms, 50*ms)},
			{100 * ms, allowed(0, 100*ms)},
			{200 * ms, allowed(0, 100*ms)},
			{250 * ms, refused(50*ms, 50*ms)},
			{299 * ms, refused(1*ms, 1*ms)},
			{300 * ms, allowed(0, 100*ms)},
			// Late requests earn no credit beyond the burst.
			{10 * time.Second, allowed(0, 100*ms)},
			{10*time.Second + 1, refused(100*ms-1, 100*ms-1)},
		}},
		{"recovery", tenPerSecond(3), 0, []take{
			{0, allowed(2, 100*ms)},
			{0, allowed(1, 200*ms)},
			{0, allowed(0, 300*ms)},
			// Half the burst's span later, one interval and a half are back.
			{150 * ms, allowed(0, 250*ms)},
			{150 * ms, refused(50*ms, 250*ms)},
			// At the Reset, the whole burst again.
			{400 * ms, allowed(2, 100*ms)},
			{time.Hour, allowed(2, 100*ms)},
			{time.Hour, allowed(1, 200*ms)},
		}},
		{"no burst is a burst of one", tenPerSecond(0), 0, []take{
			{0, allowed(0, 100*ms)},
			{0, refused(100*ms, 100*ms)},
			{100 * ms, allowed(0, 100*ms)},
		}},
		{"a TAT in the past is none", tenPerSecond(2), -time.Hour, []take{
			{0, allowed(1, 100*ms)},
			{0, allowed(0, 200*ms)},
			{0, refused(100*ms, 200*ms)},
		}},
		// A TAT further ahead than the span (the rate was lowered, or the
		// store's clock went back) is waited out.
		{"a TAT past the span", tenPerSecond(2), 10 * time.Second, []take{
			{0, refused(9900*ms, 10*time.Second)},
			{9900 * ms, allowed(0, 200*ms)},
		}},
		{"off", domain.Rate{Period: time.Second, Burst: 1}, 0, []take{
			{0, domain.Decision{Allowed: true}},
			{0, domain.Decision{Allowed: true}},
		}},
		{"rounded interval", domain.Rate{Count: 3, Period: time.Second, Burst: 3}, 0, []take{
			{0, allowed(2, 333334*time.Microsecond)},
			{0, allowed(1, 666668*time.Microsecond)},
			{0, allowed(0, 1000002*time.Microsecond)},
			{0, refused(333334*time.Microsecond, 1000002*time.Microsecond)},
		}},
		// A third of a second, rounded down, would let a request through
		// here: more than 3 a second.
		{"rounded up, never faster", domain.Rate{Count: 3, Period: time.Second, Burst: 1}, 0, []take{
			{0, allowed(0, 333334*time.Microsecond)},
			{333333 * time.Microsecond, refused(time.Microsecond, time.Microsecond)},
			{333334 * time.Microsecond, allowed(0, 333334*time.Microsecond)},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var tat time.Time
			if tt.giveTAT != 0 {
				tat = t0.Add(tt.giveTAT)
			}
			for i, step := range tt.want {
				now := t0.Add(step.at)
				next, got := tt.give.Take(tat, now)
				if got != step.want {
					t.Fatalf("request %d at t0+%v: %+v, want %+v", i, step.at, got, step.want)
				}
				switch {
				case !got.Allowed || tt.give.Off():
					if !next.Equal(tat) {
						t.Fatalf("request %d at t0+%v moved the TAT from %v to %v", i, step.at, tat, next)
					}
				case !next.Equal(now.Add(got.Reset)):
					t.Fatalf("request %d at t0+%v: TAT %v, want now+Reset %v", i, step.at, next, now.Add(got.Reset))
				}
				tat = next
			}
		})
	}
}

// FuzzRate takes requests at random steps of time and checks GCRA's
// promises: never more than Burst + elapsed/Interval grants between any
// two of them; a refusal consumes nothing and says exactly when to retry;
// Remaining is exactly how many more pass now; after Reset, a whole burst.
func FuzzRate(f *testing.F) {
	f.Add(uint16(10), int64(time.Second), int8(3), []byte{0, 0, 0, 0, 32, 1, 200, 0, 0})
	f.Add(uint16(3), int64(time.Second), int8(0), []byte{5, 5, 5, 50, 0, 0, 255})
	f.Add(uint16(999), int64(7), int8(-2), []byte{1, 2, 3})
	f.Add(uint16(1), int64(time.Hour), int8(127), []byte{0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, count uint16, period int64, burst int8, steps []byte) {
		if len(steps) > 256 {
			steps = steps[:256]
		}
		r := domain.Rate{Count: int(count%1000) + 1, Period: time.Duration(period % int64(time.Hour)), Burst: int(burst)}
		interval, b := r.Interval(), max(r.Burst, 1)
		var (
			tat    time.Time
			now    = t0
			grants []time.Time
		)
		for _, step := range steps {
			// Steps of 0 to 8 intervals, plus a few nanoseconds off the grid.
			now = now.Add(interval*time.Duration(step)/32 + time.Duration(step%3))
			next, d := r.Take(tat, now)
			if !d.Allowed {
				if !next.Equal(tat) || d.RetryAfter <= 0 || d.Remaining != 0 {
					t.Fatalf("%+v refused at %v with TAT %v: %+v, TAT %v", r, now, tat, d, next)
				}
				if _, early := r.Take(tat, now.Add(d.RetryAfter-1)); early.Allowed {
					t.Fatalf("%+v at %v: allowed before its RetryAfter %v", r, now, d.RetryAfter)
				}
				if _, late := r.Take(tat, now.Add(d.RetryAfter)); !late.Allowed {
					t.Fatalf("%+v at %v: refused at its RetryAfter %v", r, now, d.RetryAfter)
				}
				continue
			}
			if d.RetryAfter != 0 || d.Remaining < 0 || d.Remaining > b-1 || d.Reset <= 0 || d.Reset > r.Span() || !next.Equal(now.Add(d.Reset)) {
				t.Fatalf("%+v allowed at %v with TAT %v: %+v, TAT %v", r, now, tat, d, next)
			}
			after := next
			for i := range d.Remaining + 1 {
				var more domain.Decision
				after, more = r.Take(after, now)
				if more.Allowed != (i < d.Remaining) {
					t.Fatalf("%+v at %v: Remaining %d, but request %d more is %+v", r, now, d.Remaining, i+1, more)
				}
			}
			if _, whole := r.Take(next, now.Add(d.Reset)); whole.Remaining != b-1 {
				t.Fatalf("%+v at %v: after Reset %v, %+v, want a whole burst", r, now, d.Reset, whole)
			}
			tat = next
			grants = append(grants, now)
		}
		for i := range grants {
			for j := i + b; j < len(grants); j++ {
				// Grants i..j are j-i+1 of them in grants[j]-grants[i].
				if elapsed := grants[j].Sub(grants[i]); time.Duration(j-i+1-b)*interval > elapsed {
					t.Fatalf("%+v: %d grants in %v", r, j-i+1, elapsed)
				}
			}
		}
	})
}
