package application

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/seatres/reservation/domain"
)

// expireStore answers Expire from a table, and counts the calls.
type expireStore struct {
	Store // nil: Expire only

	mu     sync.Mutex
	next   map[domain.EventID]time.Time
	errs   map[domain.EventID]error
	calls  map[domain.EventID]int
	during func() // called in every Expire, to Track meanwhile
}

func (s *expireStore) Expire(_ context.Context, e domain.EventID) (time.Time, error) {
	s.mu.Lock()
	s.calls[e]++
	next, err, during := s.next[e], s.errs[e], s.during
	s.mu.Unlock()
	if during != nil {
		during()
	}
	return next, err
}

func (s *expireStore) called(e domain.EventID) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[e]
}

func TestExpirerCallsExpireWhenDue(t *testing.T) {
	t.Parallel()
	const a, b, gone domain.EventID = "a", "b", "gone"
	t0 := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	s := &expireStore{
		next:  map[domain.EventID]time.Time{a: t0.Add(5 * time.Second)},
		errs:  map[domain.EventID]error{b: ErrUnavailable, gone: domain.ErrEventNotFound},
		calls: map[domain.EventID]int{},
	}
	x := NewExpirer(s, zaptest.NewLogger(t))
	now := t0
	x.now = func() time.Time { return now }
	ctx := context.Background()

	x.Track(a, t0.Add(2*time.Second))
	x.Track(a, t0.Add(3*time.Second)) // later: the earlier one stays
	x.Track(b, t0)
	x.Track(gone, t0)
	x.tick(ctx)
	if s.called(a) != 0 || s.called(b) != 1 || s.called(gone) != 1 {
		t.Fatalf("at t0: calls %v, want b and gone once", s.calls)
	}
	now = t0.Add(2 * time.Second)
	x.tick(ctx)
	if s.called(a) != 1 || s.called(b) != 2 || s.called(gone) != 1 {
		t.Fatalf("at t0+2s: calls %v, want a once, b retried, gone dropped", s.calls)
	}
	// a's answer, t0+5s, is its next due time.
	now = t0.Add(4 * time.Second)
	x.tick(ctx)
	if s.called(a) != 1 || s.called(b) != 3 {
		t.Fatalf("at t0+4s: calls %v, want a not before its next expiry, b at every tick", s.calls)
	}
	now = t0.Add(5 * time.Second)
	s.mu.Lock()
	s.next[a] = time.Time{} // no more holds
	s.errs[b] = nil
	s.mu.Unlock()
	x.tick(ctx)
	now = t0.Add(time.Hour)
	x.tick(ctx)
	if s.called(a) != 2 || s.called(b) != 4 {
		t.Fatalf("calls %v, want a twice and b 4 times, then no more", s.calls)
	}
}

func TestExpirerKeepsAHoldMadeDuringACall(t *testing.T) {
	t.Parallel()
	const e domain.EventID = "e"
	t0 := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	s := &expireStore{
		next:  map[domain.EventID]time.Time{e: t0.Add(time.Minute)},
		calls: map[domain.EventID]int{},
	}
	x := NewExpirer(s, zaptest.NewLogger(t))
	now := t0
	x.now = func() time.Time { return now }
	// A hold made while Expire runs, which its answer does not know of.
	s.during = func() { x.Track(e, t0.Add(time.Second)) }
	x.Track(e, t0)
	x.tick(context.Background())
	s.during = nil
	now = t0.Add(time.Second)
	x.tick(context.Background())
	if n := s.called(e); n != 2 {
		t.Fatalf("%d calls, want 2: the hold made during the first call is due at t0+1s", n)
	}
}

func TestExpirerBoundsItsEvents(t *testing.T) {
	t.Parallel()
	x := NewExpirer(&expireStore{}, zaptest.NewLogger(t))
	for i := range maxTracked + 10 {
		x.Track(domain.EventID(strconv.Itoa(i)), time.Now())
	}
	if n := len(x.due); n != maxTracked {
		t.Fatalf("tracked %d events, want %d", n, maxTracked)
	}
}

func TestExpirerTicks(t *testing.T) {
	t.Parallel()
	called := make(chan domain.EventID, 1)
	s := &expireStore{calls: map[domain.EventID]int{}}
	s.during = func() {
		select {
		case called <- "e":
		default:
		}
	}
	x := NewExpirer(s, zaptest.NewLogger(t))
	x.Start()
	defer x.Stop()
	x.Track("e", time.Now())
	select {
	case <-called:
	case <-time.After(5 * time.Second):
		t.Fatal("Expire was not called within 5 s of the hold's end")
	}
}
