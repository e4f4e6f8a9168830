// Package redisstore is the application.Store on Redis, standalone or
// Cluster (rueidis finds out which). Each transition is one Lua script, one
// round trip and one atomic step, so any number of service instances can
// share one Redis. Time is Redis's TIME, one clock for every instance.
//
// # Layout
//
// All keys of event E carry the hash tag {E}, so they live in one Cluster
// slot and every script touches one slot. E is a canonical UUID; a user id
// may contain '{' or '}', but only the first {...} of a key counts. Keys are
// built in Go and passed in KEYS, never built inside a script.
//
//	rsv:{E}:event        hash   name, total
//	rsv:{E}:seats        string one byte per seat: 'A' not reserved, 'R' reserved;
//	                            seat n exists iff 1 <= n <= STRLEN
//	rsv:{E}:holds        hash   n -> "<expiresAtMs>:<user>", the last hold taken
//	                            on seat n, live iff expiresAtMs > now; expired
//	                            ones are ignored and overwritten, reserve deletes it;
//	                            and u:<user> -> "<n> <expiresAtMs> ...", the user's
//	                            list of holds, which the hold limit counts
//	rsv:{E}:res:<b>      hash   n -> user who reserved seat n, for the seats
//	                            n = 100b+1 .. 100b+100 (small hashes pack tightly)
//
// A user's list keeps only live holds when it is written, and loses a seat
// when the user reserves it or another user takes its expired hold; an
// empty list is deleted. So every seat of a list has a hold that names the
// user, and the hash has at most two fields per seat. A hold reads the
// seat and the user's list in one HMGET and writes both in one HSET.
//
// A fresh event is two keys, about one byte per seat; creating it is one
// SET. Listing available seats is one MULTI/EXEC of the seats string, every
// hold and the time (no script: Lua would copy every hold twice); the
// domain's rule (domain.Seat.At) decides which holds are live.
//
// # Events in memory
//
// An event never changes and is never deleted, so each instance keeps the
// events it created or read (at most maxCachedEvents) and answers Event
// without a round trip. Nothing else is cached: seats change, and Redis
// alone decides them.
//
// # Errors
//
// Scripts refuse with small integer codes that map to the domain's errors in
// one table (codes). Anything else that goes wrong, including a call that
// outlives Config.Timeout, wraps application.ErrUnavailable. A timeout
// leaves the outcome unknown, and the caller may retry since create is
// idempotent for the same event, and hold, refresh and reserve for the same
// user. For the same reason rueidis retries every call when a connection
// fails (retryDead).
package redisstore
