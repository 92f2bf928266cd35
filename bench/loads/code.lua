-- The authorization-code grant under wrk: codes pre-minted into the state store (see
-- bench/loads/code.py), one "code verifier" pair per line of a file; thread k of n takes
-- the lines k, k+n, k+2n, ... so no two threads share a code, and each request() takes the
-- next pair of its thread: every code is sent at most once (a reused one would be refused
-- with invalid_grant and revoke its grant: a non-2xx answer, an error). A 200 answer without
-- an access_token and an id_token is counted (CODE_STATS) and reported as an error.
-- Arguments: the Authorization header, the form without code and code_verifier, the file of
-- pairs, the number of wrk threads.

local threads = {}
local counter = 0
local pairs_ = {}
local next_pair = 1
local auth, form
local verified = false
used, bad, empty = 0, 0, 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  auth, form = args[1], args[2]
  local n, i = tonumber(args[4]), 0
  for line in io.lines(args[3]) do
    if i % n == id then pairs_[#pairs_ + 1] = line end
    i = i + 1
  end
end

local function code_request(code, verifier)
  return wrk.format("POST", "/token", {
    ["Authorization"] = auth,
    ["Content-Type"] = "application/x-www-form-urlencoded",
  }, form .. "&code=" .. code .. "&code_verifier=" .. verifier)
end

function request()
  -- wrk 4.x calls request() of its first thread once right after init() to check the
  -- request, and never sends that one: it must not take a code.
  if id == 0 and not verified then
    verified = true
    return code_request("never-sent", "never-sent")
  end
  local line = pairs_[next_pair]
  next_pair = next_pair + 1
  if not line then
    empty = empty + 1
    return code_request("pool-empty", "pool-empty")
  end
  used = used + 1
  local code, verifier = line:match("^(%S+) (%S+)$")
  return code_request(code, verifier)
end

function response(status, headers, body)
  if status == 200 and not (body:find('"access_token"', 1, true)
                            and body:find('"id_token"', 1, true)) then
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  for _, thread in ipairs(threads) do
    io.write(string.format("CODE_STATS %d %d %d %d\n", thread:get("id"),
      thread:get("used") or 0, thread:get("bad") or 0, thread:get("empty") or 0))
  end
end
