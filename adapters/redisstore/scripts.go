package redisstore

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/rueidis"

	"github.com/seatres/reservation/domain"
)

// codes are the integers the scripts answer refusals with: code i is
// codes[i], domain.Refusals() in its order after 0, which is success. The
// scripts know each code by a Lua name declared from this list (luaName),
// so a refusal the domain adds is known to them at once.
var codes = append([]*domain.Refusal{nil}, domain.Refusals()...)

// sharedCodes names, for the scripts, the refusals whose API code another
// refusal has too: a Lua name must tell them apart.
var sharedCodes = map[*domain.Refusal]string{
	domain.ErrCoolDown:     "COOL_DOWN",
	domain.ErrHoldLifetime: "HOLD_LIFETIME",
}

func luaName(r *domain.Refusal) string {
	if name, ok := sharedCodes[r]; ok {
		return name
	}
	return r.Code()
}

// codesLua starts every script: the codes. It panics if two refusals would
// have one Lua name, which only a new refusal with a shared code and no
// entry in sharedCodes does.
var codesLua = func() string {
	var b strings.Builder
	// KEYS and ARGV are globals: a local of each spares every read of them
	// a lookup in the table of globals.
	b.WriteString("local KEYS, ARGV = KEYS, ARGV\n")
	fmt.Fprintf(&b, "local OK, HELD = 0, %d\n", heldReply)
	seen := map[string]bool{}
	for code, r := range codes[1:] {
		name := luaName(r)
		if seen[name] {
			panic("redisstore: two refusals have the Lua name " + name + ": give one a name in sharedCodes")
		}
		seen[name] = true
		fmt.Fprintf(&b, "local %s = %d\n", name, code+1)
	}
	return b.String()
}()

// opsLua names the operations of the records (domain.Op), as the
// scripts write them in the stream.
var opsLua = fmt.Sprintf("local OP_HOLD, OP_REFRESH, OP_RESERVE, OP_RELEASE, OP_EXPIRE = '%d', '%d', '%d', '%d', '%d'\n",
	domain.OpHold, domain.OpRefresh, domain.OpReserve, domain.OpRelease, domain.OpExpire)

// recordNames lists, in Lua, the names of the fields of a record's users
// after the first (see luaRecord): 'u2', 's2', 'u3', ... up to the last
// hold a batch can have.
func recordNames() string {
	names := make([]string, 0, 2*maxBatch)
	for k := 2; k <= maxBatch; k++ {
		user, seats := recordFields(k)
		names = append(names, "'"+user+"', '"+seats+"'")
	}
	return strings.Join(names, ", ")
}

// script is the source of a script made of the codes and the named
// snippets, in their order. Each script takes only the helpers it uses:
// every local function of a script is a closure Redis allocates on every
// run.
func script(snippets ...string) string { return codesLua + opsLua + strings.Join(snippets, "") }

