-- wrk script: POST one member message per request to the conversation API,
-- spread over SESSIONS conversations (default 100000), each thread its own ids.
-- Usage: wrk -s messages.lua http://127.0.0.1:PORT  (env SESSIONS, MODE=seq|random)

local messages = {
  "i need to refill my blood pressure medicine",
  "where is my order it was supposed to be here monday",
  "how do i talk to a real person",
  "can you transfer my prescription from walgreens",
  "my doctor wants to fax a new prescription, what is the fax number",
  "whats the number for hearing impaired members",
  "i got a bill and i dont understand it",
  "do you have a chat on the website",
  "necesito hablar con alguien en espanol",
  "my specialty medication needs to be refrigerated, who do i call",
  "and what are their hours?",
  "is my insulin covered by medicare part d",
}

local sessions = tonumber(os.getenv("SESSIONS") or "100000")
local mode = os.getenv("MODE") or "random"
local threads = {}
local counter = 1

function setup(thread)
  thread:set("id", counter)
  table.insert(threads, thread)
  counter = counter + 1
end

function init(args)
  n = 0
  math.randomseed(id * 7919)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  n = n + 1
  local conv
  if mode == "seq" then
    conv = (id * 1000003 + n) % sessions
  else
    conv = math.random(0, sessions - 1)
  end
  local text = messages[(n % #messages) + 1]
  local path = "/v1/conversations/m" .. conv .. "/messages"
  return wrk.format(nil, path, nil, '{"text":"' .. text .. '"}')
end

function done(summary, latency, requests)
  io.write(string.format("LOAD requests=%d errors=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d\n",
    summary.requests, summary.errors.status + summary.errors.connect + summary.errors.read
      + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
