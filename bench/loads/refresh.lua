-- The refresh grant with rotation under wrk: a pool holding one refresh token per
-- connection; each request takes a token out and its response puts the new one back, so
-- every token is used exactly once (a reuse would revoke its family and show up as errors).
-- Arguments: the Authorization header, then the chains' first refresh tokens. Prints the
-- tokens left in each thread's pool (FINAL_TOKENS), the chains still open at the end.

local pool = {}
local auth
local threads = {}
final = ""

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  auth = args[1]
  for i = 2, #args do pool[#pool + 1] = args[i] end
end

local verified = false

local function refresh_request(token)
  return wrk.format("POST", "/token", {
    ["Authorization"] = auth,
    ["Content-Type"] = "application/x-www-form-urlencoded",
  }, "grant_type=refresh_token&refresh_token=" .. token)
end

function request()
  -- wrk 4.x calls request() once right after init() to check the request, and never sends
  -- that one: it must not take a token out of the pool.
  if not verified then
    verified = true
    return refresh_request("never-sent")
  end
  local token = table.remove(pool, 1) or "pool-empty"
  final = table.concat(pool, " ")
  return refresh_request(token)
end

function response(status, headers, body)
  if status == 200 then
    local token = body:match('"refresh_token"%s*:%s*"([^"]+)"')
    if token then pool[#pool + 1] = token end
  end
  final = table.concat(pool, " ")
end

function done(summary, latency, requests)
  for _, thread in ipairs(threads) do
    io.write("FINAL_TOKENS " .. (thread:get("final") or "") .. "\n")
  end
end