// Snippets. Times are integers of milliseconds: Redis and Lua print those
// below 10^14 exactly.
var (
	// Redis's clock is the one clock every instance of the service shares.
	luaNow = `
local function now_ms()
  local now
` + luaTime + `
  return now
end
`

	// Sets now to Redis's time, for luaNow and luaReadCarts (which makes no
	// closure for it).
	luaTime = `
  local t = redis.call('TIME')
  local us = t[2] + 0
  now = t[1] * 1000 + (us - us % 1000) / 1000
`

	// The byte of seat n (1 <= n <= total): 'A' available, 'H' on hold, 'R'
	// reserved; '' when the event's seats are gone.
	luaSeatByte = `
local function seat_byte(seats, n)
  return redis.call('GETRANGE', seats, n - 1, n - 1)
end
`

	// The number of reserved seats in a seats string.
	luaCountReserved = `
local function count_reserved(seats)
  local _, n = string.gsub(seats, 'R', 'R')
  return n
end
`

	// The keys and arguments every change script starts with, the text of
	// numbers and the idempotency keys.
	//
	// KEYS: event, seats, exp, holds, expq, cool, changes (the stream),
	// idempotency key and the index of the event's idempotency keys
	// (neither touched without an idempotency TTL), then each script's own.
	// ARGV: user, totalSeats, fingerprint, idempotency TTL ms (0: none),
	// then each script's own.
	luaChange = `
local EVENT, SEATS, EXP, HOLDS, EXPQ, COOL, CHANGES, IDEM, IDEMS = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]
-- Arithmetic reads a number's text once; tonumber reads it twice.
local USER, TOTAL, FP, IDEM_TTL = ARGV[1], ARGV[2] + 0, ARGV[3], ARGV[4]
-- The user's cart is the field c:<user> of the holds hash.
local CART = 'c:' .. USER
` + luaChangeState

	// What every change script declares after its keys and arguments.
	luaChangeState = `
-- NONE is the holds hash's min when nothing is queued: past every expiry.
local NONE = 99999999999999
-- MIN is the holds hash's min, read with the carts and now (see
-- luaReadCarts). LOW is its low: no seat below seat LOW is available (1
-- when it has none), so that the best-available search reads the seats
-- string from there. Whatever frees a seat (the reclaim, a release) lowers
-- it; the search raises it to the first available seat it found.
local MIN, LOW, now
-- The stream keeps at least this many records (XADD MAXLEN ~): the
-- store's setting, written into the script's text (see changeScripts).
local STREAM_MAX = '` + streamMaxMark + `'
`

	// Appends the record of a change to the event's stream, in the step
	// of the change, at now: op (OP_*), then of each user whose seats it
	// changed, users[k] ('' for an expiry) and seats[k], those seats and
	// the expiry of their hold, "n e n e ..." (e 0 when not on hold). The
	// first user's fields are u and s, the k-th's uk and sk. A batch of
	// holds is one record of all its holds, in their order: an XADD a hold
	// cost a single-seat hold about 1 of its 12 µs of Redis time, and one
	// for the batch saved about 5% of it. Store.records reads them back.
	luaRecord = `
local now_text
local function record(op, users, seats)
  now_text = now_text or string.format('%d', now)
  local x = {'XADD', CHANGES, 'MAXLEN', '~', STREAM_MAX, '*', 'o', op, 't', now_text, 'u', users[1], 's', seats[1]}
  if #users > 1 then
    -- The names of the fields of the users after the first, written out:
    -- 'u' .. k prints k as a float, which cost a batch of 21 single-seat
    -- holds 2.7% of its instructions.
    local names = {` + recordNames() + `}
    for k = 2, #users do
      x[#x + 1], x[#x + 2], x[#x + 3], x[#x + 4] = names[2 * k - 3], users[k], names[2 * k - 2], seats[k]
    end
  end
  redis.call(unpack(x))
end
`

	// The memo of the texts of numbers.
	luaText = `
-- The text of number x, for Redis and for the cart: each number of a run
-- is printed once, and those that came as text (seat numbers, the cart)
-- never, as printing one costs about as much as a Redis call.
local texts = {}
local function text(x)
  local t = texts[x]
  if not t then
    t = string.format('%d', x)
    texts[x] = t
  end
  return t
end
`

	// Idempotency keys.
	luaIdem = `

-- The answer a change under this idempotency key gave first, or
-- IDEMPOTENCY_KEY_REUSED for another request under the key, or nil. touch
-- rewrites the stored answer, unchanged, so that a WAIT after the repeat
-- counts the replicas that have the first change too (see replicas.go).
local function answered(touch)
  if IDEM_TTL == '0' then return nil end
  local v = redis.call('GET', IDEM)
  if not v then return nil end
  local fp, reply = cmsgpack.unpack(v)
  if fp ~= FP then return {IDEMPOTENCY_KEY_REUSED} end
  if touch then redis.call('SET', IDEM, v, 'KEEPTTL') end
  return reply
end

-- Keeps the change's answer under the idempotency key, in the same step as
-- the change, and returns it. The key is indexed in IDEMS, scored by its
-- expiry, so that a delete of the event finds it (those expired leave the
-- index here). An event deleted keeps no answer: its id may be created
-- again, which must not find it.
local function answer(reply)
  if IDEM_TTL ~= '0' then
    if redis.call('EXISTS', SEATS) == 0 then return {EVENT_NOT_FOUND} end
    if not now then
` + luaTime + `
    end
    redis.call('SET', IDEM, cmsgpack.pack(FP, reply), 'PX', IDEM_TTL)
    redis.call('ZREMRANGEBYSCORE', IDEMS, '-inf', string.format('%d', now))
    redis.call('ZADD', IDEMS, string.format('%d', now + IDEM_TTL), IDEM)
  end
  return reply
end
`

	// Adds seat n to the refusal r of code that names seats, {code, n, ...},
	// made on the first one.
	luaPush = `
local function push(r, code, n)
  r = r or {code}
  r[#r + 1] = n
  return r
end
`

	// The seat numbers of ARGV from i to last (the end when nil), and the
	// refusal of those past the event, if any.
	luaAsked = `
local function asked(i, last)
  last = last or #ARGV
  -- Made at its size with the texts, which the loop turns into numbers: a
  -- table grown a seat at a time is rehashed at each power of two. One
  -- seat's without unpack's call; unpack takes 1000 at a time (see
  -- chunked), and a table of more grows.
  local ns, missing
  if i == last then
    ns = {ARGV[i]}
  elseif last - i < 1000 then
    ns = {unpack(ARGV, i, last)}
  else
    ns = {}
    for k = i, last do ns[k - i + 1] = ARGV[k] end
  end
  for k = 1, #ns do
    local t = ns[k]
    local n = t + 0
    texts[n] = t
    ns[k] = n
    if n < 1 or n > TOTAL then missing = push(missing, SEAT_NOT_FOUND, n) end
  end
  return ns, missing
end
`

	// Writes bytes b (width bytes a seat) for every seat of ns into the
	// string key, one SETRANGE per run of consecutive seats, and returns the
	// string's length.
	luaSetSeats = `
local function set_seats(key, ns, width, b)
  local size, i = 0, 1
  while i <= #ns do
    local j = i
    while j < #ns and ns[j + 1] == ns[j] + 1 do j = j + 1 end
    size = redis.call('SETRANGE', key, string.format('%d', width * (ns[i] - 1)), string.rep(b, j - i + 1))
    i = j + 1
  end
  return size
end
`

	// Calls cmd on key with the values of list, at most 1000 a call:
	// unpack, and so one Redis call of a script, takes about 8,000 values
	// at most, and a change may name more (a cart of 4,000 seats writes
	// two values a seat), which must not fail half written. 1000 is even,
	// so that the pairs of HSET and ZADD stay whole.
	luaChunked = `
local function chunked(cmd, key, list)
  for i = 1, #list, 1000 do redis.call(cmd, key, unpack(list, i, math.min(i + 999, #list))) end
end
`

	// Gives back every seat whose hold expired by now: its byte 'A' again,
	// its holder and its expq entry gone. So afterwards every 'H' byte is a
	// live hold. Each hold is reclaimed once, by the first change after it
	// expired. Then the carts of the reclaimed seats' holders, and those of
	// the cool-down queue whose keep is over, go if they have no live hold
	// left and their keep is over too; a cart still kept (a cool-down to
	// come, or holds released before their expiry) is queued in cool until
	// its keep. Answers the new min of the holds
	// hash, which it writes: the earliest score of expq and cool.
	luaReclaim = `
local function reclaim(now)
  -- No memo of texts: the scripts that read the holds before they make
  -- one (expireSource, holdsSource) have none yet.
  local nowt = string.format('%d', now)
  local check, seen = {}, {}
  local gone = redis.call('ZRANGEBYSCORE', EXPQ, '-inf', nowt)
  if #gone > 0 then
    for i = 1, #gone, 1000 do -- unpack has a limit on its values (see chunked)
      local who = redis.call('HMGET', HOLDS, unpack(gone, i, math.min(i + 999, #gone)))
      for k = 1, #who do
        local u = who[k]
        if u and not seen[u] then
          seen[u] = true
          check[#check + 1] = 'c:' .. u
        end
      end
    end
    chunked('HDEL', HOLDS, gone)
    redis.call('ZREMRANGEBYSCORE', EXPQ, '-inf', nowt)
    for i = 1, #gone do gone[i] = tonumber(gone[i]) end
    table.sort(gone) -- so that the seats of a cart make runs
    set_seats(SEATS, gone, 1, 'A')
    LOW = math.min(LOW, gone[1])
    local s = {}
    for i = 1, #gone do s[i] = string.format('%d 0', gone[i]) end
    record(OP_EXPIRE, {''}, {table.concat(s, ' ')})
  end
  local cooled = redis.call('ZRANGEBYSCORE', COOL, '-inf', nowt)
  if #cooled > 0 then
    redis.call('ZREMRANGEBYSCORE', COOL, '-inf', nowt)
    for i = 1, #cooled do check[#check + 1] = cooled[i] end
  end
  local del, cool = {}, {}
  for i = 1, #check, 1000 do
    local last = math.min(i + 999, #check)
    local vs = redis.call('HMGET', HOLDS, unpack(check, i, last))
    for k = 1, #vs do
      local v = vs[k]
      if v then
        local it = string.gmatch(v, '%d+')
        local _, _, keep = it(), it(), it() + 0
        local live = false
        for _ in it do
          if it() + 0 > now then live = true break end
        end
        if not live then
          if keep > now then
            cool[#cool + 1], cool[#cool + 2] = keep, check[i + k - 1]
          else
            del[#del + 1] = check[i + k - 1]
          end
        end
      end
    end
  end
  chunked('HDEL', HOLDS, del)
  chunked('ZADD', COOL, cool)
  local min = NONE
  local first = redis.call('ZRANGE', EXPQ, 0, 0, 'WITHSCORES')
  if first[2] then min = tonumber(first[2]) end
  first = redis.call('ZRANGE', COOL, 0, 0, 'WITHSCORES')
  if first[2] then min = math.min(min, tonumber(first[2])) end
  redis.call('HSET', HOLDS, 'min', string.format('%d', min), 'low', string.format('%d', LOW))
  return min
end
`

	// Reads the holds hash's min, its low (LOW) and the carts named in CARTS
	// (fields c:<user>) in one call, after the reclaim if something may
	// have expired: MIN is
	// a lower bound of every score of expq and cool (NONE when both are
	// empty), and no hold or cool-down can have ended before it. Leaves
	// cart_values, the carts' values in the order of CARTS (false for
	// none).
	luaReadCarts = `
local cart_values = redis.call('HMGET', HOLDS, 'min', 'low', unpack(CARTS))
MIN = table.remove(cart_values, 1)
MIN = MIN and MIN + 0
LOW = table.remove(cart_values, 1)
LOW = LOW and LOW + 0 or 1
do
` + luaTime + `
end
if not MIN or MIN <= now then
  -- No min: a fresh event, or one deleted, which the reclaim must not
  -- write again.
  if not MIN and redis.call('EXISTS', SEATS) == 0 then return {EVENT_NOT_FOUND} end
  -- The reclaim's helpers are made only when it runs.
` + luaSetSeats + luaRecord + luaChunked + luaReclaim + `
  MIN = reclaim(now)
  if #CARTS > 0 then cart_values = redis.call('HMGET', HOLDS, unpack(CARTS)) end
end
`

	// luaReadCarts of the user's cart alone: cart_value.
	luaReadCart = `
local CARTS = {CART}
` + luaReadCarts + `
local cart_value = cart_values[1]
`

	// The user's cart in the event (domain.Cart): start, till (its Until),
	// keep (when it stops mattering: its till, or the end of its
	// cool-down) and exp, seat -> expiry of the user's holds, a live hold
	// of the user iff its expiry is after now (but those that stage keeps
	// apart, in a batch, until expand). Start 0 is no cart. Key is its
	// field in the holds hash, kept so that writing it makes no string.
	luaCart = `
local function read_cart(v, key)
  local c = {start = 0, till = 0, keep = 0, exp = {}, key = key}
  if not v then return c end
  local it = string.gmatch(v, '%d+')
  local start, till, keep = it(), it(), it()
  c.start, c.till, c.keep = start + 0, till + 0, keep + 0
  texts[c.start], texts[c.till], texts[c.keep] = start, till, keep
  for n in it do
    local e = it()
    local nn, en = n + 0, e + 0
    c.exp[nn], texts[nn], texts[en] = en, n, e
  end
  return c
end

-- Whether the user holds seat n live at now.
local function mine(c, n, now)
  local e = c.exp[n]
  return e ~= nil and e > now
end

-- The cart's text, with its live holds only, and their count. Every
-- cart's parts go in one table (as do those of stage's records): Redis's
-- Lua pays for each table it makes three times, making it, growing it and
-- collecting it: making fewer of them took 9% off the instructions of a
-- batch of 21 single-seat holds, 12% off one of 21 carts of 6 (callgrind).
-- A cart whose holds are one hold's of this run (c.held, their text as
-- its record has it, and c.alone, its seats: see stage) takes that text,
-- not a walk of the cart, which cost a cart of 6 seats 7% of its
-- instructions.
local parts = {}
local function cart_text(c, now)
  if c.held then
    local start, till, keep = c.start, c.till, c.keep -- most in the memo already
    return (texts[start] or text(start)) .. ' ' .. (texts[till] or text(till)) .. ' ' .. (texts[keep] or text(keep)) .. ' ' .. c.held, #c.alone
  end
  parts[1], parts[2], parts[3] = text(c.start), text(c.till), text(c.keep)
  local last = 3
  for n, e in pairs(c.exp) do
    if e > now then
      parts[last + 1], parts[last + 2] = text(n), text(e)
      last = last + 2
    end
  end
  return table.concat(parts, ' ', 1, last), last / 2 - 1.5
end
`

	// How many seats the user holds live at now.
	luaHolding = `
local function holding(c, now)
  local count = 0
  for _, e in pairs(c.exp) do
    if e > now then count = count + 1 end
  end
  return count
end
`

	// The seats the user holds live at now, in ascending order.
	luaLive = `
local function live(c, now)
  local ns = {}
  for n, e in pairs(c.exp) do
    if e > now then ns[#ns + 1] = n end
  end
  table.sort(ns)
  return ns
end
`

	// The rules of domain.Cart.
	luaPolicy = `
-- domain.Cart.CoolDownUntil: 0 when the cart did not reach its cap.
local function cool_down_until(c, ttl, cap)
  if c.start == 0 or cap == 0 or c.till ~= c.start + cap then return 0 end
  return c.till + ttl
end

-- domain.Cart.expiry: a TTL from now, within the cart's cap.
local function expiry(c, now, ttl, cap)
  local e = now + ttl
  if cap > 0 and c.start + cap < e then return c.start + cap end
  return e
end

-- The cart's keep after a hold or a refresh: the cart stops mattering
-- after its last hold, or after its cool-down.
local function set_keep(c, ttl, cap)
  c.keep = math.max(c.till, cool_down_until(c, ttl, cap))
end
`

	// domain.Cart.open: with no live hold of the user counted, and none
	// released that would still be live (now is not before the cart's
	// till), a hold at now starts a new cart (c becomes it), unless the
	// last one reached its cap less than a TTL ago: then the cool-down's
	// refusal.
	luaOpen = `
local function open(c, holds, now, ttl, cap)
  if holds > 0 or (c.start > 0 and now < c.till) then return nil end
  local cool = cool_down_until(c, ttl, cap)
  if now >= c.till and now < cool then return {COOL_DOWN, cool - now} end
  c.start, c.till = now, now
  return nil
end

-- open, then the limit: the refusal of a hold by a user who holds holds
-- seats live and would hold after, or nil. A refusal leaves c as it was.
local function admit(c, holds, after, now)
  local start, till = c.start, c.till
  local refused = open(c, holds, now, TTL, CAP)
  if not refused and after > MAX then refused = {HOLD_LIMIT_REACHED} end
  if refused then c.start, c.till = start, till end
  return refused
end
`

	// domain.Hold's decision on seats ns, whose bytes are bs, for the user
	// of cart c at now: the refusal (SEAT_RESERVED or SEAT_HELD naming
	// seats, the cool-down, HOLD_LIMIT_REACHED), or nil when the hold may
	// be made: then c is the cart it goes in (see open).
	luaDecide = `
local function decide(c, ns, bs, now)
  local reserved, held, own = nil, nil, 0
  for i = 1, #ns do
    local n, b = ns[i], bs[i]
    if b == 'R' then
      reserved = push(reserved, SEAT_RESERVED, n)
    elseif b == 'H' then -- after the reclaim, a live hold: the user's if in their cart
      if mine(c, n, now) then own = own + 1 else held = push(held, SEAT_HELD, n) end
    end
  end
  if reserved then return reserved end
  if held then return held end
  local others = holding(c, now) - own
  return admit(c, others + own, others + #ns, now)
end
`

	// domain.Event.Best in seats, the seats string from seat LOW on (see
	// all_seats), in rows of ROWS, but for the seats of taken (seat ->
	// true), held since the string was read: the lowest run of count
	// available seats within one row, else (not adjacent) the lowest count
	// available seats, else nil. After the reclaim 'A' is exactly an
	// available seat, so the search is plain string.find; byte i of seats
	// is seat i + off. from is where the searches of a batch may start in
	// seats, by kind: from[count] for a run of count seats, from[-count]
	// for count seats anywhere. The batch's holds only take seats, so that
	// none of those a search passed over becomes a choice again: without
	// it, the k-th best-available hold of a batch would pass over the runs
	// of the k - 1 before it, 17% of the instructions of a batch of 21
	// holds of 4 (BenchmarkInstructions).
	luaBest = `
local function best(seats, count, adjacent, taken, from)
  local run, pos, off = string.rep('A', count), from[count] or 1, LOW - 1
  while true do
    local i = string.find(seats, run, pos, true)
    if not i then break end
    local first = i + off
    local row_end = math.ceil(first / ROWS) * ROWS
    if first + count - 1 > row_end then
      pos = row_end + 1 - off -- this row has no such run: the next one may
    else
      local last -- the last seat of the run that is taken
      for n = first, first + count - 1 do
        if taken[n] then last = n end
      end
      if not last then
        local ns = {}
        for k = 1, count do ns[k] = first + k - 1 end
        from[count] = i + count
        return ns
      end
      pos = last + 1 - off
    end
  end
  from[count] = #seats + 1
  if adjacent then return nil end
  local ns = {}
  pos = from[-count] or 1
  while #ns < count do
    local i = string.find(seats, 'A', pos, true)
    if not i then
      from[-count] = #seats + 1
      return nil
    end
    if not taken[i + off] then ns[#ns + 1] = i + off end
    pos = i + 1
  end
  from[-count] = pos
  return ns
end
`

	// The seats string from seat LOW on, which is all a best-available
	// search needs, or nil when the event's seats are gone or are not TOTAL
	// long: created again with another size through another instance, which
	// this one still has in memory with its old size (see seat_bytes).
	// Moving a string into Lua costs Redis about 1.6 ns a byte, so a sale
	// that sells from the front reads less and less. flush then raises low
	// to the first seat of the string that is still available after the
	// run (TOTAL when none is): no seat below it is, and a hold frees none.
	luaAllSeats = `
local function all_seats()
  local seats = redis.call('GETRANGE', SEATS, string.format('%d', LOW - 1), '-1')
  if #seats ~= TOTAL - LOW + 1 then return nil end
  staged.seats = seats
  return seats
end
`

	// Sets the expiry of seats ns to e in the exp string: 8 bytes
	// big-endian at 8(n-1). The string is made the first time at the length
	// of all seats, as growing it seat by seat would let Redis double its
	// allocation.
	luaSetExp = `
local function set_exp(ns, e)
  local size = set_seats(EXP, ns, 8, struct.pack('>I8', e))
` + luaPadExp + `
end
`

	// Pads the exp string, of size bytes after a write, to the length of
	// all seats: see luaSetExp, and luaHolds.
	luaPadExp = `
  if size < 8 * TOTAL then
    redis.call('SET', EXP, redis.call('GET', EXP) .. string.rep('\0', 8 * TOTAL - size))
  end
`

	// The bytes of seats ns, in their order (see seat_byte), or nil when
	// the event's seats are gone or end before one of ns: an event deleted,
	// or created again smaller through another instance, that this one
	// still has in memory with its old size (see eventCacheTTL); a seat past
	// the end must never read as available, or its hold would grow the
	// string. Moving a string into Lua costs about 1ns a
	// byte: one GETRANGE from the lowest seat to the highest when they are
	// close (a cart usually is), else one GETRANGE a seat.
	luaSeatBytes = `
local function seat_bytes(ns)
  local lo, hi = ns[1], ns[1]
  for i = 2, #ns do
    local n = ns[i]
    if n < lo then lo = n elseif n > hi then hi = n end
  end
  local bs = {}
  if hi - lo < 64 * #ns then
    local from = string.format('%d', lo - 1)
    local span = redis.call('GETRANGE', SEATS, from, lo == hi and from or string.format('%d', hi - 1))
    if #span <= hi - lo then return nil end
    for i = 1, #ns do bs[i] = string.sub(span, ns[i] - lo + 1, ns[i] - lo + 1) end
    return bs
  end
  for i = 1, #ns do
    bs[i] = seat_byte(SEATS, ns[i])
    if bs[i] == '' then return nil end
  end
  return bs
end
`

	// The writes of holds: stage gathers those of a hold of seats ns for
	// user u until e, in u's cart c, and answers it ({HELD, e, n, ...} in
	// the order of ns: see heldReply); flush writes all that were staged
	// since the last, so that holds made together (a batch) write once.
	// Every seat held becomes (or stays) 'H' and gets its expiry and queue
	// entry, a fresh one its holder; each cart changed is written by the
	// HSET of the holders, and so is min if an expiry is before it; the
	// holds are one record. Stage writes the fields of the HSET and ZADD
	// as it goes (a seat staged twice is twice in them, the last pair
	// counting), the ranges of the SETRANGEs (see range), and the fresh
	// seats' holders, by seat, which later holds of the batch and the best
	// available read.
	luaHolds = `
local function unstaged()
  return {holders = {}, carts = {}, users = {}, recorded = {}, fields = {}, queue = {},
    ranges = 0, firsts = {}, lasts = {}, exps = {}, packed = {}, least = NONE}
end
local staged = unstaged()

-- Seats first to last are held, their expiries' bytes exps (one string or
-- several, in order). The SETRANGEs of the seats and their expiries are a
-- range at a time, in the order staged, so that a seat staged twice ends
-- as its last hold says; a range that begins where the last one ends
-- joins it, as consecutive holds of a sale do. A map by seat, and its
-- runs found in flush, cost a cart of 6 seats 7% of its instructions
-- (callgrind).
local function range(first, last, exps)
  local k = staged.ranges
  if k > 0 and staged.lasts[k] == first - 1 then
    local parts = staged.exps[k]
    staged.lasts[k], parts[#parts + 1] = last, exps
  else
    k = k + 1
    staged.ranges, staged.firsts[k], staged.lasts[k], staged.exps[k] = k, first, last, {exps}
  end
end

local rec = {} -- the record's seats of each hold, one table for all (see cart_text)
local function stage(u, c, ns, now, e, ttl, cap)
  -- The reply ({HELD, e, n, ...}: see heldReply) made with its first
  -- seat, as the loop writes it: a single seat's at its size, which
  -- growing it was 1.5% of the hold.
  local et, reply, fields, queue = text(e), {HELD, e, ns[1]}, staged.fields, staged.queue
  -- A cart that had no hold, live or not, before this one: its holds are
  -- this hold's (see cart_text), until another hold of the batch adds to
  -- them; none of its seats is the user's before (mine's call a seat was
  -- 2% of a cart of 6). Its expiries stay out of c.exp, as its seats and
  -- their one expiry (c.alone, c.alone_exp), unless another hold of its
  -- user in the batch needs them (expand): a table's keys, seat numbers,
  -- made and grown were 3% of a cart of 6.
  local alone = next(c.exp) == nil
  local p = staged.packed[e] -- a batch's holds share few expiries
  if not p then
    p = struct.pack('>I8', e)
    staged.packed[e] = p
  end
  local count, from, nf, nq = #ns, 1, #fields, #queue
  for j = 1, count do
    local n = ns[j]
    local nt = texts[n] or text(n) -- a call less when asked read it
    if alone then
      staged.holders[n] = u
      fields[nf + 1], fields[nf + 2], nf = nt, u, nf + 2
    else
      if not mine(c, n, now) then
        staged.holders[n] = u
        fields[nf + 1], fields[nf + 2], nf = nt, u, nf + 2
      end
      c.exp[n] = e
    end
    if j == count or ns[j + 1] ~= n + 1 then -- the end of a run of ns
      range(ns[from], n, j == from and p or string.rep(p, j - from + 1)) -- one seat's is p
      from = j + 1
    end
    queue[nq + 1], queue[nq + 2], nq = et, nt, nq + 2
    reply[j + 2] = n
    rec[2 * j - 1], rec[2 * j] = nt, et
  end
  -- Comparisons, not math.max and math.min: a C call each was 1% of a
  -- single-seat hold's instructions.
  if e > c.till then c.till = e end
  set_keep(c, ttl, cap)
  staged.carts[c.key] = c
  if e < staged.least then staged.least = e end
  local k = #staged.users + 1 -- the hold's part of the record (see record)
  -- A seat's part is one concatenation, not table.concat's call.
  staged.users[k], staged.recorded[k] = u, count == 1 and rec[1] .. ' ' .. et or table.concat(rec, ' ', 1, 2 * count)
  if alone then
    c.held, c.alone, c.alone_exp = staged.recorded[k], ns, e
  else
    c.held = nil
  end
  return reply
end

-- Puts the expiries of an alone cart (see stage) in c.exp, for a later
-- hold of its user in the batch.
local function expand(c)
  for j = 1, #c.alone do c.exp[c.alone[j]] = c.alone_exp end
  c.alone_exp = nil
end

local function flush(now)
  local s = staged
  if #s.users == 0 then return end
  -- The seats held become 'H', and get their expiries, 8 bytes a seat of
  -- the exp string: a range at a time.
  local size = 0
  for k = 1, s.ranges do
    local first, last = s.firsts[k], s.lasts[k]
    redis.call('SETRANGE', SEATS, text(first - 1), string.rep('H', last - first + 1))
    size = redis.call('SETRANGE', EXP, text(8 * (first - 1)), table.concat(s.exps[k]))
  end
` + luaPadExp + `
  local fields = s.fields
  local nf = #fields
  for key, c in pairs(s.carts) do
    fields[nf + 1], fields[nf + 2], nf = key, (cart_text(c, now)), nf + 2
  end
  if s.least < MIN then
    fields[nf + 1], fields[nf + 2] = 'min', text(s.least)
  end
  if s.seats then -- low: the first seat of s.seats still available (see all_seats)
    local low, pos = TOTAL, 1
    while true do
      local i = string.find(s.seats, 'A', pos, true)
      if not i then break end
      if not s.holders[i + LOW - 1] then low = i + LOW - 1 break end
      pos = i + 1
    end
    if low > LOW then fields[#fields + 1], fields[#fields + 2] = 'low', text(low) end
  end
  chunked('HSET', HOLDS, fields)
  chunked('ZADD', EXPQ, s.queue)
  record(OP_HOLD, s.users, s.recorded)
  staged = unstaged()
end
`

	// A hold of the script's user alone (luaHolds): stage, then flush.
	luaPutHolds = luaHolds + `
local function put_holds(c, ns, now, e, ttl, cap)
  local reply = stage(USER, c, ns, now, e, ttl, cap)
  flush(now)
  return reply
end
`

	// Writes the cart after seats left it (reserved, ended, or released):
	// those changes know no policy, and keep its keep. A cart left without
	// live holds matters until its keep: the end of its cool-down, or, after
	// a release, its till (domain.Cart: a reserve ends the cart, a release
	// does not); it is queued in cool until then; else it goes.
	luaLeaveCart = `
local function leave_cart(c, now, ended)
  local value, holds = cart_text(c, now)
  if holds > 0 then
    redis.call('HSET', HOLDS, CART, value)
  elseif c.keep > now and (c.keep > c.till or not ended) then
    if c.keep < MIN then
      redis.call('HSET', HOLDS, CART, value, 'min', text(c.keep))
    else
      redis.call('HSET', HOLDS, CART, value)
    end
    redis.call('ZADD', COOL, text(c.keep), CART)
  else
    redis.call('HDEL', HOLDS, CART)
  end
end
`

	// Takes seats ns out of the user's holds, their bytes becoming b ('R'
	// reserved or 'A' released): their holders and expq entries go, and so
	// do their cart entries.
	luaDropHolds = `
local function drop_holds(c, ns, now, b)
  if #ns == 0 then return end
  set_seats(SEATS, ns, 1, b)
  local rec, lo = {}, LOW
  for i = 1, #ns do
    c.exp[ns[i]] = nil
    rec[i] = text(ns[i]) .. ' 0'
    lo = math.min(lo, ns[i])
  end
  if b == 'A' and lo < LOW then
    LOW = lo
    redis.call('HSET', HOLDS, 'low', text(lo))
  end
  chunked('HDEL', HOLDS, ns)
  chunked('ZREM', EXPQ, ns)
  leave_cart(c, now, b == 'R')
  record(b == 'R' and OP_RESERVE or OP_RELEASE, {USER}, {table.concat(rec, ' ')})
end
`
)

