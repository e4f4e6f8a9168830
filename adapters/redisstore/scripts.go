package redisstore

import (
	"fmt"
	"strings"

	"github.com/redis/rueidis"

	"github.com/seatres/reservation/domain"
)

// codes are the integers the scripts return instead of a reply when they
// refuse, indexed by code; 0 is success. The scripts know the codes by the
// Lua names declared from this table, so the two cannot drift apart.
var codes = [...]struct {
	lua string
	err error
}{
	{"OK", nil},
	{"EVENT_NOT_FOUND", domain.ErrEventNotFound},
	{"EVENT_EXISTS", domain.ErrEventExists},
	{"SEAT_NOT_FOUND", domain.ErrSeatNotFound},
	{"SEAT_HELD", domain.ErrSeatHeld},
	{"SEAT_RESERVED", domain.ErrSeatReserved},
	{"HOLD_LIMIT", domain.ErrHoldLimit},
	{"NOT_HOLDER", domain.ErrNotHolder},
	{"NOT_ON_HOLD", domain.ErrNotOnHold},
	{"NO_LIVE_HOLD", domain.ErrNoLiveHold},
}

// prelude starts every script: the codes, and the helpers of the seat
// scripts. Seat scripts answer {state, holder, expiresAtMs, nowMs}, with
// state 'A' (available), 'H' (on hold) or 'R' (reserved); the hold may have
// expired in a read, which the Go side settles with domain.Seat.At.
var prelude = func() string {
	var b strings.Builder
	for code, c := range codes {
		fmt.Fprintf(&b, "local %s = %d\n", c.lua, code)
	}
	b.WriteString(`
-- Redis's clock is the one clock every instance of the service shares.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- 'A' or 'R' for seat n, or nil if the event has no such seat.
local function seat_state(seats, n)
  if n < 1 then return nil end -- GETRANGE would count from the end
  local b = redis.call('GETRANGE', seats, n - 1, n - 1)
  if b == '' then return nil end
  return b
end

-- Expiry and holder of the last hold taken on seat n, maybe expired;
-- 0 and '' if there is none.
local function hold_of(holds, n)
  local v = redis.call('HGET', holds, n)
  if not v then return 0, '' end
  local i = string.find(v, ':', 1, true) -- the expiry has no ':', the holder may
  return tonumber(string.sub(v, 1, i - 1)), string.sub(v, i + 1)
end

-- Holds seat n for user until exp. The user's set gets the same expiry as
-- score, so that it counts the user's live holds, and lives as long as its
-- latest hold: a new set expires with this hold; an existing one, which
-- always has an expiry, only ever gets a later one (GT), as holds made with
-- a shorter TTL may come after longer ones.
local function put_hold(holds, user_key, n, user, exp, now, new_set)
  redis.call('HSET', holds, n, string.format('%d', exp) .. ':' .. user)
  redis.call('ZADD', user_key, exp, n)
  if new_set then
    redis.call('PEXPIREAT', user_key, exp)
  else
    redis.call('PEXPIREAT', user_key, exp, 'GT')
  end
  return {'H', user, exp, now}
end
`)
	return b.String()
}()

// Scripts. KEYS are always built in Go (see key): a key built inside a
// script would escape the cluster's slot checks.
var (
	// KEYS event, seats; ARGV name, totalSeats.
	createScript = rueidis.NewLuaScript(prelude + `
if redis.call('EXISTS', KEYS[1]) == 1 then return EVENT_EXISTS end
redis.call('HSET', KEYS[1], 'name', ARGV[1], 'total', ARGV[2])
redis.call('SET', KEYS[2], string.rep('A', tonumber(ARGV[2])))
return OK
`)

	// KEYS event, seats, holds. Answers {name, total, seats, holds as a flat
	// list of seat and "expiry:holder", now}: the Go side decides which
	// holds are live.
	listScript = rueidis.NewLuaScriptReadOnly(prelude + `
local event = redis.call('HMGET', KEYS[1], 'name', 'total')
if not event[1] then return EVENT_NOT_FOUND end
return {event[1], event[2], redis.call('GET', KEYS[2]), redis.call('HGETALL', KEYS[3]), now_ms()}
`)

	// KEYS seats, holds, res; ARGV seat.
	seatScript = rueidis.NewLuaScriptReadOnly(prelude + `
local n = tonumber(ARGV[1])
local state = seat_state(KEYS[1], n)
if not state then return SEAT_NOT_FOUND end
local now = now_ms()
if state == 'R' then return {'R', redis.call('HGET', KEYS[3], n), 0, now} end
local exp, holder = hold_of(KEYS[2], n)
if exp == 0 then return {'A', '', 0, now} end
return {'H', holder, exp, now}
`)

	// KEYS seats, holds, user; ARGV seat, user, ttlMs, maxSeats.
	holdScript = rueidis.NewLuaScript(prelude + `
local n, user = tonumber(ARGV[1]), ARGV[2]
local state = seat_state(KEYS[1], n)
if not state then return SEAT_NOT_FOUND end
if state == 'R' then return SEAT_RESERVED end
local now = now_ms()
local exp, holder = hold_of(KEYS[2], n)
local new_set = false
if exp > now then
  if holder ~= user then return SEAT_HELD end
  -- A retry: it extends the hold and is not counted again.
else
  -- The user's set has the user's live holds, none on this seat (it has no
  -- live hold), and maybe expired ones. Only when they reach the limit are
  -- the expired ones dropped and the live ones counted: the common case
  -- takes one call, and the set never grows past the limit.
  local max = tonumber(ARGV[4])
  local held = redis.call('ZCARD', KEYS[3])
  if held >= max then
    redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
    held = redis.call('ZCARD', KEYS[3])
    if held >= max then return HOLD_LIMIT end
  end
  new_set = held == 0 -- an empty set does not exist
end
return put_hold(KEYS[2], KEYS[3], n, user, now + tonumber(ARGV[3]), now, new_set)
`)

	// KEYS seats, holds, user; ARGV seat, user, ttlMs.
	refreshScript = rueidis.NewLuaScript(prelude + `
local n, user = tonumber(ARGV[1]), ARGV[2]
local state = seat_state(KEYS[1], n)
if not state then return SEAT_NOT_FOUND end
local now = now_ms()
local exp, holder = hold_of(KEYS[2], n)
if state == 'R' or exp <= now then return NOT_ON_HOLD end
if holder ~= user then return NOT_HOLDER end
return put_hold(KEYS[2], KEYS[3], n, user, now + tonumber(ARGV[3]), now, false)
`)

	// KEYS seats, holds, res, user; ARGV seat, user.
	reserveScript = rueidis.NewLuaScript(prelude + `
local n, user = tonumber(ARGV[1]), ARGV[2]
local state = seat_state(KEYS[1], n)
if not state then return SEAT_NOT_FOUND end
local now = now_ms()
if state == 'R' then
  -- A retry of the user's own reservation succeeds unchanged.
  if redis.call('HGET', KEYS[3], n) == user then return {'R', user, 0, now} end
  return NO_LIVE_HOLD
end
local exp, holder = hold_of(KEYS[2], n)
if exp <= now or holder ~= user then return NO_LIVE_HOLD end
redis.call('SETRANGE', KEYS[1], n - 1, 'R')
redis.call('HSET', KEYS[3], n, user)
redis.call('HDEL', KEYS[2], n)
redis.call('ZREM', KEYS[4], n)
return {'R', user, 0, now}
`)
)
