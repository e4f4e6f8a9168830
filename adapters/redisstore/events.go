package redisstore

import (
	"sync"
	"sync/atomic"

	"github.com/seatres/reservation/domain"
)

// maxCachedEvents bounds the events an instance keeps in memory: at most
// about 1 KB each (a 200-character name), a few MB in all.
const maxCachedEvents = 10_000

// eventCache keeps the events this instance created or read. An event never
// changes and is never deleted, so a cached one cannot go stale, whatever
// other instances do: GET /events/{id} needs no round trip, and correctness
// still rests on Redis alone. Only found events are kept: an id not found
// now may be created later. When full, an arbitrary event makes room.
type eventCache struct {
	events sync.Map // domain.EventID -> domain.Event
	size   atomic.Int64
}

func (c *eventCache) get(id domain.EventID) (domain.Event, bool) {
	e, ok := c.events.Load(id)
	if !ok {
		return domain.Event{}, false
	}
	return e.(domain.Event), true
}

func (c *eventCache) put(e domain.Event) {
	if _, loaded := c.events.LoadOrStore(e.ID, e); loaded {
		return
	}
	if c.size.Add(1) <= maxCachedEvents {
		return
	}
	c.events.Range(func(id, _ any) bool {
		if id == e.ID {
			return true // keep the one just read
		}
		if _, deleted := c.events.LoadAndDelete(id); deleted {
			c.size.Add(-1)
		}
		return false
	})
}