// The snippets of every change: the clock, the keys and arguments (the
// reclaim comes with luaReadCart).
var changeBase = []string{luaChange, luaText, luaIdem, luaRecord}

func changeScript(snippets ...string) string {
	return script(append(append([]string{}, changeBase...), snippets...)...)
}

// Scripts. KEYS are always built in Go (see changeKeys): a key built inside
// a script would escape the cluster's slot checks. Those that change seats
// are changeScripts, below. Create is retryable (see retryDead): running
// it twice leaves the event as once; the reads are.
var (
	// KEYS event, seats, changes; ARGV name, totalSeats, seatsPerRow, owner
	// ('': none). A retry rewrites the name, unchanged, so that a WAIT
	// after it counts the replicas that have the event (see replicas.go).
	//
	// The event's birth (domain.Born: the millisecond after now) is kept
	// in its hash, for the reads of its position, and is the last ID of
	// its stream, made empty (a consumer group made and dropped makes it),
	// so that XADD numbers every record after it whatever the clock does.
	// A stream of no event is an earlier event's, which the birth does not
	// follow: it goes.
	createScript = newConfirmedScript(script(luaNow, `
if redis.call('EXISTS', KEYS[1]) == 1 then
  local v = redis.call('HMGET', KEYS[1], 'name', 'total', 'rows', 'owner')
  -- An event of the old code has no rows: all its seats are one row.
  if v[1] == ARGV[1] and v[2] == ARGV[2] and (v[3] or v[2]) == ARGV[3] and (v[4] or '') == ARGV[4] then -- a retry
    redis.call('HSET', KEYS[1], 'name', ARGV[1])
    return OK
  end
  return EVENT_EXISTS
end
if ARGV[4] == '' then
  redis.call('HSET', KEYS[1], 'name', ARGV[1], 'total', ARGV[2], 'rows', ARGV[3], 'reserved', 0)
else
  redis.call('HSET', KEYS[1], 'name', ARGV[1], 'total', ARGV[2], 'rows', ARGV[3], 'reserved', 0, 'owner', ARGV[4])
end
redis.call('SET', KEYS[2], string.rep('A', tonumber(ARGV[2])))
local born = string.format('%d-0', now_ms() + 1)
redis.call('DEL', KEYS[3])
redis.call('XGROUP', 'CREATE', KEYS[3], 'born', '$', 'MKSTREAM')
redis.call('XGROUP', 'DESTROY', KEYS[3], 'born')
redis.call('XSETID', KEYS[3], born)
redis.call('HSET', KEYS[1], 'born', born)
return OK
`))

	// KEYS the owner's events; ARGV event, max (0: no cap), grace (ms).
	// Counts the event as the owner's, scored by when, unless counted
	// already (a retry, which counts it again from now) or the owner is at
	// max. Answers {OK, 1} when it counted it, {OK, 0} when it was
	// already, or {QUOTA_EXCEEDED, then at most maxOrphans of the owner's
	// events counted more than grace ago}: the ones that may be counted for
	// no event (see Store.reclaimCounts).
	quotaScript = rueidis.NewLuaScriptRetryable(script(luaNow, `
local now = now_ms()
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  redis.call('ZADD', KEYS[1], string.format('%d', now), ARGV[1])
  return {OK, 0}
end
local max = ARGV[2] + 0
if max > 0 and redis.call('ZCARD', KEYS[1]) >= max then
  local old = redis.call('ZRANGE', KEYS[1], '-inf', string.format('(%d', now - ARGV[3]), 'BYSCORE', 'LIMIT', 0, `+strconv.Itoa(maxOrphans)+`)
  return {QUOTA_EXCEEDED, unpack(old)}
end
redis.call('ZADD', KEYS[1], string.format('%d', now), ARGV[1])
return {OK, 1}
`))

	// KEYS the owner's events; ARGV grace (ms), then events that are not
	// there. Uncounts each of them still counted from more than grace ago
	// (a retry of its create since counts it from then) and answers how
	// many it uncounted.
	uncountScript = rueidis.NewLuaScriptRetryable(script(luaNow, `
local before = now_ms() - ARGV[1]
local n = 0
for i = 2, #ARGV do
  local score = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if score and score + 0 < before then
    n = n + redis.call('ZREM', KEYS[1], ARGV[i])
  end
end
return n
`))

	// KEYS event, seats, exp, holds, expq, cool, idems, the res keys, then
	// idempotency keys of the event (from first on); ARGV total, first.
	// Deletes every key given and answers {OK, owner} when they are all
	// the event's keys: the event's total is ARGV's, and every key of its
	// index is given. Else it deletes the idempotency keys given, drops
	// them from the index and answers {DELETE_MORE}: the caller reads the
	// index again. {EVENT_NOT_FOUND} when there is no event.
	deleteScript = rueidis.NewLuaScriptRetryable(script(`
local DELETE_MORE = -1
local total = redis.call('HGET', KEYS[1], 'total')
if not total then return {EVENT_NOT_FOUND} end
local first = ARGV[2] + 0
local given = {}
for i = first, #KEYS do given[KEYS[i]] = true end
local all = total == ARGV[1]
if all then
  local kept = redis.call('ZRANGE', KEYS[7], 0, -1)
  for i = 1, #kept do
    if not given[kept[i]] then all = false break end
  end
end
if not all then
  if first <= #KEYS then
    redis.call('UNLINK', unpack(KEYS, first, #KEYS))
    redis.call('ZREM', KEYS[7], unpack(KEYS, first, #KEYS))
  end
  return {DELETE_MORE}
end
local owner = redis.call('HGET', KEYS[1], 'owner') or ''
redis.call('UNLINK', unpack(KEYS))
return {OK, owner}
`))

	// KEYS seats, exp, changes, event. Answers {seats, exp, TIME, last
	// record, birth} as the list's transaction does, for a Redis out of
	// memory, which refuses every command queued in a MULTI: a script that
	// declares it writes nothing runs then. Every read of a position also
	// reads the birth (see createScript), the position of an event with no
	// record; false for an event made before births were kept.
	listScript = rueidis.NewLuaScriptReadOnly(`#!lua flags=no-writes
return {redis.call('GET', KEYS[1]), redis.call('GET', KEYS[2]), redis.call('TIME'), redis.call('XREVRANGE', KEYS[3], '+', '-', 'COUNT', 1), redis.call('HGET', KEYS[4], 'born')}
`)

	// KEYS seats, changes, event. Answers {seats, last record, birth}:
	// Store.Snapshot.
	snapshotScript = rueidis.NewLuaScriptReadOnly(`#!lua flags=no-writes
return {redis.call('GET', KEYS[1]), redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1), redis.call('HGET', KEYS[3], 'born')}
`)

	// KEYS seats, holds, changes, event. Answers {last record, 1 when no
	// hold or cool-down can have ended unrecorded (min after now), else 0,
	// birth}, or 0 when there is no event (a nil would read as no answer):
	// Store.ListVersion.
	listVersionScript = rueidis.NewLuaScriptReadOnly(`#!lua flags=no-writes
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local min = redis.call('HGET', KEYS[2], 'min')
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local exact = 0
if not min or min + 0 > now then exact = 1 end
return {redis.call('XREVRANGE', KEYS[3], '+', '-', 'COUNT', 1), exact, redis.call('HGET', KEYS[4], 'born')}
`)

	// KEYS seats, changes, event; ARGV from, count, after. Answers {the
	// first record kept ('0-0': none), 1 if records were trimmed (else 0),
	// the records from ARGV[1] on ('': none), at most ARGV[2], birth, 1 if
	// a record kept is at ARGV[3] (else 0), the last position (the last
	// record's, or the birth)}, or 0 when there is no event (a nil would
	// read as no answer): Store.Changes. Records leave only by MAXLEN,
	// from the oldest, and XINFO's max-deleted-entry-id does not count
	// those: that more were added than are kept says some went.
	changesScript = rueidis.NewLuaScriptReadOnly(`#!lua flags=no-writes
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local born = redis.call('HGET', KEYS[3], 'born')
if redis.call('EXISTS', KEYS[2]) == 0 then return {'0-0', 0, {}, born, 0, '0-0'} end
local info = redis.call('XINFO', 'STREAM', KEYS[2])
local f = {}
for i = 1, #info, 2 do f[info[i]] = info[i + 1] end
local first = '0-0'
if f['first-entry'] then first = f['first-entry'][1] end
local trimmed = 0
if f['entries-added'] > f['length'] then trimmed = 1 end
local at = 0
if #redis.call('XRANGE', KEYS[2], ARGV[3], ARGV[3]) > 0 then at = 1 end
local records = {}
if ARGV[1] ~= '' then records = redis.call('XRANGE', KEYS[2], ARGV[1], '+', 'COUNT', ARGV[2]) end
return {first, trimmed, records, born, at, f['last-generated-id']}
`)

	// KEYS seats, exp, holds, res; ARGV seat. Answers {state, holder,
	// expiresAtMs, nowMs}: the hold may have expired, which Go settles
	// with domain.Seat.At.
	seatScript = rueidis.NewLuaScriptReadOnly(script(luaNow, luaSeatByte, `
local n = tonumber(ARGV[1])
if n < 1 then return SEAT_NOT_FOUND end -- GETRANGE would count from the end
local b = seat_byte(KEYS[1], n)
if b == '' then return SEAT_NOT_FOUND end
local now = now_ms()
if b == 'R' then return {'R', redis.call('HGET', KEYS[4], n), 0, now} end
if b == 'A' then return {'A', '', 0, now} end
local exp = struct.unpack('>I8', redis.call('GETRANGE', KEYS[2], 8 * (n - 1), 8 * n - 1))
return {'H', redis.call('HGET', KEYS[3], n), exp, now}
`))

	// KEYS event, seats, expq. Answers {total, available, onHold,
	// reserved}: every 'H' byte has one expq entry, live iff its score is
	// after now.
	summaryScript = rueidis.NewLuaScriptReadOnly(script(luaNow, luaCountReserved, `
local v = redis.call('HMGET', KEYS[1], 'total', 'reserved')
if not v[1] then return EVENT_NOT_FOUND end
local now = now_ms()
local total = tonumber(v[1])
-- An event of the old code has no counter until its next reservation.
local reserved = tonumber(v[2]) or count_reserved(redis.call('GET', KEYS[2]))
local held = redis.call('ZCOUNT', KEYS[3], '(' .. now, '+inf')
return {total, total - held - reserved, held, reserved}
`))

	// ARGV ttlMs, maxSeats, maxLifetimeMs, then the seats: domain.Hold.
	// With an idempotency key; the holds without one are holdsSource's.
	holdSource = changeScript(`
local TTL, MAX, CAP = ARGV[5] + 0, ARGV[6] + 0, ARGV[7] + 0
`, luaPush, luaAsked, luaChunked, luaCart, luaHolding, luaPolicy, luaOpen, luaDecide, luaSeatByte, luaSeatBytes, luaPutHolds, `
local seen = answered(false)
if seen then return seen end
local ns, missing = asked(8)
if missing then return answer(missing) end
`, luaReadCart, `
local c = read_cart(cart_value, CART)
local bs = seat_bytes(ns)
if not bs then return {EVENT_NOT_FOUND} end
local refused = decide(c, ns, bs, now)
if refused then return answer(refused) end
return answer(put_holds(c, ns, now, expiry(c, now, TTL, CAP), TTL, CAP))
`)

	// The holds without an idempotency key, most of the service's load,
	// that arrived together for one event (see batcher): domain.Hold or
	// domain.HoldBest of each, in their order, as if each ran alone, in one
	// run that reads what they share once and writes it once: the clock,
	// the reclaim, the carts, the seats' bytes, the holders, the queue.
	// Each hold's answer is the hold script's (or the best-available
	// one's); the batch answers them in an array, or one {EVENT_NOT_FOUND}
	// for all.
	//
	// KEYS seats, exp, holds, expq, cool, changes. ARGV totalSeats, ttlMs,
	// maxSeats, maxLifetimeMs, seatsPerRow, then of each hold its user and
	// either the number of its seats and the seats, or minus the count of
	// the best available and adjacent (1 or 0).
	holdsSource = script(`
local SEATS, EXP, HOLDS, EXPQ, COOL, CHANGES = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local TOTAL, TTL, MAX, CAP, ROWS = ARGV[1] + 0, ARGV[2] + 0, ARGV[3] + 0, ARGV[4] + 0, ARGV[5] + 0
`, luaChangeState, luaText, luaPush, luaAsked, `
-- Hold k is of user hu[k], of seats hns[k] and hx[k] the refusal of those
-- past the event, if any (asked's), or of the best hx[k] available,
-- adjacent if hadj[k]: arrays, not a table a hold, which costs Redis a
-- table's making and growing, and its collection. all: the seats to read,
-- hold k's from all[hat[k] + 1] on. names[k]: the field of hu[k]'s cart,
-- read once a hold: a user with two holds in a batch is rarer than a set
-- of the users was dear.
local hu, hns, hx, hadj, hat, names, all = {}, {}, {}, {}, {}, {}, {}
local i, k, nargs, nall = 6, 0, #ARGV, 0 -- counts, not #, which searches
while i <= nargs do
  local u, count = ARGV[i], ARGV[i + 1] + 0
  k = k + 1
  hu[k] = u
  if count < 0 then
    hns[k], hx[k], hadj[k] = false, -count, ARGV[i + 2] == '1'
    i = i + 3
  else
    local ns, missing = asked(i + 2, i + 1 + count)
    hns[k], hx[k], hadj[k], hat[k] = ns, missing or false, false, nall
    if not missing then -- a hold refused for seats past the event reads none
      for j = 1, count do all[nall + j] = ns[j] end
      nall = nall + count
    end
    i = i + 2 + count
  end
  names[k] = 'c:' .. u
end
-- The carts, read with min, as read_cart makes them, by user.
local CARTS = names
`, luaReadCarts, luaRecord, luaChunked, luaCart, luaHolding, luaPolicy, luaOpen, luaDecide, luaBest, luaSeatByte, luaSeatBytes, luaHolds, luaAllSeats, `
local carts = {}
for k = 1, #hu do carts[hu[k]] = read_cart(cart_values[k], names[k]) end -- a user's last read, if twice
-- The seats' bytes, read once, in the order of all; a seat's byte is 'H'
-- once a hold of the batch staged it fresh (its holder staged).
local read = {}
if nall > 0 then
  read = seat_bytes(all)
  if not read then return {EVENT_NOT_FOUND} end
end
-- The seats string of the best-available search, read at the first: the
-- seats as they were before the batch, which writes them at its end; from,
-- where the batch's searches may start in it (see best).
local seats, from = nil, {}
local replies, bs = {}, {} -- bs: the bytes of a hold's seats, one table for all
for k = 1, #hu do
  local u, ns = hu[k], hns[k]
  local c = carts[u]
  if c.alone_exp then expand(c) end
  local refused = hx[k]
  if ns and not refused then
    local holders, at = staged.holders, hat[k]
    for j = 1, #ns do bs[j] = holders[ns[j]] and 'H' or read[at + j] end
    refused = decide(c, ns, bs, now)
  elseif not ns then
    local count, live, start, till = refused, holding(c, now), c.start, c.till
    refused = admit(c, live, live + count, now)
    if not refused then
      if not seats then
        seats = all_seats()
        if not seats then return {EVENT_NOT_FOUND} end
      end
      ns = best(seats, count, hadj[k], staged.holders, from) -- the seats the batch took
      if not ns then
        refused = {NOT_ENOUGH_SEATS}
        c.start, c.till = start, till -- as admit leaves a refused cart
      end
    end
  end
  if refused then
    replies[k] = refused
  else
    replies[k] = stage(u, c, ns, now, expiry(c, now, TTL, CAP), TTL, CAP)
  end
end
flush(now)
return replies
`)
)

