-- wrk script of the load benchmark (cmd/loadbench). Arguments after "--":
--   seats PATH THREADS EVENT...  POST {"id", "UUID"} to PATH, each request a
--                                seat of its own (seat k of the events, in
--                                order, spread over the threads) and a UUID
--                                of its own
--   cart PATH COUNT THREADS EVENT...
--                                POST {"UUID", "ids"} to PATH, "{event}" in
--                                it standing for the event: each request
--                                COUNT seats of its own (the k-th request
--                                seats COUNT*k+1 .. COUNT*k+COUNT of the
--                                events, in order) and a UUID of its own
--   best PATH COUNT PEREVENT THREADS EVENT...
--                                POST {"UUID", "bestAvailable": {"count":
--                                COUNT, "adjacent": true}} to PATH, the
--                                k-th request to the event k/PEREVENT, each
--                                with a UUID of its own
--   buyers PATH THREADS PERBUYER KEY BUYERS EVENT...
--                                the requests of seats, each with
--                                "Authorization: Bearer KEY" unless KEY is
--                                "-", and the UUID of a buyer of the file
--                                BUYERS, one a line "UUID[ TOKEN]" (with
--                                "X-Buyer-Token: TOKEN" when it has one):
--                                the k-th request the k/PERBUYER-th buyer
--   create PATH BODY             POST the same JSON BODY to PATH
--   get                          GET the URL's path
-- It counts responses by status, and the bytes of their bodies, and prints
-- one line "loadbench {json}".

local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

local seatsPerEvent = 10000

local function outOfSeats()
  error("loadbench: out of seats; create more events")
end

local function seatRequest()
  local e = events[math.floor(k / seatsPerEvent) + 1]
  if not e then outOfSeats() end
  local body = string.format('{"id":"%s.%d","UUID":"bench-%d-%d"}', e, k % seatsPerEvent + 1, tid, k)
  k = k + nthreads
  return wrk.format("POST", path, nil, body)
end

local function buyerRequest()
  local e = events[math.floor(k / seatsPerEvent) + 1]
  if not e then outOfSeats() end
  local b = buyers[math.floor(k / perBuyer) + 1]
  if not b then error("loadbench: out of buyers; make more") end
  local body = string.format('{"id":"%s.%d","UUID":"%s"}', e, k % seatsPerEvent + 1, b[1])
  k = k + nthreads
  -- wrk.format sends these headers instead of wrk.headers; it sets
  -- Content-Length in them each time.
  headers["X-Buyer-Token"] = b[2]
  return wrk.format("POST", path, headers, body)
end

-- readBuyers reads the file of buyers: {UUID, token or nil} each.
local function readBuyers(file)
  local out = {}
  for line in io.lines(file) do
    local uuid, token = line:match("^(%S+) ?(%S*)$")
    if not uuid then error("loadbench: bad line in " .. file .. ": " .. line) end
    if token == "" then token = nil end
    out[#out + 1] = {uuid, token}
  end
  return out
end

local function cartRequest()
  local perEvent = math.floor(seatsPerEvent / count)
  local e = events[math.floor(k / perEvent) + 1]
  if not e then outOfSeats() end
  local first = (k % perEvent) * count
  local ids = {}
  for i = 1, count do ids[i] = string.format('"%s.%d"', e, first + i) end
  local body = string.format('{"UUID":"cart-%d-%d","ids":[%s]}', tid, k, table.concat(ids, ","))
  k = k + nthreads
  return wrk.format("POST", (path:gsub("{event}", e)), nil, body)
end

local function bestRequest()
  local e = events[math.floor(k / perEvent) + 1]
  if not e then outOfSeats() end
  local body = string.format('{"UUID":"best-%d-%d","bestAvailable":{"count":%d,"adjacent":true}}', tid, k, count)
  k = k + nthreads
  return wrk.format("POST", (path:gsub("{event}", e)), nil, body)
end

-- eventsFrom collects the event ids from args[first] on.
local function eventsFrom(args, first)
  local out = {}
  for i = first, #args do out[#out + 1] = args[i] end
  return out
end

function init(args)
  statuses, bodyBytes = {}, 0
  local mode = args[1]
  if mode == "seats" then
    path, nthreads, k = args[2], tonumber(args[3]), tid
    events = eventsFrom(args, 4)
    wrk.headers["Content-Type"] = "application/json"
    request = seatRequest
  elseif mode == "buyers" then
    path, nthreads, perBuyer, k = args[2], tonumber(args[3]), tonumber(args[4]), tid
    headers = {["Content-Type"] = "application/json"}
    if args[5] ~= "-" then headers["Authorization"] = "Bearer " .. args[5] end
    buyers = readBuyers(args[6])
    events = eventsFrom(args, 7)
    request = buyerRequest
  elseif mode == "cart" then
    path, count, nthreads, k = args[2], tonumber(args[3]), tonumber(args[4]), tid
    events = eventsFrom(args, 5)
    wrk.headers["Content-Type"] = "application/json"
    request = cartRequest
  elseif mode == "best" then
    path, count, perEvent, nthreads, k = args[2], tonumber(args[3]), tonumber(args[4]), tonumber(args[5]), tid
    events = eventsFrom(args, 6)
    wrk.headers["Content-Type"] = "application/json"
    request = bestRequest
  elseif mode == "create" then
    wrk.method, wrk.path, wrk.body = "POST", args[2], args[3]
    wrk.headers["Content-Type"] = "application/json"
  end
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if body then bodyBytes = bodyBytes + #body end
end

function done(summary, latency, requests)
  local counts, codes, bytes = {}, {}, 0
  for _, t in ipairs(threads) do
    for status, n in pairs(t:get("statuses")) do counts[status] = (counts[status] or 0) + n end
    bytes = bytes + t:get("bodyBytes")
  end
  for status, n in pairs(counts) do codes[#codes + 1] = string.format('"%d":%d', status, n) end
  local e = summary.errors
  io.write(string.format(
    'loadbench {"requests":%d,"durationUs":%d,"errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d},' ..
    '"latencyUs":{"p50":%d,"p90":%d,"p99":%d,"max":%d},"statuses":{%s},"bodyBytes":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    table.concat(codes, ","), bytes))
end
