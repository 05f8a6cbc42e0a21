-- wrk script of bench/gateway_speed.py: rotates every wrk thread over a fixed request mix.
--
--   wrk -t2 -c32 -d15s --latency -s bench/wrk_mix.lua http://127.0.0.1:PORT -- FILE...
--
-- Each FILE holds one request the way gateway_speed.py writes it: a line "METHOD TARGET",
-- header lines "Name: value", an empty line, then the body (possibly empty); lines end in CRLF.
-- The requests are formatted once per thread (init), so request() only hands out a string.

local requests = {}
local counter = 0

local function load(name)
  local file = assert(io.open(name, "rb"))
  local raw = file:read("*a")
  file:close()
  local head_end = assert(raw:find("\r\n\r\n", 1, true), name .. ": no empty line after headers")
  local head, body = raw:sub(1, head_end - 1), raw:sub(head_end + 4)
  local method, target
  local headers = {}
  for line in (head .. "\r\n"):gmatch("(.-)\r\n") do
    if method == nil then
      method, target = line:match("^(%S+) (%S+)$")
      assert(method, name .. ": bad request line")
    else
      local key, value = line:match("^([^:]+):%s*(.*)$")
      headers[key] = value
    end
  end
  -- wrk.format adds Host (from the URL) unless given, and Content-Length for a body.
  if body == "" then
    body = nil
  end
  return wrk.format(method, target, headers, body)
end

function init(args)
  for _, name in ipairs(args) do
    requests[#requests + 1] = load(name)
  end
  assert(#requests > 0, "no request files given after --")
end

function request()
  counter = counter + 1
  return requests[(counter - 1) % #requests + 1]
end
