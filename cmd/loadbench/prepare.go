package main

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/seatres/reservation/api/client"
)

// The events that scenarios find in the middle of a sale, made through the
// service's own API before the run, and the instances of the service that
// make them: "prep" with a hold limit of prepCart seats, so that an event's
// front half is held in a few requests, and "expire" with a hold TTL of
// expireTTL, so that its holds expire within the preparation.

const (
	// frontHeld seats, 1..frontHeld, are held before a best-available run
	// uses an event; each run's requests then hold bestPerEvent*bestSeats
	// seats more of it, from row 101 on.
	frontHeld    = 5000
	bestPerEvent = 1000
	prepCart     = 200 // seats per request of the prep instance (about 9 KB of ids)
	expireTTL    = time.Second
	// churnFresh is how long a churn event counts as one: its live holds
	// (the default TTL of 60s) must outlast every run that reads it.
	churnFresh = 40 * time.Second
	// prepConns is how many requests the preparation makes at once.
	prepConns = 16
)

// churn is the event of the churn scenarios and when its live holds were
// made.
type churn struct {
	id   string
	made time.Time
}

func (l *loader) httpClient() *http.Client {
	if l.client == nil {
		l.client = newHTTPClient(prepConns)
	}
	return l.client
}

func (l *loader) prepServer() (*server, error) {
	var err error
	if l.prep == nil {
		l.prep, err = startService(l.ctx, l.o, l.dir, "prep", l.redisAddrs, fmt.Sprintf("RESERVATION_HOLD_MAX_SEATS=%d", prepCart))
	}
	return l.prep, err
}

func (l *loader) expireServer() (*server, error) {
	var err error
	if l.expire == nil {
		l.expire, err = startService(l.ctx, l.o, l.dir, "expire", l.redisAddrs, "RESERVATION_HOLD_TTL="+expireTTL.String())
	}
	return l.expire, err
}

// bestEvents returns the events of a best-available run of s for d: for the
// service, enough events for what it is expected to ask, each of 10,000
// seats in rows of 50 with its front half held; for the ceiling, which reads none, ids of no event.
func (l *loader) bestEvents(s scenario, d time.Duration, more int) ([]string, error) {
	if s.ceiling {
		ids := make([]string, int(maxRate*(d+time.Second)/time.Second)/bestPerEvent+1)
		for i := range ids {
			ids[i] = uuid.NewString()
		}
		return ids, nil
	}
	n := int(math.Ceil(l.expected(s, d, more)/bestPerEvent)) + 2
	prep, err := l.prepServer()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	events, err := l.svc.createEvents(l.ctx, n, rowsBody)
	if err != nil {
		return nil, err
	}
	var jobs []cartJob
	for _, e := range events {
		for first := 1; first <= frontHeld; first += prepCart {
			jobs = append(jobs, cartJob{event: e, user: "front-" + uuid.NewString(), seats: seq(first, min(prepCart, frontHeld-first+1))})
		}
	}
	if err := l.holdCarts(prep, jobs); err != nil {
		return nil, err
	}
	fmt.Printf("   %d events with %d seats held each, for %s, in %v\n", n, frontHeld, s.label, time.Since(start).Round(time.Millisecond))
	return events, nil
}

// expected is how many requests a run of s for d is to have room for: a
// quarter more than at the rate of its last run, else of its ceiling, which
// it does not pass by much; times more.
func (l *loader) expected(s scenario, d time.Duration, more int) float64 {
	rate := l.rates[s.id]
	if rate == 0 {
		rate = l.rates[s.base]
	}
	if rate == 0 {
		rate = 20000
	}
	return float64(more) * 1.25 * rate * (d.Seconds() + 0.5)
}

// churnEvent returns an event of 10,000 seats, the odd ones under holds
// that have expired and the even ones under live holds, every hold by a
// UUID of 128 characters of its own, in carts of 6 seats; a new one when
// the last one's live holds are older than churnFresh.
func (l *loader) churnEvent() (string, error) {
	if l.churn.id != "" && time.Since(l.churn.made) < churnFresh {
		return l.churn.id, nil
	}
	expire, err := l.expireServer()
	if err != nil {
		return "", err
	}
	events, err := l.svc.createEvents(l.ctx, 1, createBody)
	if err != nil {
		return "", err
	}
	e := events[0]
	carts := func(kind string, from int) []cartJob {
		var jobs []cartJob
		for first := from; first <= eventSeats; first += 2 * cartSeats {
			var seats []int
			for n := first; n <= eventSeats && len(seats) < cartSeats; n += 2 {
				seats = append(seats, n)
			}
			jobs = append(jobs, cartJob{event: e, user: longUser(kind, e, first), seats: seats})
		}
		return jobs
	}
	if err := l.holdCarts(expire, carts("expired", 1)); err != nil {
		return "", err
	}
	expiring := time.Now()
	made := time.Now()
	if err := l.holdCarts(l.svc, carts("live", 2)); err != nil {
		return "", err
	}
	select {
	case <-time.After(time.Until(expiring.Add(expireTTL + 100*time.Millisecond))):
	case <-l.ctx.Done():
		return "", l.ctx.Err()
	}
	sum, err := newCaller(l.svc.url(""), l.httpClient()).api.GetEventSummaryWithResponse(l.ctx, e)
	switch {
	case err != nil:
		return "", err
	case sum.JSON200 == nil:
		return "", fmt.Errorf("churn event %s: summary: %w", e, unexpected(sum))
	}
	if want := (client.Summary{Total: eventSeats, Available: eventSeats / 2, OnHold: eventSeats / 2}); *sum.JSON200 != want {
		return "", fmt.Errorf("churn event %s: summary %+v, want %+v", e, *sum.JSON200, want)
	}
	l.churn = churn{id: e, made: made}
	fmt.Printf("   churn event: %d live and %d expired holds, in %v\n", eventSeats/2, eventSeats/2, time.Since(made).Round(time.Millisecond))
	return e, nil
}

// longUser is a UUID of 128 characters, the longest the API takes.
func longUser(kind, event string, n int) string {
	u := fmt.Sprintf("%s-%s-%05d-", kind, event, n)
	return u + strings.Repeat("0123456789abcdef", 8)[:128-len(u)]
}

// cartJob is one hold of listed seats.
type cartJob struct {
	event, user string
	seats       []int
}

// holdCarts makes the holds of jobs on srv, prepConns at a time; every one
// must succeed.
func (l *loader) holdCarts(srv *server, jobs []cartJob) error {
	return holdCartsOn(l.ctx, srv, l.httpClient(), jobs)
}

func holdCartsOn(ctx context.Context, srv *server, hc *http.Client, jobs []cartJob) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan cartJob)
	var wg sync.WaitGroup
	for range prepConns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := newCaller(srv.url(""), hc)
			for j := range next {
				hold, err := c.api.HoldSeatsWithResponse(ctx, j.event, nil, client.HoldSeatsRequest{UUID: j.user, IDs: new(seatIDs(j.event, j.seats))})
				if err == nil && hold.JSON200 == nil {
					err = fmt.Errorf("hold %d seats of %s: %w", len(j.seats), j.event, unexpected(hold))
				}
				if err != nil {
					cancel(fmt.Errorf("prepare on %s: %w", srv.name, err))
					return
				}
			}
		}()
	}
feed:
	for _, j := range jobs {
		select {
		case next <- j:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	return context.Cause(ctx)
}

// seq is from, from+1, ..., count numbers.
func seq(from, count int) []int {
	out := make([]int, count)
	for i := range out {
		out[i] = from + i
	}
	return out
}