var (
	// ARGV ttlMs, maxSeats, maxLifetimeMs, seatsPerRow, count, adjacent
	// (1 or 0): domain.HoldBest, with an idempotency key; without one,
	// holdsSource's.
	holdBestSource = changeScript(`
local TTL, MAX, CAP, ROWS = ARGV[5] + 0, ARGV[6] + 0, ARGV[7] + 0, ARGV[8] + 0
local COUNT, ADJACENT = ARGV[9] + 0, ARGV[10] == '1'
`, luaChunked, luaCart, luaHolding, luaPolicy, luaOpen, luaPutHolds, luaBest, luaAllSeats, `
local seen = answered(false)
if seen then return seen end
`, luaReadCart, `
local seats = all_seats()
if not seats then return {EVENT_NOT_FOUND} end
local c = read_cart(cart_value, CART)
local holds = holding(c, now)
local refused = admit(c, holds, holds + COUNT, now)
if refused then return answer(refused) end
local ns = best(seats, COUNT, ADJACENT, {}, {})
if not ns then return answer({NOT_ENOUGH_SEATS}) end
return answer(put_holds(c, ns, now, expiry(c, now, TTL, CAP), TTL, CAP))
`)

	// ARGV ttlMs, maxLifetimeMs, all (1: the user's live holds, 0: the
	// seats that follow), then the seats: domain.Refresh.
	refreshSource = changeScript(luaSetSeats, luaChunked, luaPush, luaAsked, luaCart, luaLive, luaPolicy, luaSetExp, luaSeatByte, `
local TTL, CAP, ALL = ARGV[5] + 0, ARGV[6] + 0, ARGV[7] == '1'
local seen = answered(false)
if seen then return seen end
local ns, missing = asked(8)
if missing then return answer(missing) end
`, luaReadCart, `
local c = read_cart(cart_value, CART)
if ALL then ns = live(c, now) end
if #ns == 0 then return answer({NOT_ON_HOLD}) end
local not_held, others = nil, nil
for i = 1, #ns do
  local n = ns[i]
  if not mine(c, n, now) then
    local b = seat_byte(SEATS, n)
    if b == '' then return {EVENT_NOT_FOUND} end
    if b == 'H' then others = push(others, NOT_HOLDER, n) else not_held = push(not_held, NOT_ON_HOLD, n) end
  end
end
if not_held then return answer(not_held) end
if others then return answer(others) end
local e = expiry(c, now, TTL, CAP)
local extended, reply = {}, {OK}
for i = 1, #ns do
  local n = ns[i]
  if c.exp[n] < e then -- a hold is never shortened
    c.exp[n] = e
    extended[#extended + 1] = n
  end
  reply[2 * i], reply[2 * i + 1] = n, c.exp[n]
end
if #extended == 0 then
  if CAP > 0 and e == c.start + CAP then return answer({HOLD_LIFETIME}) end
  return answer(reply) -- nothing to write: the cart's till is past e already
end
set_exp(extended, e)
local queue, rec = {}, {}
for i = 1, #extended do
  queue[2 * i - 1], queue[2 * i] = text(e), text(extended[i])
  rec[2 * i - 1], rec[2 * i] = text(extended[i]), text(e)
end
chunked('ZADD', EXPQ, queue)
record(OP_REFRESH, {USER}, {table.concat(rec, ' ')})
c.till = math.max(c.till, e)
set_keep(c, TTL, CAP)
redis.call('HSET', HOLDS, CART, (cart_text(c, now)))
return answer(reply)
`)

	// ARGV all (1: the user's live holds, 0: the seats that follow), then
	// the seats: domain.Release.
	releaseSource = changeScript(luaSetSeats, luaChunked, luaPush, luaAsked, luaCart, luaLive, luaLeaveCart, luaDropHolds, `
local ALL = ARGV[5] == '1'
local seen = answered(false)
if seen then return seen end
local ns, missing = asked(6)
if missing then return answer(missing) end
`, luaReadCart, `
local c = read_cart(cart_value, CART)
if ALL then ns = live(c, now) end
local gone, reply = {}, {OK}
for i = 1, #ns do
  local n = ns[i]
  if mine(c, n, now) then -- others' seats are left as they are
    gone[#gone + 1] = n
    reply[#reply + 1] = n
    reply[#reply + 1] = 0
  end
end
drop_holds(c, gone, now, 'A')
return answer(reply)
`)

	// KEYS seats, exp, holds, expq, cool, changes: Store.Expire, the
	// reclaim alone. Answers the holds hash's min after it, 0 for none.
	expireSource = script(`
local SEATS, EXP, HOLDS, EXPQ, COOL, CHANGES = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
-- No cart: min alone.
local CARTS = {}
` + luaChangeState + luaReadCarts + `
if MIN == NONE then return 0 end
return MIN
`)
)

