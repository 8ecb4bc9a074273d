-- wrk script: a chain of refresh-token rotations per thread (one
-- connection per thread, so each thread's requests are sequential). Each
-- thread takes its starting token from REFRESH_TOKENS (space-separated,
-- one per thread) and presents the token each answer returns.
local counter = 0
local threads = {}

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end

function init(args)
  local i = 0
  for t in string.gmatch(os.getenv("REFRESH_TOKENS"), "%S+") do
    i = i + 1
    if i == id then token = t end
  end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  wrk.headers["Authorization"] = "Basic " .. os.getenv("BASIC")
end

function request()
  return wrk.format(nil, nil, nil, "grant_type=refresh_token&refresh_token=" .. token)
end

function response(status, headers, body)
  local next = string.match(body, '"refresh_token":"([^"]+)"')
  if next then token = next end
end
