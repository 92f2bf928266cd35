-- Introspection under wrk: one POST with one access token, the same for every request; an
-- answer that is not `"active": true` is counted (INACTIVE lines) and reported as an error.
-- Arguments: the Authorization header, the access token.

local threads = {}
inactive = 0

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  wrk.method = "POST"
  wrk.path = "/introspect"
  wrk.headers["Authorization"] = args[1]
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  wrk.body = "token=" .. args[2]
end

function response(status, headers, body)
  if status == 200 and not body:find('"active"%s*:%s*true') then
    inactive = inactive + 1
  end
end

function done(summary, latency, requests)
  for _, thread in ipairs(threads) do
    io.write("INACTIVE " .. tostring(thread:get("inactive") or 0) .. "\n")
  end
end
