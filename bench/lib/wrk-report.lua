-- wrk script for mediacdn benches: optional Range / If-None-Match / Origin from the environment, and one
-- machine-readable line from done() for bench/lib/wrk.ts to parse.
local range = os.getenv("BENCH_RANGE")
local inm = os.getenv("BENCH_INM")
local origin = os.getenv("BENCH_ORIGIN")
if range ~= nil and range ~= "" then wrk.headers["Range"] = range end
if inm ~= nil and inm ~= "" then wrk.headers["If-None-Match"] = inm end
if origin ~= nil and origin ~= "" then wrk.headers["Origin"] = origin end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH_RESULT {\"requests\":%d,\"bytes\":%d,\"duration_us\":%d,\"connect_errors\":%d,\"read_errors\":%d,\"write_errors\":%d,\"status_errors\":%d,\"timeouts\":%d,\"p50_us\":%d,\"p99_us\":%d}\n",
    summary.requests, summary.bytes, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
