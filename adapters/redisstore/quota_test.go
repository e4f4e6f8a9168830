package redisstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/seatres/reservation/adapters/redisstore/redistest"
	"github.com/seatres/reservation/application"
	"github.com/seatres/reservation/domain"
)

// TestQuotaTakesBackOrphanPlaces: a create that failed after its count
// (a lost answer, a crash) leaves a place of its owner's quota taken by no
// event. Once the owner is at its quota, a create takes back the places
// counted more than a minute ago whose event is not there, and is made;
// one counted just now (a create that may still be on its way) is left,
// and so are the owner's live events, however old. On standalone Redis
// and on the cluster, where the events are in other slots than the
// owner's count.
func TestQuotaTakesBackOrphanPlaces(t *testing.T) {
	t.Parallel()
	for name, addrs := range topologies(shared) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			addrs := addrs(t)
			s, c := newStore(t, addrs...), redistest.Client(t, addrs...)
			ctx := context.Background()
			owner := "key-" + string(eventOf(t, 10).ID)
			q := application.Quota{Owner: owner, Max: 3}
			live := eventOf(t, 10)
			if err := s.CreateOwnedEvent(ctx, live, q); err != nil {
				t.Fatal(err)
			}
			counts := "rsv:{owner:" + owner + "}:events"
			old, young := string(eventOf(t, 10).ID), string(eventOf(t, 10).ID)
			ago := func(d time.Duration) float64 { return float64(time.Now().Add(-d).UnixMilli()) }
			// The live event counted long ago too: its place is its own.
			for member, when := range map[string]float64{string(live.ID): ago(time.Hour), old: ago(2 * time.Minute), young: ago(0)} {
				if err := c.Do(ctx, c.B().Zadd().Key(counts).ScoreMember().ScoreMember(when, member).Build()).Error(); err != nil {
					t.Fatal(err)
				}
			}
			next := eventOf(t, 10)
			if err := s.CreateOwnedEvent(ctx, next, q); err != nil {
				t.Fatalf("CreateOwnedEvent at the quota with a place taken by no event since 2 minutes: %v", err)
			}
			got, err := c.Do(ctx, c.B().Zrange().Key(counts).Min("0").Max("-1").Build()).AsStrSlice()
			if err != nil {
				t.Fatal(err)
			}
			if want := map[string]bool{string(live.ID): true, young: true, string(next.ID): true}; len(got) != 3 || !want[got[0]] || !want[got[1]] || !want[got[2]] {
				t.Errorf("counted after the create: %q, want the live event, the one counted just now and the new one", got)
			}
			// At the quota with nothing to take back: refused, nothing changed.
			if err := s.CreateOwnedEvent(ctx, eventOf(t, 10), q); !errors.Is(err, domain.ErrQuotaExceeded) {
				t.Errorf("CreateOwnedEvent at the quota with no place to take back: %v, want %v", err, domain.ErrQuotaExceeded)
			}
			if n, err := c.Do(ctx, c.B().Zcard().Key(counts).Build()).AsInt64(); err != nil || n != 3 {
				t.Errorf("%d counted after the refusal (%v), want 3", n, err)
			}
			if _, err := s.Event(ctx, next.ID); err != nil {
				t.Errorf("the new event: %v", err)
			}
		})
	}
}
