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

function done(summary, latency, requests)
  local e = summary.errors
  io.write("BENCH_JSON ")
  io.write(string.format('{"requests":%d,"durationUs":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout))
  io.write(string.format('"p50":%d,"p90":%d,"p99":%d,"mean":%.2f,"max":%d}\n',
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean, latency.max))
end
