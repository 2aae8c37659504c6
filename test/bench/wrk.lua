-- wrk script for the KeyRelay bench: POST body and headers from the environment, JSON summary at
-- the end (after a `BENCH_JSON` marker) so run.mjs parses numbers, not wrk's human text.
wrk.method = os.getenv("BENCH_METHOD") or "POST"
wrk.path = os.getenv("BENCH_PATH") or "/v1/chat/completions"
local bodyFile = os.getenv("BENCH_BODY_FILE")
if bodyFile and bodyFile ~= "" then
  local f = assert(io.open(bodyFile, "rb"))
  wrk.body = f:read("*a")
  f:close()
end
-- BENCH_HEADERS: "name: value\n" lines
local hs = os.getenv("BENCH_HEADERS") or ""
for name, value in hs:gmatch("([^:\n]+):%s*([^\n]*)\n?") do
  wrk.headers[name] = value
end

-- The end of a run, without cutting a response off. wrk stops at -d and closes every connection
-- with its request still in flight: at c=50 that cut 50 SSE streams mid-flight at the end of every
-- run, and the objects of those streams, alive at the next scavenge, were enough for V8 to tenure
-- allocation sites of node's own http and events code (bare and KeyRelay alike; README, "The load
-- generator's cut"). For the last BENCH_GRACE_MS of the BENCH_SECONDS run, a connection whose
-- answer came sends only a request line: the server's parser waits for the headers, so neither
-- proxy sees a request (none is forwarded, no upstream connection is lost); it is never answered
-- and so never counted, and the cut finds no response under way.
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } kr_timespec;
int clock_gettime(int clk, kr_timespec *tp);
]]
local ts = ffi.new("kr_timespec")
local function nowMs()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end
local graceMs = tonumber(os.getenv("BENCH_GRACE_MS") or "0")
local seconds = tonumber(os.getenv("BENCH_SECONDS") or "0")
local softEnd, full, hold

function init(args)
  softEnd = nowMs() + seconds * 1000 - graceMs
  full = wrk.format()
  hold = full:sub(1, full:find("\r\n") + 1)
end

if graceMs > 0 and seconds > 0 then
  function request()
    if nowMs() < softEnd then return full end
    return hold
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write("BENCH_JSON ")
  io.write(string.format('{"requests":%d,"durationUs":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,',
    summary.requests, summary.duration - graceMs * 1000, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout))
  io.write(string.format('"p50":%d,"p90":%d,"p99":%d,"mean":%.2f,"max":%d}\n',
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean, latency.max))
end
