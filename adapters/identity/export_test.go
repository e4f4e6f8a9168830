package identity

// Parsed returns how many tokens t has handed to the JWT parser: the cache
// misses.
func Parsed(t *Tokens) int64 { return t.parsed.Load() }

// CacheLen returns how many verified tokens t remembers.
func CacheLen(t *Tokens) int {
	t.cache.mu.Lock()
	defer t.cache.mu.Unlock()
	return len(t.cache.entries)
}
