package redisstore_test

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/seatres/reservation/adapters/redisstore/redistest"
	"github.com/seatres/reservation/domain"
)

// TestWaitSendsAgainOnlyTheChangedGroup: an instance follows 64 events
// and one of them changes again and again, each change waited for as the
// feed does (Wait, then Wait again from the new position). Each change
// costs one XREAD, of the changed event's group, besides the first XREAD
// of every group: the XREADs of the others are still blocked, and the next
// Wait waits for them again. (Before, every Wait sent every group's
// again, a slot's on the cluster: 1,101 XREADs there for these 20
// changes. On standalone, it sent one XREAD of all 64 events per change;
// now one of the changed event's shard, a 16th of them.)
func TestWaitSendsAgainOnlyTheChangedGroup(t *testing.T) {
	t.Parallel()
	for name, start := range topologies(fresh) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			addrs := start(t)
			s, c := newStore(t, addrs...), redistest.Client(t, addrs...)
			ctx := context.Background()
			after := map[domain.EventID]domain.Position{}
			var events []domain.Event
			for range 64 {
				e := newEvent(t, s, 30)
				events = append(events, e)
				after[e.ID] = domain.Position{}
			}
			before := xreadCalls(t, c)
			changed := events[0]
			const changes = 20
			for i := range changes {
				if _, err := s.Hold(ctx, changed.ID, ids(changed, i+1), domain.UserID(fmt.Sprint("buyer", i)), longHold, noIdem); err != nil {
					t.Fatal(err)
				}
				ready, err := s.Wait(ctx, after, 10*time.Second)
				if err != nil || !slices.Equal(ready, []domain.EventID{changed.ID}) {
					t.Fatalf("Wait after change %d = %v, %v; want %v", i, ready, err, changed.ID)
				}
				records, err := s.Changes(ctx, changed.ID, after[changed.ID], 100)
				if err != nil || len(records) != 1 {
					t.Fatalf("the records after change %d: %d, %v; want 1", i, len(records), err)
				}
				after[changed.ID] = records[0].Position
			}
			groups := 16
			if name == "cluster" {
				groups = 64 // the events' slots, as good as all apart
			}
			if sent := xreadCalls(t, c) - before; sent > int64(groups+2*changes) {
				t.Errorf("%d XREADs for %d changes of one of 64 events followed, want at most %d (one first per group, then about one per change)", sent, changes, groups+2*changes)
			} else {
				t.Logf("%d XREADs for %d changes of one of 64 events followed", sent, changes)
			}
		})
	}
}

// TestWaitsHoldLittleMemory: an instance that follows 256 events on a
// cluster has an XREAD blocked for each of their slots, each on a
// connection of its own. Those connections are the follower's, with small
// buffers: on the store's main client, whose connections have 0.5 MiB
// buffers each way for the pipelined holds, these 256 took 145 MiB of heap
// (4 MiB now), and 2,000 events followed took an instance to 1.1 GB of RSS
// in make bench. Not parallel: it measures the process's heap.
func TestWaitsHoldLittleMemory(t *testing.T) {
	addrs := redistest.SharedCluster(t)
	s := newStore(t, addrs...)
	const events = 256
	after := map[domain.EventID]domain.Position{}
	for range events {
		after[newEvent(t, s, 10).ID] = domain.Position{}
	}
	before := heapAlloc()
	// Nothing changes: Wait returns after its block, and every XREAD it
	// sent stays blocked, for the next Wait (see xreadBlock).
	if ready, err := s.Wait(context.Background(), after, 100*time.Millisecond); err != nil || len(ready) != 0 {
		t.Fatalf("Wait = %v, %v; want nothing ready", ready, err)
	}
	const most = 64 << 20 // a quarter of a MiB a group
	if grew := heapAlloc() - before; grew > most {
		t.Errorf("the heap grew %d MiB while %d events were followed; want at most %d MiB", grew>>20, events, most>>20)
	} else {
		t.Logf("the heap grew %.1f MiB while %d events were followed", float64(grew)/(1<<20), events)
	}
}

// heapAlloc is the bytes of the heap's live objects, after a collection.
func heapAlloc() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// xreadCalls is the XREADs that the nodes of c have served.
func xreadCalls(t testing.TB, c rueidis.Client) int64 {
	t.Helper()
	var n int64
	for _, node := range c.Nodes() {
		info, err := node.Do(context.Background(), node.B().Info().Section("commandstats").Build()).ToString()
		if err != nil {
			t.Fatal(err)
		}
		var calls int64
		for line := range strings.Lines(info) {
			if _, err := fmt.Sscanf(line, "cmdstat_xread:calls=%d", &calls); err == nil {
				n += calls
			}
		}
	}
	return n
}
