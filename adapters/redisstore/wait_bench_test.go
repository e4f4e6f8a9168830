package redisstore_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/seatres/reservation/adapters/redisstore/redistest"
	"github.com/seatres/reservation/domain"
)

// BenchmarkWaitFollowing is what the feed does for one change of one
// event while its instance follows n events: the change (a hold, then its
// release), Wait, and the read of its records. Besides the time, it
// reports the XREADs each change costs Redis (INFO commandstats of every
// node), which must not grow with n.
func BenchmarkWaitFollowing(b *testing.B) {
	for name, start := range topologies(fresh) {
		b.Run(name, func(b *testing.B) {
			addrs := start(b)
			s, c := newStore(b, addrs...), redistest.Client(b, addrs...)
			ctx := context.Background()
			var events []domain.Event
			for range 2000 {
				events = append(events, newEvent(b, s, 10))
			}
			for _, n := range []int{1, 2000} {
				b.Run(fmt.Sprintf("events=%d", n), func(b *testing.B) {
					after := map[domain.EventID]domain.Position{}
					for _, e := range events[:n] {
						after[e.ID] = domain.Position{}
					}
					changed := events[0]
					if records, err := s.Changes(ctx, changed.ID, domain.Position{}, 1000); err != nil {
						b.Fatal(err)
					} else if len(records) > 0 {
						after[changed.ID] = records[len(records)-1].Position
					}
					// The XREADs of the events that do not change are sent
					// (and their connections dialled) before the loop: the
					// loop is the steady state.
					if _, err := s.Wait(ctx, after, time.Millisecond); err != nil {
						b.Fatal(err)
					}
					settle(b, c)
					before := xreadCalls(b, c)
					for b.Loop() {
						if _, err := s.Hold(ctx, changed.ID, ids(changed, 1), "buyer", longHold, noIdem); err != nil {
							b.Fatal(err)
						}
						if _, err := s.Release(ctx, changed.ID, ids(changed, 1), "buyer", noIdem); err != nil {
							b.Fatal(err)
						}
						ready, err := s.Wait(ctx, after, 10*time.Second)
						if err != nil || len(ready) != 1 {
							b.Fatalf("Wait = %v, %v", ready, err)
						}
						records, err := s.Changes(ctx, changed.ID, after[changed.ID], 1000)
						if err != nil || len(records) == 0 {
							b.Fatalf("Changes: %d, %v", len(records), err)
						}
						after[changed.ID] = records[len(records)-1].Position
					}
					b.ReportMetric(float64(xreadCalls(b, c)-before)/float64(b.N), "xreads/op")
				})
			}
		})
	}
}

// settle returns once the clients blocked on the nodes of c have stopped
// growing for a few polls: the XREADs that a Wait sent in goroutines of
// their own have reached Redis.
func settle(b *testing.B, c rueidis.Client) {
	b.Helper()
	blocked := func() int64 {
		var n int64
		for _, node := range c.Nodes() {
			info, err := node.Do(context.Background(), node.B().Info().Section("clients").Build()).ToString()
			if err != nil {
				b.Fatal(err)
			}
			for line := range strings.Lines(info) {
				var k int64
				if _, err := fmt.Sscanf(line, "blocked_clients:%d", &k); err == nil {
					n += k
				}
			}
		}
		return n
	}
	last, same := int64(-1), 0
	for deadline := time.Now().Add(20 * time.Second); same < 3; {
		if time.Now().After(deadline) {
			b.Fatalf("the blocked clients did not settle: %d", last)
		}
		time.Sleep(50 * time.Millisecond)
		if n := blocked(); n == last {
			same++
		} else {
			last, same = n, 0
		}
	}
}