// reserveSource is the reserve script's text (KEYS then the res key of
// each seat; ARGV the seats: domain.Reserve), which the reserve that
// waits for replicas sends itself (see replicas.go). KEYS[9+i] is the res
// key of the i-th seat.
var reserveSource = changeScript(luaSetSeats, luaChunked, luaPush, luaAsked, luaCart, luaLeaveCart, luaDropHolds, luaSeatByte, luaCountReserved, `
local seen = answered(true)
if seen then return seen end
local ns, missing = asked(5)
if missing then return answer(missing) end
`, luaReadCart, `
local c = read_cart(cart_value, CART)
local refused, reply = nil, {OK}
for i = 1, #ns do
  local n = ns[i]
  if not mine(c, n, now) then -- done already if the user reserved it
    local b = seat_byte(SEATS, n)
    if b == '' then return {EVENT_NOT_FOUND} end
    if b ~= 'R' or redis.call('HGET', KEYS[9 + i], n) ~= USER then refused = push(refused, NO_LIVE_HOLD, n) end
  end
  reply[2 * i], reply[2 * i + 1] = n, 0
end
if refused then return answer(refused) end
local taken = {}
for i = 1, #ns do
  local n = ns[i]
  -- The user's own reservations are written again too: a WAIT for
  -- replicas after a retry then covers the first write.
  redis.call('HSET', KEYS[9 + i], n, USER)
  if mine(c, n, now) then taken[#taken + 1] = n end
end
if #taken > 0 then
  drop_holds(c, taken, now, 'R')
  local count = redis.call('HINCRBY', EVENT, 'reserved', #taken)
  if count == #taken then
    -- The counter's first increment, or an event of the old code that had
    -- none: count the seats once.
    local all = count_reserved(redis.call('GET', SEATS))
    if all ~= count then redis.call('HSET', EVENT, 'reserved', all) end
  end
end
return answer(reply)
`)

