package redisstore

import (
	"fmt"
	"testing"

	"github.com/seatres/reservation/domain"
)

func TestEventCacheBound(t *testing.T) {
	t.Parallel()
	var c eventCache
	var last domain.Event
	for i := range maxCachedEvents + 50 {
		last = domain.Event{ID: domain.EventID(fmt.Sprintf("%036d", i)), Name: "E", TotalSeats: 10}
		c.put(last)
		c.put(last) // a second put of the same event changes nothing
	}
	n := 0
	c.events.Range(func(any, any) bool { n++; return true })
	if n != maxCachedEvents || c.size.Load() != maxCachedEvents {
		t.Errorf("cache holds %d events, counts %d; want %d", n, c.size.Load(), maxCachedEvents)
	}
	if got, ok := c.get(last.ID); !ok || got.Event != last {
		t.Errorf("the last event put is gone: %+v, %v", got, ok)
	}
}

// TestEventCacheReplaceAndDrop: an event of a known id read with other
// seats (deleted and created again) replaces the one kept; a dropped one
// is gone and no longer counted.
func TestEventCacheReplaceAndDrop(t *testing.T) {
	t.Parallel()
	var c eventCache
	old := domain.Event{ID: "0f8fad5b-d9cb-469f-a165-70867728950e", Name: "E", TotalSeats: 10, SeatsPerRow: 10}
	again := domain.Event{ID: old.ID, Name: "E", TotalSeats: 20, SeatsPerRow: 5}
	c.put(old)
	if got := c.put(again); got.Event != again || got.total != "20" {
		t.Fatalf("put of the id with other seats kept %+v", got)
	}
	if got, ok := c.get(old.ID); !ok || got.Event != again || !got.fresh() {
		t.Fatalf("get = %+v, %v; want %+v, fresh", got, ok, again)
	}
	c.drop(old.ID)
	if _, ok := c.get(old.ID); ok || c.size.Load() != 0 {
		t.Fatalf("after drop: kept %v, size %d", ok, c.size.Load())
	}
}
