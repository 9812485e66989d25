-- POST /trades with a unique trade per request; prints one WRKJSON line with counts and latency.
local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  prefix = args[1] or "W"
  counter, ok, bad = 0, 0, 0
end

function request()
  counter = counter + 1
  local body = string.format(
    '{"trade_id":"%s-%d-%d","counterparty_id":"CP-1","book_id":"B-1","version":1,' ..
    '"maturity_date":"2030-01-15","created_date":"2025-09-28","expired":false}', prefix, tid, counter)
  return wrk.format("POST", "/trades", {["Content-Type"] = "application/json"}, body)
end

function response(status, headers, body)
  if status == 201 then ok = ok + 1 else bad = bad + 1 end
end

function done(summary, latency, requests)
  local ok_total, bad_total = 0, 0
  for _, t in ipairs(threads) do
    ok_total = ok_total + t:get("ok")
    bad_total = bad_total + t:get("bad")
  end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"mean_us":%.1f,' ..
    '"ok":%d,"bad":%d,"socket_errors":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.mean,
    ok_total, bad_total, e.connect + e.read + e.write + e.timeout))
end
