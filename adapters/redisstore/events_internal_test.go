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
