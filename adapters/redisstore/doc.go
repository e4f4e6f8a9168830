// Package redisstore is the application.Store on Redis, standalone or
// Cluster (rueidis finds out which). Each change is one Lua script, one
// round trip and one atomic step, so any number of service instances can
// share one Redis. Time is Redis's TIME, one clock for every instance.
// docs/redis-layout.md has the layout, the scripts and their costs.
//
// # Layout
//
// All keys of event E carry the hash tag {E}, so they live in one Cluster
// slot and every script touches one slot. E is a canonical UUID; a user id
// may contain '{' or '}', but only the first {...} of a key counts. Keys are
// built in Go and passed in KEYS, never built inside a script.
//
//	rsv:{E}:event       hash   name, total, rows (seats per row), reserved (a count)
//	rsv:{E}:seats       string a byte a seat: 'A' available, 'H' on hold, 'R' reserved
//	rsv:{E}:exp         string 8 bytes a seat: the expiry of its hold while its byte is 'H'
//	rsv:{E}:holds       hash   n -> the holder of seat n while its byte is 'H';
//	                           c:<U> -> U's cart and holds; min, a bound of the
//	                           scores of expq and cool; low, no seat below it is 'A'
//	rsv:{E}:expq        zset   n scored by its hold's expiry, one per 'H' byte
//	rsv:{E}:cool        zset   c:<U> scored by when U's cart stops mattering
//	rsv:{E}:changes     stream the record of changes, appended by each change
//	rsv:{E}:res:<b>     hash   n -> who reserved seat n, for n = 100b+1 .. 100b+100
//	rsv:{E}:idem:<K>    string the fingerprint and first answer of a change under key K
//	rsv:{E}:idems       zset   rsv:{E}:idem:<K> scored by its expiry: what a delete must find
//	rsv:{owner:<O>}:events zset the live events of owner O (an API key), scored by when counted
//
// An 'H' byte may hold an expired hold until the next change of the event
// reclaims it: every change first gives back the seats of expq up to now.
// So a change sees only live holds, while the reads (the list, Seat) settle
// expiry with the domain's rule (domain.Seat.At), and nothing needs a
// background job. A list reads the seats and exp strings and the time in
// one transaction: 9 bytes a seat, however many holds and whatever their
// users' ids. A cart goes with the reclaim that finds its last hold expired
// or its cool-down over.
//
// # Events in memory
//
// An event's fields never change while it exists, so each instance keeps
// the events it created or read (at most maxCachedEvents), with the keys
// and texts every change of them sends, and answers Event without a round
// trip for eventCacheTTL: an event deleted through another instance (or
// its id created again with other fields) is answered by Event for that
// long at most, while its seats are not found at once (the scripts look at
// Redis) and a seat call that finds it gone makes the instance forget it.
// The same holds for an event lost with a Redis that lost its data.
// Nothing else is cached: seats change, and Redis alone decides
// them.
//
// # Delete and quotas
//
// A delete is one script over every key of the event, named in Go: the
// res keys from the event's total, the idempotency answers from the idems
// index that the change scripts write with them. An owner's count of live
// events is in a slot of its own: a create counts first and then creates,
// a delete deletes first and then uncounts, so a failure in between leaves
// a place of the quota taken by no event, never an event uncounted; an
// owner at its quota takes such places back (Store.reclaimCounts).
//
// # Errors
//
// Scripts refuse with small integer codes, an index into domain.Refusals()
// (see codes), followed by the seats a refusal names or a cool-down's
// retry-after. Anything else that goes wrong, including a call that
// outlives Config.Timeout, wraps application.ErrUnavailable, but a write
// that Redis refused for lack of memory (maxmemory), which changed
// nothing, wraps application.ErrStoreFull; the reads still work then. A timeout
// leaves the outcome unknown, and the caller may retry: create is
// idempotent for the same event, hold of given seats, refresh, reserve and
// release for the same user, and any change under an idempotency key. For
// the same reason rueidis retries those calls when a connection fails
// (retryDead); a best-available hold without a key it does not.
package redisstore
