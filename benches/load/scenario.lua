-- wrk script for every load scenario, configured by the environment:
--   BODY         form body to POST (else the request is a GET)
--   AUTH         the Authorization header's value
--   COOKIE       the Cookie header's value
--   TOKENS       a file of refresh tokens, one a line: each request
--                presents the next unused one ("every token used once");
--                each wrk thread takes the lines i, i+THREADS, ...
--   THREADS      wrk's -t, for TOKENS (with several wrk processes, their
--                threads in all)
--   OFFSET       this wrk's first thread among them (0)
--   TOKEN_BODY   the form body before each line of TOKENS (default
--                "grant_type=refresh_token&refresh_token=")
--   COLLECT      a file prefix: each thread appends the refresh tokens it
--                is given to COLLECT<thread> (to pre-issue tokens), or
--                the authorization codes of the redirects it gets
-- done() prints one line for run.sh:
--   result <requests> <seconds> <non-2xx> <socket errors> <p50 ms> <p99 ms>
local counter = 0
local threads = {}

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end

function init(args)
  local body = os.getenv("BODY")
  if body then
    wrk.method = "POST"
    wrk.body = body
    wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  end
  local auth = os.getenv("AUTH")
  if auth then wrk.headers["Authorization"] = auth end
  local cookie = os.getenv("COOKIE")
  if cookie then wrk.headers["Cookie"] = cookie end
  local file = os.getenv("TOKENS")
  if file then
    tokens, next_token = {}, 1
    local n, every, i = 0, tonumber(os.getenv("THREADS")), 0
    local offset = tonumber(os.getenv("OFFSET") or "0")
    for line in io.lines(file) do
      if i % every == id - 1 + offset then
        n = n + 1
        tokens[n] = line
      end
      i = i + 1
    end
    wrk.method = "POST"
    wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
    token_body = os.getenv("TOKEN_BODY") or "grant_type=refresh_token&refresh_token="
  end
  local collect = os.getenv("COLLECT")
  if collect then
    out = io.open(collect .. id, "a")
    out:setvbuf("line")
  end
end

function request()
  if tokens then
    -- Past the end, the last token again: a reuse, counted as non-2xx.
    local t = tokens[math.min(next_token, #tokens)]
    next_token = next_token + 1
    return wrk.format(nil, nil, nil, token_body .. t)
  end
  return wrk.format()
end

function response(status, headers, body)
  if out and status == 200 then
    local t = string.match(body, '"refresh_token":"([^"]+)"')
    if t then out:write(t, "\n") end
  elseif out and status >= 300 and status < 400 then
    local to = headers["location"] or headers["Location"] or ""
    local code = string.match(to, "[?&]code=([^&]+)")
    if code then out:write(code, "\n") end
  end
end

function done(summary, latency, requests)
  io.write(string.format("result %d %.3f %d %d %.3f %.3f\n",
    summary.requests, summary.duration / 1e6, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