// streamMaxMark stands in the change scripts' text for the stream's
// retention, a setting of the store: changeScripts writes it in. A
// number in the text, not an argument, since every argument costs Redis
// about 1,000 instructions.
const streamMaxMark = "@STREAM_MAX@"

// changeScripts are the scripts that change seats, with the stream's
// retention of one store written in (see streamMaxMark). They are
// retryable (see retryDead) when running one twice for the same user
// leaves the seats as once: hold of given seats (a batch of them too),
// refresh, reserve, release and the expiry. A batch of best-available
// holds (holdsBest) is not: a second run picks more seats; only with an
// idempotency key (holdBest), which answers the repeat as the first, is
// a best-available hold retried. A retried change that took effect the first time
// records its seats twice when it changes them twice (a hold extended
// again), and not when the second run changes nothing (a reserve done).
type changeScripts struct {
	hold, holds, holdsBest, holdBest, refresh, release, expire *rueidis.Lua
	reserve                                                    confirmedScript
}

func newChangeScripts(streamMax int) *changeScripts {
	bake := func(src string) string { return strings.ReplaceAll(src, streamMaxMark, strconv.Itoa(streamMax)) }
	return &changeScripts{
		hold:      rueidis.NewLuaScriptRetryable(bake(holdSource)),
		holds:     rueidis.NewLuaScriptRetryable(bake(holdsSource)),
		holdsBest: rueidis.NewLuaScript(bake(holdsSource)),
		holdBest:  rueidis.NewLuaScriptRetryable(bake(holdBestSource)),
		refresh:   rueidis.NewLuaScriptRetryable(bake(refreshSource)),
		reserve:   newConfirmedScript(bake(reserveSource)),
		release:   rueidis.NewLuaScriptRetryable(bake(releaseSource)),
		expire:    rueidis.NewLuaScriptRetryable(bake(expireSource)),
	}
}

// confirmedScript is a retryable script whose success waits for replicas
// when the store has ReplicaAcks (see Store.confirm): with its text and
// name, for the EVALSHA that the wait sends on a connection of its own.
type confirmedScript struct {
	lua         *rueidis.Lua
	source, sha string
}

func newConfirmedScript(source string) confirmedScript {
	return confirmedScript{lua: rueidis.NewLuaScriptRetryable(source), source: source, sha: sha1Hex(source)}
}

// sha1Hex is a script's name for EVALSHA.
func sha1Hex(source string) string {
	sum := sha1.Sum([]byte(source))
	return hex.EncodeToString(sum[:])
}
