package redisstore

import (
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/seatres/reservation/domain"
)

// maxCachedEvents bounds the events an instance keeps in memory: at most
// about 1.5 KB each (a 200-character name and the event's keys), a few MB
// in all.
const maxCachedEvents = 10_000

// eventCache keeps the events this instance created or read. An event never
// changes and is never deleted, so a cached one cannot go stale, whatever
// other instances do: GET /events/{id} needs no round trip, and correctness
// still rests on Redis alone. Only found events are kept: an id not found
// now may be created later. When full, an arbitrary event makes room.
type eventCache struct {
	events sync.Map // domain.EventID -> *cachedEvent
	size   atomic.Int64
}

// cachedEvent is an event with what every change of it sends Redis, made
// once: the hot path of a hold then builds only the user's key.
type cachedEvent struct {
	domain.Event
	// keys are the first keys of a change (see changeKeys) but the
	// idempotency key, indexed by the key* constants; noKey is the
	// idempotency key of a change without one.
	keys  [6]string
	noKey string
	total string // TotalSeats as the scripts' argument
}

// The places of an event's keys in cachedEvent.keys, the order of the
// change scripts' KEYS. The hold without an idempotency key takes those
// from keySeats on.
const (
	keyEvent = iota
	keySeats
	keyExp
	keyHolds
	keyExpq
	keyCool
)

func newCachedEvent(e domain.Event) *cachedEvent {
	id := e.ID
	return &cachedEvent{
		Event: e,
		keys:  [6]string{eventKey(id), seatsKey(id), expKey(id), holdsKey(id), expqKey(id), coolKey(id)},
		noKey: key(id, "idem:"),
		total: strconv.Itoa(e.TotalSeats),
	}
}

func (c *eventCache) get(id domain.EventID) (*cachedEvent, bool) {
	e, ok := c.events.Load(id)
	if !ok {
		return nil, false
	}
	return e.(*cachedEvent), true
}

// put keeps e and returns it as kept.
func (c *eventCache) put(e domain.Event) *cachedEvent {
	if kept, ok := c.get(e.ID); ok {
		return kept
	}
	ce, loaded := c.events.LoadOrStore(e.ID, newCachedEvent(e))
	if loaded || c.size.Add(1) <= maxCachedEvents {
		return ce.(*cachedEvent)
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
	return ce.(*cachedEvent)
}
