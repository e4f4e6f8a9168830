package redisstore

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/seatres/reservation/domain"
)

// maxCachedEvents bounds the events an instance keeps in memory: at most
// about 1.5 KB each (a 200-character name and the event's keys), a few MB
// in all.
const maxCachedEvents = 10_000

// eventCacheTTL is how long a cached event is answered without asking
// Redis again. An event's fields never change while it exists, but it may
// be deleted (and its id created again) through another instance: this
// instance then answers it from memory for at most this long, and so it
// does when Redis lost its data. The seat scripts do not rely on the cache
// for the event's existence, so only GET /events/{id} can answer a deleted
// event, and only for this long or until a seat call of this instance
// finds it gone (see Store.gone): a window kept on purpose, as it spares
// GET /events/{id} a round trip to Redis; an id
// created again with other fields in that time is answered with the old
// ones until then. A seat call that meets the new size (a seat past the
// new end, a best available) answers the event not found and forgets it,
// as for an event gone; it never writes past the end of the seats.
const eventCacheTTL = 5 * time.Second

// eventCache keeps the events this instance created or read. An event never
// changes, so GET /events/{id} needs no round trip but once per
// eventCacheTTL, and correctness still rests on Redis alone. Only found
// events are kept: an id not found now may be created later. When full, an
// arbitrary event makes room.
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
	keys  [8]string
	noKey string
	total string // TotalSeats as the scripts' argument
	// readAt is when Redis last said the event is there, in UnixNano of
	// this instance's clock.
	readAt atomic.Int64
}

// fresh reports whether e may be answered without asking Redis.
func (e *cachedEvent) fresh() bool {
	return time.Now().UnixNano()-e.readAt.Load() < int64(eventCacheTTL)
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
	keyChanges
	// keyIdems is not sent to the hold without an idempotency key.
	keyIdems
)

func newCachedEvent(e domain.Event) *cachedEvent {
	id := e.ID
	c := &cachedEvent{
		Event: e,
		keys:  [8]string{eventKey(id), seatsKey(id), expKey(id), holdsKey(id), expqKey(id), coolKey(id), changesKey(id), idemsKey(id)},
		noKey: key(id, "idem:"),
		total: strconv.Itoa(e.TotalSeats),
	}
	c.readAt.Store(time.Now().UnixNano())
	return c
}

func (c *eventCache) get(id domain.EventID) (*cachedEvent, bool) {
	e, ok := c.events.Load(id)
	if !ok {
		return nil, false
	}
	return e.(*cachedEvent), true
}

// put keeps e, just read from Redis or written there, and returns it as
// kept. An event of the id deleted and created again with other seats
// replaces the one kept.
func (c *eventCache) put(e domain.Event) *cachedEvent {
	if kept, ok := c.get(e.ID); ok && kept.Event == e {
		kept.readAt.Store(time.Now().UnixNano())
		return kept
	}
	ce := newCachedEvent(e)
	if _, replaced := c.events.Swap(e.ID, ce); replaced || c.size.Add(1) <= maxCachedEvents {
		return ce
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
	return ce
}

// drop forgets the event id: deleted, or found missing.
func (c *eventCache) drop(id domain.EventID) {
	if _, deleted := c.events.LoadAndDelete(id); deleted {
		c.size.Add(-1)
	}
}
