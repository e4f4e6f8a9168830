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
	fmt.Fprintf(&b, "local USER_FIELD_PREFIX = %q\n", userFieldPrefix)
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

-- Expiry and holder of the hold entry v of a seat, maybe expired; 0 and
-- '' if there is none.
local function parse_hold(v)
  if not v then return 0, '' end
  local i = string.find(v, ':', 1, true) -- the expiry has no ':', the holder may
  return tonumber(string.sub(v, 1, i - 1)), string.sub(v, i + 1)
end

local function hold_of(holds, n)
  return parse_hold(redis.call('HGET', holds, n))
end

-- The field of a user's list of holds in the holds hash; seat fields are
-- numbers, so the two never meet.
local function user_field(user)
  return USER_FIELD_PREFIX .. user
end

-- The entries "<n> <expiresAtMs>" of a user's list that are live at now and
-- not on seat n, and their count.
local function others(list, n, now)
  local kept, count = {}, 0
  if list then
    for s, e in string.gmatch(list, '(%d+) (%d+)') do
      if tonumber(s) ~= n and tonumber(e) > now then
        count = count + 1
        kept[count] = s .. ' ' .. e
      end
    end
  end
  return kept, count
end

-- Writes a user's list, or deletes it when it is empty.
local function put_list(holds, field, kept)
  if #kept == 0 then
    redis.call('HDEL', holds, field)
  else
    redis.call('HSET', holds, field, table.concat(kept, ' '))
  end
end

-- Holds seat n for user until exp, in one write with the user's list: kept
-- (the user's other live holds) and this one.
local function put_hold(holds, n, user, kept, exp, now)
  local e = string.format('%d', exp)
  kept[#kept + 1] = n .. ' ' .. e
  redis.call('HSET', holds, n, e .. ':' .. user, user_field(user), table.concat(kept, ' '))
  return {'H', user, exp, now}
end
`)
	return b.String()
}()

// Scripts. KEYS are always built in Go (see key): a key built inside a
// script would escape the cluster's slot checks. The scripts that write are
// retryable (see retryDead): run twice, create leaves the event as once,
// and hold, refresh and reserve for the same user leave the seat as once;
// each answers the same.
var (
	// KEYS event, seats; ARGV name, totalSeats.
	createScript = rueidis.NewLuaScriptRetryable(prelude + `
if redis.call('EXISTS', KEYS[1]) == 1 then
  local v = redis.call('HMGET', KEYS[1], 'name', 'total')
  if v[1] == ARGV[1] and v[2] == ARGV[2] then return OK end -- a retry
  return EVENT_EXISTS
end
redis.call('HSET', KEYS[1], 'name', ARGV[1], 'total', ARGV[2])
redis.call('SET', KEYS[2], string.rep('A', tonumber(ARGV[2])))
return OK
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

	// KEYS seats, holds; ARGV seat, user, ttlMs, maxSeats.
	holdScript = rueidis.NewLuaScriptRetryable(prelude + `
local n, user = tonumber(ARGV[1]), ARGV[2]
local state = seat_state(KEYS[1], n)
if not state then return SEAT_NOT_FOUND end
if state == 'R' then return SEAT_RESERVED end
local now = now_ms()
local v = redis.call('HMGET', KEYS[2], n, user_field(user))
local exp, holder = parse_hold(v[1])
-- The user's live holds on other seats: a retry on this seat extends the
-- hold and is not counted again.
local kept, count = others(v[2], n, now)
if exp > now then
  if holder ~= user then return SEAT_HELD end
elseif count >= tonumber(ARGV[4]) then
  return HOLD_LIMIT
end
if exp ~= 0 and holder ~= user then
  -- Taking over another user's expired hold: the seat leaves that user's
  -- list too, so that every list names seats whose hold names its user and
  -- the hash never has more lists than seats.
  local field = user_field(holder)
  local list = redis.call('HGET', KEYS[2], field)
  if list then put_list(KEYS[2], field, (others(list, n, 0))) end
end
return put_hold(KEYS[2], n, user, kept, now + tonumber(ARGV[3]), now)
`)

	// KEYS seats, holds; ARGV seat, user, ttlMs.
	refreshScript = rueidis.NewLuaScriptRetryable(prelude + `
local n, user = tonumber(ARGV[1]), ARGV[2]
local state = seat_state(KEYS[1], n)
if not state then return SEAT_NOT_FOUND end
local now = now_ms()
local v = redis.call('HMGET', KEYS[2], n, user_field(user))
local exp, holder = parse_hold(v[1])
if state == 'R' or exp <= now then return NOT_ON_HOLD end
if holder ~= user then return NOT_HOLDER end
return put_hold(KEYS[2], n, user, (others(v[2], n, now)), now + tonumber(ARGV[3]), now)
`)

	// KEYS seats, holds, res; ARGV seat, user.
	reserveScript = rueidis.NewLuaScriptRetryable(reserveSource)
)

// reserveSource is the reserve script's own text, which the reserve that
// waits for replicas sends itself (see replicas.go).
var reserveSource = prelude + `
local n, user = tonumber(ARGV[1]), ARGV[2]
local state = seat_state(KEYS[1], n)
if not state then return SEAT_NOT_FOUND end
local now = now_ms()
if state == 'R' then
  if redis.call('HGET', KEYS[3], n) ~= user then return NO_LIVE_HOLD end
  -- A retry of the user's own reservation succeeds, and writes it again:
  -- a WAIT for replicas after the retry then covers the first write too.
  redis.call('HSET', KEYS[3], n, user)
  return {'R', user, 0, now}
end
local field = user_field(user)
local v = redis.call('HMGET', KEYS[2], n, field)
local exp, holder = parse_hold(v[1])
if exp <= now or holder ~= user then return NO_LIVE_HOLD end
redis.call('SETRANGE', KEYS[1], n - 1, 'R')
redis.call('HSET', KEYS[3], n, user)
redis.call('HDEL', KEYS[2], n)
put_list(KEYS[2], field, (others(v[2], n, now)))
return {'R', user, 0, now}
`
