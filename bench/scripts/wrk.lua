-- wrk script for make bench (bench/bench.py sets the environment):
--   KANRI_WRK_METHOD  GET | POST (default GET)
--   KANRI_WRK_TOKEN   bearer token (optional)
--   KANRI_WRK_BODY    JSON body; every "{n}" becomes a value unique to this request (run, thread, counter)
--   KANRI_WRK_RUN     a run id that makes "{n}" unique across runs
-- The URL (with path and query) is wrk's argument. done() prints one JSON line with the summary and the
-- latency percentiles in microseconds (wrk's own report is printed before it).

local method = os.getenv("KANRI_WRK_METHOD") or "GET"
local token = os.getenv("KANRI_WRK_TOKEN")
local body_tpl = os.getenv("KANRI_WRK_BODY")
local run = os.getenv("KANRI_WRK_RUN") or "0"

local threads = {}

function setup(thread)
   table.insert(threads, thread)
   thread:set("tid", #threads)
end

function init(args)
   n = 0
   wrk.method = method
   if token and token ~= "" then
      wrk.headers["Authorization"] = "Bearer " .. token
   end
   if body_tpl and body_tpl ~= "" then
      wrk.headers["Content-Type"] = "application/json"
      wrk.body = body_tpl
   end
end

-- Only requests whose body must differ each time are built in Lua; the others are wrk's static request.
if body_tpl and string.find(body_tpl, "{n}", 1, true) then
   function request()
      n = n + 1
      local unique = run .. "-" .. tid .. "-" .. n
      local b = string.gsub(body_tpl, "{n}", unique)
      return wrk.format(nil, nil, nil, b)
   end
end

function done(summary, latency, requests)
   io.write(string.format(
      '{"requests":%d,"duration_us":%d,"bytes":%d,' ..
      '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
      '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f}}\n',
      summary.requests, summary.duration, summary.bytes,
      summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.status,
      summary.errors.timeout,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
