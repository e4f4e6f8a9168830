package faults

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/seatres/reservation/adapters/redisstore"
	"github.com/seatres/reservation/adapters/redisstore/redistest"
	"github.com/seatres/reservation/tests/internal/harness"
)

// TestClusterFailover: while buyers buy through two instances, the master
// that holds an event is killed and one of its two replicas takes over. The
// instances, configured as docs/deployment.md recommends (a reservation is
// confirmed once every replica has it: with one replica of two, the one
// promoted may be the one that lacks it, and under make test's load it once
// lacked the whole event), serve the event again without a restart once a
// new replica has joined, and every confirmed reservation is still there.
func TestClusterFailover(t *testing.T) {
	t.Parallel()
	cluster := redistest.ClusterWithReplicas(t, 2)
	cfg := redisstore.Config{Addrs: cluster.Addrs(), Timeout: storeTimeout, ReplicaAcks: 2, ReplicaAckTimeout: storeTimeout}
	instances := []string{
		harness.Serve(t, policy, harness.RedisStore(t, cfg)),
		harness.Serve(t, policy, harness.RedisStore(t, cfg)),
	}
	c := harness.NewClient(t)
	events := []harness.Event{c.CreateEvent(t, instances[0], eventSeats), c.CreateEvent(t, instances[0], eventSeats)}
	victim := events[0].ID
	sale := harness.StartSale(t, c, instances, events, users, buyers)
	sale.Until("reservations before the failover", func(calls []harness.Call) bool {
		return harness.Confirmations(calls, time.Time{}) >= 20
	})

	// Some answers may still be 200 between the kill and the fail-over
	// (other masters serve until the cluster declares the master failed),
	// so there is no time when every answer must be a 503.
	w := window{failing: time.Now()}
	w.down, w.up = w.failing, w.failing
	dead := cluster.KillMaster(t, "{"+victim+"}")
	promoted := time.Now()
	// Until the promoted master has two replicas again, its reservations
	// are 503 (after the ack timeout).
	cluster.AddReplica(t, "{"+victim+"}")
	w.back = waitRecovered(sale, instances, victim, promoted)
	// Counted from the promotion, not from w.back: the reserves that
	// waited for the new replica are confirmed as it joins, and the sale
	// may sell the event out before AddReplica returns (make test once saw
	// it: only lists of [] and 409s after w.back).
	sale.Until("reservations in the event after the failover", func(calls []harness.Call) bool {
		return harness.Confirmations(byEvent(calls, victim), promoted) >= 10
	})
	calls := sale.Stop()
	t.Logf("master %s killed; replica promoted %v later; instances served the event %v after that",
		dead, promoted.Sub(w.failing).Round(time.Millisecond), w.back.Sub(promoted).Round(time.Millisecond))
	checkCalls(t, calls, []window{w})
	// Ready again too, each time it is asked: a load balancer that saw a
	// 503 would take the instance out.
	for _, base := range instances {
		for range 50 {
			if a := c.Get(t.Context(), base, "/readyz"); a.Status != http.StatusOK {
				t.Fatalf("GET %s/readyz after the failover: %v", base, a)
			}
		}
	}
	rc := redistest.Client(t, slices.DeleteFunc(cluster.Addrs(), func(a string) bool { return a == dead })...)
	for _, e := range events {
		if err := harness.ReadEvent(t, rc, e.ID).Check(policy.MaxSeats); err != nil {
			t.Errorf("event %s in Redis: %v", e.ID, err)
		}
	}
	if lost := harness.Lost(t, c, instances[1], sale.Confirmed()); len(lost) > 0 {
		t.Errorf("%d confirmed reservations lost: %q", len(lost), lost)
	}
}

// byEvent keeps the calls about one event.
func byEvent(calls []harness.Call, event string) []harness.Call {
	var out []harness.Call
	for _, c := range calls {
		if strings.HasPrefix(c.ID, event) {
			out = append(out, c)
		}
	}
	return out
}
