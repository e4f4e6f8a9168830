package identity

import (
	"crypto/sha256"
	"sync"
	"time"
)

// cache remembers verified tokens until they expire. It is bounded: when
// full, a new entry pushes out an expired one if the first few it looks at
// include one, else an arbitrary one (Go randomises where a map's range
// starts). A buyer whose entry went simply pays one signature again, so
// nothing more careful than that is worth its code.
type cache struct {
	max     int
	mu      sync.Mutex
	entries map[[sha256.Size]byte]cached
}

type cached struct {
	buyer string
	until time.Time // exp plus Leeway
}

// evictScan is how many entries a full cache looks at for an expired one.
const evictScan = 8

func newCache(max int) *cache {
	return &cache{max: max, entries: make(map[[sha256.Size]byte]cached)}
}

// get returns the buyer of a token verified before, unless it has expired
// since: expiry is checked against now on every use, not only when cached.
func (c *cache) get(id [sha256.Size]byte, now time.Time) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[id]
	if !ok {
		return "", false
	}
	if !now.Before(e.until) {
		delete(c.entries, id)
		return "", false
	}
	return e.buyer, true
}

func (c *cache) put(id [sha256.Size]byte, buyer string, until, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[id]; !ok && len(c.entries) >= c.max {
		c.evictOne(now)
	}
	c.entries[id] = cached{buyer: buyer, until: until}
}

// evictOne removes the first expired entry among the first evictScan it
// meets, or else the first it met.
func (c *cache) evictOne(now time.Time) {
	var victim [sha256.Size]byte
	seen := 0
	for id, e := range c.entries {
		if seen == 0 {
			victim = id
		}
		if !now.Before(e.until) {
			victim = id
			break
		}
		if seen++; seen == evictScan {
			break
		}
	}
	delete(c.entries, victim)
}
